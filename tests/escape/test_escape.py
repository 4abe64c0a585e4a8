"""Escape attempts from inside `sbx run`, each with the exact answer the
default policy gives, and a negative control showing that the same attempt,
with the layer that stops it turned off, gets through -- so a probe that
cannot see the difference fails the suite.

Build rule for the probe (the Makefile's; conftest.py builds it into a
temporary directory itself when tests/escape/escape-probe is missing or older
than its source):

    tests/escape/escape-probe: tests/escape/escape-probe.c
        cc -std=gnu11 -O2 -Wall -Wextra -Werror -Wshadow -Wformat=2 \\
           -Wno-format-nonliteral -static -pthread -o $@ $<

Run: cd tests/escape && /usr/bin/python3 -m pytest -q -rfEs
(tests/run-integration runs it in every mode).  README.md lists the attacks.
"""
import dataclasses
import json
import os
import subprocess
import pwd
import signal

import pytest

from conftest import MODE, SECRET, SBX, file_state, integration, read_core_pattern, sha256

# The probe's outcome of one attempt: "ok" (the call returned >= 0), an errno
# name, or the name of the signal that killed the attempt.


def outcome(rec):
    if rec.get("setup"):
        return f"setup:{rec['errno']}"
    if rec["signal"]:
        return signal.Signals(rec["signal"]).name
    return "ok" if rec["ret"] >= 0 else rec["errno"]


@dataclasses.dataclass(frozen=True)
class Attack:
    name: str
    sandboxed: tuple       # the outcome under the default policy (alternatives only where noted)
    control: str = None    # where the layer is off: unconfined, unconfined_userns or host_run
    unblocked: tuple = ()  # what the probe must see there
    why_same: str = None   # why the control may answer like the sandbox here (that control is skipped)
    allowed: bool = False  # the policy lets the call through: the control must answer the same


def A(name, sandboxed, control=None, *unblocked, why_same=None, allowed=False):
    sandboxed = sandboxed if isinstance(sandboxed, tuple) else (sandboxed,)
    return Attack(name, sandboxed, control, tuple(unblocked), why_same, allowed)


U, UN, H = "unconfined", "unconfined_userns", "host_run"
ROOT = os.geteuid() == 0

NOT_BUILT = ("a kernel built with {} answers EPERM to a caller without {} in the initial user "
             "namespace, as the filter does; this one answers ENOSYS")
ROOT_ONLY = ("{} checks {} in the initial user namespace before its arguments: outside a "
             "sandbox only root gets past it, and this run is not root")
# Files that are not there on every kernel: then there is nothing to refuse,
# inside or out, and the sandbox answers ENOENT.
SYSRQ = "/proc/sysrq-trigger"
UEVENT = "/sys/kernel/uevent_helper"
REFUSED_WRITE = ("EROFS", "EACCES", "EPERM")  # not measurable here: see README.md


def absent_or_refused(path):
    return ("ENOENT",) if not os.path.exists(path) else REFUSED_WRITE


