"""Every isolation property of `sbx run`, each checked by an attack or a
measurement that fails if the property breaks."""
import ctypes
import json
import os
import re
import signal
import socket
import subprocess
import time
import uuid

from conftest import new_tmp_entries, MODE, RUNTIME, SBX, expected_ws_owner, host_mounts, probe, run, sbx

PROC_SUPER_MAGIC = 0x9FA0
TMPFS_MAGIC = 0x01021994
ST_RDONLY = 0x1


def ok(r):
    assert r.returncode == 0, (r.stdout, r.stderr)
    assert r.stdout.startswith("ok"), r.stdout
    return r.stdout.strip()[3:]


def err(r, name):
    assert r.returncode == 1, (r.stdout, r.stderr)
    assert r.stdout.split()[:1] == ["err"] and r.stdout.split()[2] == name, r.stdout


# ---- users and id maps -------------------------------------------------------

def test_default_user_is_1000(rootfs):
    assert ok(probe(rootfs, "ids")).startswith("uid=1000,1000,1000 gid=1000,1000,1000")


def test_uid_0_only_when_asked(rootfs):
    assert ok(probe(rootfs, "ids", opts=["--user", "0"])).startswith("uid=0,0,0 gid=0,0,0")
    assert ok(probe(rootfs, "ids", opts=["--user", "1234:5678"])).startswith("uid=1234,1234,1234 gid=5678,5678,5678")


