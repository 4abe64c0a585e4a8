"""podman 4.3 (through conmon) with the runtime under test in its runtime
slot (`podman --runtime PATH`), as root and rootless; the image is a
docker-archive made here and `podman load`ed (no registry).  Every
container runs with --network none: rootless podman here has no
/dev/net/tun for slirp4netns, and root's bridge would change the host's
network.  After each test the pm fixture checks that podman lists no
container or pod, that the runtime kept no state and no cgroup of them,
and that no conmon is left."""
import json
import shutil
import re
import time

import pytest

from engines import IMAGE, pid_alive as alive, runtime_name

NONET = ("--network", "none")


def run(pm, *args, opts=(), **kw):
    return pm("run", "--rm", *NONET, *opts, IMAGE, *args, **kw)


def start(pm, name, *args, opts=()):
    """A detached container NAME; returns its host pid."""
    pm.check("run", "-d", "--name", name, *NONET, *opts, IMAGE, *args)
    return int(pm.check("inspect", "--format", "{{.State.Pid}}", name).stdout)


def wait_for_log(pm, name, text, timeout=20):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if text in pm("logs", name).stdout:
            return
        time.sleep(0.1)
    raise AssertionError(f"{name} never printed {text!r}: {pm('logs', name).stdout!r}")


def exit_code(pm, name):
    return int(pm.check("inspect", "--format", "{{.State.ExitCode}}", name).stdout)


def test_run_echo(pm):
    r = run(pm, "echo", "hello from the runtime")
    assert r.returncode == 0, r.stderr
    assert r.stdout == "hello from the runtime\n"


@pytest.mark.parametrize("status", [0, 1, 42, 255])
def test_exit_code(pm, status):
    r = run(pm, "sh", "-c", f"exit {status}")
    assert r.returncode == status, r.stderr


def test_missing_command_is_127(pm):
    """podman turns the runtime's "executable file not found" / "no such
    file or directory" into 127, as a shell does: the runtime's message
    must say so."""
    r = run(pm, "/no/such/program")
    assert r.returncode == 127, (r.returncode, r.stderr)


def test_not_executable_is_126(pm):
    r = run(pm, "/etc/passwd")
    assert r.returncode == 126, (r.returncode, r.stderr)


def test_stdin(pm):
    """-i without a terminal: conmon's pipe is the container's stdin."""
    r = run(pm, "sh", "-c", "tr a-z A-Z; echo done", opts=("-i",), input="piped input\n")
    assert (r.returncode, r.stdout) == (0, "PIPED INPUT\ndone\n"), r.stderr


def test_env(pm):
    r = run(pm, "sh", "-c", 'echo "$FOO|$BAR|$PATH"', opts=("-e", "FOO=bar baz", "-e", "BAR="))
    assert r.returncode == 0, r.stderr
    assert r.stdout == "bar baz||/bin\n"


def test_workdir(pm):
    r = run(pm, "pwd", opts=("-w", "/tmp"))
    assert (r.returncode, r.stdout) == (0, "/tmp\n"), r.stderr


def test_user(pm):
    r = run(pm, "id", opts=("-u", "65534:65534"))
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("uid=65534(nobody) gid=65534(nogroup)"), r.stdout


def test_volume(pm, host_dir):
    (host_dir / "from-host").write_text("host data\n")
    r = run(pm, "sh", "-c", "cat /data/from-host && echo container data > /data/from-container",
            opts=("-v", f"{host_dir}:/data"))
    assert r.returncode == 0, r.stderr
    assert r.stdout == "host data\n"
    assert (host_dir / "from-container").read_text() == "container data\n"


def test_volume_read_only(pm, host_dir):
    r = run(pm, "sh", "-c", "echo x > /data/f", opts=("-v", f"{host_dir}:/data:ro"))
    assert r.returncode != 0
    assert "Read-only file system" in r.stderr
    assert not (host_dir / "f").exists()


def test_read_only(pm):
    r = run(pm, "sh", "-c", "touch /etc/x", opts=("--read-only",))
    assert r.returncode != 0
    assert "Read-only file system" in r.stderr
    # podman puts tmpfs on /tmp, /var/tmp and /run of a --read-only container.
    r = run(pm, "sh", "-c", "touch /tmp/x /run/x && echo ok", opts=("--read-only",))
    assert (r.returncode, r.stdout) == (0, "ok\n"), r.stderr


