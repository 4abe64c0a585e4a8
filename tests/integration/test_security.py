"""Security layers (issue 4): no capabilities, locked securebits,
no_new_privs, no core dumps, seccomp profiles and their validation,
Landlock.  The escape suite in tests/escape attacks them one by one."""
import ctypes
import json
import os
import subprocess
import time

import pytest

from conftest import REPO, RUNTIME, SBX, python_rootfs, probe, run

PODMAN_PROFILE = "/usr/share/containers/seccomp.json"
# SECBIT_NOROOT|_LOCKED, NO_SETUID_FIXUP|_LOCKED, KEEP_CAPS_LOCKED,
# NO_CAP_AMBIENT_RAISE|_LOCKED
LOCKED_SECUREBITS = 0x1 | 0x2 | 0x4 | 0x8 | 0x20 | 0x40 | 0x80


def status_of(r):
    assert r.returncode == 0, r.stderr
    return dict(line.split(":", 1) for line in r.stdout[3:].splitlines() if ":" in line)


def test_all_capability_sets_empty_and_no_new_privs(rootfs):
    for opts in ([], ["--user", "0"]):
        st = status_of(probe(rootfs, "read", "/proc/self/status", opts=opts))
        # gVisor's status has no CapAmb and no NoNewPrivs line: its sentry
        # keeps neither ambient capabilities nor file capabilities to gain
        # (set-id and file-capability programs: tests below).
        caps = ("CapInh", "CapPrm", "CapEff", "CapBnd") + (() if RUNTIME == "runsc" else ("CapAmb",))
        for cap in caps:
            assert st[cap].strip() == "0000000000000000", (opts, cap, st[cap])
        if RUNTIME == "runsc":
            assert "CapAmb" not in st and "NoNewPrivs" not in st, st
        else:
            assert st["NoNewPrivs"].strip() == "1"
        assert st["Seccomp"].strip() == "2"


def test_securebits_are_locked(rootfs):
    out = probe(rootfs, "securebits").stdout.split()
    if RUNTIME == "runsc":
        # Securebits are the host kernel's: gVisor has no PR_GET_SECUREBITS
        # (EINVAL), and sbx does not claim the layer.
        assert out[:3] == ["err", "22", "EINVAL"], out
        assert "securebits-locked" not in json_of(rootfs, "true")[1]["layers"]
        return
    assert int(out[1], 16) & LOCKED_SECUREBITS == LOCKED_SECUREBITS, out


def test_no_core_dumps(rootfs, tmp_path):
    if RUNTIME == "runsc":
        # gVisor has no /proc/self/limits and never writes a core dump
        # (RLIMIT_CORE is unlimited in it): a crash leaves no core in the
        # workspace; sbx does not claim its own no-core-dumps layer.
        ws = tmp_path / "ws"
        ws.mkdir(mode=0o777)
        os.chmod(ws, 0o777)
        r = run(python_rootfs(), "python3", "-c", "import os, resource; "
                "resource.setrlimit(resource.RLIMIT_CORE, (-1, -1)); os.abort()",
                opts=["--no-tty", "-w", str(ws)])
        assert r.returncode == 128 + 6, r.stderr
        assert os.listdir(ws) == []
        assert "no-core-dumps" not in json_of(rootfs, "true")[1]["layers"]
        return
    limits = probe(rootfs, "read", "/proc/self/limits").stdout
    core = [l for l in limits.splitlines() if l.startswith("Max core file size")][0]
    assert core.split()[4:6] == ["0", "0"], core


def test_setuid_binaries_grant_nothing(rootfs):
    ids = probe(rootfs, "ids", opts=[]).stdout
    r = run(rootfs, "/bin/sbx-probe-suid", "ids")
    assert r.returncode == 0 and r.stdout == ids, (r.stdout, ids)


