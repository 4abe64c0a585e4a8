"""sbx check: each answer compared with what the host really offers, found
here independently of sbx, and a host made to refuse user namespaces."""
import ctypes
import json
import os
import re
import shutil
import subprocess
import time

import pytest

from conftest import MODE, SBX, sbx

IDS = ["user_namespaces", "id_maps", "procfs", "network_namespace", "cgroups", "seccomp", "landlock",
       "overlayfs", "idmapped_mounts", "runsc"]
STATUSES = {"ok", "warn", "fail", "info"}


def check_json(env=None, timeout=60):
    r = sbx("check", "--json", env=env, timeout=timeout)
    assert r.returncode in (0, 1, 2), r.stderr
    doc = json.loads(r.stdout)
    assert doc["exit_code"] == r.returncode
    return doc


@pytest.fixture(scope="module")
def report():
    return check_json()


def expected_exit(checks):
    if any(c["status"] == "fail" and c["essential"] for c in checks.values()):
        return 2
    return 1 if any(c["status"] in ("fail", "warn") for c in checks.values()) else 0


def test_json_shape_and_exit_code(report):
    assert list(report["checks"]) == IDS
    assert report["root"] is (MODE == "root")
    for cid, c in report["checks"].items():
        assert c["status"] in STATUSES, cid
        assert isinstance(c["essential"], bool) and isinstance(c["detail"], str) and c["detail"], cid
        # Whatever is missing says how to get it.
        if c["status"] in ("warn", "fail"):
            assert c["remedy"], cid
    assert report["exit_code"] == expected_exit(report["checks"])
    assert report["verdict"] == ["full", "degraded", "unusable"][report["exit_code"]]
    # This host is hybrid: sbx runs, with limits by rlimit only.
    assert report["exit_code"] == 1


def test_text_lines_say_what_the_json_says(report):
    r = sbx("check")
    lines = r.stdout.splitlines()
    assert r.returncode == report["exit_code"]
    assert len(lines) == len(IDS)
    for line, c in zip(lines, report["checks"].values()):
        assert line.startswith(f"{c['status']:<4} {c['name']}: {c['detail']}"), line
        assert ("remedy: " + c["remedy"] in line) if c["remedy"] else "remedy" not in line


def userns_possible():
    pid = os.fork()
    if pid == 0:
        libc = ctypes.CDLL(None, use_errno=True)
        os._exit(0 if libc.unshare(0x10000000) == 0 else 1)
    return os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]) == 0


def test_user_namespaces(report):
    c = report["checks"]["user_namespaces"]
    assert userns_possible()
    assert c["status"] == "ok"
    assert c["detail"].startswith("as root" if MODE == "root" else "unprivileged")
    for cid in ("procfs", "network_namespace", "overlayfs"):
        assert report["checks"][cid]["status"] == "ok", report["checks"][cid]
    assert report["checks"]["network_namespace"]["interfaces"] == ["lo"]


def test_id_maps_per_mode(report):
    c = report["checks"]["id_maps"]
    if MODE == "root":
        assert c["status"] == "ok" and c["detail"].startswith("root: ")
    elif MODE == "subuid":
        assert c["status"] == "ok"
        assert c["subuid"] and c["subgid"] and c["newuidmap"] and c["newgidmap"]
        user = subprocess.run(["id", "-un"], capture_output=True, text=True).stdout.strip()
        start, count = next(line.split(":")[1:3] for line in open("/etc/subuid")
                            if line.split(":")[0] == user)
        assert f"subuid {start}:{count.strip()}" in c["detail"]
    else:
        assert c["status"] == "warn" and not c["subuid"]
        assert "usermod --add-subuids" in c["remedy"]


def cgroup_truth():
    """Mode and v1 controllers, read from mountinfo here."""
    v1, v2 = set(), False
    for line in open("/proc/self/mountinfo"):
        fields = line.split()
        sep = fields.index("-")
        fstype, opts = fields[sep + 1], fields[sep + 3].split(",")
        if fstype == "cgroup2":
            v2 = True
        elif fstype == "cgroup":
            v1 |= {"v1"} | {c for c in ("memory", "cpu", "pids") if c in opts}
    mode = ("hybrid" if v1 else "v2") if v2 else ("v1" if v1 else "none")
    return mode, sorted(v1 - {"v1"})


