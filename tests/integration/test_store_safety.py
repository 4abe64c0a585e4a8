"""The state sbx keeps between runs (the image store, the seccomp cache)
against whoever else can reach it: a layout rewritten during its import,
other local users, a lock held forever, a sandbox whose workspace holds
the state, and `sbx image unpack` on the host.

Root-mode runs of this file belong in a private mount namespace when
/var/cache/sbx is in use by others (the runs here that use root's cache
path bind a directory of their own over /var/cache first)."""
import fcntl
import json
import os
import pathlib
import resource
import shutil
import stat
import subprocess
import tempfile
import time

import pytest

from conftest import MODE, SBX, sbx
import ocifixtures as oci
from ocifixtures import Layer, Layout, dir_, file

FAILED, TIMED_OUT = 125, 124


def imp(store, path, *opts, env=None, timeout=300):
    return sbx("image", "import", "--store", str(store), *opts, str(path), env=env, timeout=timeout)


def run_image(store, name, *cmd, opts=(), env=None, timeout=60):
    return sbx("run", "--no-tty", "--store", str(store), "--image", name, *opts, "--", *cmd, env=env,
               timeout=timeout)


def chain_of(layer):
    return layer.diff_id.split(":", 1)[1]


@pytest.fixture(scope="module")
def base(rootfs):
    return Layer.of_tree(rootfs, compression="gzip")


def with_message(layer_text):
    return Layer.of([dir_("./"), file("msg", layer_text)])


# ---- 3. a layer rewritten after its check ------------------------------------------------

def fd_at_end(pid, path, size):
    """Whether process PID holds PATH open with its offset at SIZE (it has
    read the whole blob: its check is done)."""
    try:
        for fd in os.listdir(f"/proc/{pid}/fd"):
            try:
                if os.readlink(f"/proc/{pid}/fd/{fd}") != str(path):
                    continue
                with open(f"/proc/{pid}/fdinfo/{fd}") as f:
                    if int(f.readline().split()[1]) == size:
                        return True
            except OSError:
                continue
    except OSError:
        pass
    return False


