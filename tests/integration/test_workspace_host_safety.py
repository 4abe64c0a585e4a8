"""Issue 9, item 1: nothing the sandbox creates or changes on the host may
carry a setuid or setgid bit or a file capability, whoever owns it, and the
sandbox never gets a group the workspace's owner does not have.

Every way in is attacked from inside (Python in the default image's tree),
then the host walks the workspace: no set-id bit, no security.capability,
and (as root) every program left there, run by another user, gets no
other ids than that user's own."""
import os
import platform
import shutil
import stat
import subprocess
import tempfile

import pytest

from conftest import MODE, PROBE, ROOT_MODE_WS_UID, RUNTIME, SBX, python_rootfs, sbx

pytestmark = pytest.mark.skipif(platform.machine() != "x86_64",
                                reason="the attack uses x86_64 system call numbers")

DISK_GID = 6

# Run inside with cwd /workspace, where the host put "payload" (the static
# probe, no special bit).  Each attempt prints its outcome; the verdict is
# the host's look at the files afterwards, not these lines.
ATTACK = r'''
import ctypes, os, shutil, stat, struct, sys
libc = ctypes.CDLL(None, use_errno=True)
sc = libc.syscall
sc.restype = ctypes.c_long
AT_FDCWD = -100
O_TMPFILE = 0o20200000
SETID = 0o6755
payload = open("/workspace/payload", "rb").read()
for n in os.listdir("."):  # what an earlier run left
    if n != "payload":
        (shutil.rmtree if os.path.isdir(n) and not os.path.islink(n) else os.unlink)(n)
CAP = struct.pack("<IIIII", 0x02000001, 0xc0, 0xc0, 0, 0)  # v2: setuid, setgid +ep

def raw(name, nr, *args):
    r = sc(nr, *args)
    print(name, "ret" if r >= 0 else "err", r if r >= 0 else ctypes.get_errno(), flush=True)
    return r

def attempt(name, fn):
    try:
        print(name, "ret", fn(), flush=True)
    except OSError as e:
        print(name, "err", e.errno, flush=True)

def fresh(name):
    with open(name, "wb") as f:
        f.write(payload)
    os.chmod(name, 0o755)
    return name

def fill(name):
    try:
        with open(name, "r+b") as f:
            f.write(payload)
    except OSError as e:
        print(name, "fill err", e.errno)

def b(s):
    return s.encode()

attempt("chmod", lambda: os.chmod(fresh("chmod"), SETID))
attempt("chmod-g", lambda: os.chmod(fresh("chmod-g"), 0o2755))
def fchmod():
    fd = os.open(fresh("fchmod"), os.O_RDONLY)
    os.fchmod(fd, SETID)
attempt("fchmod", fchmod)
dfd = os.open(".", os.O_RDONLY | os.O_DIRECTORY)
fresh("fchmodat")
attempt("fchmodat", lambda: os.chmod("fchmodat", SETID, dir_fd=dfd))
fresh("fchmodat2")
raw("fchmodat2", 452, AT_FDCWD, b"fchmodat2", SETID, 0)
for name, nr, args in [
        ("creat", 85, (b"creat", SETID)),
        ("open", 2, (b"open", os.O_CREAT | os.O_WRONLY, SETID)),
        ("openat", 257, (AT_FDCWD, b"openat", os.O_CREAT | os.O_WRONLY, SETID)),
        ("openat-hi", 257, (AT_FDCWD, b"openat-hi", os.O_CREAT | os.O_WRONLY | (1 << 40), SETID | (1 << 40))),
        ("mknod", 133, (b"mknod", stat.S_IFREG | SETID, 0)),
        ("mknodat", 259, (AT_FDCWD, b"mknodat", stat.S_IFREG | SETID, 0))]:
    if raw(name, nr, *args) >= 0:
        fill(name)
raw("mkdir", 83, b"mkdir", SETID)
raw("mkdirat", 258, AT_FDCWD, b"mkdirat", SETID)
fd = raw("tmpfile", 257, AT_FDCWD, b".", O_TMPFILE | os.O_WRONLY, SETID)
if fd >= 0:
    os.write(fd, payload)
    attempt("tmpfile-link", lambda: os.link(f"/proc/self/fd/{fd}", "tmpfile", follow_symlinks=True))
how = struct.pack("<QQQ", os.O_CREAT | os.O_WRONLY, SETID, 0)
if raw("openat2", 437, AT_FDCWD, b"openat2", how, len(how)) >= 0:
    fill("openat2")
raw("io_uring_setup", 425, 4, ctypes.create_string_buffer(120))
attempt("setxattr", lambda: os.setxattr(fresh("setxattr"), "security.capability", CAP))
def nested():
    # root of a nested user namespace holds CAP_SETFCAP over our files
    if libc.unshare(0x10000000) != 0:
        raise OSError(ctypes.get_errno(), "unshare")
    uid, gid = os.getuid(), os.getgid()
    open("/proc/self/setgroups", "w").write("deny")
    open("/proc/self/uid_map", "w").write(f"0 {uid} 1")
    open("/proc/self/gid_map", "w").write(f"0 {gid} 1")
    os.setxattr("nested", "security.capability", CAP)
fresh("nested")
pid = os.fork()
if pid == 0:
    attempt("nested-setxattr", nested)
    os._exit(0)
os.waitpid(pid, 0)
setid = next(os.path.join(d, n) for d in ("/usr/bin", "/bin") for n in sorted(os.listdir(d))
             if os.stat(os.path.join(d, n)).st_mode & 0o4000)
def cfr():
    src = os.open(setid, os.O_RDONLY)
    dst = os.open("cfr", os.O_WRONLY | os.O_CREAT, 0o755)
    return os.copy_file_range(src, dst, 1 << 20)
attempt("copy_file_range", cfr)
attempt("copy2", lambda: shutil.copy2(setid, "copy2"))
attempt("rename", lambda: os.rename(setid, "renamed"))
attempt("link", lambda: os.link(setid, "linked"))
attempt("symlink-chmod", lambda: (os.symlink("payload", "sl"), os.chmod("sl", SETID)))
'''