def test_network_none(pm):
    """--network none: a network namespace of its own with only lo, and lo
    UP (runc brings it up in a new network namespace; what listens on
    127.0.0.1, and a pod's containers, rely on it)."""
    r = run(pm, "sh", "-c", "cat /proc/net/dev; ip -o link show lo")
    assert r.returncode == 0, r.stderr
    devs = re.findall(r"^\s*(\S+):\s+\d", r.stdout, re.M)
    assert devs == ["lo"], r.stdout
    assert re.search(r"lo: <[^>]*\bUP\b", r.stdout), r.stdout
    r = run(pm, "sh", "-c", "nc -l -p 8080 -e echo over-lo & sleep 0.3; nc 127.0.0.1 8080")
    assert (r.returncode, r.stdout) == (0, "over-lo\n"), r.stderr


def test_tty(pm):
    """-it: the runtime hands conmon the pty master through the console
    socket; the container's stdio is a terminal that takes our input."""
    out, status = pm.pty("run", "--rm", "-it", *NONET, IMAGE, "sh", "-c",
                         "stty -echo; tty; [ -t 0 ] && [ -t 1 ] && echo both-ttys; echo ready; "
                         "read line; echo got-$line; exit 3",
                         ready="ready", send="hello\r")
    assert status == 3, out
    assert re.search(r"^/dev/pts/\d+\r?$", out, re.M), out
    assert "both-ttys" in out and "got-hello" in out, out


def test_exec(pm):
    pid = start(pm, "exec-target", "sleep", "1000")
    try:
        r = pm("exec", "exec-target", "sh", "-c", "echo $$ $FOO; exit 5", "-e", "FOO=bar")
        # podman exec C CMD... : options after the command are the command's.
        assert r.returncode == 5, r.stderr
        r = pm("exec", "-e", "FOO=bar", "-w", "/tmp", "exec-target", "sh", "-c", 'echo "$FOO $(pwd)"')
        assert (r.returncode, r.stdout) == (0, "bar /tmp\n"), r.stderr
        r = pm("exec", "-i", "exec-target", "tr", "a-z", "A-Z", input="to exec\n")
        assert (r.returncode, r.stdout) == (0, "TO EXEC\n"), r.stderr
        r = pm("exec", "exec-target", "/no/such/program")
        assert r.returncode == 127, (r.returncode, r.stderr)
        r = pm("exec", "-u", "65534", "exec-target", "id", "-u")
        assert (r.returncode, r.stdout) == (0, "65534\n"), r.stderr
        # In the container's pid namespace: its init is pid 1, sleep.
        r = pm("exec", "exec-target", "cat", "/proc/1/cmdline")
        assert r.stdout.split("\0")[0] == "sleep", r.stdout
        out, status = pm.pty("exec", "-it", "exec-target", "sh", "-c", "tty; exit 4")
        assert status == 4, out
        assert re.search(r"^/dev/pts/\d+\r?$", out, re.M), out
    finally:
        pm("rm", "-f", "-t", "0", "exec-target")
    assert not alive(pid)


def test_stop_term(pm):
    """stop sends TERM; a container that handles it exits at once."""
    pid = start(pm, "stop-term", "sh", "-c", "trap 'echo got-term; exit 7' TERM; echo ready; "
                "while :; do sleep 0.1; done")
    wait_for_log(pm, "stop-term", "ready")
    t = time.monotonic()
    pm.check("stop", "-t", "30", "stop-term")
    assert time.monotonic() - t < 15
    assert exit_code(pm, "stop-term") == 7
    assert "got-term" in pm("logs", "stop-term").stdout
    assert not alive(pid)
    pm.check("rm", "stop-term")


def test_stop_kills_after_timeout(pm):
    """A container that ignores TERM gets SIGKILL after stop's timeout."""
    pid = start(pm, "stop-ignore", "sh", "-c", "trap '' TERM; echo ready; while :; do sleep 0.1; done")
    wait_for_log(pm, "stop-ignore", "ready")
    t = time.monotonic()
    pm.check("stop", "-t", "2", "stop-ignore")
    took = time.monotonic() - t
    assert 2 <= took < 20, took
    assert exit_code(pm, "stop-ignore") == 137
    assert not alive(pid)
    pm.check("rm", "stop-ignore")


