"""Mount points a tree lacks (issue 10): sbx makes them on a read-only
overlay whose upper is a tmpfs of its own, only when one is missing, and
never writes the tree; --writable-root gives a throw-away writable root.

The trees here have none of the points sbx mounts on (/workspace, /tmp,
/dev, /proc, /sys, the /etc files, WorkingDir, bind targets), as a --rootfs
and as a stored image.  Hostile trees point their missing points' parents
out of the root with symbolic links: nothing is made outside the root.
Runs in the three modes of tests/run-integration (SBX_TEST_MODE)."""
import json
import os
import pathlib
import shutil
import stat

import pytest

from conftest import APPLETS, BUSYBOX, MODE, PROBE, RUNTIME, run, sbx, snapshot
import ocifixtures as oci
from ocifixtures import Layer, dir_, file, symlink

FAILED, NOTFOUND = 125, 127


def bare_rootfs(base: pathlib.Path, links=(), dirs=()) -> pathlib.Path:
    """Busybox and the probe in /bin, and nothing sbx mounts on: no
    /workspace, /tmp, /dev, /proc, /sys, /etc.  LINKS: (path, target)
    symbolic links to add; DIRS: (path, mode) directories."""
    root = base / "bare"
    (root / "bin").mkdir(parents=True)
    shutil.copy2(BUSYBOX, root / "bin" / "busybox")
    for applet in APPLETS + ["pwd", "mkdir", "rm", "test", "dd", "grep"]:
        (root / "bin" / applet).symlink_to("busybox")
    shutil.copy2(PROBE, root / "bin" / "sbx-probe")
    for path, mode in dirs:
        (root / path).mkdir(parents=True)
        os.chmod(root / path, mode)
    for path, target in links:
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        (root / path).symlink_to(target)
    for p in [base, root, *root.rglob("*")]:
        if not p.is_symlink():
            os.chmod(p, os.stat(p).st_mode | stat.S_IROTH | (stat.S_IXOTH if p.is_dir() else 0))
    return root


@pytest.fixture
def bare(tmp_path):
    os.chmod(tmp_path, 0o755)
    return bare_rootfs(tmp_path)


@pytest.fixture
def hostdir(tmp_path):
    d = tmp_path / "hostdir"
    d.mkdir()
    os.chmod(d, 0o777)
    return d


def layers_of(path):
    return json.loads(pathlib.Path(path).read_text())["layers"]


# ---- images ----------------------------------------------------------------------------

def bare_image(tmp_path, store, name, config, links=(), dirs=()):
    """An image of a bare tree (owned by root in the image), imported into
    STORE; returns its tree's path in the store."""
    src = tmp_path / f"src-{name}"
    src.mkdir()
    root = bare_rootfs(src, links, dirs)
    entries = oci.tree_entries(root)
    lay = oci.layout(tmp_path / f"lay-{name}", [Layer.of(entries)], config=config).readable()
    r = sbx("image", "import", "--store", str(store), "--name", name, str(lay.path))
    assert r.returncode == 0, r.stderr
    r = sbx("image", "inspect", "--store", str(store), name)
    assert r.returncode == 0, r.stderr
    return pathlib.Path(json.loads(r.stdout)["rootfs"])


def run_image(store, name, *cmd, opts=()):
    return sbx("run", "--store", str(store), "--image", name, *opts, *(["--", *cmd] if cmd else []))


# ---- the points are made, the tree is not written --------------------------------------

def test_bare_rootfs_runs_and_stays_untouched(bare, tmp_path):
    before = snapshot(bare)
    res = tmp_path / "result.json"
    r = run(bare, "sh", "-c", "pwd; test -d /tmp -a -d /proc/self -a -c /dev/null -a -d /sys && "
            "cat /etc/hostname && grep -c localhost /etc/hosts && touch /tmp/ok /workspace/ok && "
            "! touch /new 2>/dev/null && ! mkdir /bin/new 2>/dev/null && echo done",
            opts=["--json", str(res)])
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ["/workspace", "sandbox", "2", "done"], r.stdout
    layers = layers_of(res)
    assert "mount-points-overlay" in layers and "read-only-rootfs" in layers, layers
    assert snapshot(bare) == before


def test_bare_rootfs_with_workspace(bare, workspace):
    before = snapshot(bare)
    r = run(bare, "sh", "-c", "pwd && echo hi > /workspace/made", opts=["-w", str(workspace)])
    assert r.returncode == 0 and r.stdout == "/workspace\n", r.stderr
    assert (workspace / "made").read_text() == "hi\n"
    assert snapshot(bare) == before