def test_a_layer_rewritten_after_its_check_is_never_unpacked(tmp_path, store, base):
    """The import checks a layer's digest, then unpacks: whoever can write
    the layout rewrites the layer in between.  sbx unpacks only the bytes
    it hashed, so the genuine content is what gets stored under the
    genuine chain; importing the genuine image later reuses a genuine
    tree."""
    genuine, poison = with_message(b"genuine\n"), with_message(b"poison!\n")
    assert len(genuine.blob) == len(poison.blob) and genuine.blob != poison.blob
    first = oci.layout(tmp_path / "first", [base]).readable()
    assert imp(store, first.path, "--name", "first").returncode == 0
    lay = oci.layout(tmp_path / "two", [base, genuine]).readable()
    blob = lay.blob_path(oci.digest(genuine.blob))
    # Hold the tree of the first layer: the import checks both layers, then
    # waits for that tree, and the layer is rewritten while it waits.
    held = os.open(store / "rootfs" / chain_of(base), os.O_RDONLY | os.O_DIRECTORY)
    fcntl.flock(held, fcntl.LOCK_EX)
    proc = subprocess.Popen([SBX, "image", "import", "--store", str(store), "--name", "two", str(lay.path)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 30
        while not fd_at_end(proc.pid, blob, len(genuine.blob)):
            assert proc.poll() is None and time.monotonic() < deadline, "the import never read the layer"
            time.sleep(0.01)
        time.sleep(0.2)
        with open(blob, "r+b") as f:
            f.write(poison.blob)
    finally:
        os.close(held)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    r = run_image(store, "two", "cat", "/msg")
    assert r.stdout == "genuine\n", ("a layer rewritten after its check was unpacked", r.stdout, r.stderr)
    # The genuine image imported again reuses that tree: still genuine.
    blob.write_bytes(genuine.blob)
    r = imp(store, lay.path, "--name", "two", "-v")
    assert r.returncode == 0 and "1 unpacked" not in r.stderr, r.stderr
    assert run_image(store, "two", "cat", "/msg").stdout == "genuine\n"


# ---- 4. a private store --------------------------------------------------------------------

def mode_of(path):
    return stat.S_IMODE(os.lstat(path).st_mode)


def test_the_store_is_private(tmp_path, store, base):
    assert imp(store, oci.layout(tmp_path / "l", [base]).readable().path, "--name", "x").returncode == 0
    assert mode_of(store) == 0o700, oct(mode_of(store))
    for d in ["images", "blobs", "rootfs", "tmp"]:
        assert mode_of(store / d) == 0o700, (d, oct(mode_of(store / d)))
    assert run_image(store, "x", "true").returncode == 0
    assert mode_of(store / "lock") == 0o600, oct(mode_of(store / "lock"))


def test_a_store_of_another_user_is_refused(tmp_path):
    if os.geteuid() == 0:
        foreign = tmp_path / "foreign"
        foreign.mkdir(mode=0o700)
        os.chown(foreign, 4242, 4242)
    else:
        foreign = pathlib.Path("/var/tmp")  # root's
    for args in (["image", "ls", "--store", str(foreign)],
                 ["run", "--store", str(foreign), "--image", "x", "--", "true"]):
        r = sbx(*args)
        assert r.returncode == FAILED, (args, r.returncode, r.stderr)
        assert "belongs to uid" in r.stderr and "not to this user" in r.stderr, r.stderr


def test_a_readable_store_is_made_private_and_a_writable_one_refused(tmp_path, store, base):
    assert imp(store, oci.layout(tmp_path / "l", [base]).readable().path, "--name", "x").returncode == 0
    os.chmod(store, 0o755)
    r = sbx("image", "ls", "--store", str(store))
    assert r.returncode == 0 and "made it 0700" in r.stderr, r.stderr
    assert mode_of(store) == 0o700
    os.chmod(store, 0o777)
    r = run_image(store, "x", "true")
    assert r.returncode == FAILED and "writable by others" in r.stderr and f"chmod 700 {store}" in r.stderr, r.stderr
    assert mode_of(store) == 0o777
    os.chmod(store, 0o700)


@pytest.mark.skipif(os.geteuid() != 0, reason="needs another user to try (root mode)")
def test_other_users_reach_no_tree_and_no_lock(tmp_path, store, base):
    """Through a 0755 parent, another user could run the trees' setuid
    files and hold the store's lock."""
    parent = pathlib.Path(tempfile.mkdtemp(prefix="sbx-store-", dir="/var/tmp"))
    try:
        os.chmod(parent, 0o755)
        s = parent / "store"
        assert imp(s, oci.layout(tmp_path / "l", [base]).readable().path, "--name", "x").returncode == 0
        tree = s / "rootfs" / chain_of(base)
        for path, how in [(tree / "bin" / "sbx-probe-suid", "x"), (s / "lock", "lock")]:
            code = ("import fcntl, os, sys\n"
                    "p = sys.argv[1]\n"
                    "if sys.argv[2] == 'lock':\n"
                    "    fcntl.flock(open(p), fcntl.LOCK_EX | fcntl.LOCK_NB)\n"
                    "else:\n"
                    "    os.stat(p)\n")
            r = subprocess.run(["runuser", "-u", "sbxtest-nosub", "--", "python3", "-c", code, str(path), how],
                               capture_output=True, text=True, timeout=30)
            assert r.returncode != 0 and "PermissionError" in r.stderr, (path, r.returncode, r.stderr)
        sbx("image", "rm", "--store", str(s), "x")
    finally:
        shutil.rmtree(parent)


def plant_deep(top, depth):
    """DEPTH nested directories below TOP, made by fd (no path limit)."""
    fd = os.open(top, os.O_RDONLY | os.O_DIRECTORY)
    try:
        for _ in range(depth):
            os.mkdir("d", dir_fd=fd)
            nxt = os.open("d", os.O_RDONLY | os.O_DIRECTORY, dir_fd=fd)
            os.close(fd)
            fd = nxt
        with open(os.open("f", os.O_WRONLY | os.O_CREAT, 0o644, dir_fd=fd), "w") as f:
            f.write("deep\n")
    finally:
        os.close(fd)


def holds_open(pid, path):
    try:
        return any(os.readlink(f"/proc/{pid}/fd/{fd}") == str(path) for fd in os.listdir(f"/proc/{pid}/fd"))
    except OSError:
        return False


def test_run_mounts_the_tree_it_checked_not_the_path_again(tmp_path, store, base):
    """sbx opens and locks the image's tree, then mounts it: a tree put at
    its path in between (by whoever can write the store) is never what runs."""
    lay = oci.layout(tmp_path / "l", [base, with_message(b"genuine\n")]).readable()
    assert imp(store, lay.path, "--name", "x").returncode == 0
    rec = json.loads(sbx("image", "inspect", "--store", str(store), "x").stdout)
    tree = pathlib.Path(rec["rootfs"])
    held = os.open(tree, os.O_RDONLY | os.O_DIRECTORY)
    fcntl.flock(held, fcntl.LOCK_EX)
    proc = subprocess.Popen([SBX, "run", "--no-tty", "--store", str(store), "--image", "x", "--", "cat", "/msg"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 30
        while not holds_open(proc.pid, tree):
            assert proc.poll() is None and time.monotonic() < deadline, "sbx never opened the tree"
            time.sleep(0.01)
        subprocess.run(["cp", "-R", str(tree), str(tree.with_name("trojan"))], check=True)
        (tree.with_name("trojan") / "msg").write_text("trojan\n")
        os.rename(tree, tree.with_name("genuine"))
        os.rename(tree.with_name("trojan"), tree)
    finally:
        os.close(held)
    out, err = proc.communicate(timeout=60)
    assert out != "trojan\n", "a tree put at the path after the check was mounted"
    assert (proc.returncode, out) == (0, "genuine\n") or \
        (proc.returncode == FAILED and "was replaced while sbx was starting" in err), (proc.returncode, out, err)
    subprocess.run(["rm", "-rf", str(tree)])
    os.rename(tree.with_name("genuine"), tree)


@pytest.fixture
def deep_cleanup(tmp_path):
    """What a failing run leaves is too deep for Python's (and pytest's)
    recursive removal: rm takes it apart."""
    yield
    subprocess.run(["rm", "-rf", "--one-file-system", str(tmp_path)], capture_output=True)


@pytest.mark.parametrize("depth", [600, 3000])
def test_rm_and_gc_remove_deeply_nested_directories(tmp_path, deep_cleanup, store, base, depth):
    """A planted 600-deep chain made rm/gc fail; any depth is removed now,
    with a bounded number of open directories."""
    assert imp(store, oci.layout(tmp_path / "l", [base]).readable().path, "--name", "x").returncode == 0
    tree = store / "rootfs" / chain_of(base)
    # In the tree where we may write in it (root, no ranges), else as a
    # leftover of an interrupted import, which gc takes apart the same way.
    target = tree / "tmp" if MODE != "subuid" else store / "rootfs" / ".tmp-planted"
    if MODE == "subuid":
        target.mkdir()
    plant_deep(target, depth)
    (store / "tmp" / "scratch").mkdir()
    plant_deep(store / "tmp" / "scratch", depth)
    # Few descriptors: removal must not hold one per level.
    r = sbx("image", "rm", "--store", str(store), "x", timeout=300,
            preexec_fn=lambda: resource.setrlimit(resource.RLIMIT_NOFILE, (256, 256)))
    assert r.returncode == 0, r.stderr
    left = sorted(p.name for p in (store / "rootfs").iterdir()) + sorted(p.name for p in (store / "tmp").iterdir())
    assert left == [], left


@pytest.mark.skipif(os.geteuid() != 0 or not shutil.which("unshare"), reason="needs root to mount (root mode)")
def test_gc_goes_on_past_what_it_cannot_remove(tmp_path, store, base):
    assert imp(store, oci.layout(tmp_path / "l", [base]).readable().path, "--name", "x").returncode == 0
    for name in ["a-busy", "b-free", "c-free"]:
        (store / "tmp" / name / "m").mkdir(parents=True)
    # A mount point (in a namespace of the gc's own) cannot be removed.
    r = subprocess.run(["unshare", "-m", "--propagation", "private", "sh", "-c",
                        'mount -t tmpfs none "$0" && exec "$@"', str(store / "tmp" / "a-busy" / "m"),
                        SBX, "image", "gc", "--store", str(store)], capture_output=True, text=True, timeout=60)
    assert r.returncode == FAILED, (r.returncode, r.stderr)
    assert "could not remove tmp/a-busy" in r.stderr and "1 entry" in r.stderr, r.stderr
    assert sorted(p.name for p in (store / "tmp").iterdir()) == ["a-busy"]
    assert sbx("image", "gc", "--store", str(store)).returncode == 0


# ---- 5. locks --------------------------------------------------------------------------------

def test_a_held_store_lock_makes_gc_give_up_in_time(tmp_path, store, base):
    assert imp(store, oci.layout(tmp_path / "l", [base]).readable().path, "--name", "x").returncode == 0
    held = os.open(store / "lock", os.O_RDONLY)
    fcntl.flock(held, fcntl.LOCK_EX)
    try:
        start = time.monotonic()
        try:
            r = sbx("image", "gc", "--store", str(store), env=dict(os.environ, SBX_LOCK_TIMEOUT="2"), timeout=30)
        except subprocess.TimeoutExpired:
            pytest.fail("gc waited for the lock for ever")
        took = time.monotonic() - start
    finally:
        os.close(held)
    assert r.returncode == FAILED and took < 15, (r.returncode, took, r.stderr)
    assert "waiting for the lock on" in r.stderr and "gave up after 2 s" in r.stderr, r.stderr


def test_run_timeout_holds_while_a_tree_lock_is_held(tmp_path, store, base):
    assert imp(store, oci.layout(tmp_path / "l", [base]).readable().path, "--name", "x").returncode == 0
    held = os.open(store / "rootfs" / chain_of(base), os.O_RDONLY | os.O_DIRECTORY)
    fcntl.flock(held, fcntl.LOCK_EX)
    try:
        start = time.monotonic()
        try:
            r = run_image(store, "x", "true", opts=["--timeout", "2"], timeout=40)
        except subprocess.TimeoutExpired:
            pytest.fail("sbx run --timeout 2 waited for a lock past its timeout")
        took = time.monotonic() - start
    finally:
        os.close(held)
    assert r.returncode == TIMED_OUT and took < 15, (r.returncode, took, r.stderr)
    assert "waiting for the lock on" in r.stderr, r.stderr
    assert run_image(store, "x", "true").returncode == 0


# ---- 8. workspaces and binds that hold sbx's state ------------------------------------------

def test_a_workspace_or_bind_holding_the_store_is_refused(tmp_path, base):
    state = tmp_path / "state"
    state.mkdir()
    s = state / "store"
    assert imp(s, oci.layout(tmp_path / "l", [base]).readable().path, "--name", "x").returncode == 0
    if os.geteuid() == 0:
        os.chown(state, 4242, 4242)
    try:
        for opts, says in [(["-w", str(state)], "contains the image store"),
                           (["-w", str(s / "rootfs")], "lies inside the image store"),
                           (["--bind", f"{state}:/opt/rw"], "contains the image store")]:
            r = run_image(s, "x", "true", opts=opts)
            assert r.returncode == FAILED and says in r.stderr, (opts, r.returncode, r.stderr)
        # Read-only, it may be seen.
        r = run_image(s, "x", "true", opts=["--ro-bind", f"{state}:/opt/data"])
        assert r.returncode == 0, r.stderr
    finally:
        if os.geteuid() == 0:
            os.chown(state, 0, 0)
        sbx("image", "rm", "--store", str(s), "x")


def fresh_var_cache(vc, *cmd):
    """CMD (as root) with VC as /var/cache, in a mount namespace of its own."""
    return ["unshare", "-m", "--propagation", "private", "sh", "-c", 'mount --bind "$0" /var/cache && exec "$@"',
            str(vc), *cmd]


def test_a_workspace_or_bind_holding_the_seccomp_cache_is_refused(tmp_path, rootfs):
    """With -w ~ the sandbox could rewrite the compiled filters of later
    runs (which would then run without one while saying seccomp)."""
    home = tmp_path / "home"
    (home / "ws").mkdir(parents=True)
    env = dict(os.environ, HOME=str(home))
    env.pop("XDG_CACHE_HOME", None)
    if os.geteuid() == 0:
        vc = tmp_path / "var-cache"
        vc.mkdir()
        cases = [("/var/cache", "contains sbx's seccomp cache"), ("/var/cache/sbx/seccomp", "lies inside")]

        def go(opts):
            return subprocess.run(fresh_var_cache(vc, SBX, "run", "--no-tty", "--rootfs", str(rootfs), *opts,
                                                  "--", "true"), capture_output=True, text=True, timeout=60)
        assert go([]).returncode == 0  # makes the cache
    else:
        cases = [(str(home), "contains sbx's seccomp cache"), (str(home / ".cache"), "contains"),
                 (str(home / ".cache/sbx/seccomp"), "lies inside")]

        def go(opts):
            return sbx("run", "--no-tty", "--rootfs", str(rootfs), *opts, "--", "true", env=env)
        assert go([]).returncode == 0  # makes the cache
    for path, says in cases:
        for opts in (["-w", path], ["--bind", f"{path}:/opt/rw"]):
            r = go(opts)
            assert r.returncode == FAILED and says in r.stderr, (opts, r.returncode, r.stderr)
    if os.geteuid() != 0:
        assert go(["--ro-bind", f"{home}:/opt/data"]).returncode == 0


# ---- 9. root's cache on a fresh machine: see test_security.py ---------------------------------
# ---- 14. sbx image unpack on the host ---------------------------------------------------------

def test_unpack_drops_setuid_bits_unless_asked(tmp_path):
    layer = tmp_path / "layer.tar"
    layer.write_bytes(oci.tar_bytes([dir_("./"), file("su", b"#!", mode=0o4755), file("sg", b"#!", mode=0o2755),
                                     file("plain", b"#!", mode=0o755)]))
    for opts, kept in [([], False), (["--keep-setuid"], True)]:
        root = tmp_path / f"root{len(opts)}"
        root.mkdir()
        r = sbx("image", "unpack", "-v", *opts, str(root), str(layer))
        assert r.returncode == 0, r.stderr
        su, sg = mode_of(root / "su"), mode_of(root / "sg")
        if kept:
            assert su & 0o4000 and sg & 0o2000, (oct(su), oct(sg))
        else:
            assert su == 0o755 and sg == 0o755, (oct(su), oct(sg))
            assert "dropped the setuid/setgid bits of 2 files" in r.stderr, r.stderr
        assert mode_of(root / "plain") == 0o755