def test_file_capabilities_grant_nothing(rootfs):
    if os.geteuid() != 0:
        # Only root can give a file capabilities; the rootless modes run the
        # same sandbox, whose bounding set is empty (checked above).
        assert not (rootfs / "bin" / "sbx-probe-fcap").exists()
        return
    st = status_of(run(rootfs, "/bin/sbx-probe-fcap", "read", "/proc/self/status"))
    assert st["CapEff"].strip() == st["CapPrm"].strip() == "0000000000000000"
    r = run(rootfs, "/bin/sbx-probe-fcap", "rawsock")
    assert r.stdout.split()[:3] == ["err", "1", "EPERM"], r.stdout
    # Negative control: on the host the file capability works.
    host = subprocess.run([str(rootfs / "bin" / "sbx-probe-fcap"), "rawsock"], capture_output=True, text=True)
    assert host.stdout.strip() == "ok"


# ---- seccomp ------------------------------------------------------------------

def json_of(rootfs, *cmd, opts=()):
    rfd, wfd = os.pipe()
    r = run(rootfs, *cmd, opts=["--json-fd", str(wfd), *opts], pass_fds=(wfd,))
    os.close(wfd)
    with os.fdopen(rfd) as f:
        return r, json.loads(f.read())


def test_default_profile_in_the_result(rootfs):
    r, res = json_of(rootfs, "true")
    assert r.returncode == 0
    assert res["seccomp_profile"] == "default" and "seccomp" in res["layers"]
    assert "no-new-privs" in res["layers"] and "no-capabilities" in res["layers"]


def test_unconfined_warns_and_loads_nothing(rootfs):
    r = probe(rootfs, "read", "/proc/self/status", opts=["--seccomp", "unconfined"])
    assert "warning: --seccomp unconfined" in r.stderr
    if RUNTIME == "runsc":
        # The host-safety filter is on runsc's processes, outside gVisor:
        # inside, no filter at all.
        assert status_of(r)["Seccomp"].strip() == "0"
    else:
        # Only the host-safety filter, which is no profile (issue 9).
        assert status_of(r)["Seccomp"].strip() == "2"
        assert status_of(r)["Seccomp_filters"].strip() == "1"
    r, res = json_of(rootfs, "true", opts=["--seccomp", "unconfined"])
    assert res["seccomp_profile"] is None and "seccomp" not in res["layers"]
    assert "host-safety-filter" in res["layers"]


@pytest.mark.skipif(not os.path.exists(PODMAN_PROFILE), reason="needs golang-github-containers-common")
def test_podmans_profile_loads_unchanged_and_runs_python(tmp_path):
    code = ("import threading, subprocess, tempfile, socket\n"
            "t = threading.Thread(target=lambda: None); t.start(); t.join()\n"
            "assert subprocess.run(['true']).returncode == 0\n"
            "with tempfile.TemporaryFile() as f: f.write(b'x')\n"
            "s = socket.socket(); s.bind(('127.0.0.1', 0)); s.close()\n"
            "print('python ok')\n")
    r = run(python_rootfs(), "python3", "-c", code, opts=["--seccomp", PODMAN_PROFILE])
    if RUNTIME == "runsc":
        # Its default action is ENOSYS, which runsc cannot give (it turns
        # every SCMP_ACT_ERRNO into EPERM): sbx refuses it rather than run
        # the profile changed.
        assert r.returncode == 125 and "runsc answers every SCMP_ACT_ERRNO with EPERM" in r.stderr, r.stderr
        return
    assert r.returncode == 0 and r.stdout == "python ok\n", r.stderr


def test_seed_profile_breaks_threads_as_documented():
    """profiles/seed.json as the seed wrote it: clone3 answers EPERM, and
    glibc falls back to clone only on ENOSYS, so threads cannot start."""
    r = run(python_rootfs(), "python3", "-c",
            "import threading\ntry:\n  threading.Thread(target=print).start()\nexcept RuntimeError as e:\n"
            "  print('thread failed:', e)\n", opts=["--seccomp", "seed"])
    assert "thread failed" in r.stdout, (r.stdout, r.stderr)