def test_complete_tree_gets_no_overlay(rootfs, tmp_path):
    """make_rootfs has every point: today's path, nothing added."""
    res = tmp_path / "result.json"
    r = run(rootfs, "true", opts=["--json", str(res)])
    assert r.returncode == 0, r.stderr
    layers = layers_of(res)
    assert "mount-points-overlay" not in layers and "writable-root-overlay" not in layers, layers
    assert "read-only-rootfs" in layers


def test_missing_nested_targets(bare, hostdir, tmp_path):
    before = snapshot(bare)
    (tmp_path / "conf").write_text("conf\n")
    os.chmod(tmp_path / "conf", 0o644)
    r = run(bare, "sh", "-c", "echo w > /opt/a/b/fromsbx && cat /etc/x/y.conf && touch /srv/t/u/f && "
            "test -d /srv/t/u && ! touch /etc/x/other 2>/dev/null && echo done",
            opts=["--bind", f"{hostdir}:/opt/a/b", "--ro-bind", f"{tmp_path / 'conf'}:/etc/x/y.conf",
                  "--tmpfs", "/srv/t", "--tmpfs", "/srv/t/u", "--bind", f"{hostdir}:/tmp/deep/er"])
    assert r.returncode == 0, r.stderr
    assert r.stdout == "conf\ndone\n"
    assert (hostdir / "fromsbx").read_text() == "w\n"
    assert snapshot(bare) == before


def test_target_below_a_host_directory_is_not_made(bare, hostdir, workspace):
    """Below -w or a --bind the host's directory decides: sbx writes none."""
    r = run(bare, "true", opts=["-w", str(workspace), "--tmpfs", "/workspace/sub/t"])
    assert r.returncode == FAILED and "never writes the host" in r.stderr, r.stderr
    r = run(bare, "true", opts=["--bind", f"{hostdir}:/data", "--tmpfs", "/data/sub"])
    assert r.returncode == FAILED, r.stderr
    assert not (workspace / "sub").exists() and not (hostdir / "sub").exists()


def test_image_without_points_and_missing_workingdir(tmp_path, store, workspace):
    tree = bare_image(tmp_path, store, "wd", {"WorkingDir": "/app/sub", "Cmd": ["/bin/sh", "-c", "pwd"]})
    before = snapshot(tree)
    r = run_image(store, "wd")
    assert r.returncode == 0 and r.stdout == "/app/sub\n", r.stderr
    r = run_image(store, "wd", opts=["-w", str(workspace)])
    assert r.returncode == 0 and r.stdout == "/workspace\n", r.stderr
    r = run_image(store, "wd", "/bin/sh", "-c", "test -d /workspace -a -d /tmp && echo ok")
    assert r.returncode == 0 and r.stdout == "ok\n", r.stderr
    assert snapshot(tree) == before


def test_workingdir_on_sbx_tmpfs_is_made_there(tmp_path, store):
    bare_image(tmp_path, store, "wdtmp", {"WorkingDir": "/tmp/build", "Cmd": ["/bin/sh", "-c", "pwd"]})
    r = run_image(store, "wdtmp")
    if RUNTIME == "runsc":
        # This runsc does not make a missing working directory and its
        # tmpfs starts empty: refused, saying so (auto runs it natively).
        assert r.returncode == FAILED and "WorkingDir /tmp/build lies inside a tmpfs" in r.stderr, r.stderr
        r = run_image(store, "wdtmp", opts=["--runtime", "auto"])
        assert r.returncode == 0 and r.stdout == "/tmp/build\n", r.stderr
        return
    assert r.returncode == 0 and r.stdout == "/tmp/build\n", r.stderr


def test_command_missing_from_image_names_it(tmp_path, store):
    bare_image(tmp_path, store, "nocmd", {})
    r = run_image(store, "nocmd", "python3", "-c", "print(1)")
    assert r.returncode == NOTFOUND, r.stderr
    assert "not found in the sandbox: python3" in r.stderr and "image nocmd:latest" in r.stderr, r.stderr


# ---- --writable-root -----------------------------------------------------------------------

