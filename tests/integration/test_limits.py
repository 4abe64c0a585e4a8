"""Resource limits where no cgroup v2 can hold them: the fallback path.

This host (like any hybrid or v1 host, or rootless without delegation)
offers no cgroup v2 controller, so sbx holds --memory by RLIMIT_DATA, --pids
by RLIMIT_NPROC only where the sandbox's host uid is its own (root mode with
sbx's range), and --cpus not at all; it says so in the JSON
(limits_enforced_by), on stderr for limits given on the command line only,
fails with 125 under --require-limits, and never writes the v1 hierarchies.
The cgroup v2 path itself is tested in a VM (tests/vm)."""
import os
import pathlib
import shutil
import subprocess

import pytest

from conftest import MODE, ROOT_MODE_WS_UID, RUNTIME, SBX, python_rootfs, run
from test_supervision import run_json  # the JSON result, its keys and exit code checked

CONTROLLERS = {"memory", "cpu", "pids"}
FORK_COUNT = r"""
import os, time
n = 0
for i in range(60):
    try:
        pid = os.fork()
    except OSError:
        break
    if pid == 0:
        time.sleep(5)
        os._exit(0)
    n += 1
print(n)
"""


def cgroup2_mount():
    with open("/proc/self/mountinfo") as f:
        for line in f:
            fields = line.split()
            if fields[fields.index("-") + 1] == "cgroup2":
                return fields[4]
    return None


def v1_dirs():
    """The v1 hierarchies bound to the controllers sbx limits."""
    out = []
    with open("/proc/self/mountinfo") as f:
        for line in f:
            fields = line.split()
            sep = fields.index("-")
            if fields[sep + 1] == "cgroup" and CONTROLLERS & set(fields[sep + 3].split(",")):
                out.append(fields[4])
    return out


@pytest.fixture(autouse=True)
def fallback_host():
    mnt = cgroup2_mount()
    offered = set()
    if mnt:
        try:
            offered = set(pathlib.Path(mnt, "cgroup.controllers").read_text().split()) & CONTROLLERS
        except OSError:
            pass
    if offered:
        pytest.skip(f"this host's cgroup v2 offers {sorted(offered)}: the fallback path is for hosts "
                    "without (the cgroup v2 path is tested in tests/vm)")


def notices(stderr):
    return [l for l in stderr.splitlines() if l.startswith("sbx:")]


def proc_limits(text):
    """Max data size and Max processes from /proc/self/limits (soft, hard)."""
    out = {}
    for line in text.splitlines():
        for name in ("Max data size", "Max processes", "Max address space", "Max cpu time"):
            if line.startswith(name):
                out[name] = tuple(line[len(name):].split()[:2])
    return out


# Under runsc no rlimit stands in for a missing cgroup (sandbox.c's
# drop_rlimit_enforcers): gVisor's sentry is one host process for all the
# command's processes, so RLIMIT_DATA or RLIMIT_NPROC on it would limit
# gVisor, not each process.  Such a limit is "none" and said so.
RLIMITS = RUNTIME != "runsc"


def memory_enforcer():
    return "rlimit" if RLIMITS else "none"


def pids_enforcer(workspace_owner):
    """RLIMIT_NPROC only where the sandbox user's host uid is the
    sandbox's own: root mode, the uid from sbx's range (no workspace, or a
    root-owned one shown through an idmapped mount)."""
    if RLIMITS and MODE == "root" and workspace_owner in (None, 0):
        return "rlimit"
    return "none"


def memory_notice(size):
    return f"--memory {size} holds per process only (RLIMIT_DATA)" if RLIMITS else f"--memory {size} is not enforced"


