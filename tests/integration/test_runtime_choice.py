"""--runtime auto|native|runsc: which backend runs, why, and that a runsc run
leaves nothing behind.

auto picks runsc when it is on PATH and usable by the caller (root, or a
caller with a subordinate range), native otherwise; the JSON result says
which (runtime) and why (runtime_reason).  --runtime runsc that cannot run
fails with 125 and the reason.  Under runsc sbx keeps the bundle and
runsc's state on a tmpfs of its own mount namespace and runs runsc as the
init of its own pid namespace: after a normal exit, a timeout or a SIGKILL
of sbx no process of the run, mount, /tmp or /run entry, or runsc state
(`runsc list`) is left on the host."""
import json
import os
import pwd
import re
import shutil
import subprocess

import pytest

from conftest import MODE, new_tmp_entries, run
from test_supervision import mounts_beside, run_reaped

RUNSC = shutil.which("runsc")
# Whether this caller can run runsc: root, or a caller with a range.
USABLE = MODE in ("root", "subuid")


def need_runsc():
    if RUNSC is None:
        pytest.skip("SKIP: runsc is not installed (Debian: apt-get install runsc): nothing to hand off to")


def need_usable_runsc():
    need_runsc()
    if not USABLE:
        pytest.skip("SKIP: this caller has no subordinate range: runsc cannot run (see the nosub tests)")


def choice(rootfs, *opts, env=None):
    """Run /bin/true with OPTS; returns (process, runtime, runtime_reason)."""
    rfd, wfd = os.pipe()
    try:
        r = run(rootfs, "/bin/true", opts=["--json-fd", str(wfd), *opts], pass_fds=(wfd,), env=env)
    finally:
        os.close(wfd)
    with os.fdopen(rfd) as f:
        text = f.read()
    res = json.loads(text) if text else {}
    return r, res.get("runtime"), res.get("runtime_reason")


def env_without_runsc(tmp_path):
    """The caller's environment with a PATH of one empty directory: no
    runsc (sbx finds newuidmap/newgidmap in the system directories)."""
    d = tmp_path / "path"
    d.mkdir()
    os.chmod(tmp_path, 0o755)
    os.chmod(d, 0o755)
    env = dict(os.environ)
    env["PATH"] = str(d)
    return env


# ---- the choice --------------------------------------------------------------

def test_auto_picks_runsc_when_installed_and_usable(rootfs):
    need_usable_runsc()
    r, runtime, reason = choice(rootfs, "--runtime", "auto")
    assert r.returncode == 0, r.stderr
    assert runtime == "runsc", (runtime, reason)
    assert reason == f"runsc is installed and usable: {RUNSC}", reason
    v = run(rootfs, "/bin/true", opts=["--runtime", "auto", "-v"])
    assert v.returncode == 0 and f"sbx: runtime: runsc (runsc is installed and usable: {RUNSC})" in v.stderr, v.stderr
    r, runtime, reason = choice(rootfs, "--runtime", "native")
    assert r.returncode == 0 and runtime == "native", (runtime, reason, r.stderr)


def test_auto_picks_native_when_runsc_is_not_on_path(rootfs, tmp_path):
    env = env_without_runsc(tmp_path)
    r, runtime, reason = choice(rootfs, "--runtime", "auto", env=env)
    assert r.returncode == 0, r.stderr
    assert runtime == "native" and reason == "runsc is not installed (not on PATH)", (runtime, reason)
    # forced, it fails before the command with the reason and what to do
    r = run(rootfs, "/bin/true", opts=["--runtime", "runsc"], env=env)
    assert r.returncode == 125, r.stderr
    assert r.stderr.splitlines() == ["sbx: --runtime runsc: runsc is not installed (not on PATH) (install gVisor "
                                     "(Debian: apt-get install runsc), or run with --runtime native)"], r.stderr


def subid_ranges(path):
    out = []
    with open(path) as f:
        for line in f:
            fields = line.strip().split(":")
            if len(fields) == 3 and fields[1].isdigit() and fields[2].isdigit():
                out.append((int(fields[1]), int(fields[1]) + int(fields[2])))
    return out


def test_without_a_range_auto_is_native_and_runsc_names_the_subuid_line(rootfs):
    if MODE != "nosub":
        pytest.skip("a caller without a subordinate range: the nosub mode")
    need_runsc()
    user = pwd.getpwuid(os.getuid()).pw_name
    r, runtime, reason = choice(rootfs, "--runtime", "auto")
    assert r.returncode == 0, r.stderr
    assert runtime == "native", (runtime, reason)
    assert reason == f"runsc needs a range of subordinate ids and {user} has none in /etc/subuid and /etc/subgid"
    r = run(rootfs, "/bin/true", opts=["--runtime", "runsc"])
    assert r.returncode == 125, r.stderr
    assert len(r.stderr.splitlines()) == 1, r.stderr
    m = re.search(rf"add the line '{re.escape(user)}:(\d+):65536' to /etc/subuid and to /etc/subgid", r.stderr)
    assert m, r.stderr
    start = int(m.group(1))
    assert f"usermod --add-subuids {start}-{start + 65535} --add-subgids {start}-{start + 65535} {user}" in r.stderr
    # a line that can be added as it is: clear of every range already given
    for path in ("/etc/subuid", "/etc/subgid"):
        for lo, hi in subid_ranges(path):
            assert start + 65536 <= lo or hi <= start, (path, lo, hi, start)


