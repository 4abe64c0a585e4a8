"""sbx as an OCI runtime: runc's command line (global options, create/start/
state/kill/delete/run/ps/list/features/spec), its errors, the state
directory's safety, and hooks.

Bundles are made here: the suite's busybox rootfs and a config.json from
`sbx spec` (--rootless when not root), edited.  Every container a test
makes is deleted with --force afterwards.
"""
import json
import os
import pathlib
import signal
import subprocess
import time

import pytest

from conftest import MODE, SBX, sbx

ROOTLESS = os.geteuid() != 0
# Container ids of this run: a cgroup is named after the id (sbx/oci-ID, as
# runc's default), and other runs on the host use the short ones too.
_SUF = os.urandom(3).hex()
C1, R1, H1 = f"c1-{_SUF}", f"r1-{_SUF}", f"h1-{_SUF}"


def proc_start_time(pid):
    with open(f"/proc/{pid}/stat") as f:
        text = f.read()
    return int(text[text.rindex(")") + 2:].split()[19])


def alive(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            text = f.read()
    except FileNotFoundError:
        return False
    return text[text.rindex(")") + 2] not in "ZX"


def wait_gone(pid, seconds=10):
    deadline = time.time() + seconds
    while time.time() < deadline:
        if not alive(pid):
            return True
        time.sleep(0.05)
    return False


def run_files(args, timeout=60, env=None):
    """sbx with its stdout and stderr in files, not pipes: a container's
    process keeps create's stdio (as runc's does), so a pipe would not
    reach its end while the container lives."""
    import tempfile
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        p = subprocess.run([SBX, *args], stdin=subprocess.DEVNULL, stdout=out, stderr=err, timeout=timeout,
                           env=env if env is not None else os.environ.copy())
        out.seek(0)
        err.seek(0)
        return subprocess.CompletedProcess(p.args, p.returncode, out.read(), err.read())


class Oci:
    """sbx with a state root and a log of the test's own."""

    def __init__(self, tmp):
        self.root = tmp / "state"
        self.log = tmp / "oci.log"
        self.made = set()

    def __call__(self, *args, log_format="json", timeout=60, **kw):
        return run_files(["--root", str(self.root), "--log", str(self.log), "--log-format", log_format, *args],
                         timeout=timeout, **kw)

    def log_lines(self):
        if not self.log.exists():
            return []
        return [json.loads(l) for l in self.log.read_text().splitlines() if l.strip()]

    def cleanup(self):
        if self.root.is_dir() and not self.root.is_symlink():
            for cid in os.listdir(self.root):
                self("delete", "--force", cid)


@pytest.fixture
def oci(tmp_path):
    o = Oci(tmp_path)
    yield o
    o.cleanup()
    if o.root.is_dir() and not o.root.is_symlink():
        assert os.listdir(o.root) == [], "state left behind"


def make_bundle(base, rootfs, args, edit=None):
    b = base / "bundle"
    b.mkdir()
    spec = ["spec", "--bundle", str(b)] + (["--rootless"] if ROOTLESS else [])
    r = sbx(*spec)
    assert r.returncode == 0, r.stderr
    cfg = json.loads((b / "config.json").read_text())
    cfg["root"]["path"] = str(rootfs)
    cfg["process"]["args"] = list(args)
    if edit:
        edit(cfg)
    (b / "config.json").write_text(json.dumps(cfg))
    os.chmod(b, 0o755)
    return b


@pytest.fixture
def bundle_factory(tmp_path, rootfs):
    n = [0]

    def make(args, edit=None):
        n[0] += 1
        d = tmp_path / f"b{n[0]}"
        d.mkdir()
        return make_bundle(d, rootfs, args, edit)
    return make


def state(oci, cid):
    r = oci("state", cid)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


def create(oci, bundle, cid, *extra):
    r = oci("create", "--bundle", str(bundle), *extra, cid)
    assert r.returncode == 0, r.stderr
    return state(oci, cid)


# ---- the command line ----

def test_unknown_global_option_is_an_error_naming_it(oci):
    r = oci("--criu-bogus", "/x", "state", "c")
    assert r.returncode == 1
    assert "--criu-bogus" in r.stderr
    assert any("--criu-bogus" in l["msg"] and l["level"] == "error" for l in oci.log_lines())


def test_unknown_command_option_is_an_error_naming_it(oci, bundle_factory):
    b = bundle_factory(["true"])
    r = oci("create", "--bundle", str(b), "--pidfd-socket", "/x", C1)
    assert r.returncode == 1
    assert "--pidfd-socket" in r.stderr
    assert not (oci.root / C1).exists()


def test_errors_go_to_stderr_and_the_json_log(oci):
    r = oci("state", "nosuch")
    assert r.returncode == 1
    assert "does not exist" in r.stderr
    lines = oci.log_lines()
    assert lines and lines[-1]["level"] == "error" and "does not exist" in lines[-1]["msg"]
    assert lines[-1]["time"].endswith("Z")


def test_text_log_format(oci):
    r = oci("state", "nosuch", log_format="text")
    assert r.returncode == 1
    text = oci.log.read_text()
    assert 'level=error msg="container does not exist' in text and text.startswith("time=")


def test_invalid_log_format_refused(oci):
    r = oci("state", "x", log_format="xml")
    assert r.returncode == 1 and "log-format" in r.stderr


@pytest.mark.parametrize("cid", ["../x", "a/b", "..", ".", "", "x" * 1025, "a\nb"])
def test_bad_ids_refused(oci, bundle_factory, tmp_path, cid):
    b = bundle_factory(["true"])
    r = oci("create", "--bundle", str(b), cid)
    assert r.returncode == 1
    assert "container id" in r.stderr
    assert not (tmp_path / "x").exists()
    for cmd in (["state", cid], ["kill", cid, "KILL"], ["delete", cid]):
        r = oci(*cmd)
        assert r.returncode == 1 and "container id" in r.stderr, cmd


def test_unknown_id(oci):
    oci.root.mkdir(mode=0o700)
    for cmd in (["state", "nope"], ["kill", "nope"], ["delete", "nope"], ["ps", "nope"], ["start", "nope"]):
        r = oci(*cmd)
        assert r.returncode == 1, cmd
        assert "does not exist" in r.stderr, (cmd, r.stderr)
    # runc's: --force on a container that is not there succeeds
    assert oci("delete", "--force", "nope").returncode == 0


def test_runc_spellings_single_dash_and_equals(oci, bundle_factory, tmp_path):
    """runc's parser takes -opt, --opt=V and -opt V; engines send all of them."""
    b = bundle_factory(["sleep", "1000"])
    r = run_files([f"-root={oci.root}", "-log", str(oci.log), "--log-format=json", "--systemd-cgroup=false",
                   "--rootless=auto", "create", f"-bundle={b}", "-pid-file", str(tmp_path / "pid"), C1])
    assert r.returncode == 0, r.stderr
    assert int((tmp_path / "pid").read_text()) == state(oci, C1)["pid"]
    r = sbx("-root", str(oci.root), "delete", "-f", C1)
    assert r.returncode == 0, r.stderr


def test_sbx_run_stays_sbx_own_without_bundle(rootfs):
    r = sbx("run", "--rootfs", str(rootfs), "--", "echo", "own")
    assert r.returncode == 0 and r.stdout == "own\n", r.stderr


def test_help_and_version(oci):
    r = sbx("help-oci")
    assert r.returncode == 0 and "--root" in r.stdout
    r = sbx("create", "--help")
    assert r.returncode == 0 and "--bundle" in r.stdout
    r = sbx("--root", "/nonexistent", "--version")
    assert r.returncode == 0 and "spec:" in r.stdout


# ---- the state root ----

def test_state_root_and_container_dirs_are_private(oci, bundle_factory):
    b = bundle_factory(["sleep", "1000"])
    create(oci, b, C1)
    assert oci.root.stat().st_mode & 0o777 == 0o700
    assert (oci.root / C1).stat().st_mode & 0o777 == 0o700
    assert (oci.root / C1 / "state.json").stat().st_mode & 0o077 == 0


def test_state_root_symlink_refused(oci, tmp_path, bundle_factory):
    real = tmp_path / "real"
    real.mkdir(mode=0o700)
    oci.root.symlink_to(real)
    b = bundle_factory(["true"])
    r = oci("create", "--bundle", str(b), C1)
    assert r.returncode == 1 and "symbolic link" in r.stderr, r.stderr
    assert os.listdir(real) == []
    r = oci("list")
    assert r.returncode == 1 and "symbolic link" in r.stderr


def test_state_root_of_another_user_refused(oci, tmp_path, bundle_factory):
    if ROOTLESS:
        other = pathlib.Path("/usr")  # root's: the test user cannot make one of another uid
        run = lambda *a: run_files(["--root", str(other), *a])
    else:
        oci.root.mkdir(mode=0o700)
        os.chown(oci.root, 4242, 4242)
        run = oci
    b = bundle_factory(["true"])
    r = run("create", "--bundle", str(b), C1)
    assert r.returncode == 1 and "not to you" in r.stderr, r.stderr
    r = run("state", C1)
    assert r.returncode == 1 and "not to you" in r.stderr, r.stderr
    if not ROOTLESS:
        assert os.listdir(oci.root) == []
        os.chown(oci.root, 0, 0)


def test_state_root_writable_by_others_refused(oci, bundle_factory):
    oci.root.mkdir()
    os.chmod(oci.root, 0o777)
    b = bundle_factory(["true"])
    r = oci("create", "--bundle", str(b), C1)
    assert r.returncode == 1 and "writable by others" in r.stderr, r.stderr
    assert os.listdir(oci.root) == []
    os.chmod(oci.root, 0o700)


def test_container_dir_symlink_refused(oci, tmp_path):
    """A state directory that is a link (planted by whoever could) is not followed."""
    oci.root.mkdir(mode=0o700)
    target = tmp_path / "elsewhere"
    target.mkdir(mode=0o700)
    (target / "keep").write_text("x")
    (oci.root / C1).symlink_to(target)
    for cmd in (["state", C1], ["delete", C1], ["delete", "--force", C1], ["kill", C1, "KILL"]):
        r = oci(*cmd)
        assert r.returncode == 1, (cmd, r.stderr)
    assert (target / "keep").exists()
    (oci.root / C1).unlink()


def test_no_xdg_runtime_dir_asks_for_root():
    if not ROOTLESS:
        pytest.skip("root's default state directory is /run/sbx")
    env = {k: v for k, v in os.environ.items() if k != "XDG_RUNTIME_DIR"}
    r = sbx("state", C1, env=env)
    assert r.returncode == 1 and "--root" in r.stderr


def test_default_root_is_under_xdg_runtime_dir(tmp_path, bundle_factory):
    if not ROOTLESS:
        pytest.skip("root's default state directory is /run/sbx")
    xdg = tmp_path / "xdg"
    xdg.mkdir(mode=0o700)
    env = dict(os.environ, XDG_RUNTIME_DIR=str(xdg))
    b = bundle_factory(["sleep", "1000"])
    try:
        r = run_files(["create", "--bundle", str(b), C1], env=env)
        assert r.returncode == 0, r.stderr
        assert (xdg / "sbx" / C1 / "state.json").is_file()
        assert (xdg / "sbx").stat().st_mode & 0o777 == 0o700
    finally:
        r = run_files(["delete", "--force", C1], env=env)
    assert r.returncode == 0, r.stderr
    assert os.listdir(xdg / "sbx") == []


# ---- the lifecycle ----

def test_lifecycle(oci, bundle_factory, tmp_path):
    b = bundle_factory(["sleep", "1000"])
    pidfile = tmp_path / "pid"
    st = create(oci, b, C1, "--pid-file", str(pidfile))
    pid = st["pid"]
    assert st["status"] == "created" and st["id"] == C1 and st["bundle"] == str(b)
    assert int(pidfile.read_text()) == pid and alive(pid)
    assert st["ociVersion"] and st["created"].endswith("Z")
    r = oci("list", "--format", "json")
    assert [c["id"] for c in json.loads(r.stdout)] == [C1]
    assert oci("list", "-q").stdout == C1 + "\n"
    r = oci("start", C1)
    assert r.returncode == 0, r.stderr
    assert state(oci, C1)["status"] == "running"
    r = oci("ps", "--format", "json", C1)
    assert r.returncode == 0 and pid in json.loads(r.stdout)
    r = oci("delete", C1)
    assert r.returncode == 1 and "not stopped" in r.stderr
    assert alive(pid)
    r = oci("kill", C1, "KILL")
    assert r.returncode == 0, r.stderr
    assert wait_gone(pid)
    st = state(oci, C1)
    assert st["status"] == "stopped" and st["pid"] == 0
    r = oci("kill", C1, "KILL")
    assert r.returncode == 1 and "not running" in r.stderr
    r = oci("delete", C1)
    assert r.returncode == 0, r.stderr
    assert not (oci.root / C1).exists()
    assert oci("list", "-q").stdout == ""


def test_duplicate_create_refused(oci, bundle_factory):
    b = bundle_factory(["sleep", "1000"])
    first = create(oci, b, C1)
    r = oci("create", "--bundle", str(b), C1)
    assert r.returncode == 1 and "exists" in r.stderr
    assert state(oci, C1)["pid"] == first["pid"]


@pytest.mark.parametrize("sig", ["KILL", "SIGKILL", "kill", "9"])
def test_kill_signal_spellings(oci, bundle_factory, sig):
    b = bundle_factory(["sleep", "1000"])
    pid = create(oci, b, C1)["pid"]
    assert oci("start", C1).returncode == 0
    r = oci("kill", C1, sig)
    assert r.returncode == 0, r.stderr
    assert wait_gone(pid)


def test_kill_unknown_signal(oci, bundle_factory):
    b = bundle_factory(["sleep", "1000"])
    pid = create(oci, b, C1)["pid"]
    for bad in ["SIGFOO", "0", "99999", "-1"]:
        r = oci("kill", C1, bad)
        assert r.returncode == 1, bad
    assert alive(pid)


def test_kill_never_signals_a_reused_pid(oci):
    """state.json names a pid whose start time is not the one recorded (the
    container's process ended and the number went to another): kill and
    delete --force must not touch that process."""
    victim = subprocess.Popen(["sleep", "1000"])
    try:
        oci.root.mkdir(mode=0o700)
        d = oci.root / C1
        d.mkdir(mode=0o700)
        start = proc_start_time(victim.pid)
        rec = {"id": C1, "bundle": "/nonexistent", "pid": victim.pid, "pidStart": start + 1,
               "created": "2026-01-01T00:00:00Z", "owner": os.geteuid(), "cgroup": "",
               "cgroupOwned": False, "ownPidNs": True, "runsc": False}
        (d / "state.json").write_text(json.dumps(rec))
        assert state(oci, C1)["status"] == "stopped"
        for cmd in (["kill", C1, "KILL"], ["kill", "--all", C1, "KILL"]):
            r = oci(*cmd)
            assert r.returncode == 1 and "not running" in r.stderr
        r = oci("delete", "--force", C1)
        assert r.returncode == 0, r.stderr
        time.sleep(0.2)
        assert victim.poll() is None, "a process that was not the container's was killed"
        # the same state with the right start time does reach it: the test can fail
        d.mkdir(mode=0o700)
        rec["pidStart"] = start
        (d / "state.json").write_text(json.dumps(rec))
        assert oci("kill", C1, "KILL").returncode == 0
        assert victim.wait(timeout=10) == -signal.SIGKILL
        assert oci("delete", C1).returncode == 0
    finally:
        victim.kill()
        victim.wait()


def test_status_reads_a_comm_with_parentheses_and_spaces(oci, tmp_path):
    """/proc/PID/stat's comm may hold ") " itself: the fields start after
    the last ')'."""
    exe = tmp_path / "x) S 1 2 (y"
    exe.write_bytes(pathlib.Path("/bin/sleep").read_bytes())
    os.chmod(exe, 0o755)
    victim = subprocess.Popen([str(exe), "1000"])
    try:
        time.sleep(0.1)
        oci.root.mkdir(mode=0o700)
        d = oci.root / C1
        d.mkdir(mode=0o700)
        rec = {"id": C1, "bundle": "/nonexistent", "pid": victim.pid, "pidStart": proc_start_time(victim.pid),
               "created": "2026-01-01T00:00:00Z", "owner": os.geteuid(), "cgroup": "",
               "cgroupOwned": False, "ownPidNs": False, "runsc": False}
        (d / "state.json").write_text(json.dumps(rec))
        assert state(oci, C1)["status"] == "running"
        assert oci("kill", C1, "KILL").returncode == 0
        assert victim.wait(timeout=10) == -signal.SIGKILL
        assert oci("delete", C1).returncode == 0
    finally:
        victim.kill()
        victim.wait()


def test_kill_all_reaches_every_process(oci, bundle_factory, tmp_path):
    b = bundle_factory(["sh", "-c", "sleep 1000 & sleep 1000 & wait"])
    pid = create(oci, b, C1)["pid"]
    assert oci("start", C1).returncode == 0
    deadline = time.time() + 10
    pids = []
    while time.time() < deadline:
        pids = json.loads(oci("ps", "--format", "json", C1).stdout)
        if len(pids) >= 3:
            break
        time.sleep(0.05)
    assert len(pids) >= 3 and pid in pids
    r = oci("kill", "--all", C1, "KILL")
    assert r.returncode == 0, r.stderr
    for p in pids:
        assert wait_gone(p), p


def test_kill_all_refused_without_a_pid_namespace(oci, bundle_factory):
    if not ROOTLESS:
        pytest.skip("as root sbx makes a cgroup for the container, which lists its processes")
    b = bundle_factory(["sleep", "1000"], edit=lambda c: c["linux"].__setitem__(
        "namespaces", [n for n in c["linux"]["namespaces"] if n["type"] != "pid"]))
    st = create(oci, b, C1)
    assert oci("start", C1).returncode == 0
    r = oci("kill", "--all", C1, "KILL")
    assert r.returncode == 1 and "pid namespace" in r.stderr
    assert alive(st["pid"])


def test_ps_table_has_only_the_container(oci, bundle_factory):
    b = bundle_factory(["sleep", "1000"])
    pid = create(oci, b, C1)["pid"]
    r = oci("ps", C1)
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert "PID" in lines[0].split()
    col = lines[0].split().index("PID")
    assert [int(l.split()[col]) for l in lines[1:]] == [pid]


def test_delete_force_kills_a_running_container(oci, bundle_factory):
    b = bundle_factory(["sleep", "1000"])
    pid = create(oci, b, C1)["pid"]
    assert oci("start", C1).returncode == 0
    r = oci("delete", "--force", C1)
    assert r.returncode == 0, r.stderr
    assert wait_gone(pid, 1)
    assert not (oci.root / C1).exists()


def test_delete_of_a_created_container_kills_it(oci, bundle_factory):
    b = bundle_factory(["sleep", "1000"])
    pid = create(oci, b, C1)["pid"]
    r = oci("delete", C1)
    assert r.returncode == 0, r.stderr
    assert wait_gone(pid, 1)
    assert not (oci.root / C1).exists()


def test_run_waits_and_exits_with_the_status(oci, bundle_factory):
    b = bundle_factory(["sh", "-c", "echo out; exit 7"])
    r = oci("run", "--bundle", str(b), R1)
    assert r.returncode == 7, r.stderr
    assert r.stdout == "out\n"
    assert not (oci.root / R1).exists()


def test_run_keep_leaves_the_stopped_container(oci, bundle_factory):
    b = bundle_factory(["true"])
    r = oci("run", "--keep", "-b", str(b), R1)
    assert r.returncode == 0, r.stderr
    assert state(oci, R1)["status"] == "stopped"
    assert oci("delete", R1).returncode == 0


def test_run_killed_by_signal(oci, bundle_factory):
    """(the container's init ignores a SIGKILL of its own: the kernel's rule
    for a pid namespace's init; it comes from outside)"""
    b = bundle_factory(["sleep", "1000"])
    p = subprocess.Popen([SBX, "--root", str(oci.root), "run", "-b", str(b), R1], stdin=subprocess.DEVNULL)
    try:
        deadline = time.time() + 20
        while time.time() < deadline:
            r = oci("state", R1)
            if r.returncode == 0 and json.loads(r.stdout)["status"] == "running":
                break
            time.sleep(0.05)
        assert oci("kill", R1, "KILL").returncode == 0
        assert p.wait(timeout=20) == 128 + signal.SIGKILL
        assert not (oci.root / R1).exists()
    finally:
        p.kill()
        p.wait()


def test_run_passes_signals_on(oci, bundle_factory):
    """runc run's signal proxy: a SIGTERM to sbx reaches the container's process."""
    b = bundle_factory(["sh", "-c", "trap 'exit 42' TERM; while :; do sleep 0.1; done"])
    p = subprocess.Popen([SBX, "--root", str(oci.root), "run", "-b", str(b), R1], stdin=subprocess.DEVNULL)
    try:
        deadline = time.time() + 20
        while time.time() < deadline:
            r = oci("state", R1)
            if r.returncode == 0 and json.loads(r.stdout)["status"] == "running":
                break
            time.sleep(0.05)
        time.sleep(0.3)
        p.send_signal(signal.SIGTERM)
        assert p.wait(timeout=20) == 42
    finally:
        p.kill()
        p.wait()


# ---- features and spec ----

def test_features():
    r = sbx("features")
    assert r.returncode == 0, r.stderr
    f = json.loads(r.stdout)
    assert f["ociVersionMin"].startswith("1.0") and f["ociVersionMax"].startswith("1.")
    assert set(f["hooks"]) == {"prestart", "createRuntime", "createContainer", "startContainer",
                               "poststart", "poststop"}
    assert {"ro", "nosuid", "nodev", "noexec", "rbind", "bind", "rprivate"} <= set(f["mountOptions"])
    lin = f["linux"]
    assert {"pid", "network", "mount", "ipc", "uts", "user", "cgroup"} <= set(lin["namespaces"])
    assert {"CAP_SYS_ADMIN", "CAP_CHOWN", "CAP_NET_RAW"} <= set(lin["capabilities"])
    assert {"SCMP_ACT_ERRNO", "SCMP_ACT_ALLOW", "SCMP_ACT_KILL_PROCESS"} <= set(lin["seccomp"]["actions"])
    assert "SCMP_CMP_MASKED_EQ" in lin["seccomp"]["operators"]
    assert "SCMP_ARCH_X86_64" in lin["seccomp"]["archs"]
    assert f["annotations"]["run.sbx.profile"] == "hardened"
    assert f["annotations"]["run.sbx.require-limits"] == "true"


def test_spec_hardened_defaults(tmp_path):
    r = sbx("spec", "-b", str(tmp_path))
    assert r.returncode == 0, r.stderr
    c = json.loads((tmp_path / "config.json").read_text())
    assert all(v == [] for v in c["process"]["capabilities"].values())
    assert c["process"]["noNewPrivileges"] is True
    assert c["root"]["readonly"] is True
    assert "/proc/kcore" in c["linux"]["maskedPaths"]
    assert c["annotations"]["run.sbx.profile"] == "hardened"
    assert {n["type"] for n in c["linux"]["namespaces"]} >= {"pid", "mount", "ipc", "uts"}


def test_spec_refuses_to_overwrite(tmp_path):
    (tmp_path / "config.json").write_text("mine")
    r = sbx("spec", "-b", str(tmp_path))
    assert r.returncode == 1 and "exists" in r.stderr
    assert (tmp_path / "config.json").read_text() == "mine"
    (tmp_path / "config.json").unlink()
    (tmp_path / "target").write_text("keep")
    (tmp_path / "config.json").symlink_to(tmp_path / "target")
    r = sbx("spec", "-b", str(tmp_path))
    assert r.returncode == 1
    assert (tmp_path / "target").read_text() == "keep"


def test_spec_rootless_maps_the_caller(tmp_path):
    r = sbx("spec", "--rootless", "-b", str(tmp_path))
    assert r.returncode == 0, r.stderr
    c = json.loads((tmp_path / "config.json").read_text())
    assert {"user", "network"} <= {n["type"] for n in c["linux"]["namespaces"]}
    assert c["linux"]["uidMappings"] == [{"containerID": 0, "hostID": os.geteuid(), "size": 1}]
    assert c["linux"]["gidMappings"] == [{"containerID": 0, "hostID": os.getegid(), "size": 1}]


# ---- hooks ----

def hook(path, *args, env=None, timeout=None):
    h = {"path": path, "args": list(args)}
    if env is not None:
        h["env"] = env
    if timeout is not None:
        h["timeout"] = timeout
    return h


def planted_container(oci, tmp_path, hooks, cid=H1):
    """A stopped container's state directory as create leaves it, with
    HOOKS in its saved config.json: delete runs its poststop hooks."""
    oci.root.mkdir(mode=0o700, exist_ok=True)
    d = oci.root / cid
    d.mkdir(mode=0o700)
    rec = {"id": cid, "bundle": str(tmp_path), "pid": 0, "pidStart": 0, "created": "2026-01-01T00:00:00Z",
           "owner": os.geteuid(), "cgroup": "", "cgroupOwned": False, "ownPidNs": False, "runsc": False}
    (d / "state.json").write_text(json.dumps(rec))
    r = sbx("spec", "-b", str(d))
    assert r.returncode == 0, r.stderr
    cfg = json.loads((d / "config.json").read_text())
    cfg["hooks"] = hooks
    cfg["annotations"]["a.b"] = "c"
    (d / "config.json").write_text(json.dumps(cfg))
    return d


def test_poststop_hook_gets_the_state_on_stdin(oci, tmp_path):
    out = tmp_path / "hook.out"
    planted_container(oci, tmp_path, {"poststop": [
        hook("/bin/sh", "sh", "-c", f'cat > {out}; echo "$0 $1 $FOO" >> {out}.env', "arg1", env=["FOO=bar"])]})
    r = oci("delete", H1)
    assert r.returncode == 0, r.stderr
    st = json.loads(out.read_text())
    assert st["id"] == H1 and st["status"] == "stopped" and st["bundle"] == str(tmp_path)
    assert st["annotations"]["a.b"] == "c"
    assert (tmp_path / "hook.out.env").read_text() == "arg1  bar\n" or \
        (tmp_path / "hook.out.env").read_text().endswith("bar\n")
    assert not (oci.root / H1).exists()


def test_poststop_hook_gets_only_its_own_env(oci, tmp_path):
    out = tmp_path / "env.out"
    planted_container(oci, tmp_path, {"poststop": [hook("/usr/bin/env", "env", env=["ONLY=1"])]})
    # env's output goes to sbx's stdout; capture through a wrapper instead
    (oci.root / H1 / "config.json").write_text(json.dumps({
        **json.loads((oci.root / H1 / "config.json").read_text()),
        "hooks": {"poststop": [hook("/bin/sh", "sh", "-c", f"env > {out}", env=["ONLY=1"])]}}))
    assert oci("delete", H1, env={**os.environ, "LEAK": "yes"}).returncode == 0
    names = {l.split("=", 1)[0] for l in out.read_text().splitlines()}
    assert "ONLY" in names and "LEAK" not in names


def test_failing_poststop_hook_is_a_warning_and_the_rest_run(oci, tmp_path):
    second = tmp_path / "second"
    planted_container(oci, tmp_path, {"poststop": [
        hook("/bin/false", "false"), hook("/bin/sh", "sh", "-c", f"touch {second}")]})
    r = oci("delete", H1)
    assert r.returncode == 0, r.stderr
    assert "poststop hook #0" in r.stderr and "exit status 1" in r.stderr
    assert any(l["level"] == "warning" and "/bin/false" in l["msg"] for l in oci.log_lines())
    assert second.exists()
    assert not (oci.root / H1).exists()


def test_hook_timeout_kills_it(oci, tmp_path):
    pidf = tmp_path / "hookpid"
    planted_container(oci, tmp_path, {"poststop": [
        hook("/bin/sh", "sh", "-c", f"echo $$ > {pidf}; sleep 1000 & echo $! >> {pidf}; wait", timeout=1)]})
    t0 = time.time()
    r = oci("delete", H1, timeout=30)
    assert r.returncode == 0, r.stderr
    assert time.time() - t0 < 15
    assert "timed out" in r.stderr
    for p in pidf.read_text().split():
        assert wait_gone(int(p), 5), "a timed-out hook's processes outlived it"


def test_hook_with_a_relative_path_is_an_error(oci, tmp_path):
    planted_container(oci, tmp_path, {"poststop": [hook("sh", "sh", "-c", "true")]})
    r = oci("delete", H1)
    assert r.returncode == 0
    assert "absolute" in r.stderr


def test_failing_prestart_hook_stops_create(oci, bundle_factory, tmp_path):
    ran = tmp_path / "ran"
    b = bundle_factory(["sleep", "1000"], edit=lambda c: c.__setitem__("hooks", {
        "prestart": [hook("/bin/sh", "sh", "-c", "exit 3")],
        "createRuntime": [hook("/bin/sh", "sh", "-c", f"touch {ran}")]}))
    r = oci("create", "--bundle", str(b), C1)
    assert r.returncode == 1
    assert "prestart hook #0" in r.stderr and "exit status 3" in r.stderr
    assert not ran.exists()
    assert oci("list", "-q").stdout == ""


def test_failing_create_runtime_hook_stops_create(oci, bundle_factory):
    b = bundle_factory(["sleep", "1000"], edit=lambda c: c.__setitem__("hooks", {
        "createRuntime": [hook("/bin/false", "false")]}))
    r = oci("create", "--bundle", str(b), C1)
    assert r.returncode == 1 and "createRuntime hook #0" in r.stderr
    assert oci("list", "-q").stdout == ""