def test_kill(pm):
    pid = start(pm, "kill-target", "sh", "-c", "trap 'echo got-usr1' USR1; echo ready; "
                "while :; do sleep 0.1; done")
    wait_for_log(pm, "kill-target", "ready")
    pm.check("kill", "-s", "USR1", "kill-target")
    wait_for_log(pm, "kill-target", "got-usr1")
    assert alive(pid)
    pm.check("kill", "kill-target")
    pm.check("wait", "kill-target")
    assert exit_code(pm, "kill-target") == 137
    assert not alive(pid)
    pm.check("rm", "kill-target")


def test_ps_and_top(pm):
    start(pm, "top-target", "sleep", "1000")
    try:
        r = pm.check("ps", "--format", "{{.Names}} {{.Status}}")
        assert re.search(r"^top-target Up", r.stdout, re.M), r.stdout
        r = pm.check("top", "top-target", "pid", "args")
        assert re.search(r"^\s*1\s+sleep 1000", r.stdout, re.M), r.stdout
        r = pm.check("exec", "top-target", "ps", "-o", "pid,args")
        assert re.search(r"^\s*1\s+sleep 1000", r.stdout, re.M), r.stdout
    finally:
        pm("rm", "-f", "-t", "0", "top-target")


def test_memory_and_pids_limits(pm, capsys):
    """On this hybrid-cgroup host only that the run succeeds; the limits
    themselves are checked in the cgroup v2 VM (tests/vm).  What the
    container sees is printed for the report."""
    r = run(pm, "sh", "-c", "cat /proc/self/cgroup; "
            "cat /sys/fs/cgroup/memory/memory.limit_in_bytes /sys/fs/cgroup/pids/pids.max "
            "/sys/fs/cgroup/memory.max /sys/fs/cgroup/pids.max 2>/dev/null; true",
            opts=("--memory", "64m", "--pids-limit", "50"))
    assert r.returncode == 0, r.stderr
    with capsys.disabled():
        print(f"\n[{pm.mode}] --memory 64m --pids-limit 50: inside: {r.stdout.split()} stderr: {r.stderr.strip()!r}")