def test_cgroup_mode_is_the_hosts(report):
    c = report["checks"]["cgroups"]
    mode, v1 = cgroup_truth()
    assert mode == "hybrid", "this host is hybrid; the VM tests cover v2"
    assert c["mode"] == mode
    assert sorted(c["v1_controllers"]) == v1
    # Memory, cpu and pids are bound to v1: nothing to delegate on v2.
    assert c["delegated"] == []
    assert c["status"] == "warn"
    assert "hybrid (memory, cpu, pids on v1): limits by rlimit only" in c["detail"]
    assert "systemd.unified_cgroup_hierarchy=1" in c["remedy"]


def test_landlock_abi_is_the_kernels(report):
    libc = ctypes.CDLL(None, use_errno=True)
    libc.syscall.restype = ctypes.c_long
    abi = libc.syscall(444, None, ctypes.c_size_t(0), ctypes.c_uint32(1))  # landlock_create_ruleset VERSION
    abi = max(abi, 0)
    lsm = "/sys/kernel/security/lsm"
    if os.path.exists(lsm):
        assert ("landlock" in open(lsm).read()) == (abi > 0)
    c = report["checks"]["landlock"]
    assert c["abi"] == abi
    assert c["status"] == ("ok" if abi > 0 else "warn")


def test_seccomp_actions_are_the_kernels(report):
    c = report["checks"]["seccomp"]
    assert c["actions"] == open("/proc/sys/kernel/seccomp/actions_avail").read().split()
    assert c["status"] == "ok" and c["api_level"] >= 1


def test_idmapped_mounts(report):
    c = report["checks"]["idmapped_mounts"]
    if MODE == "root":
        assert c["status"] == "ok"
    else:
        assert c["status"] == "info"


def refused_userns_env():
    if not shutil.which("unshare"):
        pytest.skip("no unshare(1)")
    if not userns_possible():
        pytest.skip("no user namespaces to take away")


def test_no_user_namespaces_exits_2_with_the_remedy():
    """In a user namespace whose max_user_namespaces is 0, every trial
    that needs one must fail and check must say it cannot run."""
    refused_userns_env()
    script = 'echo 0 > /proc/sys/user/max_user_namespaces && exec "$0" check "$@"'
    text = subprocess.run(["unshare", "-U", "-r", "sh", "-c", script, SBX], capture_output=True, text=True,
                          timeout=60)
    assert text.returncode == 2, text.stdout + text.stderr
    first = text.stdout.splitlines()[0]
    assert first.startswith("fail user namespaces: refused")
    assert "remedy: sysctl -w user.max_user_namespaces=15000" in first
    js = subprocess.run(["unshare", "-U", "-r", "sh", "-c", script, SBX, "--json"], capture_output=True,
                        text=True, timeout=60)
    doc = json.loads(js.stdout)
    assert js.returncode == 2 and doc["verdict"] == "unusable"
    for cid in ("user_namespaces", "procfs", "network_namespace"):
        assert doc["checks"][cid]["status"] == "fail", cid
    assert doc["checks"]["overlayfs"]["status"] == "warn"


def fake_runsc(tmp_path, body):
    """A runsc on PATH whose --version answers and whose every other
    command (flags, the trial's run) runs BODY."""
    d = tmp_path / "bin"
    d.mkdir()
    f = d / "runsc"
    f.write_text("#!/bin/sh\nif [ \"$1\" = --version ]; then echo 'runsc version fake-1'; exit 0; fi\n"
                 + body + "\n")
    f.chmod(0o755)
    os.chmod(tmp_path, 0o755)
    env = os.environ.copy()
    env["PATH"] = f"{d}:{env.get('PATH', '/usr/bin:/bin')}"
    return env, f


# What the caller runs runsc as, and whether the backend can: root always;
# rootless only with subuid/subgid ranges and newuidmap (sbxtest-nosub has none).
RUNSC_MODE = "root" if MODE == "root" else "rootless"
RUNSC_USABLE = MODE in ("root", "subuid")


def assert_not_usable(c):
    """No subordinate ids: runsc is never run, auto picks native, and the
    remedy is the line to add."""
    user = subprocess.run(["id", "-un"], capture_output=True, text=True).stdout.strip()
    assert c["status"] == "info" and c["usable"] is False and c["works"] is None and c["modes"] == []
    assert c["auto"] == "native" and "--runtime auto runs native" in c["detail"]
    assert f"{user} has none in /etc/subuid" in c["why"] and c["why"] in c["detail"]
    # The line `sbx run --runtime runsc` gives too.
    assert re.match(rf"add the line '{user}:\d+:65536' to /etc/subuid and to /etc/subgid", c["remedy"]), c


