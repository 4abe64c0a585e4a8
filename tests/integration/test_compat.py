"""The default seccomp profile, Landlock and the rest against real
workloads: Python (threads, subprocess, multiprocessing on /dev/shm,
asyncio, loopback sockets, tempfiles, pytest) and gcc + make -j.  The
toolchain is the host's /usr, bound read-only into a rootfs of links."""
import os
import textwrap

import pytest

from conftest import expected_ws_owner, run

MAKEFILE = textwrap.dedent("""\
    OBJS := $(patsubst %.c,%.o,$(wildcard part*.c))
    prog: $(OBJS) main.o
    \t$(CC) -o $@ $^
    %.o: %.c
    \t$(CC) -O2 -c -o $@ $<
    """)


@pytest.fixture(scope="module")
def host_usr_rootfs(tmp_path_factory):
    root = tmp_path_factory.mktemp("usrroot")
    os.chmod(root, 0o755)
    for d in ("proc", "dev", "sys", "tmp", "workspace", "etc", "usr"):
        (root / d).mkdir()
    for link in ("bin", "lib", "lib64", "sbin"):
        if os.path.islink(f"/{link}"):
            (root / link).symlink_to(os.readlink(f"/{link}"))
    for name in ("hosts", "resolv.conf", "hostname"):
        (root / "etc" / name).write_text("")
    return root


def compat_run(root, ws, *cmd):
    return run(root, *cmd, opts=["--ro-bind", "/usr:/usr", "-w", str(ws), "-e", "PYTHONDONTWRITEBYTECODE=1"],
               timeout=300)


def workspace_for(tmp_path):
    ws = tmp_path / "ws"
    ws.mkdir()
    if os.geteuid() == 0:
        os.chown(ws, expected_ws_owner(), expected_ws_owner())
    return ws


def test_python_workload(host_usr_rootfs, tmp_path):
    ws = workspace_for(tmp_path)
    code = textwrap.dedent("""\
        import asyncio, multiprocessing, os, socket, subprocess, tempfile, threading
        done = []
        threads = [threading.Thread(target=done.append, args=(i,)) for i in range(8)]
        [t.start() for t in threads]; [t.join() for t in threads]
        assert sorted(done) == list(range(8))
        assert subprocess.run(["sh", "-c", "exit 3"]).returncode == 3
        assert subprocess.check_output(["echo", "hi"]) == b"hi\\n"
        with multiprocessing.Pool(2) as pool:
            assert pool.map(abs, [-1, -2, -3]) == [1, 2, 3]
        lock = multiprocessing.Lock(); lock.acquire(); lock.release()   # a semaphore on /dev/shm
        async def echo():
            server = await asyncio.start_server(lambda r, w: w.write(b"pong"), "127.0.0.1", 0)
            port = server.sockets[0].getsockname()[1]
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            data = await reader.read(4); server.close(); return data
        assert asyncio.run(echo()) == b"pong"
        s = socket.socket(socket.AF_INET6); s.bind(("::1", 0)); s.close()
        a, b = socket.socketpair(); a.send(b"x"); assert b.recv(1) == b"x"
        with tempfile.NamedTemporaryFile(dir="/tmp") as f: f.write(b"data"); f.flush()
        with tempfile.TemporaryDirectory() as d: open(os.path.join(d, "x"), "w").write("y")
        os.mkfifo("/tmp/fifo"); os.unlink("/tmp/fifo")
        print("python workload ok")
        """)
    (ws / "work.py").write_text(code)
    r = compat_run(host_usr_rootfs, ws, "python3", "work.py")
    assert r.returncode == 0 and r.stdout.strip() == "python workload ok", r.stderr[-3000:]


def test_pytest_workload(host_usr_rootfs, tmp_path):
    ws = workspace_for(tmp_path)
    (ws / "test_x.py").write_text("import threading\n"
                                  "def test_a(): assert 1 + 1 == 2\n"
                                  "def test_thread():\n t = threading.Thread(target=print); t.start(); t.join()\n"
                                  "def test_tmp(tmp_path): (tmp_path / 'f').write_text('x')\n")
    r = compat_run(host_usr_rootfs, ws, "python3", "-m", "pytest", "-q", "-p", "no:cacheprovider")
    assert r.returncode == 0 and "3 passed" in r.stdout, r.stdout[-3000:] + r.stderr[-2000:]


def test_gcc_and_make_j(host_usr_rootfs, tmp_path):
    ws = workspace_for(tmp_path)
    for i in range(12):
        (ws / f"part{i}.c").write_text(f"int part{i}(void) {{ return {i}; }}\n")
    (ws / "main.c").write_text("#include <stdio.h>\nint part11(void);\n"
                               "int main(void) { printf(\"built %d\\n\", part11()); return 0; }\n")
    (ws / "Makefile").write_text(MAKEFILE)
    if os.geteuid() == 0:
        for p in ws.iterdir():
            os.chown(p, expected_ws_owner(), expected_ws_owner())
    r = compat_run(host_usr_rootfs, ws, "sh", "-c", "make -j4 CC=gcc && ./prog")
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-3000:]
    assert r.stdout.strip().endswith("built 11")
    assert "Operation not permitted" not in r.stderr and "not implemented" not in r.stderr