SECCOMP = {"defaultAction": "SCMP_ACT_ALLOW",
           "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
           "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 95}]}


def test_seccomp_profile(pm, host_dir):
    profile = host_dir / "deny-mkdir.json"
    profile.write_text(json.dumps(SECCOMP))
    profile.chmod(0o644)
    r = run(pm, "mkdir", "/tmp/d", opts=("--security-opt", f"seccomp={profile}"))
    assert r.returncode == 1
    assert "not supported" in r.stderr.lower(), r.stderr  # EOPNOTSUPP, the profile's errno
    r = run(pm, "sh", "-c", "mkdir /tmp/d && echo made")
    assert (r.returncode, r.stdout) == (0, "made\n"), r.stderr


def test_pod_shares_network_namespace(pm):
    """Two containers of a pod (its infra container made by podman from the
    test image, --network none: the pod has only lo) see each other's
    listener on lo."""
    # (podman 4.3 ignores infra_command in containers.conf: the flags say it.)
    pm.check("pod", "create", "--name", "pod1", "--infra-image", IMAGE, "--infra-command", "/bin/pause", *NONET)
    try:
        pm.check("run", "-d", "--pod", "pod1", "--name", "listener", IMAGE, "sh", "-c",
                 "while :; do nc -l -p 8080 -e echo hello-from-listener; done")
        deadline = time.monotonic() + 20
        while True:
            r = pm("run", "--rm", "--pod", "pod1", IMAGE, "nc", "127.0.0.1", "8080")
            if "hello-from-listener" in r.stdout or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        assert "hello-from-listener" in r.stdout, (r.returncode, r.stdout, r.stderr)
        # The pod's netns is not the host's, and not a fresh one per container.
        a = pm.check("exec", "listener", "readlink", "/proc/self/ns/net").stdout
        b = pm.check("run", "--rm", "--pod", "pod1", IMAGE, "readlink", "/proc/self/ns/net").stdout
        assert a == b
    finally:
        pm("pod", "rm", "-f", "-t", "0", "pod1")


def test_state_is_where_the_leftover_check_looks(pm):
    """The runtime keeps a running container's state in its default
    directory (/run/NAME as root, $XDG_RUNTIME_DIR/NAME rootless, as runc
    does: podman passes no --root), so pm's check after each test that
    nothing of a container is left there means something."""
    start(pm, "state-target", "sleep", "1000")
    try:
        cid = pm.check("inspect", "--format", "{{.Id}}", "state-target").stdout.strip()
        assert (pm.root_state / cid).is_dir(), f"no {pm.root_state}/{cid}"
    finally:
        pm("rm", "-f", "-t", "0", "state-target")
    assert not (pm.root_state / cid).exists()


def test_sbx_hardened_annotation(pm):
    """sbx only (runc ignores the annotation, so this was not calibrated):
    run.sbx.profile=hardened puts sbx's defaults on top of the spec's: no
    capabilities, a seccomp filter, a user namespace even where the spec
    has none."""
    if runtime_name() != "sbx":
        pytest.skip(f"run.sbx.profile is sbx's annotation; the runtime under test is {runtime_name()}")
    probe = "grep -E '^(CapEff|Seccomp):' /proc/self/status; readlink /proc/self/ns/user"
    plain = run(pm, "sh", "-c", probe)
    # seccomp=unconfined: the spec asks for no filter; sbx's is stacked anyway.
    hard = run(pm, "sh", "-c", probe, opts=("--annotation", "run.sbx.profile=hardened",
                                            "--security-opt", "seccomp=unconfined"))
    assert plain.returncode == 0 and hard.returncode == 0, (plain.stderr, hard.stderr)
    status = dict(line.split(":", 1) for line in hard.stdout.splitlines()[:2])
    assert int(status["CapEff"], 16) == 0, hard.stdout
    assert status["Seccomp"].strip() == "2", hard.stdout
    assert hard.stdout.splitlines()[2] != plain.stdout.splitlines()[2], (plain.stdout, hard.stdout)


def test_json_log(pm):
    """With the runtime's name in containers.conf's runtime_supports_json
    (as runc's is), conmon passes `--log-format=json --log FILE` before
    create and exec and podman takes the runtime's error from that log:
    the same results."""
    r = pm("run", "--rm", *NONET, IMAGE, "sh", "-c", "echo ok; exit 3", json_log=True)
    assert (r.returncode, r.stdout) == (3, "ok\n"), r.stderr
    r = pm("run", "--rm", *NONET, IMAGE, "/no/such/program", json_log=True)
    assert r.returncode == 127, (r.returncode, r.stderr)
    try:
        pm.check("run", "-d", "--name", "json-exec", *NONET, IMAGE, "sleep", "1000")
        r = pm("exec", "json-exec", "sh", "-c", "exit 6", json_log=True)
        assert r.returncode == 6, r.stderr
        r = pm("exec", "json-exec", "/no/such/program", json_log=True)
        assert r.returncode == 127, (r.returncode, r.stderr)
    finally:
        pm("rm", "-f", "-t", "0", "json-exec")


def test_sbx_runsc_annotation(pm):
    """sbx only: run.sbx.runtime=runsc hands the container to gVisor, and
    every later command podman sends for it (exec, kill, delete) reaches
    the same sandbox.  podman calls kill and delete with an environment
    without PATH: the runtime must find runsc all the same."""
    if runtime_name() != "sbx":
        pytest.skip(f"run.sbx.runtime is sbx's annotation; the runtime under test is {runtime_name()}")
    if shutil.which("runsc") is None:
        pytest.skip("runsc (gVisor) is not installed (scripts/deps)")
    gv = ("--annotation", "run.sbx.runtime=runsc")
    r = run(pm, "sh", "-c", "dmesg | head -1; exit 7", opts=gv)
    assert r.returncode == 7, r.stderr
    assert "gVisor" in r.stdout, r.stdout
    try:
        pm.check("run", "-d", "--name", "gvisor", *NONET, *gv, IMAGE, "sleep", "1000")
        r = pm("exec", "gvisor", "sh", "-c", "dmesg | head -1; exit 5")
        assert r.returncode == 5 and "gVisor" in r.stdout, (r.returncode, r.stdout, r.stderr)
        t = time.monotonic()
        pm.check("stop", "-t", "2", "gvisor")
        assert time.monotonic() - t < 20
        pm.check("rm", "gvisor")
    finally:
        pm("rm", "-f", "-t", "0", "gvisor")