def test_runsc_absent_is_optional(report, tmp_path):
    """PATH without runsc: not a failure (same exit code), and auto is native."""
    env = os.environ.copy()
    env["PATH"] = str(tmp_path)
    doc = check_json(env=env)
    c = doc["checks"]["runsc"]
    assert c["status"] == "info" and c["path"] is None and "gvisor.dev" in c["remedy"]
    assert c["version"] is None and c["usable"] is False and c["works"] is None and c["modes"] == []
    assert c["auto"] == "native" and "--runtime auto runs sbx's own sandbox (native)" in c["detail"]
    assert doc["exit_code"] == report["exit_code"]


def runsc_default_platform(runsc):
    """runsc's default platform, read here from its flag table."""
    text = subprocess.run([runsc, "flags"], capture_output=True, text=True, timeout=30)
    lines = (text.stdout + text.stderr).splitlines()
    i = lines.index("  -platform string")
    return re.search(r'\(default "([^"]+)"\)', lines[i + 1]).group(1)


def test_runsc_installed_per_mode(report):
    """The real runsc: root runs it, a caller with a subuid range runs it
    rootless, one without cannot; check says which and what auto picks."""
    runsc = shutil.which("runsc")
    if runsc is None:
        pytest.skip("runsc is not installed (scripts/deps installs it)")
    c = report["checks"]["runsc"]
    version = subprocess.run([runsc, "--version"], capture_output=True, text=True).stdout.splitlines()[0]
    assert c["path"] == runsc and c["version"] == version
    assert c["platform"] == runsc_default_platform(runsc) == "ptrace"
    assert c["mode"] == RUNSC_MODE
    assert c["detail"].startswith(f"{version}, platform ptrace; {RUNSC_MODE} mode")
    if not RUNSC_USABLE:
        return assert_not_usable(c)
    assert c["status"] == "ok", c
    assert c["usable"] is True and c["why"] is None and c["works"] is True
    assert c["modes"] == [RUNSC_MODE] and c["auto"] == "runsc"
    assert "--runtime auto runs runsc" in c["detail"]


def test_runsc_is_run_not_guessed(tmp_path):
    """A runsc that fails: check says so with its words, and ran it as sbx
    would (runsc run on a bundle, no network, cgroups left to sbx)."""
    env, f = fake_runsc(tmp_path, 'echo "args: $*"; exit 3')
    c = check_json(env=env)["checks"]["runsc"]
    assert c["path"] == str(f) and c["version"] == "runsc version fake-1" and c["platform"] is None
    if not RUNSC_USABLE:
        return assert_not_usable(c)
    assert c["status"] == "warn" and c["works"] is False and c["modes"] == [] and c["auto"] == "runsc"
    assert "runsc run failed (exit 3): args: --root /tmp/state --network=none --ignore-cgroups run " \
           "--bundle /tmp/bundle sbx-check" in c["detail"]
    assert "--runtime native" in c["remedy"]


def test_runsc_output_reaches_no_terminal_raw(tmp_path):
    if not RUNSC_USABLE:
        pytest.skip("without a subuid range runsc is not run: none of its output is shown")
    env, _ = fake_runsc(tmp_path, r"printf 'starting\n\033]0;pwned\007 \377 failed\n'; exit 1")
    r = sbx("check", env=env)
    line = next(l for l in r.stdout.splitlines() if l.startswith("warn runsc:"))
    assert "\x1b" not in r.stdout and "\x07" not in r.stdout
    assert "\\x1b]0;pwned\\x07 \\xff failed" in line
    c = check_json(env=env)["checks"]["runsc"]
    assert c["detail"].endswith("\\x1b]0;pwned\\x07 \\xff failed")


def test_runsc_that_works(tmp_path):
    env, _ = fake_runsc(tmp_path, 'exit 0')
    c = check_json(env=env)["checks"]["runsc"]
    if not RUNSC_USABLE:
        return assert_not_usable(c)
    assert c["status"] == "ok" and c["works"] is True and c["modes"] == [RUNSC_MODE] and c["auto"] == "runsc"


def processes_with(arg):
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            cmdline = open(f"/proc/{pid}/cmdline", "rb").read().split(b"\0")
        except OSError:
            continue
        if arg.encode() in cmdline:
            found.append(pid)
    return found


