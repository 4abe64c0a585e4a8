"""sbx exec: a process in a created or running container, as podman exec and
the shims run it (runc's options): the container's namespaces, its seccomp
from the saved config.json, its capabilities unless told otherwise, the
exit status, --detach with --pid-file, --tty through a console socket, and
a pid that no longer is the container's refused.

Containers are made with the real create/start on bundles made here (the
suite's rootfs, a config.json from `sbx spec`, edited) and deleted with
--force afterwards.
"""
import json
import os
import shutil
import socket
import subprocess
import tempfile
import time

import pytest

from conftest import SBX, python_rootfs, sbx

ROOTLESS = os.geteuid() != 0


def run_files(binary, args, timeout=60):
    """sbx with stdout and stderr in files: a container's process keeps
    create's stdio, so a pipe would not end while it lives."""
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        p = subprocess.run([binary, *args], stdin=subprocess.DEVNULL, stdout=out, stderr=err, timeout=timeout,
                           start_new_session=True)
        out.seek(0)
        err.seek(0)
        return subprocess.CompletedProcess(p.args, p.returncode, out.read(), err.read())


class Oci:
    def __init__(self, tmp, binary=SBX):
        self.root = tmp / "state"
        self.binary = binary

    def __call__(self, *args, timeout=60):
        return run_files(self.binary, ["--root", str(self.root), *args], timeout=timeout)

    def cleanup(self):
        if self.root.is_dir():
            for cid in os.listdir(self.root):
                self("delete", "--force", cid)


@pytest.fixture
def oci(tmp_path):
    o = Oci(tmp_path)
    yield o
    o.cleanup()


def make_bundle(d, rootfs, edit=None):
    b = d / "bundle"
    b.mkdir(parents=True)
    r = sbx("spec", "--bundle", str(b), *(["--rootless"] if ROOTLESS else []))
    assert r.returncode == 0, r.stderr
    cfg = json.loads((b / "config.json").read_text())
    cfg["root"]["path"] = str(rootfs)
    cfg["process"]["args"] = ["sleep", "1000"]
    cfg["process"]["terminal"] = False
    # The root is read-only: a writable /tmp for the tests' files.
    cfg["mounts"].append({"destination": "/tmp", "type": "tmpfs", "source": "tmpfs",
                          "options": ["nosuid", "nodev", "mode=1777"]})
    if edit:
        edit(cfg)
    (b / "config.json").write_text(json.dumps(cfg))
    os.chmod(d, 0o755)
    os.chmod(b, 0o755)
    return b


def running(oci, tmp_path, rootfs, edit=None, cid="c1"):
    b = make_bundle(tmp_path / f"b-{cid}", rootfs, edit)
    r = oci("create", "--bundle", str(b), cid)
    assert r.returncode == 0, r.stderr
    r = oci("start", cid)
    assert r.returncode == 0, r.stderr
    st = json.loads(oci("state", cid).stdout)
    assert st["status"] == "running", st
    return st["pid"]


def plain(cfg):
    """Without run.sbx.profile=hardened: the spec's own settings."""
    cfg["annotations"] = {}


def with_caps(*caps):
    def edit(cfg):
        plain(cfg)
        c = list(caps)
        cfg["process"]["capabilities"] = {"bounding": c, "effective": c, "permitted": c}
    return edit


def ns_inode(pid, kind):
    return os.stat(f"/proc/{pid}/ns/{kind}").st_ino


def test_exec_joins_the_container(oci, tmp_path, rootfs):
    pid = running(oci, tmp_path, rootfs)
    r = oci("exec", "c1", "sh", "-c", "echo $$; for n in pid mnt net ipc uts; do stat -L -c %i /proc/self/ns/$n; done")
    assert r.returncode == 0, r.stderr
    lines = r.stdout.split()
    assert int(lines[0]) > 1  # a pid of the container's pid namespace
    want = [str(ns_inode(pid, n)) for n in ("pid", "mnt", "net", "ipc", "uts")]
    assert lines[1:] == want


def test_exec_exit_status_and_signal(oci, tmp_path, rootfs):
    running(oci, tmp_path, rootfs)
    assert oci("exec", "c1", "sh", "-c", "exit 7").returncode == 7
    assert oci("exec", "c1", "sh", "-c", "kill -9 $$").returncode == 137


