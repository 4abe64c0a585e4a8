"""The seed's sample projects run inside the sandbox on the Python rootfs
(rootfs/build)."""
import os
import pathlib
import shutil

from conftest import REPO, expected_ws_owner, python_rootfs, run


def project_workspace(tmp_path, name):
    ws = tmp_path / name
    shutil.copytree(REPO / "tests" / "projects" / name, ws)
    if os.geteuid() == 0:
        for p in [ws, *ws.rglob("*")]:
            os.chown(p, expected_ws_owner(), expected_ws_owner(), follow_symlinks=False)
    return ws


def test_hello(tmp_path):
    ws = project_workspace(tmp_path, "hello")
    r = run(python_rootfs(), "python3", "hello.py", opts=["-w", str(ws)])
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines()[0] == "Hello from the sandbox!"
    assert len(r.stdout.splitlines()) == 2


def test_calculator_tests_pass(tmp_path):
    ws = project_workspace(tmp_path, "calculator")
    r = run(python_rootfs(), "python3", "-m", "pytest", "-q", "-p", "no:cacheprovider",
            opts=["-w", str(ws)], timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "5 passed" in r.stdout


def test_python_cannot_write_outside_the_workspace(tmp_path):
    ws = project_workspace(tmp_path, "hello")
    code = ("import os\n"
            "for p in ['/usr/lib/x', '/etc/x', '/home/x', '/x']:\n"
            "    try:\n"
            "        open(p, 'w')\n"
            "        print('WROTE', p)\n"
            "    except OSError as e:\n"
            "        print('denied', p, e.errno)\n"
            "open('/workspace/out.txt', 'w').write('ok')\n"
            "open('/tmp/t', 'w').write('ok')\n")
    r = run(python_rootfs(), "python3", "-c", code, opts=["-w", str(ws)])
    assert r.returncode == 0, r.stderr
    assert "WROTE" not in r.stdout
    assert (ws / "out.txt").read_text() == "ok"
    assert pathlib.Path(ws / "out.txt").stat().st_uid == expected_ws_owner()