@pytest.fixture
def host_dir():
    """A directory every user can traverse (pytest's own are 0700), so that
    another user can run what the sandbox left."""
    d = tempfile.mkdtemp(prefix="tmp-sbx-hostsafety-", dir="/tmp")
    os.chmod(d, 0o755)
    yield d
    shutil.rmtree(d, ignore_errors=True)


def make_ws(base, owner, group, name="ws"):
    ws = os.path.join(base, name)
    os.mkdir(ws)
    os.chmod(ws, 0o755)
    shutil.copy(PROBE, os.path.join(ws, "payload"))
    os.chmod(os.path.join(ws, "payload"), 0o755)
    if os.geteuid() == 0:
        for p in (ws, os.path.join(ws, "payload")):
            os.chown(p, owner, group)
    return ws


# Under runsc a workspace whose group its owner lacks is refused (runtime/runsc.c).
GROUP_REFUSED = "is not one of its owner's"


def workspaces(base):
    """(label, path) of the workspaces this mode can have."""
    if MODE != "root":
        return [("caller's", make_ws(base, -1, -1))]
    return [("root-owned (idmapped)", make_ws(base, 0, 0, "rootws")),
            ("user-owned", make_ws(base, ROOT_MODE_WS_UID, ROOT_MODE_WS_UID, "userws")),
            ("root:disk", make_ws(base, 0, DISK_GID, "diskws")),
            ("user:disk", make_ws(base, ROOT_MODE_WS_UID, DISK_GID, "userdiskws"))]


def privileged_entries(top):
    """Entries below TOP with a set-id bit or a file capability."""
    found = []
    for dirpath, dirnames, filenames in os.walk(top):
        for name in dirnames + filenames:
            p = os.path.join(dirpath, name)
            st = os.lstat(p)
            if stat.S_ISLNK(st.st_mode):
                continue
            if st.st_mode & (stat.S_ISUID | stat.S_ISGID):
                found.append((p, oct(st.st_mode)))
            try:
                os.getxattr(p, "security.capability", follow_symlinks=False)
                found.append((p, "security.capability"))
            except OSError:
                pass
    return found