def test_exec_missing_and_not_executable(oci, tmp_path, rootfs):
    running(oci, tmp_path, rootfs)
    r = oci("exec", "c1", "no-such-command")
    assert r.returncode == 127 or r.returncode == 1, r
    assert 'exec: "no-such-command": executable file not found in $PATH' in r.stderr
    assert oci("exec", "c1", "sh", "-c", "echo x > /tmp/data").returncode == 0
    r = oci("exec", "c1", "/tmp/data")
    assert r.returncode == 126 or r.returncode == 1, r
    assert 'exec: "/tmp/data": permission denied' in r.stderr


def test_exec_user_cwd_env(oci, tmp_path, rootfs):
    def edit(cfg):
        cfg["process"]["env"].append("FOO=container")
        cfg["process"]["env"].append("KEEP=1")
    running(oci, tmp_path, rootfs, edit)
    # Rootless, `sbx spec --rootless` maps one id: root's.
    uid, gid = ("0", "0") if ROOTLESS else ("1000", "1001")
    r = oci("exec", "--user", f"{uid}:{gid}", "--cwd", "/tmp", "--env", "FOO=exec", "c1",
            "sh", "-c", "id -u; id -g; pwd; echo $FOO $KEEP")
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == [uid, gid, "/tmp", "exec", "1"]


def cap_eff(text):
    return int([l for l in text.splitlines() if l.startswith("CapEff:")][0].split()[1], 16)


def test_exec_capabilities_are_the_containers(oci, tmp_path, rootfs):
    # CAP_CHOWN 0, CAP_KILL 5; --cap adds CAP_NET_BIND_SERVICE 10.
    running(oci, tmp_path, rootfs, with_caps("CAP_CHOWN", "CAP_KILL"))
    r = oci("exec", "c1", "cat", "/proc/self/status")
    assert r.returncode == 0, r.stderr
    assert cap_eff(r.stdout) == (1 << 0) | (1 << 5)
    r = oci("exec", "--cap", "CAP_NET_BIND_SERVICE", "c1", "cat", "/proc/self/status")
    assert r.returncode == 0, r.stderr
    assert cap_eff(r.stdout) == (1 << 0) | (1 << 5) | (1 << 10)


def test_exec_hardened_has_no_capabilities_and_nnp(oci, tmp_path, rootfs):
    # `sbx spec`'s default: run.sbx.profile=hardened, whatever the spec grants.
    def edit(cfg):
        assert cfg["annotations"].get("run.sbx.profile") == "hardened"
        cfg["process"]["capabilities"] = {"bounding": ["CAP_CHOWN"], "effective": ["CAP_CHOWN"],
                                          "permitted": ["CAP_CHOWN"]}
        cfg["process"]["noNewPrivileges"] = False
    running(oci, tmp_path, rootfs, edit)
    r = oci("exec", "c1", "cat", "/proc/self/status")
    assert r.returncode == 0, r.stderr
    assert cap_eff(r.stdout) == 0
    assert "NoNewPrivs:\t1" in r.stdout