ATTACKS = [
    # Mounts and root changes (ESC-45).  pivot_root and the new mount API's
    # fsopen/fsmount/fspick/move_mount check CAP_SYS_ADMIN over the mount
    # namespace first: their control runs in a user namespace of its own.
    A("mount", "EPERM", U, "EFAULT"),
    A("umount2", "EPERM", U, "EINVAL"),
    A("pivot_root", "EPERM", UN, "EFAULT"),
    A("chroot", "EPERM", U, "EFAULT"),
    A("open_tree", "ENOSYS", U, "EFAULT"),
    A("move_mount", "ENOSYS", UN, "EFAULT"),
    A("fsopen", "ENOSYS", UN, "EFAULT"),
    A("fsconfig", "ENOSYS", U, "EINVAL", "EBADF"),
    A("fsmount", "ENOSYS", UN, "EBADF"),
    A("fspick", "ENOSYS", UN, "EFAULT"),
    A("mount_setattr", "ENOSYS", U, "EINVAL"),
    # Nested namespaces (ESC-43, ESC-44).
    # Their control is on the host: sbx allows no user namespace inside
    # whatever the profile (issue 9: file capabilities).
    A("unshare(CLONE_NEWUSER)", "EPERM", H, "ok"),
    A("unshare(CLONE_NEWNS)", "EPERM", U, "EINVAL"),
    A("unshare(CLONE_NEWTIME)", "EPERM", U, "EINVAL"),
    A("clone(CLONE_NEWUSER)", "EPERM", H, "ok"),
    A("clone3", "ENOSYS", U, "EFAULT"),
    A("pthread_create", "ok", U, "ok", allowed=True),
    A("setns", "EPERM", U, "EBADF"),
    # Other processes (ESC-49).
    A("ptrace(PTRACE_ATTACH)", "EPERM", U, "ok"),
    A("process_vm_readv", "EPERM", U, "EFAULT"),
    A("process_vm_writev", "EPERM", U, "EFAULT"),
    A("kcmp", "EPERM", U, "EINVAL"),
    A("pidfd_getfd", "EPERM", U, "EBADF"),
    # Keyrings, bpf, userfaultfd, io_uring, perf (ESC-46..50).
    A("keyctl", "ENOSYS", U, "EOPNOTSUPP"),
    A("add_key", "ENOSYS", U, "EFAULT"),
    A("request_key", "ENOSYS", U, "EFAULT"),
    A("bpf", "ENOSYS", U, "EFAULT"),
    A("userfaultfd", "ENOSYS", U, "EINVAL"),
    # ENOSYS also in sbx's host-safety filter, whatever the profile: the
    # control is on the host (EPERM where io_uring is disabled there).
    A("io_uring_setup", "ENOSYS", H, "EFAULT", "EPERM"),
    A("io_uring_enter", "ENOSYS", U, "EBADF"),
    A("io_uring_register", "ENOSYS", U, "EINVAL", "EBADF"),
    A("perf_event_open", "ENOSYS", U, "EFAULT"),
    # Handles, modules, kexec, reboot, swap, accounting, kernel log, time.
    A("open_by_handle_at", "EPERM", U, "EFAULT", "EBADF"),
    A("init_module", "EPERM", U, "ENOSYS", "EPERM", why_same=NOT_BUILT.format("modules", "CAP_SYS_MODULE")),
    A("finit_module", "EPERM", U, "ENOSYS", "EPERM", why_same=NOT_BUILT.format("modules", "CAP_SYS_MODULE")),
    A("delete_module", "EPERM", U, "ENOSYS", "EPERM", why_same=NOT_BUILT.format("modules", "CAP_SYS_MODULE")),
    A("kexec_load", "EPERM", U, "ENOSYS", "EPERM", why_same=NOT_BUILT.format("kexec", "CAP_SYS_BOOT")),
    A("reboot", "EPERM", UN, "EINVAL"),
    A("swapon", "EPERM", U, "EINVAL"),
    A("acct", "EPERM", H, "EFAULT", "EPERM", why_same=ROOT_ONLY.format("acct()", "CAP_SYS_PACCT")),
    A("syslog(READ_ALL)", "EPERM", H, "EINVAL", "EPERM",
      why_same=ROOT_ONLY.format("syslog() under kernel.dmesg_restrict=1", "CAP_SYSLOG")),
    A("settimeofday", "EPERM", U, "EFAULT"),
    A("clock_settime", "EPERM", U, "EFAULT"),
    # Devices (ESC-33): mknod is allowed by the filter (FIFOs need it); the
    # missing CAP_MKNOD refuses the device node.
    A("mknod(char 1:3)", "EPERM", H, "ok", "EPERM", why_same=ROOT_ONLY.format("mknod() of a device", "CAP_MKNOD")),
    # Socket families (ESC-54).
    A("socket(AF_PACKET)", "EPERM", U, "EINVAL"),
    A("socket(AF_VSOCK)", "EPERM", U, "EINVAL"),
    A("socket(AF_ALG)", "EPERM", U, "EINVAL"),
    A("socket(AF_NETLINK, NETLINK_AUDIT)", "EPERM", U, "ok"),
    A("socket(AF_NETLINK, NETLINK_ROUTE)", "ok", U, "ok", allowed=True),
    A("socket(AF_UNIX)", "ok", U, "ok", allowed=True),
    A("socket(AF_INET)", "ok", U, "ok", allowed=True),
    # Terminal ioctls, also with high bits the kernel drops (ESC-06..09, ESC-34).
    *[A(f"ioctl({hi}{cmd})", "EPERM", U, "EBADF")
      for cmd in ("TIOCSTI", "TIOCLINUX", "TIOCSETD", "TIOCCONS") for hi in ("", "1<<32|")],
    A("ioctl(TCGETS)", "EBADF", U, "EBADF", allowed=True),
    # personality, prctl, unknown system calls (ESC-51, policy 3.4).
    A("personality(ADDR_NO_RANDOMIZE)", "EPERM", U, "ok"),
    A("personality(0xffffffff)", "ok", U, "ok", allowed=True),
    A("prctl(PR_SET_MM)", "EPERM", U, "EINVAL"),
    A("syscall(1000)", "ENOSYS", U, "ENOSYS", allowed=True),
    # Host-global knobs (ESC-21, ESC-22): the read-only /proc/sys, the masks
    # and the empty /sys refuse them, with or without seccomp; the control is
    # the host itself.
    A("write /proc/sys/kernel/core_pattern", "EROFS", H, "ok", "EACCES"),
    A(f"write {SYSRQ}", absent_or_refused(SYSRQ), H, "ok", "EACCES", "ENOENT",
      why_same=f"{SYSRQ} does not exist on this kernel (CONFIG_MAGIC_SYSRQ=n)"),
    A(f"write {UEVENT}", absent_or_refused(UEVENT), H, "ok", "EACCES", "ENOENT",
      why_same=f"{UEVENT} does not exist on this kernel (CONFIG_UEVENT_HELPER=n)"),
    # The host's canaries (ESC-56, ESC-57, ESC-59, and the rootfs's neighbours).
    A("kill(host canary)", "ESRCH", H, "ok"),
    A("connect(host tcp canary)", "ECONNREFUSED", H, "ok"),
    A("connect(host abstract canary)", "ECONNREFUSED", H, "ok"),
    A("write(host canary file)", "ENOENT", H, "ok"),
    # Foreign system call ABIs (ESC-52): the default policy kills.  Without a
    # filter i386 getpid works; x32 answers ENOSYS on kernels without the
    # x32 ABI (this one), a pid on those with it.
    A("i386 int 0x80 getpid", "SIGSYS", U, "ok"),
    A("x32 getpid", "SIGSYS", U, "ENOSYS", "ok"),
]
BY_NAME = {a.name: a for a in ATTACKS}
assert len(BY_NAME) == len(ATTACKS)