def sandbox_maps_from_the_host(*args):
    """The id maps of the user namespace sbx made, read on the host from
    sbx's child while the sandbox runs: under runsc the command sees
    gVisor's own ("0 0 4294967295"), and the maps that matter are those of
    the namespace runsc, its gofer and its sandbox run in."""
    p = subprocess.Popen([SBX, "run", *args, "--", "sh", "-c", "echo ready; sleep 30"],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert p.stdout.readline() == "ready\n", p.stderr.read()
        with open(f"/proc/{p.pid}/task/{p.pid}/children") as f:
            child = f.read().split()[0]
        maps = {}
        for name in ("uid", "gid"):
            with open(f"/proc/{child}/{name}_map") as f:
                maps[name] = [tuple(int(x) for x in l.split()) for l in f if l.strip()]
    finally:
        p.terminate()
        p.wait(timeout=30)
    return maps


def read_maps(rootfs, *opts):
    if RUNTIME == "runsc":
        return sandbox_maps_from_the_host("--rootfs", str(rootfs), *opts)["uid"]
    uid_map = ok(probe(rootfs, "read", "/proc/self/uid_map", opts=list(opts)))
    return [tuple(int(x) for x in l.split()) for l in uid_map.splitlines() if l.strip()]


def test_id_map_for_this_mode(rootfs):
    entries = read_maps(rootfs)
    sandbox = [e for e in entries if e[0] == 1000]
    assert len(sandbox) == 1
    # Never host root, for any id.
    for inside, outside, count in entries:
        assert not (outside <= 0 < outside + count), entries
    if MODE == "root":
        assert len(entries) == 3 and sandbox[0][1] != 0
    elif MODE == "subuid":
        assert sandbox[0][1] == os.getuid()
        assert len(entries) == 3 and any(e[0] == 0 for e in entries)
    else:
        assert entries == [(1000, os.getuid(), 1)]
        assert ok(probe(rootfs, "read", "/proc/self/setgroups")).strip() == "deny"


def test_root_mode_maps_the_sandbox_user_to_the_workspace_owner(rootfs, workspace):
    entries = read_maps(rootfs, "-w", str(workspace))
    assert [e for e in entries if e[0] == 1000] == [(1000, expected_ws_owner(), 1)]


def test_a_root_owned_workspace_never_gets_root_rights(rootfs, tmp_path):
    """As root, a root-owned workspace is idmapped: the sandbox writes there,
    its files belong to root, yet the sandbox user is not host root (a
    root-only file bound in stays unreadable).  Rootless, the sandbox cannot
    write where its caller could not."""
    if os.geteuid() == 0:
        ws = tmp_path / "rootws"
        ws.mkdir()
        secret = tmp_path / "secret"
        secret.write_text("root only")
        os.chmod(secret, 0o600)
        # On a point of the image (made on sbx's overlay): runsc cannot
        # mount a file on a point of its tmpfs (test_extra_mounts).
        opts = ["-w", str(ws), "--ro-bind", f"{secret}:/opt/secret"]
        assert ok(probe(rootfs, "write", "/workspace/made", opts=opts)) == ""
        st = os.stat(ws / "made")
        assert (st.st_uid, st.st_gid) == (0, 0)
        err(probe(rootfs, "read", "/opt/secret", opts=opts), "EACCES")
        assert all(outside != 0 for _, outside, _ in read_maps(rootfs, *opts))
    else:
        err(probe(rootfs, "write", "/workspace/pwned", opts=["-w", "/usr/share"]), "EACCES")
        assert not os.path.exists("/usr/share/pwned")


def test_no_capabilities_left_after_switching_user(rootfs):
    status = ok(probe(rootfs, "read", "/proc/self/status"))
    for line in status.splitlines():
        if line.startswith(("CapInh", "CapPrm", "CapEff", "CapAmb")):
            assert line.split()[1] == "0000000000000000", line


# ---- file system -------------------------------------------------------------

# gVisor checks permissions before the read-only mount: an open for writing
# gets EACCES where the sandbox user could not write anyway (its own
# /proc/sys, /sys and /dev are root's; as root, the trees given, whose
# owners are no ids of the sandbox), EROFS only on a tree of its own
# (rootless: the caller's).  It reports no ST_RDONLY in statfs; its mount
# table says "ro".
ROFS_OPEN = "EACCES" if RUNTIME == "runsc" else "EROFS"
ROFS_TREE = "EACCES" if RUNTIME == "runsc" and os.geteuid() == 0 else "EROFS"


def test_root_is_read_only(rootfs):
    err(probe(rootfs, "write", "/newfile"), ROFS_TREE)
    err(probe(rootfs, "write", "/bin/busybox"), ROFS_TREE)
    err(probe(rootfs, "mkdir", "/etc/x"), "EROFS")
    if RUNTIME == "runsc":
        assert "ro" in mount_options(rootfs, "/")[0]
    else:
        flags = int(re.search(r"flags=(0x[0-9a-f]+)", ok(probe(rootfs, "statfs", "/"))).group(1), 16)
        assert flags & ST_RDONLY
    assert not (rootfs / "newfile").exists()


def mount_options(rootfs, target, *opts):
    info = ok(probe(rootfs, "read", "/proc/self/mountinfo", opts=list(opts)))
    for line in info.splitlines():
        fields = line.split()
        if fields[4] == target:
            return fields[5].split(","), line
    raise AssertionError(f"{target} not mounted:\n{info}")


def test_mount_flags(rootfs, workspace):
    # gVisor's mount table shows ro/rw only: it has no set-id or device
    # semantics of the host's to turn off (set-id programs grant nothing:
    # test_security.py), and the host's mounts below are runsc's.
    nosuid = set() if RUNTIME == "runsc" else {"nosuid", "nodev"}
    root, _ = mount_options(rootfs, "/", "-w", str(workspace))
    assert {"ro"} | nosuid <= set(root)
    ws, _ = mount_options(rootfs, "/workspace", "-w", str(workspace))
    assert "rw" in ws and nosuid <= set(ws)
    for target in ("/tmp", "/dev/shm"):
        opts, line = mount_options(rootfs, target)
        assert {"rw"} | nosuid <= set(opts), line
        assert "tmpfs" in line


def test_workspace_is_writable_and_owned_by_its_owner(rootfs, workspace):
    assert ok(probe(rootfs, "write", "/workspace/made-inside", opts=["-w", str(workspace)])) == ""
    st = os.stat(workspace / "made-inside")
    assert (st.st_uid, st.st_gid) == (expected_ws_owner(), expected_ws_owner() if os.geteuid() == 0 else os.getgid())
    assert ok(probe(rootfs, "cwd", opts=["-w", str(workspace)])) == "/workspace"


def test_without_a_workspace_there_is_a_scratch_one(rootfs):
    assert ok(probe(rootfs, "cwd")) == "/workspace"
    assert ok(probe(rootfs, "write", "/workspace/x")) == ""
    assert not (rootfs / "workspace" / "x").exists()


def fill(rootfs, path, *opts):
    out = ok(probe(rootfs, "fill", path, opts=list(opts)))
    assert "errno=ENOSPC" in out, out
    return int(re.search(r"bytes=(\d+)", out).group(1))


def test_tmpfs_sizes(rootfs):
    assert fill(rootfs, "/tmp/big") == 256 << 20
    assert fill(rootfs, "/dev/shm/big") == 256 << 20
    assert fill(rootfs, "/tmp/big", "--tmpfs", "/tmp:8m") == 8 << 20
    assert fill(rootfs, "/dev/shm/big", "--tmpfs", "/dev/shm:4m") == 4 << 20
    assert fill(rootfs, "/tmp/c/big", "--tmpfs", "/tmp/c:2m") == 2 << 20


def inodes(rootfs, path, *opts):
    return int(re.search(r"files=(\d+)", ok(probe(rootfs, "statfs", path, opts=list(opts)))).group(1))


def test_every_tmpfs_has_an_inode_cap(rootfs):
    """Empty files cost kernel memory but no tmpfs bytes: without nr_inodes
    300,000 of them in /tmp took 330 MB of the host's memory."""
    per_page = 256 << 20 >> 12
    if RUNTIME == "runsc":
        # gVisor's tmpfs is its own and this runsc has no nr_inodes: it
        # counts no inodes (statfs says 0) and caps none; the files cost
        # the sentry's memory, which only --memory (a cgroup) bounds.  The
        # README says so.  Sizes still hold.
        for path in ("/tmp", "/dev/shm", "/workspace"):
            assert inodes(rootfs, path) == 0, path
        out = ok(probe(rootfs, "mkfiles", "/tmp", "5000", opts=["--tmpfs", "/tmp:1m"]))
        assert int(re.search(r"files=(\d+)", out).group(1)) == 5000, out
        return
    assert inodes(rootfs, "/tmp") == per_page
    assert inodes(rootfs, "/dev/shm") == per_page
    assert inodes(rootfs, "/workspace") == per_page  # the scratch one
    assert inodes(rootfs, "/dev") <= 64
    assert inodes(rootfs, "/tmp", "--tmpfs", "/tmp:16m") == 4096
    assert inodes(rootfs, "/tmp/c", "--tmpfs", "/tmp/c:1m") == 1024  # the floor
    out = ok(probe(rootfs, "mkfiles", "/tmp", "100000", opts=["--tmpfs", "/tmp:64m"]))
    assert "errno=ENOSPC" in out, out
    assert int(re.search(r"files=(\d+)", out).group(1)) < 64 << 20 >> 12


def test_extra_mounts(rootfs, tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    (data / "f").write_text("hello")
    os.chmod(tmp_path, 0o755)
    rw = tmp_path / "rw"
    rw.mkdir(mode=0o777)
    os.chmod(rw, 0o777)
    opts = ["--ro-bind", f"{data}:/opt/data", "--bind", f"{rw}:/opt/rw"]
    assert ok(probe(rootfs, "read", "/opt/data/f", opts=opts)) == "hello"
    err(probe(rootfs, "write", "/opt/data/g", opts=opts), ROFS_TREE)
    assert ok(probe(rootfs, "write", "/opt/rw/g", opts=opts)) == ""
    assert (rw / "g").exists()
    # A file onto a file, created in /tmp since the image lacks it; this
    # runsc cannot mount a file on a point of its tmpfs: refused, saying so.
    r = probe(rootfs, "read", "/tmp/f", opts=["--ro-bind", f"{data}/f:/tmp/f"])
    if RUNTIME == "runsc":
        assert r.returncode == 125 and "inside a tmpfs" in r.stderr, r.stderr
    else:
        assert ok(r) == "hello"


def test_a_file_bound_onto_the_image(rootfs, tmp_path):
    """A --ro-bind of a file onto a file of the image, and onto a point the
    image lacks in one of its directories (made by sbx)."""
    src = tmp_path / "f"
    src.write_text("hello")
    os.chmod(tmp_path, 0o755)
    os.chmod(src, 0o644)
    for target in ("/notexec", "/opt/data/f"):
        assert ok(probe(rootfs, "read", target, opts=["--ro-bind", f"{src}:{target}"])) == "hello", target


def test_proc_is_fresh_and_masked(rootfs):
    assert int(ok(probe(rootfs, "statfs", "/proc")).split()[0].split("=")[1], 16) == PROC_SUPER_MAGIC
    for path in ("/proc/keys", "/proc/timer_list", "/proc/kallsyms", "/proc/interrupts"):
        r = probe(rootfs, "read", path)
        if r.stdout.startswith("err") and "ENOENT" in r.stdout:
            continue
        assert ok(r) == "", path
        # Masked by sbx's /dev/null: writes go nowhere.
        assert "rdev=1:3" in ok(probe(rootfs, "stat", path)), path
    for path in ("/proc/sys/kernel/hostname", "/proc/sys/kernel/core_pattern", "/proc/sys/vm/drop_caches"):
        # Under runsc gVisor's own /proc (none of the host's entries above
        # exist there), its /proc/sys read-only to the sandbox.
        err(probe(rootfs, "write", path), ROFS_OPEN)
    with open("/proc/sys/kernel/core_pattern") as f:
        before = f.read()
    probe(rootfs, "write", "/proc/sys/kernel/core_pattern", opts=["--user", "0"])
    with open("/proc/sys/kernel/core_pattern") as f:
        assert f.read() == before
    if os.path.exists("/proc/sysrq-trigger"):
        r = probe(rootfs, "write", "/proc/sysrq-trigger")
        assert r.returncode == 1


def test_dev_is_minimal(rootfs):
    r = run(rootfs, "ls", "-1", "/dev")
    assert r.returncode == 0, r.stderr
    # gVisor's /dev adds its own emulated fuse and net/tun: no host device.
    extra = {"fuse", "net"} if RUNTIME == "runsc" else set()
    assert set(r.stdout.split()) == {"fd", "full", "null", "ptmx", "pts", "random", "shm", "stderr",
                                     "stdin", "stdout", "tty", "urandom", "zero"} | extra
    assert "rdev=1:3" in ok(probe(rootfs, "stat", "/dev/null"))
    err(probe(rootfs, "write", "/dev/newnode"), ROFS_OPEN)


def test_sys_shows_nothing_of_the_host(rootfs):
    r = run(rootfs, "ls", "-A", "/sys")
    if RUNTIME == "runsc":
        # gVisor's own sysfs, made up by its sentry (no host's kobject),
        # read-only.
        assert r.returncode == 0 and r.stdout.split() == ["block", "bus", "class", "dev", "devices", "firmware",
                                                          "fs", "kernel", "module", "power"], r.stdout
        assert "ro" in mount_options(rootfs, "/sys")[0]
        err(probe(rootfs, "write", "/sys/x"), "EACCES")
        return
    assert r.returncode == 0 and r.stdout.strip() == "", r.stdout
    err(probe(rootfs, "write", "/sys/x"), "EROFS")


def test_no_mount_is_shared_with_the_host(rootfs, workspace):
    info = ok(probe(rootfs, "read", "/proc/self/mountinfo", opts=["-w", str(workspace)]))
    assert "shared:" not in info


def test_etc_files_are_sbxs_not_the_images(rootfs):
    hosts = ok(probe(rootfs, "read", "/etc/hosts", opts=["--hostname", "box"]))
    assert "localhost" in hosts and "box" in hosts
    assert ok(probe(rootfs, "read", "/etc/hostname", opts=["--hostname", "box"])).strip() == "box"
    assert (rootfs / "etc" / "hosts").read_text() == "# image hosts\n"


# ---- processes, network, ipc, uts --------------------------------------------

def test_pid_namespace(rootfs):
    canary = subprocess.Popen(["sleep", "60"])
    try:
        assert canary.pid > 2
        if RUNTIME == "runsc":
            # gVisor's pid namespace: the command is its init; sbx's init
            # is outside gVisor, with runsc.
            assert ok(probe(rootfs, "pids")).split() == ["1"]
            assert ok(probe(rootfs, "pid")) == "1"
        else:
            # Only sbx's init (1) and the probe itself (2).
            assert ok(probe(rootfs, "pids")).split() == ["1", "2"]
            assert ok(probe(rootfs, "pid")) == "2", "the command must not be pid 1"
        err(probe(rootfs, "kill", str(canary.pid)), "ESRCH")
        assert canary.poll() is None
    finally:
        canary.kill()
        canary.wait()


def test_network_none_has_only_lo_up(rootfs):
    assert ok(probe(rootfs, "ifaces")).split() == ["lo"]
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(1)
    port = str(srv.getsockname()[1])
    try:
        # ECONNREFUSED, not ENETUNREACH: lo is up, and the host's listener
        # is not on it.
        err(probe(rootfs, "connect-tcp", "127.0.0.1", port), "ECONNREFUSED")
        assert ok(probe(rootfs, "connect-tcp", "127.0.0.1", port, opts=["--network", "host"])) == ""
    finally:
        srv.close()
    # No route out: to another network, and to the host's own address
    # (gVisor's stack, with no interface but lo, says EHOSTUNREACH).
    unreachable = "EHOSTUNREACH" if RUNTIME == "runsc" else "ENETUNREACH"
    route = subprocess.run(["ip", "-4", "route", "get", "192.0.2.1"], capture_output=True, text=True).stdout.split()
    for addr in ["192.0.2.1"] + ([route[route.index("src") + 1]] if "src" in route else []):
        err(probe(rootfs, "connect-tcp", addr, "80"), unreachable)


def test_runscs_control_socket_is_not_in_the_hosts_network_namespace(rootfs):
    """gVisor's control socket is an abstract unix socket
    (@runsc-sandbox.ID), which no file permission guards: in the host's
    network namespace any local user could connect to it.  With --network
    none runsc runs in sbx's own network namespace.  (Under native there is
    no such socket: the check holds trivially.)"""
    p = subprocess.Popen([SBX, "run", "--rootfs", str(rootfs), "--", "sh", "-c", "echo ready; sleep 30"],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert p.stdout.readline() == "ready\n", p.stderr.read()
        # runsc's container id is sbx-PID-NONCE, PID sbx's.
        name = f"@runsc-sandbox.sbx-{p.pid}-"
        host = subprocess.run(["ss", "-xlH"], capture_output=True, text=True, check=True).stdout
        assert name not in host, host
        if RUNTIME == "runsc" and os.geteuid() == 0:
            # Negative control: the socket is there, in the network
            # namespace runsc runs in (runsc makes it and hands it on).
            runsc = next(pid for pid in descendants(p.pid) if program(pid).endswith("/runsc"))
            inside = subprocess.run(["nsenter", "-t", str(runsc), "-n", "ss", "-xlH"], capture_output=True,
                                    text=True, check=True).stdout
            assert name in inside, inside
    finally:
        p.terminate()
        p.wait(timeout=30)


def test_host_abstract_socket_unreachable(rootfs):
    name = f"sbx-canary-{uuid.uuid4().hex[:8]}"
    srv = socket.socket(socket.AF_UNIX)
    srv.bind("\0" + name)
    srv.listen(1)
    try:
        err(probe(rootfs, "connect-abstract", name), "ECONNREFUSED")
    finally:
        srv.close()


def test_ipc_namespace(rootfs):
    libc = ctypes.CDLL(None, use_errno=True)
    key = 0x5B0C0000 + (os.getpid() & 0xFFFF)
    shmid = libc.shmget(key, 4096, 0o1600 | 0o600)  # IPC_CREAT|IPC_EXCL
    assert shmid >= 0, os.strerror(ctypes.get_errno())
    try:
        err(probe(rootfs, "shmget", hex(key)), "ENOENT")
    finally:
        libc.shmctl(shmid, 0, None)  # IPC_RMID


def test_hostname(rootfs):
    assert ok(probe(rootfs, "hostname")) == "sandbox"
    assert ok(probe(rootfs, "hostname", opts=["--hostname", "box-7"])) == "box-7"
    before = socket.gethostname()
    err(probe(rootfs, "sethostname", "pwned"), "EPERM")
    assert socket.gethostname() == before


# ---- what reaches the command ------------------------------------------------

def test_environment_is_clean(rootfs):
    env = dict(os.environ, SBX_CANARY_SECRET="canary-5b0c", LD_PRELOAD="/nonexistent.so",
               AWS_SECRET_ACCESS_KEY="aws-canary", SSH_AUTH_SOCK="/tmp/agent", TERM="xterm")
    r = probe(rootfs, "env", opts=["-e", "FOO=bar", "-e", "HOME=/workspace"], env=env)
    assert r.returncode == 0
    got = dict(line.split("=", 1) for line in r.stdout.splitlines())
    assert got == {"PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                   "HOME": "/workspace", "LANG": "C.UTF-8", "TERM": "xterm", "FOO": "bar"}
    assert "canary" not in r.stdout + r.stderr


def test_no_file_descriptor_beyond_stdio(rootfs):
    rfd, wfd = os.pipe()
    leak = os.open("/etc/hostname", os.O_RDONLY)
    try:
        r = probe(rootfs, "fds", pass_fds=(rfd, wfd, leak))
        fds = [entry.split("=")[0] for entry in ok(r).split()]
        assert fds == ["0", "1", "2"], r.stdout
    finally:
        for fd in (rfd, wfd, leak):
            os.close(fd)


def test_cwd_is_inside(rootfs):
    assert ok(probe(rootfs, "cwd")) == "/workspace"
    r = probe(rootfs, "read", "/proc/self/cwd/../etc/hostname")
    assert r.returncode == 0


# ---- nothing left behind -----------------------------------------------------

def test_nothing_left_on_the_host(rootfs, workspace):
    marker = f"sbx-leftover-{uuid.uuid4().hex[:8]}"
    mounts_before = host_mounts()
    tmp_before = set(os.listdir("/tmp"))
    # The command leaves a background process; the sandbox must take it along.
    r = run(rootfs, "sh", "-c",
            f"setsid /bin/sbx-probe sleep 300 {marker} </dev/null >/tmp/started 2>&1 & "
            "while [ ! -s /tmp/started ]; do :; done; cat /tmp/started; exit 3",
            opts=["-w", str(workspace)])
    assert r.returncode == 3, r.stderr
    assert r.stdout == "ok sleeping\n", "the background process did not start"
    time.sleep(0.2)
    assert marker not in subprocess.run(["ps", "-eo", "args"], capture_output=True, text=True).stdout
    assert host_mounts() == mounts_before
    assert new_tmp_entries(tmp_before) == set()


def descendants(pid):
    """PID's processes, children first."""
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        try:
            for task in os.listdir(f"/proc/{p}/task"):
                with open(f"/proc/{p}/task/{task}/children") as f:
                    kids = [int(x) for x in f.read().split()]
                out += kids
                todo += kids
        except FileNotFoundError:
            pass
    return out


def program(pid):
    """argv[0] of PID (runsc's processes are all /proc/self/exe: "exe")."""
    try:
        with open(f"/proc/{pid}/cmdline") as f:
            return f.read().split("\0")[0]
    except (FileNotFoundError, ProcessLookupError):
        return None


def sigkill_under_runsc(rootfs):
    """The command runs inside gVisor's sentry, out of the host's sight:
    what must go with sbx is runsc, its gofer and its sandbox."""
    mounts_before = host_mounts()
    p = subprocess.Popen([SBX, "run", "--rootfs", str(rootfs), "--", "sh", "-c", "echo ready; sleep 300"],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert p.stdout.readline() == "ready\n", p.stderr.read()
    procs = {pid: program(pid) for pid in descendants(p.pid)}
    assert {"runsc-sandbox", "runsc-gofer"} <= set(procs.values()), procs
    p.kill()
    p.wait()
    deadline = time.time() + 5
    while any(program(pid) == name for pid, name in procs.items()):
        assert time.time() < deadline, "runsc's processes outlived sbx"
        time.sleep(0.05)
    assert host_mounts() == mounts_before


def test_sigkill_of_sbx_takes_the_sandbox_along(rootfs):
    if RUNTIME == "runsc":
        return sigkill_under_runsc(rootfs)
    marker = f"sbx-orphan-{uuid.uuid4().hex[:8]}"
    mounts_before = host_mounts()
    p = subprocess.Popen([SBX, "run", "--rootfs", str(rootfs), "--",
                          "sh", "-c", f"/bin/sbx-probe sleep 300 {marker} & "
                          f"setsid /bin/sbx-probe sleep 300 {marker} & wait"],
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 10
    # Wait for the commands themselves (not the setup child, which carries
    # sbx's arguments too): the kill must come while they run.
    while sum(1 for line in subprocess.run(["ps", "-eo", "comm,args"], capture_output=True, text=True).stdout.splitlines()
              if line.startswith("sbx-probe") and marker in line) < 2:
        assert p.poll() is None, p.stderr.read()
        assert time.time() < deadline, "the sandbox did not start"
        time.sleep(0.05)
    p.kill()
    p.wait()
    try:
        deadline = time.time() + 5
        while marker in subprocess.run(["ps", "-eo", "args"], capture_output=True, text=True).stdout:
            assert time.time() < deadline, "sandbox processes outlived sbx"
            time.sleep(0.05)
    finally:
        subprocess.run(["pkill", "-KILL", "-f", marker])
    assert host_mounts() == mounts_before


def test_make_install(tmp_path, rootfs):
    repo = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    r = subprocess.run(["make", "-s", "-C", repo, "install", f"DESTDIR={tmp_path}", "PREFIX=/usr"],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert os.access(tmp_path / "usr/bin/sbx", os.X_OK)
    assert (tmp_path / "usr/share/man/man1/sbx.1").read_text().startswith(".TH SBX 1")
    assert (tmp_path / "usr/share/sbx/profiles/default.json").is_file()
    assert (tmp_path / "usr/share/sbx/profiles/seed.json").is_file()
    # The installed binary finds its profiles beside it, under any prefix.
    rfd, wfd = os.pipe()
    r = subprocess.run([str(tmp_path / "usr/bin/sbx"), "run", "-v", "--json-fd", str(wfd), "--rootfs", str(rootfs),
                        "--", "true"], capture_output=True, text=True, pass_fds=(wfd,))
    os.close(wfd)
    with os.fdopen(rfd) as f:
        res = json.loads(f.read())
    assert r.returncode == 0 and res["seccomp_profile"] == "default" and "seccomp" in res["layers"], r.stderr
    if RUNTIME != "runsc":  # under runsc the profile goes to gVisor in config.json
        assert "seccomp: default" in r.stderr, r.stderr


def test_cgroup_namespace(rootfs):
    cgroups = ok(probe(rootfs, "read", "/proc/self/cgroup")).splitlines()
    if RUNTIME == "runsc":
        # gVisor's /proc shows no cgroup of the host (it has none of its
        # own without --ignore-cgroups off).
        assert cgroups == [], cgroups
        return
    assert cgroups and all(line.endswith(":/") for line in cgroups), cgroups


ALLOWED_MOUNTS = ("/", "/workspace", "/tmp", "/dev", "/proc", "/sys", "/etc/hosts", "/etc/hostname",
                  "/etc/resolv.conf")


def test_mount_table_is_only_the_sandboxs(rootfs, workspace):
    """The old root is detached: no mount of the host's tree is left."""
    info = ok(probe(rootfs, "read", "/proc/self/mountinfo", opts=["-w", str(workspace)]))
    points = [line.split()[4] for line in info.splitlines()]
    assert points.count("/") == 1, points
    for p in points:
        assert p in ALLOWED_MOUNTS or p.startswith(("/dev/", "/proc/")), p


def test_mounts_do_not_propagate_from_the_host(rootfs, tmp_path):
    """ESC-66: a shared host mount used as the workspace does not carry
    later host mounts into the sandbox.  Only root can make a shared mount
    on the host; rootless runs check the sandbox's own mount table."""
    if os.geteuid() != 0:
        assert "shared:" not in ok(probe(rootfs, "read", "/proc/self/mountinfo"))
        return
    src = tmp_path / "shared"
    src.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(src)], check=True)
    try:
        subprocess.run(["mount", "--make-shared", str(src)], check=True)
        os.chown(src, 4242, 4242)
        (src / "sub").mkdir()
        p = subprocess.Popen([SBX, "run", "--rootfs", str(rootfs), "-w", str(src), "--", "sh", "-c",
                              "while [ ! -e /workspace/go ]; do :; done; cat /proc/self/mountinfo"],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        time.sleep(0.3)
        subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(src / "sub")], check=True)
        (src / "sub" / "marker").write_text("x")
        (src / "go").write_text("")
        out, errs = p.communicate(timeout=30)
        assert p.returncode == 0, errs
        points = [line.split()[4] for line in out.splitlines()]
        assert "/workspace" in points and "/workspace/sub" not in points, points
        assert "shared:" not in out
    finally:
        subprocess.run(["umount", "-R", str(src)])


def test_no_fresh_proc_means_a_clear_error_not_the_hosts(rootfs):
    """Where the kernel refuses a fresh /proc (inside a container whose
    /proc is partly covered: made here with unshare and a tmpfs over
    /proc/sys), sbx fails with the reason instead of binding the host's."""
    script = (f"mount -t tmpfs none /proc/sys && "
              f"exec {SBX} run --seccomp unconfined --rootfs {rootfs} -- /bin/true")
    r = subprocess.run(["unshare", "-Urpfm", "--mount-proc", "sh", "-c", script],
                       capture_output=True, text=True, timeout=60)
    if RUNTIME == "runsc":
        # Root of a namespace of one id has no range: runsc cannot run
        # there at all, and sbx says so before any /proc is mounted.
        assert r.returncode == 125 and "/etc/subuid" in r.stderr, r.stderr
        return
    assert r.returncode == 125, r.stderr
    assert "mounting a fresh /proc" in r.stderr and "masked" in r.stderr, r.stderr
    # Negative control: without the cover the same nesting works.
    r = subprocess.run(["unshare", "-Urpfm", "--mount-proc", SBX, "run", "--seccomp", "unconfined",
                        "--rootfs", str(rootfs), "--", "/bin/true"], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr


def test_the_init_reveals_nothing_of_the_host(rootfs, workspace):
    """pid 1 is sbx's own init: its command line (host paths) is blanked,
    its environment and memory unreadable (ESC-02, ESC-62)."""
    env = dict(os.environ, SBX_CANARY_SECRET="canary-init-5b0c")
    opts = ["-w", str(workspace)]
    if RUNTIME == "runsc":
        # gVisor's pid 1 is the command itself; sbx's init and runsc are
        # outside gVisor, on the host, where the command cannot look.
        cmdline = probe(rootfs, "read", "/proc/1/cmdline", opts=opts, env=env).stdout
        assert cmdline.startswith("ok /bin/sbx-probe"), cmdline
        assert str(rootfs) not in cmdline and str(workspace) not in cmdline
        environ = ok(probe(rootfs, "read", "/proc/1/environ", opts=opts, env=env))
        assert "canary" not in environ and str(rootfs) not in environ, environ
        assert ok(probe(rootfs, "pids", opts=opts)).split() == ["1"]
        return
    cmdline = probe(rootfs, "read", "/proc/1/cmdline", opts=opts, env=env).stdout
    assert cmdline.startswith("ok sbx-init"), cmdline
    assert str(rootfs) not in cmdline and str(workspace) not in cmdline
    err(probe(rootfs, "read", "/proc/1/environ", opts=opts, env=env), "EACCES")
    err(probe(rootfs, "read", "/proc/1/mem", opts=opts, env=env), "EACCES")
    assert "sbx-init" in ok(probe(rootfs, "read", "/proc/1/comm"))
