"""containerd 1.6 with the runtime under test behind its runc v2 shim:
`ctr run --runc-binary RUNTIME` sets the shim's options BinaryName (and
--runc-root its Root), the same options a Kubernetes RuntimeClass
handler's `options.BinaryName` gives the same shim through CRI.  The image
is the archive of the podman tests, `ctr image import`ed.  The ctd fixture
checks after each test that no container, task, runtime state or shim is
left."""
import re
import shutil
import time

import pytest

from engines import pid_alive, run_in_pty, runtime_name


def run(ctd, cid, *args, opts=()):
    return ctd.ctr(*ctd.run_args(cid, *args, opts=("--rm", *opts)))


def test_run_echo(ctd):
    r = run(ctd, "echo1", "echo", "hello from the runtime")
    assert (r.returncode, r.stdout) == (0, "hello from the runtime\n"), r.stderr


def test_exit_code(ctd):
    for status in (0, 3, 255):
        r = run(ctd, f"exit{status}", "sh", "-c", f"exit {status}")
        assert r.returncode == status, r.stderr


def test_env_and_cwd(ctd):
    r = run(ctd, "env1", "sh", "-c", 'echo "$FOO $(pwd)"', opts=("--env", "FOO=bar", "--cwd", "/tmp"))
    assert (r.returncode, r.stdout) == (0, "bar /tmp\n"), r.stderr


def test_tty(ctd):
    """-t: the shim's console socket gets the pty master from the runtime."""
    out, status = run_in_pty(ctd.argv(*ctd.run_args("tty1", "sh", "-c", "stty -echo; tty; echo ready; read l; "
                                          "echo got-$l; exit 3", opts=("--rm", "-t"))),
                             ready="ready", send="hello\r")
    assert status == 3, out
    assert re.search(r"^/dev/pts/\d+\r*$", out, re.M), out
    assert "got-hello" in out, out


def task_pid(ctd, cid):
    for line in ctd.check("tasks", "ls").stdout.splitlines()[1:]:
        f = line.split()
        if f[0] == cid:
            return int(f[1])
    raise AssertionError(f"no task {cid}")


def wait_stopped(ctd, cid, timeout=20):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for line in ctd.check("tasks", "ls").stdout.splitlines()[1:]:
            f = line.split()
            if f[0] == cid and f[2] == "STOPPED":
                return
        time.sleep(0.1)
    raise AssertionError(f"task {cid} did not stop: {ctd.ctr('tasks', 'ls').stdout}")


def remove(ctd, cid):
    ctd.ctr("tasks", "delete", "-f", cid)
    ctd.ctr("containers", "delete", cid)


def test_exec_and_kill(ctd):
    try:
        ctd.check(*ctd.run_args("exec1", "sleep", "1000", opts=("-d",)))
        pid = task_pid(ctd, "exec1")
        r = ctd.ctr("tasks", "exec", "--exec-id", "e1", "exec1", "sh", "-c", "cat /proc/1/cmdline; exit 7")
        assert r.returncode == 7, r.stderr
        assert r.stdout.split("\0")[0] == "sleep", r.stdout
        r = ctd.ctr("tasks", "exec", "--exec-id", "e2", "--cwd", "/tmp", "--user", "65534", "exec1",
                    "sh", "-c", 'echo "$(id -u) $(pwd)"')
        assert (r.returncode, r.stdout) == (0, "65534 /tmp\n"), r.stderr
        out, status = run_in_pty(ctd.argv("tasks", "exec", "-t", "--exec-id", "e3", "exec1", "sh", "-c", "tty; exit 4"))
        assert status == 4, out
        assert re.search(r"^/dev/pts/\d+\r*$", out, re.M), out
        # The shim asks the runtime: `ps --format json ID`.
        r = ctd.check("tasks", "ps", "exec1")
        assert re.search(rf"^{pid}\b", r.stdout, re.M), r.stdout
        ctd.check("tasks", "kill", "-s", "SIGKILL", "exec1")
        wait_stopped(ctd, "exec1")
        assert not pid_alive(pid)
        ctd.check("tasks", "delete", "exec1")
        ctd.check("containers", "delete", "exec1")
    finally:
        remove(ctd, "exec1")