BAD_PROFILES = [
    ('{"defaultAction": "SCMP_ACT_BOGUS"}', "defaultAction"),
    ('{"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{"names": ["read"], "action": "SCMP_ACT_NOPE"}]}',
     "syscalls[0], field \"action\""),
    ('{"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{"names": ["no_such_call"], "action": "SCMP_ACT_ALLOW"}]}',
     "unknown syscall \"no_such_call\""),
    ('{"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ALLOW",'
     ' "args": [{"index": 0, "value": 1, "op": "SCMP_CMP_WHAT"}]}]}', "args.op"),
    ('{"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ALLOW",'
     ' "args": [{"index": 7, "value": 1, "op": "SCMP_CMP_EQ"}]}]}', "args.index"),
    ('{"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ALLOW", "colour": 1}]}',
     "unknown field \"colour\""),
    ('{"defaultAction": "SCMP_ACT_ERRNO", "flavour": 1}', "unknown field \"flavour\""),
    ('{"defaultAction": "SCMP_ACT_ERRNO", "architectures": ["SCMP_ARCH_Z80"]}', "architectures"),
    ('{"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{"names": [], "action": "SCMP_ACT_ALLOW"}]}', "names"),
    ('{"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ERRNO",'
     ' "errnoRet": 1, "errno": "ENOSYS"}]}', "errnoRet"),
    ('{"defaultAction": ', "not valid JSON"),
    ('[]', "must be a JSON object"),
]


@pytest.mark.parametrize("text,needle", BAD_PROFILES)
def test_bad_profiles_are_refused_with_file_entry_and_field(rootfs, tmp_path, text, needle):
    path = tmp_path / "bad.json"
    path.write_text(text)
    r = run(rootfs, "true", opts=["--seccomp", str(path)])
    assert r.returncode == 125, r.stderr
    line = r.stderr.strip()
    assert str(path) in line and needle in line, line


def test_unknown_profile_name(rootfs):
    r = run(rootfs, "true", opts=["--seccomp", "no-such-profile"])
    assert r.returncode == 125 and "no profile of that name" in r.stderr
    r = run(rootfs, "true", opts=["--seccomp", "../etc/passwd"])
    assert r.returncode == 125


def test_overlapping_allow_and_deny_is_enforced(rootfs, tmp_path):
    """"Allow ioctl" plus "deny ioctl TIOCSTI": in one libseccomp filter the
    deny is lost (measured-facts.md); sbx stacks it, and the kernel says."""
    profile = {"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
        {"names": ["ioctl"], "action": "SCMP_ACT_ALLOW"},
        {"names": ["ioctl"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1,
         "args": [{"index": 1, "value": 4294967295, "valueTwo": 0x5412, "op": "SCMP_CMP_MASKED_EQ"}]}]}
    path = tmp_path / "overlap.json"
    path.write_text(json.dumps(profile))
    r = probe(rootfs, "tiocsti", "x", "0", opts=["--seccomp", str(path), "-t"], stdin=subprocess.DEVNULL)
    assert "pushed=0 errno=EPERM" in r.stdout, r.stdout


def test_default_profile_refuses_tiocsti(rootfs):
    """On the sandbox's own pty, where TIOCSTI would otherwise work; the
    probe pushes each byte with and without high bits in the request."""
    r = probe(rootfs, "tiocsti", "x", "0", opts=["-t"], stdin=subprocess.DEVNULL)
    assert "pushed=0 errno=EPERM" in r.stdout, r.stdout
    r = probe(rootfs, "tiocsti", "x", "0", opts=["-t", "--seccomp", "unconfined"], stdin=subprocess.DEVNULL)
    if RUNTIME == "runsc":
        # gVisor's terminals have no TIOCSTI at all.
        assert "pushed=0 errno=ENOTTY" in r.stdout, r.stdout
        return
    assert "pushed=2" in r.stdout, "negative control: without the filter the push works"


