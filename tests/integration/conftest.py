"""Fixtures for the sbx integration suite.

The suite runs once per mode (tests/run-integration sets SBX_TEST_MODE):
  root    - sbx run by root
  subuid  - an unprivileged user with /etc/subuid ranges (newuidmap)
  nosub   - an unprivileged user without ranges (single id mapping)
Each mode checks that it really is that mode, so a mislabelled run fails.
"""
import json
import os
import pathlib
import shutil
import stat
import subprocess

import pytest

REPO = pathlib.Path(__file__).resolve().parents[2]
SBX = os.environ.get("SBX", str(REPO / "sbx"))
PROBE = REPO / "tests" / "helper" / "sbx-probe"
MODE = os.environ.get("SBX_TEST_MODE", "root" if os.geteuid() == 0 else "nosub")
# The backend every `sbx run` of the suite uses (sbx reads $SBX_RUNTIME as
# the default of --runtime); tests/run-integration runs the suite under
# each.  Without it the suite pins native, so that a host with runsc does
# not change what it tests.
RUNTIME = os.environ.setdefault("SBX_RUNTIME", "native")
BUSYBOX = shutil.which("busybox") or "/bin/busybox"
APPLETS = ["sh", "ls", "cat", "id", "echo", "sleep", "touch", "env", "true", "false", "stat", "setsid",
           "wc", "stty", "kill"]
# The uid that owns the workspace in root mode: any unprivileged host user.
ROOT_MODE_WS_UID = 4242


def make_rootfs(base: pathlib.Path) -> pathlib.Path:
    """A minimal rootfs: busybox, the probe, and the directories sbx mounts on."""
    root = base / "rootfs"
    for d in ["bin", "proc", "dev", "sys", "tmp", "workspace", "etc", "opt/data", "opt/rw"]:
        (root / d).mkdir(parents=True, exist_ok=True)
    os.chmod(root / "tmp", 0o1777)
    shutil.copy2(BUSYBOX, root / "bin" / "busybox")
    for applet in APPLETS:
        (root / "bin" / applet).symlink_to("busybox")
    shutil.copy2(PROBE, root / "bin" / "sbx-probe")
    # Privileged copies that must grant nothing: setuid, setgid, and (only
    # root can set them) file capabilities.
    shutil.copy2(PROBE, root / "bin" / "sbx-probe-suid")
    os.chmod(root / "bin" / "sbx-probe-suid", 0o6755)
    if os.geteuid() == 0:
        shutil.copy2(PROBE, root / "bin" / "sbx-probe-fcap")
        subprocess.run(["setcap", "cap_net_raw,cap_sys_admin,cap_dac_override+eip",
                        str(root / "bin" / "sbx-probe-fcap")], check=True)
    for name, text in [("hosts", "# image hosts\n"), ("resolv.conf", "# image\n"), ("hostname", "image\n")]:
        (root / "etc" / name).write_text(text)
    (root / "notexec").write_text("not a program\n")
    for p in [base, *root.rglob("*")]:
        if not p.is_symlink() and not p.name.startswith("sbx-probe-"):
            os.chmod(p, os.stat(p).st_mode | stat.S_IROTH | (stat.S_IXOTH if p.is_dir() else 0))
    return root


@pytest.fixture(scope="session")
def rootfs(tmp_path_factory):
    base = tmp_path_factory.mktemp("rootfs")
    os.chmod(base, 0o755)
    return make_rootfs(base)


@pytest.fixture
def workspace(tmp_path):
    ws = tmp_path / "ws"
    ws.mkdir()
    if os.geteuid() == 0:
        os.chown(ws, ROOT_MODE_WS_UID, ROOT_MODE_WS_UID)
    return ws


@pytest.fixture
def store(tmp_path):
    """An image store of the test's own, taken apart by sbx afterwards
    (rootless with ranges its trees belong to subordinate ids)."""
    s = tmp_path / "store"
    yield s
    if s.is_dir():
        r = sbx("image", "ls", "--json", "--store", str(s))
        try:
            recs = json.loads(r.stdout) if r.returncode == 0 else []
        except ValueError:
            recs = []
        if recs:
            sbx("image", "rm", "--store", str(s), *[f"{x['name']}:{x['tag']}" for x in recs])
        sbx("image", "gc", "--store", str(s))


def expected_ws_owner():
    return ROOT_MODE_WS_UID if os.geteuid() == 0 else os.getuid()


def sbx(*args, env=None, timeout=60, **kw):
    """Run sbx with ARGS; returns the CompletedProcess (text mode)."""
    return subprocess.run([SBX, *args], capture_output=True, text=True, timeout=timeout,
                          env=env if env is not None else os.environ.copy(), **kw)


def run(rootfs, *cmd, opts=(), **kw):
    return sbx("run", "--rootfs", str(rootfs), *opts, "--", *cmd, **kw)


def probe(rootfs, *args, opts=(), **kw):
    return run(rootfs, "/bin/sbx-probe", *args, opts=opts, **kw)


def snapshot(path):
    """Every entry below PATH with inode, mode, mtime and content: equal
    snapshots mean nothing there was touched."""
    out = {}
    for dirpath, dirnames, filenames in os.walk(path):
        for name in dirnames + filenames:
            p = os.path.join(dirpath, name)
            st = os.lstat(p)
            data = open(p, "rb").read() if os.path.isfile(p) and not os.path.islink(p) else None
            out[p] = (st.st_ino, st.st_mode, st.st_mtime_ns, st.st_size, data)
    return out


def new_tmp_entries(before):
    """Entries that appeared in the host's /tmp since BEFORE, leaving out
    those of other programs that may run beside the suite (pytest's own,
    compilers', Python's tempfile)."""
    return {n for n in set(os.listdir("/tmp")) - before if not n.startswith(("pytest", "cc", "tmp"))}


def host_mounts():
    with open("/proc/self/mountinfo") as f:
        return sorted(" ".join(l.split()[3:5]) for l in f)


def python_rootfs():
    path = os.environ.get("SBX_PY_ROOTFS")
    if not path or not os.path.isdir(path):
        pytest.fail("SBX_PY_ROOTFS is not set to a built Python rootfs (rootfs/build makes one); "
                    "tests/run-integration sets it")
    return path