def elevated_when_run_by_nobody(top):
    """Programs below TOP that give 'nobody' another uid or gid."""
    bad = []
    for dirpath, _, filenames in os.walk(top):
        for name in filenames:
            p = os.path.join(dirpath, name)
            st = os.lstat(p)
            if not stat.S_ISREG(st.st_mode) or not st.st_mode & stat.S_IXOTH or st.st_size < 1000:
                continue
            r = subprocess.run(["runuser", "-u", "nobody", "--", p, "ids"], capture_output=True, text=True,
                               timeout=10)
            if r.stdout.startswith("ok ") and "uid=65534,65534,65534 gid=65534,65534,65534" not in r.stdout:
                bad.append((p, r.stdout.strip()))
    return bad


def run_attack(ws, *opts):
    return sbx("run", "--no-tty", "--rootfs", python_rootfs(), "-w", ws, *opts, "--",
               "python3", "-c", ATTACK, timeout=120)


def expected_answers(seccomp):
    """What the attack's calls answer inside.  The verdict is the host's
    walk; these say which layer stopped each call."""
    refused = ("chmod", "chmod-g", "fchmod", "fchmodat", "fchmodat2", "creat", "open", "openat",
               "openat-hi", "mknod", "mknodat", "tmpfile", "copy2", "symlink-chmod")
    if RUNTIME != "runsc":
        return {**{name: "err 1" for name in refused}, "openat2": "err 38", "io_uring_setup": "err 38"}
    # Under runsc the calls are gVisor's; its gofer makes the host's files,
    # under sbx's host-safety filter.  A set-id creation mode reaches the
    # gofer's open and is refused (EPERM).  gVisor answers a set-id chmod
    # with success in its own view, but the gofer's fchmod is refused: the
    # host's file keeps its mode (the walk checks it).  No O_TMPFILE
    # (EOPNOTSUPP) in gVisor; openat2 is unknown to it (ENOSYS), and the
    # profile's errnos become EPERM in runsc; io_uring is gVisor's own.
    answers = {name: "err 1" for name in ("creat", "open", "openat", "openat-hi", "mknod", "mknodat")}
    answers.update({name: "ret None" for name in ("chmod", "chmod-g", "fchmod", "fchmodat")})
    answers.update({"tmpfile": "err 95", "copy2": "ret copy2", "symlink-chmod": "ret (None, None)"})
    if seccomp == "default":
        answers.update({"fchmodat2": "err 1", "openat2": "err 1", "io_uring_setup": "err 38"})
    else:
        answers.update({"fchmodat2": "err 38", "openat2": "err 38", "io_uring_setup": "ret 5"})
    return answers


@pytest.mark.parametrize("seccomp", ["default", "unconfined"])
def test_no_set_id_file_or_capability_reaches_the_host(host_dir, seccomp):
    """chmod, fchmod, fchmodat, fchmodat2, creation modes (creat, open,
    openat, O_TMPFILE, openat2, mkdir, mknod), security.capability (also
    from a nested user namespace), copy_file_range, copy2, rename, link:
    with the profile and without one (the host-safety filter is not part
    of the profile)."""
    for label, ws in workspaces(host_dir):
        for opts in ([], ["--user", "0"]):
            r = run_attack(ws, "--seccomp", seccomp, *opts)
            if RUNTIME == "runsc" and label == "user:disk" and not opts:
                # (With --user 0 the workspace is idmapped, its group with it.)
                assert r.returncode == 125 and GROUP_REFUSED in r.stderr, (opts, r.stderr)
                assert privileged_entries(ws) == [], (label, opts)
                continue
            assert r.returncode == 0, (label, opts, r.stdout, r.stderr)
            assert privileged_entries(ws) == [], (label, opts, r.stdout)
            if os.geteuid() == 0:
                assert elevated_when_run_by_nobody(ws) == [], (label, opts)
            lines = dict(l.split(" ", 1) for l in r.stdout.splitlines() if " " in l)
            for name, answer in expected_answers(seccomp).items():
                assert lines.get(name) == answer, (label, opts, name, r.stdout)