def test_writable_root_writes_vanish(tmp_path, store):
    tree = bare_image(tmp_path, store, "wr", {}, dirs=[("opt/shared", 0o1777)])
    before = snapshot(tree)
    res = tmp_path / "result.json"
    r = run_image(store, "wr", "sh", "-c", "echo mine > /opt/shared/x && cat /opt/shared/x",
                  opts=["--writable-root", "--json", str(res)])
    assert r.returncode == 0 and r.stdout == "mine\n", r.stderr
    layers = layers_of(res)
    assert "writable-root-overlay" in layers and "read-only-rootfs" not in layers, layers
    if MODE != "subuid":
        # uid 0 of the sandbox owns the image's root-owned directories here
        # (it holds no capability): it may write them, on the overlay only.
        # With subordinate ranges sbx maps --user 0 to the caller, and the
        # image's root to nobody inside: nothing of root's is writable.
        r = run_image(store, "wr", "sh", "-c",
                      "mkdir -p /usr/local/lib && echo pkg > /usr/local/lib/x && cat /usr/local/lib/x && "
                      "echo edited > /bin/new && rm /bin/cat && ! test -e /bin/cat && echo done",
                      opts=["--writable-root", "--user", "0"])
        assert r.returncode == 0, r.stderr
        assert r.stdout == "pkg\ndone\n"
    r = run_image(store, "wr", "sh", "-c",
                  "test -e /usr/local || test -e /bin/new || test -e /opt/shared/x || echo clean; "
                  "test -e /bin/cat && echo cat")
    assert r.returncode == 0 and r.stdout == "clean\ncat\n", (r.stdout, r.stderr)
    assert snapshot(tree) == before


@pytest.mark.skipif(MODE != "root", reason="as root only, --user 0 with -w is the image's root (idmapped "
                    "workspace); rootless with ranges it is the caller (see sbx.1)")
def test_writable_root_as_root_with_a_workspace(tmp_path, store):
    """The agent's case: --user 0 --writable-root -w: install into the
    image's root-owned directories, work in the workspace, whose files land
    as its owner on the host."""
    tree = bare_image(tmp_path, store, "wrw", {})
    before = snapshot(tree)
    ws = tmp_path / "ws"
    ws.mkdir()
    (ws / "old").write_text("from a run as the default user")
    os.chown(ws, 4242, 4242)
    os.chown(ws / "old", 4242, 4242)
    r = run_image(store, "wrw", "sh", "-c",
                  "echo pkg > /bin/pkg && cat /bin/pkg && rm /bin/cat && "
                  "echo mine > /workspace/new && rm /workspace/old && id -u",
                  opts=["--writable-root", "--user", "0", "-w", str(ws)])
    assert r.returncode == 0 and r.stdout == "pkg\n0\n", (r.stdout, r.stderr)
    st = os.stat(ws / "new")
    assert (st.st_uid, st.st_gid) == (4242, 4242) and st.st_mode & 0o6000 == 0, st
    assert not (ws / "old").exists()
    assert snapshot(tree) == before


def test_writable_root_size_and_nosuid(bare, tmp_path):
    before = snapshot(bare)
    r = run(bare, "sh", "-c", "dd if=/dev/zero of=/big bs=1k count=4096 2>/dev/null; echo rc=$?; "
            "grep ' / ' /proc/self/mounts",
            opts=["--writable-root=1m", "--user", "0"])
    assert r.returncode == 0, r.stderr
    assert "rc=1" in r.stdout, r.stdout
    root_mount = [l for l in r.stdout.splitlines() if " / " in l][0]
    if RUNTIME == "runsc":
        # gVisor's own mount table: the root its gofer serves (sbx's
        # nosuid, nodev overlay, outside) shows as 9p.
        assert root_mount.split()[2] == "9p" and "rw" in root_mount.split()[3].split(","), root_mount
    else:
        assert "overlay" in root_mount and "nosuid" in root_mount and "nodev" in root_mount, root_mount
    assert snapshot(bare) == before


def test_mount_points_overlay_is_read_only(bare):
    r = run(bare, "sh", "-c", "grep ' / ' /proc/self/mounts", opts=["--user", "0"])
    assert r.returncode == 0, r.stderr
    fields = r.stdout.split()
    if RUNTIME == "runsc":
        # gVisor's own mount table shows the root its gofer serves as 9p.
        assert fields[2] == "9p" and "ro" in fields[3].split(","), r.stdout
    else:
        assert fields[2] == "overlay" and "ro" in fields[3].split(",") and "nosuid" in fields[3].split(","), r.stdout
    r = run(bare, "sh", "-c", "touch /new || mkdir /workspace/../x", opts=["--user", "0"])
    assert r.returncode != 0