def test_kill_term_handled(ctd):
    try:
        ctd.check(*ctd.run_args("term1", "sh", "-c", "trap 'exit 9' TERM; while :; do sleep 0.1; done",
                                opts=("-d",)))
        pid = task_pid(ctd, "term1")
        time.sleep(0.3)
        ctd.check("tasks", "kill", "term1")  # SIGTERM
        wait_stopped(ctd, "term1")
        assert not pid_alive(pid)
        r = ctd.check("tasks", "delete", "term1")
        assert "9" in r.stdout or r.returncode == 0
    finally:
        remove(ctd, "term1")


def test_seccomp_default_profile(ctd):
    """ctr's --seccomp puts containerd's default profile in the spec: the
    runtime must load it (keyctl is among what it denies)."""
    r = run(ctd, "sec1", "sh", "-c", "grep Seccomp: /proc/self/status", opts=("--seccomp",))
    assert r.returncode == 0, r.stderr
    assert re.search(r"^Seccomp:\s+2$", r.stdout, re.M), r.stdout


def test_read_only_rootfs(ctd):
    r = run(ctd, "ro1", "sh", "-c", "touch /x", opts=("--read-only",))
    assert r.returncode != 0
    assert "Read-only file system" in r.stdout + r.stderr


def test_state_is_where_the_leftover_check_looks(ctd):
    """The shim's --root (--runc-root/NAMESPACE) holds the runtime's state
    of a running container; ctd's check looks there."""
    try:
        ctd.check(*ctd.run_args("state1", "sleep", "1000", opts=("-d",)))
        assert (ctd.runc_root / ctd.NAMESPACE / "state1").is_dir()
    finally:
        remove(ctd, "state1")
    assert not (ctd.runc_root / ctd.NAMESPACE / "state1").exists()


def test_kill_all(ctd):
    """kill --all: every process of the container, its init and the rest."""
    try:
        ctd.check(*ctd.run_args("all1", "sh", "-c", "trap '' TERM; sleep 1000 & sleep 1000 & wait",
                                opts=("-d",)))
        pid = task_pid(ctd, "all1")
        deadline = time.monotonic() + 10
        while len(ctd.check("tasks", "ps", "all1").stdout.splitlines()) < 4 and time.monotonic() < deadline:
            time.sleep(0.1)
        pids = [int(line.split()[0]) for line in ctd.check("tasks", "ps", "all1").stdout.splitlines()[1:]]
        assert len(pids) == 3 and pid in pids, pids
        ctd.check("tasks", "kill", "--all", "-s", "SIGKILL", "all1")
        wait_stopped(ctd, "all1")
        assert not any(pid_alive(p) for p in pids)
    finally:
        remove(ctd, "all1")


def test_sbx_runsc_annotation(ctd):
    """sbx only: run.sbx.runtime=runsc through the shim: gVisor runs the
    container, exec and kill reach the same sandbox."""
    if runtime_name() != "sbx":
        pytest.skip(f"run.sbx.runtime is sbx's annotation; the runtime under test is {runtime_name()}")
    if shutil.which("runsc") is None:
        pytest.skip("runsc (gVisor) is not installed (scripts/deps)")
    gv = ("--annotation", "run.sbx.runtime=runsc")
    r = run(ctd, "gv1", "sh", "-c", "dmesg | head -1; exit 7", opts=gv)
    assert r.returncode == 7, r.stderr
    assert "gVisor" in r.stdout, r.stdout
    try:
        ctd.check(*ctd.run_args("gv2", "sleep", "1000", opts=("-d", *gv)))
        r = ctd.ctr("tasks", "exec", "--exec-id", "e1", "gv2", "sh", "-c", "dmesg | head -1; exit 5")
        assert r.returncode == 5 and "gVisor" in r.stdout, (r.returncode, r.stdout, r.stderr)
        ctd.check("tasks", "kill", "-s", "SIGKILL", "gv2")
        wait_stopped(ctd, "gv2")
        ctd.check("tasks", "delete", "gv2")
        ctd.check("containers", "delete", "gv2")
    finally:
        remove(ctd, "gv2")