@pytest.mark.parametrize("how", ["-w", "--bind"])
def test_no_set_id_bit_reaches_a_users_tree(host_dir, how):
    """The attack with no profile, on a tree of an ordinary user, as the
    workspace and as a --bind: under runsc it is gVisor's gofer that writes
    there, and only the host-safety filter on runsc's processes keeps the
    bits off the host's files (tests/mutants/run runsc-host-filter-off)."""
    ws = make_ws(host_dir, ROOT_MODE_WS_UID, ROOT_MODE_WS_UID)
    if how == "--bind":
        # Not the workspace: the sandbox user is no owner of it, so others
        # may write it.
        os.chmod(ws, 0o777)
        mount = ["--bind", f"{ws}:/mnt"]
        cmd = ["sh", "-c", 'cd /mnt && exec python3 -c "$0"', ATTACK.replace("/workspace/payload", "payload")]
    else:
        mount = ["-w", ws]
        cmd = ["python3", "-c", ATTACK]
    for opts in ([], ["--user", "0"]):
        r = sbx("run", "--no-tty", "--rootfs", python_rootfs(), "--seccomp", "unconfined", *mount, *opts, "--",
                *cmd, timeout=120)
        assert r.returncode == 0, (opts, r.stdout, r.stderr)
        assert "chmod" in r.stdout and "copy2" in r.stdout, r.stdout
        assert privileged_entries(ws) == [], (opts, r.stdout)
        if os.geteuid() == 0:
            assert elevated_when_run_by_nobody(ws) == [], opts


def test_the_i386_entry_is_covered_too(host_dir):
    """int 0x80 reaches the same chmod; with no profile to kill foreign
    architectures, the host-safety filter must know that entry too."""
    for label, ws in workspaces(host_dir):
        r = sbx("run", "--no-tty", "--rootfs", python_rootfs(), "--seccomp", "unconfined", "-w", ws, "--",
                "/workspace/payload", "chmod-int80", "/workspace/payload", "6755")
        if r.returncode == -11 or r.returncode == 139:
            pytest.skip("this kernel has no IA32 emulation: int $0x80 faults")
        assert r.stdout.startswith("err 1 EPERM"), (label, r.stdout, r.stderr)
        assert privileged_entries(ws) == [], label


def test_user_namespaces_are_refused_inside_whatever_the_profile(host_dir):
    """Root of a nested user namespace could write security.capability into
    the workspace (as root, through the idmapped mount, one that works on
    the host); Landlock happens to stop writing the maps, sbx must not rely
    on it."""
    if RUNTIME == "runsc":
        # gVisor's user namespaces are its own (emulated): root of one
        # holds no capability over the host's files, which its gofer
        # writes, and the gofer passes no security.* attribute on.
        ws = make_ws(host_dir, ROOT_MODE_WS_UID, ROOT_MODE_WS_UID)
        r = sbx("run", "--no-tty", "--rootfs", python_rootfs(), "--seccomp", "unconfined", "-w", ws, "--",
                "python3", "-c", NESTED_SETXATTR)
        assert r.returncode == 0, r.stderr
        assert r.stdout.split() == ["unshare", "0", "setxattr", "95"], r.stdout  # EOPNOTSUPP
        assert privileged_entries(ws) == []
        return
    script = ("import ctypes; l = ctypes.CDLL(None, use_errno=True); "
              "print(open('/proc/sys/user/max_user_namespaces').read().strip(), "
              "l.unshare(0x10000000), ctypes.get_errno())")
    r = sbx("run", "--no-tty", "--rootfs", python_rootfs(), "--seccomp", "unconfined", "--",
            "python3", "-c", script)
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ["0", "-1", "28"], r.stdout  # ENOSPC


NESTED_SETXATTR = r'''
import ctypes, os, struct
l = ctypes.CDLL(None, use_errno=True)
uid, gid = os.getuid(), os.getgid()
open("/workspace/f", "wb").write(open("/workspace/payload", "rb").read())
print("unshare", l.unshare(0x10000000), flush=True)
open("/proc/self/uid_map", "w").write(f"0 {uid} 1")
open("/proc/self/gid_map", "w").write(f"0 {gid} 1")
try:
    os.setxattr("/workspace/f", "security.capability", struct.pack("<IIIII", 0x02000001, 0xc0, 0xc0, 0, 0))
    print("setxattr 0")
except OSError as e:
    print("setxattr", e.errno)
'''


MMAP_WRITE = r'''
import mmap, os, sys
for p in sys.argv[1:]:
    with open(p, "r+b") as f:
        m = mmap.mmap(f.fileno(), 0)
        m[-4:] = b"PWND"
        m.flush()
        m.close()
    print(p, oct(os.stat(p).st_mode))
'''