# Under runsc every call is gVisor's: its sentry implements the system
# calls, and runsc applies the profile there (turning each SCMP_ACT_ERRNO
# into EPERM).  What differs from the table above, measured with Debian's
# runsc 0.0~20221219:
RUNTIME = integration.RUNTIME
RUNSC_SANDBOXED = {
    "mount_setattr": "EPERM",             # the profile's errno, as runsc gives it
    # The profile's default action, likewise: numbers beyond runsc's table
    # get it, not ENOSYS (runtime/sbx.1, --seccomp).
    "syscall(1000)": "EPERM",
    "x32 getpid": "EPERM",                # runsc's filter answers, it does not kill
    "i386 int 0x80 getpid": "EBADF",      # gVisor has no int 0x80 entry: no i386 getpid
    "personality(0xffffffff)": "EINVAL",  # gVisor has no persona query
    # gVisor's own tmpfs, its own emulated device: no node of the host's
    # (the host's /tmp and /dev are out of its reach).
    "mknod(char 1:3)": "ok",
    # gVisor's /proc/sys has no core_pattern: nothing of the host's to write.
    "write /proc/sys/kernel/core_pattern": "ENOENT",
}
# The same attempts with no profile (--seccomp unconfined): gVisor's own
# answers.  Where it equals the sandboxed one, gVisor refuses the call
# itself (it implements no mount, module, clock or raw socket for a
# sandbox): the layer is gVisor's, not sbx's filter.
RUNSC_UNCONFINED = {
    "mount": "EPERM", "umount2": "EPERM", "chroot": "EPERM", "open_tree": "ENOSYS",
    "fsconfig": "ENOSYS", "mount_setattr": "ENOSYS",
    # gVisor's own namespaces, inside its sentry, which the host's
    # kernel never sees.
    "unshare(CLONE_NEWNS)": "ok", "unshare(CLONE_NEWTIME)": "ok",
    "clone3": "ENOSYS", "setns": "EOPNOTSUPP",
    "process_vm_readv": "ENOSYS", "process_vm_writev": "ENOSYS", "kcmp": "EPERM", "pidfd_getfd": "ENOSYS",
    "keyctl": "EACCES", "add_key": "EACCES", "request_key": "EACCES", "bpf": "EPERM",
    "userfaultfd": "ENOSYS", "io_uring_enter": "EPERM", "io_uring_register": "ENOSYS",
    "perf_event_open": "ENODEV", "open_by_handle_at": "EOPNOTSUPP",
    "init_module": "EPERM", "finit_module": "EPERM", "delete_module": "EPERM", "kexec_load": "EPERM",
    "swapon": "EPERM", "settimeofday": "EPERM", "clock_settime": "EPERM",
    "socket(AF_PACKET)": "EPERM", "socket(AF_VSOCK)": "EAFNOSUPPORT", "socket(AF_ALG)": "EAFNOSUPPORT",
    "socket(AF_NETLINK, NETLINK_AUDIT)": "EPROTONOSUPPORT",
    "personality(ADDR_NO_RANDOMIZE)": "EINVAL", "personality(0xffffffff)": "EINVAL",
    "prctl(PR_SET_MM)": "EPERM", "i386 int 0x80 getpid": "EBADF", "syscall(1000)": "ENOSYS",
}