# ---- nothing left behind -------------------------------------------------------

def runsc_state_dirs():
    """Where runsc keeps its state by default, for root and rootless."""
    dirs = ["/run/runsc", "/var/run/runsc", os.path.expanduser("~/.local/share/runsc"),
            os.path.expanduser("~/.local/state/runsc"), f"/run/user/{os.getuid()}/runsc"]
    if os.environ.get("XDG_RUNTIME_DIR"):
        dirs.append(os.path.join(os.environ["XDG_RUNTIME_DIR"], "runsc"))
    return dirs


def state_snapshot():
    out = {}
    for d in runsc_state_dirs():
        try:
            out[d] = sorted(os.listdir(d))
        except OSError:
            out[d] = None
    return out


def runsc_list_ids():
    """The containers `runsc list` knows in each default state directory."""
    ids = []
    for d in runsc_state_dirs():
        if os.path.isdir(d):
            r = subprocess.run([RUNSC, "--root", d, "list", "-q"], capture_output=True, text=True, timeout=30)
            ids += r.stdout.split()
    return ids


def run_dir_entries():
    try:
        return set(os.listdir("/run"))
    except OSError:
        return set()


def check_nothing_left(rootfs, how, *args, expect_rc):
    need_usable_runsc()
    mounts, tmp, run_before, state = mounts_beside(rootfs), set(os.listdir("/tmp")), run_dir_entries(), state_snapshot()
    res = run_reaped(how, "run", "--runtime", "runsc", "--rootfs", str(rootfs), *args)
    assert res["rc"] == expect_rc, res
    if how == "kill-at-boot":
        assert res["seen"], f"runsc's sandbox ({res['id']}*) never seen running: {res}"
    assert res["left"] == {}, f"processes of the run left behind: {res['left']}"
    ident = res["id"]
    ps = subprocess.run(["ps", "-eo", "pid,args"], capture_output=True, text=True).stdout
    assert [l for l in ps.splitlines() if ident in l] == []
    assert mounts_beside(rootfs) == mounts
    # others' runs may add to /tmp and /run meanwhile: what this run could leave
    ours = lambda names: {n for n in names if n in ("bundle", "state", "runsc.log", "runsc") or ident in n}
    assert ours(new_tmp_entries(tmp)) == set()
    assert ours(run_dir_entries() - run_before) == set()
    assert state_snapshot() == state
    assert [i for i in runsc_list_ids() if i.startswith(ident)] == []


def test_nothing_left_after_a_normal_exit(rootfs):
    check_nothing_left(rootfs, "exit", "--", "/bin/true", expect_rc=0)


def test_nothing_left_after_a_timeout(rootfs):
    check_nothing_left(rootfs, "exit", "--timeout", "1", "--kill-grace", "0.5", "--", "/bin/sleep", "30",
                       expect_rc=124)


def test_nothing_left_after_sigkill_of_sbx(rootfs):
    check_nothing_left(rootfs, "kill-at-boot", "--", "/bin/sleep", "60", expect_rc=-9)


# ---- runsc's failures in native's terms (also run by tests/mutants/run, which
# pins no runtime) --------------------------------------------------------------

def test_runsc_not_found_is_127_and_not_executable_126(rootfs):
    need_usable_runsc()
    for cmd, code, words in [("no-such-command", 127, "command not found in the sandbox: no-such-command"),
                             ("/bin/missing", 127, "/bin/missing: not found in the sandbox"),
                             ("/notexec", 126, "cannot execute /notexec in the sandbox"),
                             ("/bin", 126, "cannot execute /bin in the sandbox")]:
        r = run(rootfs, cmd, opts=["--runtime", "runsc"])
        # runsc prints its own error first, on the stderr it shares with the
        # command; sbx's line then names what it looked in, or quotes runsc
        assert r.returncode == code and r.stderr.splitlines()[-1].startswith(f"sbx: {words} ("), (cmd, r.stderr)


def test_runsc_makes_no_target_in_a_host_directory(rootfs, tmp_path):
    """A target below the workspace or a bind must exist there, as under
    native: runsc's gofer would make it in the host's directory."""
    need_usable_runsc()
    os.chmod(tmp_path, 0o755)
    ws = tmp_path / "ws"
    ws.mkdir()
    data = tmp_path / "data"
    data.mkdir()
    if os.geteuid() == 0:  # owned by the sandbox user: it could write there
        os.chown(ws, 4242, 4242)
        os.chown(data, 4242, 4242)
    for opts, where in [(["-w", str(ws), "--bind", f"{data}:/workspace/no/such/dir"], "--bind /workspace/no/such/dir"),
                        (["--bind", f"{data}:/opt/data", "--tmpfs", "/opt/data/made"], "--tmpfs /opt/data/made")]:
        r = run(rootfs, "true", opts=["--runtime", "runsc", *opts])
        assert r.returncode == 125 and where in r.stderr and "sbx never writes the host's directories" in r.stderr, r.stderr
        assert len(r.stderr.splitlines()) == 1, r.stderr
    assert list(ws.iterdir()) == [] and list(data.iterdir()) == []