def test_defaults_reported_in_json_and_quiet_on_stderr(rootfs):
    # gVisor has no /proc/self/limits (and sets no rlimit of sbx's): /bin/true there
    r, res = run_json(rootfs, *(["/bin/cat", "/proc/self/limits"] if RLIMITS else ["/bin/true"]))
    assert r.returncode == 0, r.stderr
    assert notices(r.stderr) == [], r.stderr  # defaults: -v and the JSON only
    assert res["limits_enforced_by"] == {"memory": memory_enforcer(), "cpus": "none", "pids": pids_enforcer(None)}
    assert res["limits_requested"]["memory_bytes"] == 2 << 30
    assert res["limits_requested"]["pids"] == 256
    assert res["limits_requested"]["cpus"] is None
    assert res["limits_in_force"]["memory_bytes"] == (2 << 30 if RLIMITS else None)
    assert res["limits_in_force"]["pids"] == (256 if pids_enforcer(None) == "rlimit" else None)
    assert res["limits_in_force"]["cpus"] is None
    assert res["memory_peak_bytes"] is None and res["pids_peak"] is None and res["cpu_throttled_s"] is None
    assert res["oom_killed"] is False and res["pids_limit_hit"] is False
    assert "cgroup-v2-limits" not in res["layers"]
    v = run(rootfs, "/bin/true", opts=["-v"])
    assert v.returncode == 0
    assert [l for l in v.stderr.splitlines() if l.startswith("sbx: default limits: " + memory_notice("2g"))], v.stderr
    if not RLIMITS:
        return
    lim = proc_limits(r.stdout)
    assert lim["Max data size"] == (str(2 << 30), str(2 << 30))
    # RLIMIT_AS stays open: runtimes that reserve address space still start
    assert lim["Max address space"] == ("unlimited", "unlimited")
    assert lim["Max cpu time"] == ("unlimited", "unlimited")
    if pids_enforcer(None) == "rlimit":
        assert lim["Max processes"] == ("256", "256")
    else:  # the caller's (or a workspace owner's) uid: RLIMIT_NPROC left alone
        assert lim["Max processes"] != ("256", "256")


def test_explicit_limits_said_once_on_stderr(rootfs):
    r, res = run_json(rootfs, "/bin/true", opts=["-m", "64m", "--cpus", "0.5", "--pids", "40"])
    assert r.returncode == 0, r.stderr
    lines = notices(r.stderr)
    assert len(lines) == 1, r.stderr
    assert lines[0].startswith(f"sbx: notice: {memory_notice('64m')}, --cpus 0.5 is not enforced"), lines
    assert "--pids 40" in lines[0]
    assert res["limits_enforced_by"] == {"memory": memory_enforcer(), "cpus": "none", "pids": pids_enforcer(None)}
    assert res["limits_requested"]["cpus"] == 0.5 and res["limits_in_force"]["cpus"] is None
    assert res["limits_requested"]["memory_bytes"] == 64 << 20
    # only what was given: --memory alone speaks only of memory
    r = run(rootfs, "/bin/true", opts=["--memory", "1g"])
    lines = notices(r.stderr)
    assert len(lines) == 1 and "--memory 1g" in lines[0] and "--pids" not in lines[0], r.stderr
    # no limit at all: nothing to say, nothing set
    r, res = run_json(rootfs, *(["/bin/cat", "/proc/self/limits"] if RLIMITS else ["/bin/true"]),
                      opts=["--memory", "0", "--pids", "0"])
    assert r.returncode == 0 and notices(r.stderr) == [], r.stderr
    assert res["limits_enforced_by"] == {"memory": "none", "cpus": "none", "pids": "none"}
    assert res["limits_in_force"]["memory_bytes"] is None and res["limits_requested"]["memory_bytes"] is None
    if RLIMITS:
        assert proc_limits(r.stdout)["Max data size"] == ("unlimited", "unlimited")


def test_memory_hog_fails_at_the_rlimit(workspace):
    py = python_rootfs()
    hog = "b = bytearray(256 << 20); print('got it')"
    r = run(py, "python3", "-c", hog, opts=["-m", "64m"])
    if RLIMITS:
        assert r.returncode == 1 and "MemoryError" in r.stderr, r.stderr
        assert "got it" not in r.stdout
    else:  # nothing holds it on this host under runsc, and sbx says so (never silently)
        assert r.returncode == 0 and r.stdout == "got it\n", r.stderr
        assert "sbx: notice: --memory 64m is not enforced" in r.stderr, r.stderr
    r = run(py, "python3", "-c", hog, opts=["-m", "512m"])  # the control: the hog itself works
    assert r.returncode == 0 and r.stdout == "got it\n", r.stderr


def test_fork_bomb_held_by_nproc_only_where_the_uid_is_the_sandboxs(workspace):
    py = python_rootfs()
    r, res = run_json(py, "python3", "-c", FORK_COUNT, opts=["--pids", "20"])
    assert r.returncode == 0, r.stderr
    assert res["limits_enforced_by"]["pids"] == pids_enforcer(None)
    forked = int(r.stdout)
    if pids_enforcer(None) == "rlimit":
        # 20 with init and python: 18 children at most
        assert forked <= 18, forked
    else:
        assert forked == 60, forked
        assert "--pids 20 is not enforced" in r.stderr
    r = run(py, "python3", "-c", FORK_COUNT, opts=["--pids", "0"])  # the control
    assert r.returncode == 0 and int(r.stdout) == 60, r.stderr