@pytest.mark.parametrize("bit", [0o4755, 0o2755, "cap"])
@pytest.mark.parametrize("how", ["-w", "--bind"])
def test_a_tree_with_a_set_id_file_is_refused(host_dir, bit, how):
    """The kernel clears set-id bits and file capabilities on write() and
    truncate, not on writes through a shared mapping: a sandbox could turn
    a set-id program of its workspace into its own and keep the bit.  sbx
    refuses such a tree, naming the file."""
    if bit == "cap" and os.geteuid() != 0:
        pytest.skip("only root can give a file capabilities")
    ws = make_ws(host_dir, *(2 * [ROOT_MODE_WS_UID if os.geteuid() == 0 else -1]))
    target = os.path.join(ws, "sub", "prog")
    os.makedirs(os.path.dirname(target))
    shutil.copy(PROBE, target)
    if os.geteuid() == 0:
        os.chown(os.path.dirname(target), ROOT_MODE_WS_UID, ROOT_MODE_WS_UID)
        os.chown(target, ROOT_MODE_WS_UID, ROOT_MODE_WS_UID)
    if bit == "cap":
        os.chmod(target, 0o755)
        subprocess.run(["setcap", "cap_setuid+ep", target], check=True)
    else:
        os.chmod(target, bit)
    before = open(target, "rb").read()
    mount = ["-w", ws] if how == "-w" else ["--bind", f"{ws}:/mnt"]
    inside = ("/workspace" if how == "-w" else "/mnt") + "/sub/prog"
    r = sbx("run", "--no-tty", "--rootfs", python_rootfs(), *mount, "--", "python3", "-c", MMAP_WRITE, inside,
            timeout=60)
    assert open(target, "rb").read() == before, (r.stdout, r.stderr)
    assert r.returncode == 125, (r.stdout, r.stderr)
    assert f"{ws}/sub/prog has" in r.stderr, r.stderr
    # Read-only, it cannot be written: allowed.
    r = sbx("run", "--no-tty", "--rootfs", python_rootfs(), "--ro-bind", f"{ws}:/mnt", "--", "true")
    assert r.returncode == 0, r.stderr


@pytest.mark.skipif(MODE != "root", reason="the workspace's group decides the sandbox's only as root")
@pytest.mark.parametrize("owner", [0, ROOT_MODE_WS_UID])
def test_a_workspace_group_its_owner_lacks_is_not_given(host_dir, owner):
    """root:disk or user:disk: disk is not the owner's group, so the sandbox
    must not hold it (nor can its files land in it)."""
    ws = make_ws(host_dir, owner, DISK_GID)
    cmd = ["--no-tty", "--rootfs", python_rootfs(), "-w", ws, "--", "sh", "-c",
           "cat /proc/self/gid_map; touch /workspace/made"]
    r = sbx("run", *cmd)
    if RUNTIME == "runsc" and owner:
        # runsc's gofer would need the group to write there, and the
        # sandbox must not get it: refused, saying so; auto runs it natively.
        assert r.returncode == 125 and GROUP_REFUSED in r.stderr, r.stderr
        assert not os.path.exists(os.path.join(ws, "made"))
        r = sbx("run", "--runtime", "auto", "-v", *cmd)
        assert r.returncode == 0 and "runtime: native (runsc cannot run this sandbox" in r.stderr, r.stderr
        outside = [int(l.split()[1]) for l in r.stdout.splitlines()]
        assert DISK_GID not in outside and 0 not in outside, r.stdout
        assert os.stat(os.path.join(ws, "made")).st_gid not in (DISK_GID, 0)
        return
    assert r.returncode == 0, r.stderr
    if RUNTIME == "runsc":
        # gVisor shows its own maps inside: sbx's, read on the host.
        from test_isolation import sandbox_maps_from_the_host
        outside = [e[1] for e in sandbox_maps_from_the_host("--rootfs", python_rootfs(), "-w", ws)["gid"]]
    else:
        outside = [int(l.split()[1]) for l in r.stdout.splitlines()]
    assert DISK_GID not in outside and 0 not in outside, r.stdout
    st = os.stat(os.path.join(ws, "made"))
    assert st.st_gid not in (DISK_GID, 0) if owner else st.st_gid == 0, st