def test_seccomp_log_reports_refused_calls(rootfs):
    r = probe(rootfs, "read", "/proc/self/status", opts=["--seccomp-log"])
    if RUNTIME == "runsc":
        # gVisor's filter writes nothing to the kernel's log: sbx must not
        # take --seccomp-log and log nothing (today it does: a bug).
        assert r.returncode == 125 and "--seccomp-log" in r.stderr, (r.returncode, r.stderr)
        return
    assert status_of(r)["Seccomp"].strip() == "2"
    if os.geteuid() != 0:
        return  # the kernel log is root's to read (kernel.dmesg_restrict)

    def logged():
        out = subprocess.run(["dmesg"], capture_output=True, text=True).stdout
        return out.count("type=1326") and out.count(" syscall=999 ")

    before = logged()
    assert probe(rootfs, "syscall", "999", opts=["--seccomp-log"]).stdout.split()[2] == "ENOSYS"
    time_left = 50
    while logged() == before and time_left:
        time.sleep(0.02)
        time_left -= 1
    assert logged() > before, "the refused call was not logged"
    # Without the flag nothing is logged for it.
    before = logged()
    probe(rootfs, "syscall", "999")
    time.sleep(0.3)
    assert logged() == before


# ---- Landlock -------------------------------------------------------------------

def kernel_landlock_abi():
    libc = ctypes.CDLL(None, use_errno=True)
    libc.syscall.restype = ctypes.c_long
    abi = libc.syscall(444, None, ctypes.c_size_t(0), ctypes.c_uint32(1))  # landlock_create_ruleset VERSION
    return max(abi, 0)


def test_landlock_in_the_result_and_required(rootfs):
    r, res = json_of(rootfs, "true", opts=["--require", "landlock"])
    if RUNTIME == "runsc":
        # The command's file accesses are gVisor's: no Landlock applies.
        assert r.returncode == 125 and "under runsc" in r.stderr, r.stderr
        r, res = json_of(rootfs, "true")
        assert r.returncode == 0 and res["landlock_abi"] is None and "landlock" not in res["layers"], res
        return
    if kernel_landlock_abi() == 0:
        assert r.returncode == 125 and res["landlock_abi"] is None
        return
    assert r.returncode == 0 and res["landlock_abi"] == kernel_landlock_abi() and "landlock" in res["layers"]


def test_landlock_confines_writes(rootfs, workspace, tmp_path):
    """Writable by the file system but not by Landlock: /proc/self/comm (own
    process, no other layer stops it).  Writable by both: the workspace,
    /tmp, /dev/shm, a --bind target, /dev/null."""
    if kernel_landlock_abi() == 0:
        pytest.skip("SKIP: this kernel has no Landlock")
    rw = tmp_path / "rw"
    rw.mkdir(mode=0o777)
    os.chmod(rw, 0o777)
    opts = ["-w", str(workspace), "--bind", f"{rw}:/opt/rw"]
    r = probe(rootfs, "write", "/proc/self/comm", opts=opts)
    if RUNTIME == "runsc":
        # No Landlock under runsc (gVisor's own files); gVisor refuses
        # this write itself (EIO).
        assert r.stdout.split()[:3] == ["err", "5", "EIO"], r.stdout
        assert "landlock" not in json_of(rootfs, "true")[1]["layers"]
    else:
        assert r.stdout.split()[:3] == ["err", "13", "EACCES"], r.stdout
    # Negative control: outside the sandbox the same write works.
    host = subprocess.run([str(REPO / "tests" / "helper" / "sbx-probe"), "write", "/proc/self/comm"],
                          capture_output=True, text=True)
    assert host.stdout.strip() == "ok"
    for path in ("/workspace/f", "/tmp/f", "/dev/shm/f", "/opt/rw/f", "/dev/null"):
        assert probe(rootfs, "write", path, opts=opts).stdout.strip() == "ok", path