def expected_sandboxed(attack):
    if RUNTIME == "runsc" and attack.name in RUNSC_SANDBOXED:
        return (RUNSC_SANDBOXED[attack.name],)
    return attack.sandboxed


def ids(attack):
    return attack.name


def test_mode_is_what_it_says():
    """A mislabelled run (say, root tests run as a user) must not pass."""
    user = pwd.getpwuid(os.getuid()).pw_name
    try:
        with open("/etc/subuid") as f:
            has_ranges = any(line.split(":")[0] == user for line in f)
    except FileNotFoundError:
        has_ranges = False
    assert MODE in ("root", "subuid", "nosub")
    assert (MODE == "root") == ROOT
    if not ROOT:
        assert has_ranges == (MODE == "subuid"), (MODE, user)


def test_the_probe_ran_every_attack(sandboxed):
    r = sandboxed.proc
    assert r.returncode == 0, (r.returncode, r.stderr)
    assert set(BY_NAME) | {"status"} == set(sandboxed.results), r.stdout


# ---- the baseline inside ----------------------------------------------------

def test_status_inside(sandboxed):
    """Catalog Part 0 item 6: no capability in any set, no_new_privs,
    seccomp filtering, uid 1000, stdio only, the clean environment."""
    st = sandboxed["status"]
    if RUNTIME == "runsc":
        # gVisor's status: no CapAmb, NoNewPrivs or Seccomp_filters line
        # (no ambient or file capabilities in its sentry); its filter is
        # the profile, sbx's host-safety one is on runsc, outside.
        assert not {"CapAmb", "NoNewPrivs", "Seccomp_filters"} & set(st), st
    for cap in ("CapInh", "CapPrm", "CapEff", "CapBnd") + (() if RUNTIME == "runsc" else ("CapAmb",)):
        assert st[cap] == "0000000000000000", (cap, st)
    if RUNTIME != "runsc":
        assert st["NoNewPrivs"] == "1"
        assert int(st["Seccomp_filters"]) >= 1
    assert st["Seccomp"] == "2"
    assert (st["uid"], st["gid"]) == (1000, 1000)
    assert st["fds"] == [0, 1, 2]
    assert {e.split("=", 1)[0] for e in st["environ"]} <= {"PATH", "HOME", "LANG", "TERM"}, st["environ"]


def test_status_controls(sandboxed, unconfined, host_run):
    """The status line tells the layers apart: only sbx's host-safety filter
    when unconfined, no no_new_privs and a full bounding set on the host."""
    if RUNTIME == "runsc":
        # No filter in gVisor: the host-safety one is on runsc's processes.
        assert unconfined["status"]["Seccomp"] == "0"
        assert unconfined["status"]["CapBnd"] == "0000000000000000", "--seccomp unconfined must keep the other layers"
    else:
        assert unconfined["status"]["Seccomp"] == "2"
        assert unconfined["status"]["Seccomp_filters"] == "1", "unconfined: the host-safety filter and no profile"
        assert unconfined["status"]["NoNewPrivs"] == "1", "--seccomp unconfined must keep the other layers"
    host = host_run["status"]
    assert host["NoNewPrivs"] == "0" and host["Seccomp"] == "0"
    assert host["CapBnd"] != "0000000000000000"
    assert host["uid"] == os.getuid()


# ---- the attacks under the default policy -------------------------------------

I386 = "i386 int 0x80 getpid"
NO_IA32 = "this kernel has no IA32 emulation: int $0x80 faults (SIGSEGV) before seccomp sees it"