def test_nproc_not_used_for_a_workspace_owners_uid(workspace):
    """Root mode with a workspace: the sandbox user is the workspace's owner
    on the host, whose own processes RLIMIT_NPROC would count."""
    if MODE != "root":
        pytest.skip("root mode maps the sandbox user to the workspace's owner; rootless it is always "
                    "the caller (covered by the fork test)")
    py = python_rootfs()
    r, res = run_json(py, "python3", "-c", FORK_COUNT, opts=["-w", str(workspace), "--pids", "20"])
    assert r.returncode == 0, r.stderr
    assert res["limits_enforced_by"]["pids"] == "none"
    assert res["limits_in_force"]["pids"] is None
    assert int(r.stdout) == 60
    assert "--pids 20 is not enforced" in r.stderr
    if RLIMITS:  # gVisor has no /proc/self/limits
        r = run(py, "/bin/sh", "-c", "cat /proc/self/limits", opts=["-w", str(workspace)])
        assert proc_limits(r.stdout)["Max processes"][1] != "256", r.stdout
    # a root-owned workspace is idmapped: the uid is sbx's range again
    os.chown(workspace, 0, 0)
    r, res = run_json(py, "/bin/true", opts=["-w", str(workspace)])
    assert r.returncode == 0, r.stderr
    assert res["limits_enforced_by"]["pids"] == pids_enforcer(0)
    os.chown(workspace, ROOT_MODE_WS_UID, ROOT_MODE_WS_UID)


def test_require_limits_fails_before_the_command(rootfs, workspace):
    marker = workspace / "ran"
    cmd = ("/bin/touch", "/workspace/ran")
    r = run(rootfs, *cmd, opts=["-w", str(workspace), "--require-limits"])
    assert r.returncode == 125, r.stderr
    assert not marker.exists()
    assert r.stderr.startswith("sbx: --require-limits: no cgroup v2 can hold the memory and pids limits here: ")
    assert "sbx check" in r.stderr
    assert len(r.stderr.splitlines()) == 1
    r = run(rootfs, *cmd, opts=["-w", str(workspace), "--require-limits", "--cpus", "1", "-m", "0",
                                "--pids", "0"])
    assert r.returncode == 125 and "hold the cpus limit here" in r.stderr, r.stderr
    assert not marker.exists()
    # nothing in force: nothing to require
    r = run(rootfs, *cmd, opts=["-w", str(workspace), "--require-limits", "-m", "0", "--pids", "0"])
    assert r.returncode == 0, r.stderr
    assert marker.exists()


def listing(dirs):
    out = set()
    for d in dirs:
        for dirpath, dirnames, _ in os.walk(d):
            out.update(os.path.join(dirpath, n) for n in dirnames)
    return out


def test_no_cgroup_written_under_v1_or_left_in_v2(rootfs):
    v1 = v1_dirs()
    mnt = cgroup2_mount()
    if not v1 and not mnt:
        pytest.skip("no cgroup hierarchy mounted")
    dirs = v1 + ([mnt] if mnt else [])
    before = listing(dirs)
    opts = ["-m", "64m", "--cpus", "0.5", "--pids", "40", "--timeout", "0.3"]
    r = run(rootfs, "/bin/sleep", "5", opts=opts)
    assert r.returncode == 124, r.stderr
    r = run(rootfs, "/bin/true", opts=opts)
    assert r.returncode == 0, r.stderr
    assert listing(dirs) == before
    if MODE != "root" or shutil.which("strace") is None:
        return
    # root could write anything: watch every file sbx opens for writing.
    # gVisor's sandbox cannot start under a ptrace of strace -f: under runsc
    # only sbx itself is traced (sbx alone handles the cgroup; runsc runs with
    # --ignore-cgroups, and the listing above holds for its processes too).
    follow = [] if RUNTIME == "runsc" else ["-f"]
    trace = subprocess.run(["strace", *follow, "-qq", "-y", "-e", "trace=openat,open,mkdir,mkdirat,creat",
                            SBX, "run", "--rootfs", str(rootfs), *opts, "--", "/bin/true"],
                           capture_output=True, text=True, timeout=60)
    assert trace.returncode == 0, trace.stderr[-2000:]
    writes = [l for l in trace.stderr.splitlines() if "/sys/fs/cgroup" in l and
              ("O_WRONLY" in l or "O_RDWR" in l or "mkdir" in l or "creat(" in l)]
    assert [l for l in writes if not (mnt and mnt in l)] == [], writes