def test_exec_applies_the_containers_seccomp(oci, tmp_path, rootfs):
    def edit(cfg):
        plain(cfg)
        cfg["linux"]["seccomp"] = {"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
            {"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1}]}
    running(oci, tmp_path, rootfs, edit)
    r = oci("exec", "c1", "sh", "-c", "mkdir /tmp/x 2>/dev/null; echo $?; grep '^Seccomp:' /proc/self/status")
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ["1", "Seccomp:", "2"]


def test_exec_detach_writes_the_pid_file(oci, tmp_path, rootfs):
    pid = running(oci, tmp_path, rootfs)
    pid_file = tmp_path / "exec.pid"
    r = oci("exec", "--detach", "--pid-file", str(pid_file), "c1", "sleep", "30")
    assert r.returncode == 0, r.stderr
    p = int(pid_file.read_text())
    assert os.path.exists(f"/proc/{p}")
    assert ns_inode(p, "pid") == ns_inode(pid, "pid")
    assert ns_inode(p, "mnt") == ns_inode(pid, "mnt")
    os.kill(p, 9)


def test_exec_tty_sends_the_master(oci, tmp_path, rootfs):
    running(oci, tmp_path, rootfs)
    path = str(tmp_path / "console.sock")
    srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    srv.bind(path)
    srv.listen(1)
    p = subprocess.Popen([SBX, "--root", str(oci.root), "exec", "--tty", "--console-socket", path, "c1",
                          "sh", "-c", "tty; exit 3"], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                         stderr=subprocess.PIPE, start_new_session=True)
    conn, _ = srv.accept()
    _, fds, _, _ = socket.recv_fds(conn, 4096, 1)
    assert len(fds) == 1
    out = b""
    deadline = time.time() + 10
    while time.time() < deadline:
        try:
            d = os.read(fds[0], 4096)
        except OSError:  # EIO: the slave's last holder went away
            break
        if not d:
            break
        out += d
    assert p.wait(timeout=10) == 3, p.stderr.read()
    assert b"/dev/pts/" in out


def test_exec_refuses_a_stopped_container(oci, tmp_path, rootfs):
    pid = running(oci, tmp_path, rootfs)
    os.kill(pid, 9)
    deadline = time.time() + 10
    while time.time() < deadline and json.loads(oci("state", "c1").stdout)["status"] != "stopped":
        time.sleep(0.05)
    r = oci("exec", "c1", "true")
    assert r.returncode != 0
    assert "cannot exec in a stopped container" in r.stderr


def test_exec_refuses_a_reused_pid(oci, tmp_path, rootfs):
    """state.json's pid with another start time is another process: exec
    must not enter it (here: sbx's own test runner, on the host)."""
    running(oci, tmp_path, rootfs)
    state_file = oci.root / "c1" / "state.json"
    saved = state_file.read_text()
    st = json.loads(saved)
    st["pid"] = os.getpid()
    state_file.write_text(json.dumps(st))
    r = oci("exec", "c1", "true")
    state_file.write_text(saved)  # for delete to find the container's process
    assert r.returncode != 0
    assert "stopped" in r.stderr or "not running" in r.stderr


def test_exec_cannot_overwrite_sbx(tmp_path):
    """runc's CVE-2019-5736: a container binary whose "#!" names
    /proc/self/exe makes exec's execve run sbx's own binary inside the
    container; the container, holding it open, writes it once sbx is gone.
    sbx enters containers from a sealed copy of itself: the write fails and
    the binary on the host is unchanged.  (In the busybox rootfs the
    kernel finds no /proc/self/exe for the "#!": the Debian one it is.)"""
    rootfs = python_rootfs()
    copy = tmp_path / "sbx-copy"
    shutil.copy2(SBX, copy)
    os.chmod(tmp_path, 0o755)
    o = Oci(tmp_path, binary=str(copy))
    try:
        running(o, tmp_path, rootfs, plain)
        r = o("exec", "c1", "sh", "-c", "printf '#!/proc/self/exe\\n' > /tmp/evil; chmod 755 /tmp/evil")
        assert r.returncode == 0, r.stderr
        # The sbx that runs /tmp/evil's "interpreter" blocks on its stderr
        # (a full pipe): alive long enough to be opened.
        rd, wr = os.pipe()
        os.set_blocking(wr, False)
        try:
            while True:
                os.write(wr, b"x" * 4096)
        except BlockingIOError:
            pass
        os.set_blocking(wr, True)
        pid_file = tmp_path / "evil.pid"
        p = subprocess.Popen([str(copy), "--root", str(o.root), "exec", "--detach", "--pid-file", str(pid_file),
                              "c1", "/tmp/evil"], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=wr,
                             start_new_session=True)
        try:
            rc = p.wait(timeout=20)
        except subprocess.TimeoutExpired:
            rc = None
        if rc != 0:  # its error is behind the filler
            os.set_blocking(rd, False)
            text = b""
            try:
                while True:
                    text += os.read(rd, 1 << 16)
            except BlockingIOError:
                pass
            rc = p.wait(timeout=20)
            try:
                text += os.read(rd, 1 << 16)
            except BlockingIOError:
                pass
            pytest.fail(f"exec {rc}: {text.lstrip(b'x').decode(errors='replace')}")
        host_pid = int(pid_file.read_text())
        nspid = [l.split()[-1] for l in open(f"/proc/{host_pid}/status") if l.startswith("NSpid")][0]
        before = copy.read_bytes()
        attack = (f"exec 3</proc/{nspid}/exe; kill -9 {nspid}; i=0; "
                  "while [ $i -lt 30 ]; do if printf x >> /proc/self/fd/3; then echo WROTE > /tmp/result; fi; "
                  "i=$((i+1)); sleep 0.1; done 2>/dev/null; echo done >> /tmp/result")
        r = o("exec", "--detach", "c1", "sh", "-c", attack)
        assert r.returncode == 0, r.stderr
        deadline = time.time() + 20
        res = ""
        while time.time() < deadline and "done" not in res:
            time.sleep(0.5)
            res = o("exec", "c1", "sh", "-c", "cat /tmp/result 2>/dev/null").stdout
        os.close(rd)
        os.close(wr)
        assert "done" in res
        assert "WROTE" not in res
        assert copy.read_bytes() == before
    finally:
        o.cleanup()
