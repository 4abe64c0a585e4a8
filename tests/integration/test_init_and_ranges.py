"""Issue 9, item 16: the init takes orders only from sbx (a process of the
sandbox cannot forge one with rt_sigqueueinfo), and root's /etc/subuid or
/etc/subgid range may not hold host root or a real user's or group's id."""
import os
import platform
import signal
import subprocess

import pytest

from conftest import MODE, RUNTIME, SBX, python_rootfs, sbx

FORGE = r'''
import ctypes, os, signal, struct, time
libc = ctypes.CDLL(None, use_errno=True)
got = []
signal.signal(signal.SIGUSR1, lambda *a: got.append(1))

def forge(sig):
    # siginfo_t: signo, errno, code (SI_QUEUE, the only kind the kernel lets
    # through for another process), padding, then the "sender" pid 0, uid 0
    info = struct.pack("<iiiiiI", sig, 0, -1, 0, 0, 0) + bytes(128 - 24)
    r = libc.syscall(129, 1, sig, info)  # rt_sigqueueinfo(1, sig, &info)
    return "sent" if r == 0 else os.strerror(ctypes.get_errno())

print("usr1", forge(signal.SIGUSR1), flush=True)
time.sleep(0.5)
print("forwarded", len(got), flush=True)
print("terminate-all", forge(signal.SIGRTMIN), flush=True)
time.sleep(0.5)
print("alive", flush=True)
'''


@pytest.mark.skipif(platform.machine() != "x86_64", reason="x86_64 system call number")
def test_forged_orders_to_the_init_have_no_effect():
    """With Landlock's signal scoping (ABI 6+) the forged signal does not
    even reach the init; the init must not rely on that: run against a
    build without Landlock, this test fails on the old check (sender pid 0
    only) and passes on the new one (SI_USER and pid 0)."""
    r = sbx("run", "--no-tty", "--rootfs", python_rootfs(), "--", "python3", "-c", "print('pid', __import__('os').getpid(), flush=True)\n" + FORGE)
    if RUNTIME == "runsc":
        # sbx's init is outside gVisor, out of the command's reach: pid 1
        # in gVisor is the command itself, so the forged orders reach only
        # it (its own handler, then SIGRTMIN's default: death).
        assert r.returncode == 128 + signal.SIGRTMIN, (r.stdout, r.stderr)
        assert r.stdout.splitlines() == ["pid 1", "usr1 sent", "forwarded 1"], r.stdout
        return
    assert r.returncode == 0, (r.stdout, r.stderr)
    lines = r.stdout.splitlines()
    assert "forwarded 0" in lines, r.stdout
    assert "alive" in lines, r.stdout


def run_with_subid_files(tmp_path, subuid, subgid):
    """sbx as root, with /etc/subuid and /etc/subgid replaced in a mount
    namespace of its own (the machine's files stay as they are)."""
    fu, fg = tmp_path / "subuid", tmp_path / "subgid"
    fu.write_text(subuid)
    fg.write_text(subgid)
    command = f"exec {SBX} run --no-tty --rootfs {python_rootfs()} -- cat /proc/self/uid_map /proc/self/gid_map"
    if RUNTIME == "runsc":
        # The command sees gVisor's own maps ("0 0 4294967295"): sbx's are
        # read on the host, from sbx's child, while the command runs.
        command = (f"{SBX} run --no-tty --rootfs {python_rootfs()} -- sh -c 'echo ready; sleep 30' > $0.out & "
                   f"sbx=$!; while [ ! -s $0.out ] && kill -0 $sbx 2>/dev/null; do sleep 0.05; done; "
                   f"if [ -s $0.out ]; then c=$(cut -d' ' -f1 /proc/$sbx/task/$sbx/children); "
                   f"cat /proc/$c/uid_map /proc/$c/gid_map; kill $sbx; fi; wait $sbx; "
                   f"s=$?; [ $s = 143 ] && s=0; exit $s")
    script = f"mount --bind {fu} /etc/subuid && mount --bind {fg} /etc/subgid && {command}"
    return subprocess.run(["unshare", "-m", "--propagation", "private", "sh", "-c", script, str(tmp_path / "run")],
                          capture_output=True, text=True, timeout=60)


@pytest.mark.skipif(MODE != "root", reason="root's ranges are read only when sbx runs as root")
@pytest.mark.parametrize("subuid, subgid, where", [
    ("root:0:65536\n", "root:1879048192:65536\n", "/etc/subuid line 1: root's range 0:65536 starts at 0"),
    ("# x\nroot:1879048192:65536\n", "root:0:100\n", "/etc/subgid line 1: root's range 0:100 starts at 0"),
    ("alice:100000:65536\nroot:65000:1000\n", "", "/etc/subuid line 2: root's range 65000:1000 holds 65534, "
                                                  "the id of nobody in /etc/passwd"),
    ("", "root:65000:1000\n", "/etc/subgid line 1: root's range 65000:1000 holds 65534, "
                              "the id of nogroup in /etc/group"),
])
def test_a_root_range_over_host_root_or_a_real_id_is_refused(tmp_path, subuid, subgid, where):
    r = run_with_subid_files(tmp_path, subuid, subgid)
    assert r.returncode == 125, (r.stdout, r.stderr)
    assert where in r.stderr, r.stderr
    # Negative control: a range of unused ids is used.
    r = run_with_subid_files(tmp_path, "root:1879048192:65536\n", "root:1879048192:65536\n")
    assert r.returncode == 0, r.stderr
    assert all(l.split()[1] != "0" for l in r.stdout.splitlines()), r.stdout