@pytest.mark.parametrize("attack", ATTACKS, ids=ids)
def test_attack_is_refused(attack, sandboxed, host_run):
    if attack.name == I386 and outcome(host_run[I386]) == "SIGSEGV":
        pytest.skip(NO_IA32)
    got = outcome(sandboxed[attack.name])
    expected = expected_sandboxed(attack)
    assert got in expected, f"{attack.name}: {got}, expected {' or '.join(expected)}"


# ---- negative controls: the same attempt with the layer off -----------------------

@pytest.mark.parametrize("attack", [a for a in ATTACKS if a.control], ids=ids)
def test_negative_control(attack, request):
    run = request.getfixturevalue(attack.control)
    rec = run[attack.name]
    if rec.get("setup"):
        pytest.skip(f"{attack.name}: the probe could not make the user namespace this control needs "
                    f"({rec['errno']}) in the unconfined sandbox")
    got = outcome(rec)
    if attack.name == I386 and got == "SIGSEGV":
        pytest.skip(NO_IA32)
    if RUNTIME == "runsc" and attack.control == U and attack.name in RUNSC_UNCONFINED:
        # gVisor's own answer with no profile.  Equal to the sandboxed one,
        # the refusal is gVisor's own (see RUNSC_UNCONFINED).
        assert got == RUNSC_UNCONFINED[attack.name], f"{attack.name} in {run.what}: {got}"
        return
    assert got in attack.unblocked, \
        f"{attack.name} in {run.what}: {got}, expected {' or '.join(attack.unblocked)}"
    if attack.allowed:
        assert got in expected_sandboxed(attack), f"{attack.name} is allowed: the filter must not change its answer"
        return
    if got in attack.sandboxed:
        if attack.why_same:
            pytest.skip(f"{attack.name}: control answers {got} like the sandbox: {attack.why_same}")
        pytest.fail(f"{attack.name}: with the layer off the probe still sees {got}: it cannot tell "
                    "the sandbox refused it")


def test_layers_say_whose_they_are(rootfs):
    """Under runsc the refusals are gVisor's and the profile's as runsc
    applies it: the JSON says so, and claims none of sbx's native layers."""
    rfd, wfd = os.pipe()
    r = subprocess.run([SBX, "run", "--json-fd", str(wfd), "--rootfs", str(rootfs), "--", "true"],
                       pass_fds=(wfd,), capture_output=True, text=True, timeout=60)
    os.close(wfd)
    with os.fdopen(rfd) as f:
        layers = json.load(f)["layers"]
    assert r.returncode == 0, r.stderr
    assert {"seccomp", "host-safety-filter", "no-capabilities"} <= set(layers), layers
    if RUNTIME == "runsc":
        assert {"gvisor", "gvisor-seccomp"} <= set(layers), layers
        assert not {"landlock", "securebits-locked", "masked-proc", "no-nested-user-namespaces"} & set(layers)
    else:
        assert "gvisor" not in layers and "no-nested-user-namespaces" in layers, layers


def test_every_refusal_has_a_control():
    for a in ATTACKS:
        assert a.control and a.unblocked, a.name


# ---- the host, from outside ------------------------------------------------------

def test_host_canaries_untouched(sandboxed, unconfined, unconfined_userns, canaries):
    """After every sandboxed run: the file beside the rootfs is the same file
    with the same content and mtime, the caller's `sleep` lives, neither
    listener has a connection waiting, the host's core_pattern is unchanged."""
    assert file_state(canaries.file) == canaries.file_before
    assert canaries.process.poll() is None, "the canary process died"
    for s in (canaries.tcp, canaries.abstract):
        with pytest.raises(BlockingIOError):
            s.accept()[0].close()
    assert read_core_pattern() == canaries.core_pattern


def test_secret_never_reaches_the_sandbox(sandboxed, unconfined, unconfined_userns, host_run):
    for run in (sandboxed, unconfined):
        assert SECRET not in run.output(), run.what
    # Control: the same probe outside shows its environment, secret included.
    assert any(SECRET in e for e in host_run["status"]["environ"])


def test_sbx_binary_unchanged(sandboxed, unconfined, unconfined_userns, canaries):
    assert sha256(SBX) == canaries.sbx_sha256


def test_host_controls_reach_their_canaries(host_run):
    """The probe is not blind: on the host, it kills, connects and writes."""
    cc = host_run.control_canaries
    assert cc.victim.wait(timeout=10) == -signal.SIGKILL
    for s in (cc.tcp, cc.abstract):
        conn, _ = s.accept()
        conn.close()
    assert file_state(cc.file) != cc.file_before
    assert cc.file.read_text().endswith("escaped\n")