def test_runsc_trial_is_bounded_and_leaves_nothing(tmp_path):
    """A runsc that hangs, and leaves a process in a session of its own (as
    runsc's gofer and sandbox are): the trial ends in time and the process
    goes with the trial's pid namespace."""
    marker = f"31{os.getpid() % 1000:03d}"
    env, _ = fake_runsc(tmp_path, f'case "$*" in *" run "*) setsid sleep {marker} & sleep 300;; '
                                  f'*) sleep 300;; esac')
    start = time.monotonic()
    c = check_json(env=env, timeout=60)["checks"]["runsc"]
    assert time.monotonic() - start < 30
    assert c["platform"] is None  # `runsc flags` hung: bounded too
    if not RUNSC_USABLE:
        return assert_not_usable(c)
    assert c["status"] == "warn" and "runsc run timed out" in c["detail"] and c["works"] is False
    deadline = time.monotonic() + 5
    while processes_with(marker) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert processes_with(marker) == []


def test_usage():
    r = sbx("check", "--help")
    assert r.returncode == 0 and "--json" in r.stdout
    r = sbx("check", "--bogus")
    assert r.returncode == 125 and "unknown argument" in r.stderr


def as_root_in_private_mounts(script, *args):
    if MODE != "root":
        pytest.skip("needs root: a private mount namespace changes what check reads")
    return subprocess.run(["unshare", "-m", "--propagation", "private", "sh", "-c", script, "sh", *args],
                          capture_output=True, text=True, timeout=60)


def test_root_range_over_a_real_user_cannot_run(tmp_path):
    """Root's /etc/subuid range holding host root: sbx run refuses it, so
    check must say sbx cannot run, with the line to fix."""
    bad = tmp_path / "subuid"
    bad.write_text("root:0:65536\n")
    r = as_root_in_private_mounts('mount --bind "$1" /etc/subuid && exec "$2" check --json', str(bad), SBX)
    doc = json.loads(r.stdout)
    c = doc["checks"]["id_maps"]
    assert r.returncode == 2 and c["status"] == "fail" and c["essential"]
    assert "/etc/subuid line 1" in c["detail"] and "root's range 0:65536" in c["detail"]
    assert "give root a range of unused ids" in c["remedy"]


def test_apparmor_restriction_gets_the_sysctl_and_a_profile(tmp_path):
    """Ubuntu's kernel.apparmor_restrict_unprivileged_userns, set, while
    the kernel refuses the namespace (here: a chroot, which it refuses with
    EPERM as AppArmor does): the remedy is the sysctl or a profile naming
    this very binary."""
    script = ('mount -t tmpfs tmpfs /proc/sys/kernel && '
              'echo 1 > /proc/sys/kernel/apparmor_restrict_unprivileged_userns && '
              'mount --rbind / "$1" && exec chroot "$1" "$2" check')
    root = tmp_path / "root"
    root.mkdir()
    r = as_root_in_private_mounts(script, str(root), os.path.realpath(SBX))
    lines = r.stdout.splitlines()
    assert r.returncode == 2, r.stdout + r.stderr
    assert lines[0].startswith("fail user namespaces: refused")
    assert "remedy: sysctl -w kernel.apparmor_restrict_unprivileged_userns=0" in lines[0]
    assert f"profile sbx {os.path.realpath(SBX)} flags=(unconfined) {{" in [l.strip() for l in lines]
    assert "userns," in [l.strip() for l in lines]


def test_runsc_version_is_bounded(tmp_path):
    """A runsc whose --version hangs: check ends in time and says so.  (40 s:
    an unbounded check would finish too late, and leave nothing for long.)"""
    env, f = fake_runsc(tmp_path, "exit 0")
    f.write_text("#!/bin/sh\nsleep 40\n")
    start = time.monotonic()
    doc = check_json(env=env, timeout=60)
    c = doc["checks"]["runsc"]
    assert time.monotonic() - start < 30
    assert c["status"] == "warn" and c["detail"] == f"{f} --version timed out" and c["version"] is None
    assert c["works"] is None and "reinstall runsc" in c["remedy"]


def test_concurrent_checks_each_run_runsc():
    """runsc's control socket is an abstract one named after the container:
    checks at the same time must not take each other's."""
    if shutil.which("runsc") is None:
        pytest.skip("runsc is not installed (scripts/deps installs it)")
    if not RUNSC_USABLE:
        pytest.skip("without a subuid range runsc is not run")
    procs = [subprocess.Popen([SBX, "check", "--json"], stdout=subprocess.PIPE, text=True) for _ in range(4)]
    for p in procs:
        out, _ = p.communicate(timeout=60)
        c = json.loads(out)["checks"]["runsc"]
        assert c["works"] is True, c["detail"]