def test_writable_root_bad_size():
    r = sbx("run", "--rootfs", "/", "--writable-root=lots", "true")
    assert r.returncode == FAILED and "--writable-root" in r.stderr


# ---- hostile trees: nothing made outside the root ---------------------------------------------

@pytest.fixture
def canary(tmp_path):
    """A host directory that a resolution escaping the root would write to."""
    c = tmp_path / "canary"
    c.mkdir()
    os.chmod(c, 0o777)
    (c / "keep").write_text("canary\n")
    return c


def test_workspace_symlink_out_of_root(tmp_path, canary, workspace):
    root = bare_rootfs(tmp_path, links=[("workspace", f"/../../..{canary}/x")])
    before = snapshot(root), snapshot(canary)
    for opts in ([], ["-w", str(workspace)]):
        r = run(root, "true", opts=opts)
        assert r.returncode == FAILED and "symbolic link" in r.stderr, (opts, r.stderr)
    assert (snapshot(root), snapshot(canary)) == before
    assert not (canary / "x").exists()


def test_bind_below_symlinked_parent(tmp_path, canary, hostdir):
    """/opt -> /etc: the target resolves inside the root (/etc/new), made
    on the overlay; /out -> the canary's host path: there is no such path
    in the root, and sbx makes nothing through a link to nothing."""
    root = bare_rootfs(tmp_path, links=[("opt", "/etc"), ("out", str(canary)), ("rel", "../../../../..")])
    (root / "etc").mkdir()
    os.chmod(root / "etc", 0o755)
    before = snapshot(root), snapshot(canary)
    r = run(root, "sh", "-c", "test -d /etc/new && echo ok", opts=["--bind", f"{hostdir}:/opt/new"])
    assert r.returncode == 0 and r.stdout == "ok\n", r.stderr
    r = run(root, "true", opts=["--bind", f"{hostdir}:/out/new"])
    assert r.returncode == FAILED and "symbolic link to nothing" in r.stderr, r.stderr
    r = run(root, "sh", "-c", "test -d /made && echo ok", opts=["--tmpfs", "/rel/made"])
    assert r.returncode == 0 and r.stdout == "ok\n", r.stderr
    assert (snapshot(root), snapshot(canary)) == before
    assert not (canary / "new").exists() and not pathlib.Path("/made").exists()
    assert not pathlib.Path("/etc/new").exists()


def test_etc_files_that_are_links_are_hidden(tmp_path, canary):
    """Links in place of the /etc files sbx writes (Ubuntu links
    resolv.conf to systemd's) are hidden by sbx's files on the overlay:
    never followed, in the tree or out of it."""
    (canary / "hostname").write_text("host canary\n")
    root = bare_rootfs(tmp_path, links=[("etc/resolv.conf", "../run/systemd/resolve/stub-resolv.conf"),
                                        ("etc/hostname", f"/../../..{canary}/hostname"),
                                        ("etc/hosts", "/etc/hosts")])
    before = snapshot(root), snapshot(canary)
    r = run(root, "sh", "-c", "cat /etc/hostname /etc/resolv.conf; grep -c localhost /etc/hosts",
            opts=["--network", "host"])
    assert r.returncode == 0, r.stderr
    assert r.stdout == "sandbox\n" + pathlib.Path("/etc/resolv.conf").read_text() + "2\n", r.stdout
    assert (snapshot(root), snapshot(canary)) == before


@pytest.mark.parametrize("workdir", ["/../../../..", "/w/../../../x"])
def test_workingdir_cannot_climb_out(tmp_path, store, workdir):
    """(A relative WorkingDir such as ../../.. is refused at import.)"""
    bare_image(tmp_path, store, "climb", {"WorkingDir": workdir, "Cmd": ["/bin/sh", "-c", "pwd"]})
    r = run_image(store, "climb")
    want = "/x\n" if workdir.endswith("x") else "/\n"
    assert r.returncode == 0 and r.stdout == want, (r.stdout, r.stderr)
    assert not pathlib.Path("/x").exists()


def test_workingdir_through_symlink(tmp_path, store, canary):
    tree = bare_image(tmp_path, store, "wdlink", {"WorkingDir": "/app/sub", "Cmd": ["/bin/sh", "-c", "pwd"]},
                      links=[("app", str(canary))])
    before = snapshot(tree), snapshot(canary)
    r = run_image(store, "wdlink")
    assert r.returncode == FAILED and "symbolic link to nothing" in r.stderr, r.stderr
    assert (snapshot(tree), snapshot(canary)) == before
    assert not (canary / "sub").exists()