def test_landlock_scopes_signals(rootfs):
    """ABI 6+: the command cannot signal processes outside its domain, such
    as sbx's init (which would accept SIGUSR1 from anyone else)."""
    abi = json_of(rootfs, "true")[1]["landlock_abi"] or 0
    r = probe(rootfs, "kill", "1")
    if abi >= 6:
        assert r.stdout.split()[:3] == ["err", "1", "EPERM"], r.stdout
    else:
        assert r.stdout.strip() == "ok"


def test_compiled_filters_are_cached_safely(rootfs, tmp_path):
    """The BPF is cached per user, keyed by the profile's whole text: a
    changed profile, a damaged entry or a cache directory open to others
    means compiling again, never using what is there.  Whatever else is on
    the machine: root's runs see a fresh machine's /var/cache (a private
    mount namespace with a directory of the test's own there, holding only
    what rootfs/build makes: sbx/layouts/, 0755)."""
    cache_home = tmp_path / "cache"
    cache_home.mkdir(mode=0o700)
    env = dict(os.environ, XDG_CACHE_HOME=str(cache_home))
    prefix = []
    if os.geteuid() == 0:
        var_cache = tmp_path / "var-cache"
        (var_cache / "sbx" / "layouts").mkdir(parents=True)
        os.chmod(var_cache / "sbx", 0o755)
        prefix = ["unshare", "-m", "--propagation", "private", "sh", "-c",
                  'mount --bind "$0" /var/cache && exec "$@"', str(var_cache)]
        cache_dir = str(var_cache / "sbx" / "seccomp")
    else:
        cache_dir = str(cache_home / "sbx" / "seccomp")
    profile = tmp_path / "p.json"
    profile.write_text(open(REPO / "profiles" / "default.json").read())

    def verbose_run():
        r = subprocess.run([*prefix, SBX, "run", "--rootfs", str(rootfs), "-v", "-t", "--seccomp", str(profile),
                            "--", "/bin/sbx-probe", "tiocsti", "x", "0"], capture_output=True, text=True,
                           env=env, stdin=subprocess.DEVNULL, timeout=60)
        assert "pushed=0 errno=EPERM" in r.stdout, r.stdout + r.stderr
        return "from the cache" in r.stderr

    if RUNTIME == "runsc":
        # sbx compiles the profile to check it (and caches that), but the
        # BPF is never loaded: gVisor gets the profile in config.json.  A
        # damaged or untrusted entry can then change nothing: the profile
        # still refuses TIOCSTI each time.
        assert not verbose_run() and not verbose_run()
        entries = os.listdir(cache_dir)
        assert len(entries) == 1, entries
        with open(os.path.join(cache_dir, entries[0]), "r+b") as f:
            f.truncate(100)
        os.chmod(cache_dir, 0o777)
        assert not verbose_run()
        return
    assert not verbose_run()
    entries = os.listdir(cache_dir)
    assert len(entries) == 1, entries
    entry = os.path.join(cache_dir, entries[0])
    assert verbose_run(), "the second run should use the cache"
    assert os.stat(cache_dir).st_mode & 0o777 == 0o700
    if os.geteuid() == 0:
        assert os.stat(var_cache / "sbx").st_mode & 0o777 == 0o755, "the layouts stay readable"
    # A damaged entry is not used.
    with open(entry, "r+b") as f:
        f.truncate(100)
    assert not verbose_run()
    assert verbose_run()
    # A changed profile is a different entry.
    profile.write_text(profile.read_text() + " ")
    assert not verbose_run()
    # A cache directory others could write to is not trusted.
    os.chmod(cache_dir, 0o777)
    assert not verbose_run() and not verbose_run()
    os.chmod(cache_dir, 0o700)
    assert verbose_run()
