"""The image interface (/tmp/sbx-spec/image-spec.md): `sbx image
import/ls/inspect/rm/gc` and `sbx run --image`, against images written by
ocifixtures.py, umoci and skopeo; hostile images (security catalog ESC-23
to ESC-30) next to host canaries; imports killed part way and a full disk.

Every test passes --store with a per-test directory: /var/lib/sbx is never
touched.  Runs in the three modes of tests/run-integration (SBX_TEST_MODE);
what a mode cannot do is skipped with the reason."""
import json
import os
import pathlib
import random
import shutil
import signal
import stat
import subprocess
import tarfile
import tempfile
import time

import pytest

from conftest import MODE, SBX, sbx, snapshot
import ocifixtures as oci
from ocifixtures import Layer, Layout, dir_, file, hardlink, symlink, whiteout

REFUSED, MISSING, FAILED = 65, 66, 125


# ---- helpers --------------------------------------------------------------------------

def imp(store, path, *opts, timeout=300):
    return sbx("image", "import", "--store", str(store), *opts, str(path), timeout=timeout)


def imp_json(store, path, *opts):
    r = imp(store, path, "--json", *opts)
    assert r.returncode == 0, (r.returncode, r.stderr)
    return json.loads(r.stdout)


def inspect(store, name):
    r = sbx("image", "inspect", "--store", str(store), name)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


def run_image(store, name, *cmd, opts=(), timeout=60):
    return sbx("run", "--store", str(store), "--image", name, *opts, *(["--", *cmd] if cmd else []),
               timeout=timeout)


def store_state(store):
    """(records, published trees, trees being built, scratch entries)."""
    store = pathlib.Path(store)

    def ls(d):
        return sorted(p.name for p in d.iterdir()) if d.is_dir() else []
    trees = ls(store / "rootfs")
    return (ls(store / "images"), [t for t in trees if not t.startswith(".")],
            [t for t in trees if t.startswith(".")], ls(store / "tmp"))


def assert_nothing_published(store, what=""):
    recs, trees, building, scratch = store_state(store)
    assert recs == [], (what, "a record was published", recs)
    assert trees == [], (what, "a tree was published", trees)
    assert building == [], (what, "a tree being built was left", building)
    assert scratch == [], (what, "scratch was left in tmp/", scratch)


def tree(root):
    """What a tree holds, by relative path: type, permission bits (files and
    symlinks), content or link target.  Directory modes are left out: sbx
    keeps its own directories writable when unprivileged (test_unpack)."""
    root = pathlib.Path(root)
    out = {}
    for p in sorted(root.rglob("*")):
        st = os.lstat(p)
        rel = str(p.relative_to(root))
        if stat.S_ISLNK(st.st_mode):
            out[rel] = ("l", os.readlink(p))
        elif stat.S_ISDIR(st.st_mode):
            out[rel] = ("d",)
        elif stat.S_ISREG(st.st_mode):
            out[rel] = ("f", oct(st.st_mode & 0o7777), p.read_bytes())
        else:
            out[rel] = ("other", stat.S_IFMT(st.st_mode))
    return out


def inodes(root):
    """Inode, mode, mtime, link count and content of every entry: equal
    means nothing in the tree was touched."""
    out = {}
    for p in sorted(pathlib.Path(root).rglob("*")):
        st = os.lstat(p)
        data = p.read_bytes() if stat.S_ISREG(st.st_mode) else None
        out[str(p)] = (st.st_ino, st.st_mode, st.st_mtime_ns, st.st_uid, st.st_gid, data)
    return out


def meta(root):
    """lstat of every entry (no content)."""
    out = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for n in dirnames + filenames:
            st = os.lstat(os.path.join(dirpath, n))
            out[os.path.join(dirpath, n)] = (st.st_ino, st.st_mode, st.st_mtime_ns, st.st_size)
    return out


def chain_hex(rec):
    return rec["chain"].split(":", 1)[1]


def chains(rec):
    """The hex ChainIDs of REC's layer prefixes (the store may keep a tree
    for each), the image's own last."""
    return {c.split(":", 1)[1] for c in rec.get("chains", [])} | {chain_hex(rec)}


def sbx_pids(needle):
    """Processes whose command line mentions NEEDLE (sbx and its workers)."""
    pids = []
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                with open(f"/proc/{d}/cmdline", "rb") as f:
                    if needle.encode() in f.read():
                        pids.append(int(d))
            except OSError:
                pass
    return pids


def wait_gone(needle, timeout=10):
    deadline = time.monotonic() + timeout
    while sbx_pids(needle):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True


# ---- fixtures --------------------------------------------------------------------------

@pytest.fixture(scope="module")
def base(rootfs):
    """The test rootfs (busybox, the probe, the mount points) as one gzip layer."""
    return Layer.of_tree(rootfs, compression="gzip")


@pytest.fixture
def canaries(tmp_path):
    """A canary directory beside the store and the images, and one outside
    /tmp: byte-for-byte unchanged afterwards (content, inode, mtime)."""
    near = tmp_path / "canary"
    near.mkdir()
    (near / "file").write_text("near canary\n")
    (near / "dir").mkdir()
    (near / "dir" / "inner").write_text("inner\n")
    far = pathlib.Path(tempfile.mkdtemp(prefix="sbx-images-canary-", dir="/var/tmp"))
    (far / "file").write_text("far canary\n")
    (far / "dir").mkdir()
    (far / "dir" / "inner").write_text("inner\n")
    before = (snapshot(near), snapshot(far), os.stat(near).st_mtime_ns, os.stat(far).st_mtime_ns)
    yield near, far
    try:
        after = (snapshot(near), snapshot(far), os.stat(near).st_mtime_ns, os.stat(far).st_mtime_ns)
        assert after == before, "HOST PATH WAS CHANGED: a path escape"
    finally:
        shutil.rmtree(far)


def small(*extra):
    """A tiny first layer, for hostile images that need no shell."""
    return Layer.of([dir_("./"), dir_("bin"), dir_("tmp", mode=0o1777), file("x", b"x\n"), *extra])


# ---- 1. interoperability ----------------------------------------------------------------

def umoci(*args):
    cmd, rest = args[0], list(args[1:])
    if os.geteuid() != 0 and cmd in ("unpack", "insert"):
        rest = ["--rootless", *rest]
    return subprocess.run(["umoci", cmd, *rest], capture_output=True, text=True)


@pytest.fixture(scope="module")
def umoci_image(tmp_path_factory, rootfs):
    """An OCI layout made by umoci: `insert` of the test rootfs (plus a file
    and a directory to delete) as tag base, then `unpack`, the deletions
    and an addition, and `repack` as tag v2: v2's second layer carries the
    whiteouts umoci writes."""
    if not shutil.which("umoci"):
        pytest.skip("umoci is not installed (scripts/deps installs it)")
    d = tmp_path_factory.mktemp("umoci")
    os.chmod(d, 0o755)
    src = d / "src"
    shutil.copytree(rootfs, src, symlinks=True)
    (src / "etc" / "gone").write_text("to be deleted\n")
    (src / "srv" / "gone" / "sub").mkdir(parents=True)
    (src / "srv" / "gone" / "sub" / "f").write_text("deleted with its directory\n")
    (src / "srv" / "kept").write_text("kept\n")
    lay = d / "lay"
    for step in (["init", "--layout", str(lay)], ["new", "--image", f"{lay}:base"],
                 ["insert", "--image", f"{lay}:base", str(src), "/"]):
        r = umoci(*step)
        if r.returncode:
            pytest.skip(f"umoci {step[0]} fails in mode {MODE}: {r.stderr.strip()}")
    bundle = d / "bundle"
    r = umoci("unpack", "--image", f"{lay}:base", str(bundle))
    if r.returncode:
        pytest.skip(f"umoci unpack fails in mode {MODE}: {r.stderr.strip()}")
    rfs = bundle / "rootfs"
    os.unlink(rfs / "etc" / "gone")
    shutil.rmtree(rfs / "srv" / "gone")
    (rfs / "etc" / "added").write_text("added by the second layer\n")
    r = umoci("repack", "--image", f"{lay}:v2", str(bundle))
    assert r.returncode == 0, r.stderr
    r = subprocess.run(["umoci", "config", "--image", f"{lay}:v2", "--config.cmd", "/bin/cat",
                        "--config.cmd", "/srv/kept"], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert oci.validate(lay, "v2") == []
    # The second layer really has whiteouts (else the test proves nothing).
    l = Layout(lay)
    idx = l.index()
    v2 = [m for m in idx["manifests"] if m["annotations"][oci.REF_NAME] == "v2"][0]
    man = json.loads(l.blob_path(v2["digest"]).read_text())
    with tarfile.open(l.blob_path(man["layers"][-1]["digest"])) as t:
        names = t.getnames()
    assert any(n.endswith(".wh.gone") and "etc" in n for n in names), names
    assert any(n.endswith(".wh.gone") and "srv" in n for n in names), names
    oci.world_readable(d)
    return lay, rfs


def test_umoci_image_with_whiteouts(store, umoci_image):
    lay, want_root = umoci_image
    r = imp(store, lay, "--name", "um:v2", "--json")
    assert r.returncode == 0, r.stderr
    rec = json.loads(r.stdout)
    assert rec["name"] == "um" and rec["tag"] == "v2" and len(rec["layers"]) == 2
    assert rec["whiteouts"] >= 2 and rec["layers_unpacked"] == 2
    got = pathlib.Path(rec["rootfs"])
    assert not (got / "etc" / "gone").exists() and not (got / "srv" / "gone").exists()
    assert not [n for n in tree(got) if ".wh." in n], "whiteout files were left in the tree"
    # Everything else is what umoci itself unpacks.
    assert tree(got) == tree(want_root)
    r = run_image(store, "um:v2", "/bin/sh", "-c",
                  "cat /etc/added /srv/kept; ls /etc/gone /srv/gone 2>/dev/null; echo end")
    assert r.returncode == 0 and r.stdout == "added by the second layer\nkept\nend\n", (r.stdout, r.stderr)
    # The config umoci wrote: Cmd without a command.
    r = run_image(store, "um:v2")
    assert r.returncode == 0 and r.stdout == "kept\n", r.stderr
    # The base tag of the same layout is the first layer only.
    rec_base = imp_json(store, lay, "--name", "um:base")
    assert rec_base["layers_unpacked"] == 0 and rec_base["layers_reused"] == 1
    assert (pathlib.Path(rec_base["rootfs"]) / "etc" / "gone").read_text() == "to be deleted\n"


@pytest.mark.skipif(not shutil.which("skopeo"), reason="skopeo is not installed (scripts/deps installs it)")
def test_skopeo_archives_give_the_same_image(tmp_path, store, umoci_image):
    lay, want_root = umoci_image
    ref = imp_json(store, lay, "--name", "ref:v2")
    for kind, dest in [("oci-archive", "oci-archive:{f}:v2"), ("docker-archive", "docker-archive:{f}:sk/dock:v2")]:
        f = tmp_path / f"{kind}.tar"
        r = subprocess.run(["skopeo", "copy", "--quiet", f"oci:{lay}:v2", dest.format(f=f)],
                           capture_output=True, text=True)
        assert r.returncode == 0, r.stderr
        os.chmod(f, 0o644)
        # Alone in a store of its own: the same tree, from scratch.
        own = tmp_path / f"store-{kind}"
        try:
            rec = imp_json(own, f, "--name", f"sk-{kind}")
            assert rec["chain"] == ref["chain"], kind
            assert [l["diff_id"] for l in rec["layers"]] == [l["diff_id"] for l in ref["layers"]]
            assert rec["layers_unpacked"] == 2
            assert tree(rec["rootfs"]) == tree(want_root), kind
            assert run_image(own, f"sk-{kind}").stdout == "kept\n"
        finally:
            sbx("image", "rm", "--store", str(own), f"sk-{kind}")
            sbx("image", "gc", "--store", str(own))
        # Beside the layout's import: nothing to unpack.
        rec = imp_json(store, f, "--name", f"sk-{kind}")
        assert rec["chain"] == ref["chain"] and rec["rootfs"] == ref["rootfs"]
        assert rec["layers_unpacked"] == 0, kind
    # A docker archive's name is its RepoTags[0] when no --name is given.
    with tarfile.open(tmp_path / "docker-archive.tar") as t:
        repo_tag = json.load(t.extractfile("manifest.json"))[0]["RepoTags"][0]
    assert repo_tag.endswith("sk/dock:v2")  # skopeo writes docker.io/sk/dock:v2
    r = imp(store, tmp_path / "docker-archive.tar")
    assert r.returncode == 0 and r.stdout.split()[0] == repo_tag, (r.stdout, r.stderr)
    assert inspect(store, repo_tag)["chain"] == ref["chain"]
    assert store_state(store)[3] == [], "scratch of the archives left in tmp/"


@pytest.mark.parametrize("how", [None, "gzip", "zstd"])
def test_layer_compressions(tmp_path, store, rootfs, how):
    if how == "zstd" and not oci.have_zstd():
        pytest.skip("the zstd command is not installed (apt-get install zstd)")
    layers = [Layer.of_tree(rootfs, compression=how),
              Layer.of([file("etc/compression", f"{how}\n"), whiteout("notexec")], compression=how)]
    lay = oci.layout(tmp_path / "lay", layers).readable()
    assert oci.validate(lay.path) == []
    rec = imp_json(store, lay.path, "--name", "c")
    assert [l["media_type"] for l in rec["layers"]] == [oci.MT_LAYER[how]] * 2
    assert [l["diff_id"] for l in rec["layers"]] == [l.diff_id for l in layers]
    r = run_image(store, "c", "/bin/sh", "-c", "cat /etc/compression; test -e /notexec || echo removed")
    assert r.returncode == 0 and r.stdout == f"{how}\nremoved\n", r.stderr


def test_chain_does_not_depend_on_compression(tmp_path, store, rootfs):
    """The ChainID is over diff_ids: the same layers compressed three ways
    (one image mixing all three) are one tree."""
    entries = [oci.tree_entries(rootfs), [file("etc/mixed", "mixed\n")], [file("etc/third", "3\n")]]
    hows = [None, "gzip", "zstd"] if oci.have_zstd() else [None, "gzip", "gzip"]
    recs = []
    for i in range(3):
        rot = hows[i:] + hows[:i]
        lay = oci.layout(tmp_path / f"lay{i}", [Layer.of(e, h) for e, h in zip(entries, rot)]).readable()
        recs.append(imp_json(store, lay.path, "--name", f"mix{i}"))
    assert recs[0]["chain"] == recs[1]["chain"] == recs[2]["chain"]
    assert recs[0]["layers_unpacked"] == 3
    assert recs[1]["layers_unpacked"] == recs[2]["layers_unpacked"] == 0
    # One config (the same diff_ids), three manifests (different blobs).
    assert len({r["id"] for r in recs}) == 1 and len({r["manifest"] for r in recs}) == 3
    assert run_image(store, "mix2", "/bin/cat", "/etc/mixed", "/etc/third").stdout == "mixed\n3\n"


def test_multi_platform_index_picks_linux_amd64(tmp_path, store, base):
    lay = Layout(tmp_path / "lay")

    def img(plat, **kw):
        return lay.image([base, Layer.of([file("platform", plat + "\n")])], **kw)
    arm = img("linux/arm64", arch="arm64")
    win = img("windows/amd64", os_="windows")
    armv7 = img("linux/arm/v7", arch="arm", variant="v7")
    ppc = img("linux/ppc64le", arch="ppc64le")
    amd = img("linux/amd64")
    # As `skopeo copy --all` lays it out: index.json names one index (by
    # ref.name), which lists the platforms, one of them through another index.
    nested = lay.nested_index([ppc, amd])
    top = lay.nested_index([arm, win, armv7, nested])
    lay.write_index([top], ref="multi")
    lay.readable()
    r = imp(store, lay.path, "--json")
    assert r.returncode == 0, r.stderr
    rec = json.loads(r.stdout)
    assert (rec["name"], rec["tag"], rec["platform"]) == ("multi", "latest", "linux/amd64")
    assert rec["manifest"] == amd["digest"]
    r = run_image(store, "multi", "/bin/cat", "/platform")
    assert r.returncode == 0 and r.stdout == "linux/amd64\n", r.stderr
    # Top level, after a foreign one.
    lay2 = Layout(tmp_path / "lay2")
    a = lay2.image([base, Layer.of([file("platform", "arm64\n")])], arch="arm64")
    b = lay2.image([base, Layer.of([file("platform", "amd64\n")])])
    lay2.write_index([a, b])
    lay2.readable()
    assert imp(store, lay2.path, "--name", "top").returncode == 0
    assert run_image(store, "top", "/bin/cat", "/platform").stdout == "amd64\n"
    # Nothing for this host: refused, naming what there is.
    lay3 = Layout(tmp_path / "lay3")
    lay3.write_index([lay3.image([base], arch="arm64"), lay3.image([base], arch="s390x")])
    lay3.readable()
    r = imp(store, lay3.path, "--name", "foreign")
    assert r.returncode == REFUSED and "arm64" in r.stderr and "amd64" in r.stderr, r.stderr
    assert not (store / "images" / "foreign:latest.json").exists()


# ---- 2. the store ---------------------------------------------------------------------

def test_importing_again_unpacks_nothing(tmp_path, store, base):
    lay = oci.layout(tmp_path / "lay", [base, Layer.of([file("etc/v", "1\n")])]).readable()
    first = imp_json(store, lay.path, "--name", "again")
    assert first["layers_unpacked"] == 2 and first["layers_reused"] == 0
    assert first["rootfs"] == str(store.resolve() / "rootfs" / chain_hex(first))
    before = inodes(first["rootfs"])
    second = imp_json(store, lay.path, "--name", "again")
    assert second["layers_unpacked"] == 0
    assert second["rootfs"] == first["rootfs"] and second["chain"] == first["chain"]
    assert second["id"] == first["id"]
    assert inodes(first["rootfs"]) == before, "the published tree was rebuilt or touched"
    trees = store_state(store)[1]
    assert chain_hex(first) in trees and set(trees) <= chains(first), trees


def test_a_shared_prefix_is_reused_and_never_changed(tmp_path, store, base):
    a_top = Layer.of([dir_("etc"), file("etc/shared", "from A\n", mode=0o644),
                      file("bin/tool", "#!/bin/sh\necho A\n", mode=0o755),
                      file("etc/linked", "linked from A\n"), hardlink("etc/hard", "etc/linked"),
                      dir_("data", mode=0o755), file("data/keep", "keep\n")])
    b_top = Layer.of([file("etc/shared", "B rewrote it\n", mode=0o600, uid=1000, gid=1000),  # overwrite, chmod, chown
                      file("bin/tool", "#!/bin/sh\necho A\n", mode=0o700),    # chmod only, same data
                      file("etc/hard", "B wrote through the hardlink\n"),     # write to a linked name
                      dir_("data", mode=0o711),                                # a directory chmodded
                      whiteout("data/keep"), whiteout("notexec")])
    a = oci.layout(tmp_path / "a", [base, a_top]).readable()
    b = oci.layout(tmp_path / "b", [base, a_top, b_top]).readable()
    ra = imp_json(store, a.path, "--name", "a")
    tree_a = pathlib.Path(ra["rootfs"])
    before = inodes(tree_a)
    data_mode = os.stat(tree_a / "data").st_mode
    rb = imp_json(store, b.path, "--name", "b")
    assert rb["layers_reused"] >= 1 and rb["layers_reused"] == 2 and rb["layers_unpacked"] == 1
    tree_b = pathlib.Path(rb["rootfs"])
    assert tree_b != tree_a
    # A's tree: content, mode, inode and mtime of every entry as they were.
    assert inodes(tree_a) == before, "importing B changed A's tree"
    assert os.stat(tree_a / "data").st_mode == data_mode
    # B's tree has B's changes (the 0600 file is read inside, by its owner:
    # on the host it may belong to a subordinate id).
    assert os.stat(tree_b / "etc" / "shared").st_mode & 0o777 == 0o600
    r = run_image(store, "b", "/bin/sh", "-c", "stat -c %u /etc/shared; cat /etc/shared")
    assert r.returncode == 0 and r.stdout == "1000\nB rewrote it\n", (r.stdout, r.stderr)
    assert os.stat(tree_b / "bin" / "tool").st_mode & 0o777 == 0o700
    assert (tree_b / "etc" / "hard").read_text() == "B wrote through the hardlink\n"
    assert os.stat(tree_b / "data").st_mode & 0o777 == 0o711 and not (tree_b / "notexec").exists()
    assert not (tree_b / "data" / "keep").exists()
    # Both run, each seeing its own tree.
    ca = "cat /etc/shared /etc/linked /data/keep; test -e /notexec && echo has-notexec"
    assert run_image(store, "a", "/bin/sh", "-c", ca).stdout == "from A\nlinked from A\nkeep\nhas-notexec\n"
    rb_run = run_image(store, "b", "/bin/sh", "-c", "test -e /notexec || echo gone; cat /etc/hard")
    assert rb_run.stdout == "gone\nB wrote through the hardlink\n", rb_run.stderr
    # Removing A keeps B whole (B's tree is its own).  (lstat only: rootless
    # with ranges some of B's files are not readable from the host.)
    snap_b = meta(tree_b)
    assert sbx("image", "rm", "--store", str(store), "a").returncode == 0
    assert sbx("image", "gc", "--store", str(store)).returncode == 0
    assert meta(tree_b) == snap_b


def test_ls_inspect_rm_gc(tmp_path, store, base):
    lay = oci.layout(tmp_path / "lay", [base, Layer.of([file("etc/who", "one\n")])],
                     config={"Env": ["K=V"], "Cmd": ["/bin/cat", "/etc/who"], "WorkingDir": "/tmp",
                             "User": "1:1"}).readable()
    r = imp(store, lay.path, "--name", "library/one:1")
    assert r.returncode == 0, r.stderr
    name, image_id = r.stdout.split()
    assert name == "library/one:1" and image_id.startswith("sha256:") and len(image_id) == 71
    assert imp(store, lay.path, "--name", "two").returncode == 0
    assert (store / "images" / "library+one:1.json").is_file()
    assert (store / "images" / "two:latest.json").is_file()

    rec = inspect(store, "library/one:1")
    assert rec["name"] == "library/one" and rec["tag"] == "1" and rec["id"] == image_id
    assert rec["platform"] == "linux/amd64" and rec["created"] == oci.CREATED
    assert rec["manifest"].startswith("sha256:") and rec["chain"].startswith("sha256:")
    assert rec["rootfs"] == str(store.resolve() / "rootfs" / chain_hex(rec))
    assert pathlib.Path(rec["rootfs"]).is_dir()
    assert rec["size"] >= os.path.getsize(os.path.join(rec["rootfs"], "bin/busybox"))
    assert [l["diff_id"] for l in rec["layers"]] == [base.diff_id, rec["layers"][1]["diff_id"]]
    assert rec["layers"][0] == {"digest": oci.digest(base.blob), "diff_id": base.diff_id,
                                "size": len(base.blob), "media_type": oci.MT_LAYER["gzip"]}
    assert rec["config"]["Env"] == ["K=V"] and rec["config"]["Cmd"] == ["/bin/cat", "/etc/who"]
    assert rec["config"]["WorkingDir"] == "/tmp" and rec["config"]["User"] == "1:1"
    assert rec["config"]["Entrypoint"] is None
    for blob in (rec["manifest"], rec["id"]):
        assert (store / "blobs" / "sha256" / blob.split(":")[1]).is_file()
    assert inspect(store, "two") == inspect(store, "two:latest")

    r = sbx("image", "ls", "--json", "--store", str(store))
    assert r.returncode == 0
    listed = json.loads(r.stdout)
    assert sorted((x["name"], x["tag"]) for x in listed) == [("library/one", "1"), ("two", "latest")]
    assert {x["id"] for x in listed} == {image_id}
    r = sbx("image", "ls", "--store", str(store))
    lines = r.stdout.splitlines()
    assert r.returncode == 0 and lines[0].split() == ["NAME", "TAG", "ID", "SIZE", "CREATED"]
    assert sorted(l.split()[:2] for l in lines[1:]) == [["library/one", "1"], ["two", "latest"]]
    assert all(image_id[7:19] in l for l in lines[1:])

    for cmd in (["inspect", "nope"], ["rm", "nope"], ["inspect", "two:other"]):
        r = sbx("image", *cmd, "--store", str(store))
        assert r.returncode == MISSING and r.stderr.startswith("sbx: "), (cmd, r.returncode, r.stderr)
    assert imp(store, tmp_path / "no-such-layout", "--name", "x").returncode == MISSING

    # rm of one name keeps the tree the other still uses.
    root = pathlib.Path(rec["rootfs"])
    assert sbx("image", "rm", "--store", str(store), "library/one:1").returncode == 0
    assert not (store / "images" / "library+one:1.json").exists() and root.is_dir()
    r = run_image(store, "two")
    assert r.returncode == 0 and r.stdout == "one\n", r.stderr
    assert sbx("image", "gc", "--store", str(store)).returncode == 0
    assert root.is_dir()
    # rm of the last name removes the tree.
    assert sbx("image", "rm", "--store", str(store), "two").returncode == 0
    assert not root.exists()
    assert json.loads(sbx("image", "ls", "--json", "--store", str(store)).stdout) == []
    assert store_state(store)[:2] == ([], [])


def test_a_name_imported_again_moves_and_gc_removes_the_old_tree(tmp_path, store, base):
    one = oci.layout(tmp_path / "one", [base, Layer.of([file("v", "1\n")])]).readable()
    two = oci.layout(tmp_path / "two", [base, Layer.of([file("v", "2\n")])]).readable()
    r1 = imp_json(store, one.path, "--name", "n")
    r2 = imp_json(store, two.path, "--name", "n")
    assert r2["layers_reused"] == 1 and r2["layers_unpacked"] == 1
    assert inspect(store, "n")["id"] == r2["id"] != r1["id"]
    assert run_image(store, "n", "/bin/cat", "/v").stdout == "2\n"
    r = sbx("image", "gc", "--store", str(store))
    assert r.returncode == 0, r.stderr
    assert not os.path.exists(r1["rootfs"]) and chain_hex(r1) in r.stdout
    assert os.path.isdir(r2["rootfs"])
    trees = store_state(store)[1]
    assert chain_hex(r2) in trees and set(trees) <= chains(r2), trees


def test_no_name_is_refused(tmp_path, store, base):
    lay = oci.layout(tmp_path / "lay", [base], ref=None).readable()
    r = imp(store, lay.path)
    assert r.returncode == FAILED and "--name" in r.stderr, (r.returncode, r.stderr)
    assert_nothing_published(store)


def leftover_store(tmp_path, store, base):
    lay = oci.layout(tmp_path / "lay", [base]).readable()
    rec = imp_json(store, lay.path, "--name", "kept")
    return rec, inodes(rec["rootfs"])


def assert_gc_cleaned(store, rec, keep, name):
    r = sbx("image", "gc", "--store", str(store))
    assert r.returncode == 0, r.stderr
    assert name in r.stdout, r.stdout
    recs, trees, building, scratch = store_state(store)
    assert building == [] and scratch == [], (building, scratch)
    assert chain_hex(rec) in trees and recs == ["kept:latest.json"]
    assert inodes(rec["rootfs"]) == keep
    assert run_image(store, "kept", "/bin/true").returncode == 0


def test_gc_removes_leftovers_and_follows_no_links(tmp_path, store, base, canaries):
    """What a SIGKILLed import leaves (a tree being built, scratch), with
    links out of the store and a deep path in it."""
    near, far = canaries
    rec, keep = leftover_store(tmp_path, store, base)
    left = store / "rootfs" / ".tmp-leftover"
    (left / "etc").mkdir(parents=True)
    (left / "etc" / "f").write_text("x")
    (left / "to-near").symlink_to(near)
    (left / "to-far-file").symlink_to(far / "file")
    (left / "/".join(["d"] * 100)).mkdir(parents=True)
    (store / "tmp").mkdir(exist_ok=True)
    (store / "tmp" / "import-junk").mkdir()
    (store / "tmp" / "import-junk" / "blob").write_bytes(b"\0" * 4096)
    (store / "tmp" / "import-junk" / "out").symlink_to(near)
    assert_gc_cleaned(store, rec, keep, ".tmp-leftover")


def test_gc_removes_a_leftover_that_is_a_symlink(tmp_path, store, base, canaries):
    """rootfs/.tmp-x -> a host directory: the link goes, the directory stays."""
    near, far = canaries
    rec, keep = leftover_store(tmp_path, store, base)
    (store / "rootfs" / ".tmp-link").symlink_to(far)
    assert_gc_cleaned(store, rec, keep, ".tmp-link")


def test_gc_removes_a_leftover_with_a_read_only_directory(tmp_path, store, base):
    """An image's 0555 directory in a tree being built (root keeps such
    modes while unpacking)."""
    rec, keep = leftover_store(tmp_path, store, base)
    left = store / "rootfs" / ".tmp-ro"
    (left / "ro" / "inner").mkdir(parents=True)
    (left / "ro" / "inner" / "f").write_text("x")
    os.chmod(left / "ro" / "inner", 0o555)
    os.chmod(left / "ro", 0o555)
    assert_gc_cleaned(store, rec, keep, ".tmp-ro")


def test_gc_and_rm_spare_a_tree_in_use(tmp_path, store, base):
    lay = oci.layout(tmp_path / "lay", [base]).readable()
    rec = imp_json(store, lay.path, "--name", "busy")
    p = subprocess.Popen([SBX, "run", "--store", str(store), "--image", "busy", "--", "/bin/sh", "-c",
                          "echo ready; read x; cat /notexec"],
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert p.stdout.readline() == "ready\n", p.stderr.read()
        assert sbx("image", "rm", "--store", str(store), "busy").returncode == 0
        sbx("image", "gc", "--store", str(store))
        assert os.path.isdir(rec["rootfs"]), "the tree of a running sandbox was removed"
        out, err = p.communicate("go\n", timeout=30)
        assert p.returncode == 0 and out == "not a program\n", err
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    r = sbx("image", "gc", "--store", str(store))
    assert r.returncode == 0 and not os.path.exists(rec["rootfs"]), r.stdout


# ---- 3. the image config --------------------------------------------------------------

PASSWD = b"root:x:0:0:root:/root:/bin/sh\napp:x:2345:3456:app:/home/app:/bin/sh\n"
GROUP = b"root:x:0:\napp:x:3456:\n"


def config_image(tmp_path, store, base, name, config, extra=()):
    lay = oci.layout(tmp_path / name, [base, Layer.of([file("etc/passwd", PASSWD), file("etc/group", GROUP),
                                                       dir_("srv"), *extra])], config=config).readable()
    r = imp(store, lay.path, "--name", name)
    assert r.returncode == 0, r.stderr


def test_config_env_and_e_override(tmp_path, store, base):
    config_image(tmp_path, store, base, "env", {"Env": ["FROM_IMAGE=yes", "SHADOWED=image", "PATH=/bin"]})
    r = run_image(store, "env", "/bin/env", opts=["-e", "SHADOWED=cli", "-e", "EXTRA=1"])
    assert r.returncode == 0, r.stderr
    env = dict(l.split("=", 1) for l in r.stdout.splitlines())
    assert env["FROM_IMAGE"] == "yes" and env["SHADOWED"] == "cli" and env["EXTRA"] == "1"
    assert env["PATH"] == "/bin"


def test_config_entrypoint_and_cmd(tmp_path, store, base):
    config_image(tmp_path, store, base, "ep", {"Entrypoint": ["/bin/echo", "ep"], "Cmd": ["cmd1", "cmd2"]})
    r = run_image(store, "ep")
    assert r.returncode == 0 and r.stdout == "ep cmd1 cmd2\n", r.stderr
    # The spec (image-spec.md, README "Images"): a command given replaces
    # both Entrypoint and Cmd -- not Docker's "replaces Cmd only".
    r = run_image(store, "ep", "/bin/echo", "mine")
    assert r.returncode == 0 and r.stdout == "mine\n", (r.stdout, r.stderr)
    config_image(tmp_path, store, base, "cmdonly", {"Cmd": ["/bin/echo", "just", "cmd"]})
    assert run_image(store, "cmdonly").stdout == "just cmd\n"
    config_image(tmp_path, store, base, "eponly", {"Entrypoint": ["/bin/echo", "just-ep"]})
    assert run_image(store, "eponly").stdout == "just-ep\n"
    # Neither, and no command: an error of sbx's, not a shell.
    config_image(tmp_path, store, base, "none", {})
    r = run_image(store, "none")
    assert r.returncode == FAILED and r.stderr.startswith("sbx: "), (r.returncode, r.stderr)


def test_config_workingdir(tmp_path, store, base, workspace):
    config_image(tmp_path, store, base, "wd", {"WorkingDir": "/srv", "Cmd": ["/bin/sh", "-c", "pwd"]})
    assert run_image(store, "wd").stdout == "/srv\n"
    r = run_image(store, "wd", opts=["-w", str(workspace)])
    assert r.returncode == 0 and r.stdout == "/workspace\n", r.stderr


@pytest.mark.parametrize("user,want", [("1234:1234", "1234:1234"), ("1234", "1234:1234"),
                                       ("app", "2345:3456"), ("app:app", "2345:3456")])
def test_config_user(tmp_path, store, base, user, want):
    config_image(tmp_path, store, base, "u", {"User": user, "Cmd": ["/bin/sh", "-c", "echo $(id -u):$(id -g)"]})
    r = run_image(store, "u")
    assert r.returncode == 0 and r.stdout == want + "\n", (user, r.stdout, r.stderr)
    r = run_image(store, "u", opts=["--user", "77:88"])
    assert r.stdout == "77:88\n", r.stderr


def test_config_user_unknown_name(tmp_path, store, base):
    config_image(tmp_path, store, base, "ghost", {"User": "ghost", "Cmd": ["/bin/true"]})
    r = run_image(store, "ghost")
    assert r.returncode == FAILED and "ghost" in r.stderr, (r.returncode, r.stderr)
    assert run_image(store, "ghost", opts=["--user", "5"]).returncode == 0


@pytest.mark.parametrize("user", ["0", "root", "0:0", "root:root"])
def test_an_images_root_user_needs_user_0(tmp_path, store, base, user):
    """README: uid 0 inside only when asked for -- an image cannot ask."""
    config_image(tmp_path, store, base, "r", {"User": user, "Cmd": ["/bin/sh", "-c", "echo $(id -u):$(id -g)"]})
    r = run_image(store, "r")
    assert r.returncode == 0 and r.stdout == "1000:1000\n", (user, r.stdout, r.stderr)
    assert "User is root" in r.stderr and "--user 0" in r.stderr, r.stderr
    assert len(r.stderr.splitlines()) == 1, r.stderr
    r = run_image(store, "r", opts=["--user", "0"])
    assert r.returncode == 0 and r.stdout == "0:0\n" and r.stderr == "", (r.stdout, r.stderr)


def test_image_text_never_reaches_the_terminal_raw(tmp_path, store, base):
    """An image's strings (here its User) are escaped in every message."""
    user = "\x1b]0;owned\x07\x1b[2J\u009b31mghost\xff"
    config_image(tmp_path, store, base, "esc", {"User": user, "Cmd": ["/bin/true"]})
    r = subprocess.run([SBX, "run", "--no-tty", "--store", str(store), "--image", "esc", "-v"],
                       capture_output=True, timeout=60)
    assert r.returncode == FAILED, r
    err = r.stderr.decode("utf-8", "replace")
    assert "\\x1b]0;owned\\x07\\x1b[2J" in err and "ghost" in err, err
    assert not any(b < 0x20 and b not in (0x0a,) for b in r.stderr), r.stderr
    assert b"\xc2\x9b" not in r.stderr and b"\x7f" not in r.stderr, r.stderr


def test_run_without_an_image_says_how_to_make_one(tmp_path):
    empty = tmp_path / "empty-store"
    r = sbx("run", "--store", str(empty), "--", "/bin/true")
    assert r.returncode == FAILED, (r.returncode, r.stderr)
    assert "rootfs/build" in r.stderr and "rootfs" in r.stderr, r.stderr
    assert len(r.stderr.strip().splitlines()) == 1
    env = dict(os.environ, SBX_STORE=str(empty))
    r = sbx("run", "--", "/bin/true", env=env)
    assert r.returncode == FAILED and "rootfs/build" in r.stderr, r.stderr
    r = sbx("run", "--store", str(empty), "--image", "nope", "--", "/bin/true")
    assert r.returncode != 0 and "nope" in r.stderr


# ---- 4. hostile images -----------------------------------------------------------------

def corrupt(path):
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x55
    path.write_bytes(bytes(data))


def case_layer_digest(t, base, near):
    lay = oci.layout(t, [small()])
    corrupt(lay.blob_path(lay.manifest()["layers"][0]["digest"]))
    return lay.path, [], "digest"


def case_size_bigger(t, base, near):
    return oci.layout(t, [small()], layer_overrides=[{"size": len(small().blob) + 1}]).path, [], "descriptor says"


def case_size_smaller(t, base, near):
    return oci.layout(t, [small()], layer_overrides=[{"size": len(small().blob) - 1}]).path, [], "descriptor says"


def case_diff_id(t, base, near):
    return oci.layout(t, [small()], diff_ids=["sha256:" + "0" * 64]).path, [], "diff_id"


def case_diff_ids_count(t, base, near):
    return oci.layout(t, [small(), Layer.of([file("y", "y")])], diff_ids=[small().diff_id]).path, [], "diff_id"


def case_config_digest(t, base, near):
    lay = oci.layout(t, [small()])
    corrupt(lay.blob_path(lay.manifest()["config"]["digest"]))
    return lay.path, [], "digest"


def case_manifest_digest(t, base, near):
    lay = oci.layout(t, [small()])
    corrupt(lay.blob_path(lay.index()["manifests"][0]["digest"]))
    return lay.path, [], "digest"


def case_manifest_says_index(t, base, near):
    lay = Layout(t)
    man = lay.image([small()], manifest_media_type=oci.MT_INDEX)
    lay.write_index([man], ref="evil")
    return lay.path, [], "index"


def case_manifest_and_index(t, base, near):
    """CVE-2021-41190: read as an index it names another image."""
    lay = Layout(t)
    other = lay.image([small(file("other", "other"))])
    man = lay.image([small()], manifest_extra={"manifests": [other]})
    lay.write_index([man], ref="evil")
    return lay.path, [], "ambiguous"


def case_index_with_layers(t, base, near):
    lay = Layout(t)
    inner = lay.image([small()])
    nested = lay.put_json({"schemaVersion": 2, "mediaType": oci.MT_INDEX, "manifests": [inner],
                           "layers": [lay.put(small().blob, oci.MT_LAYER[None])],
                           "config": lay.put(b"{}", oci.MT_CONFIG)}, oci.MT_INDEX)
    lay.write_index([nested], ref="evil")
    return lay.path, [], "ambiguous"


def case_unknown_layer_type(t, base, near):
    return oci.layout(t, [small()], layer_overrides=[{"mediaType": "application/vnd.oci.image.layer.v1.tar+bzip2"}]
                      ).path, [], "media"


def case_foreign_layer_type(t, base, near):
    return oci.layout(t, [small()], layer_overrides=[{"mediaType": "text/plain"}]).path, [], "media"


def case_gzip_labelled_tar(t, base, near):
    gz = Layer.of([dir_("./"), file("x", "x")], compression="gzip")
    gz.media_type = oci.MT_LAYER[None]
    return oci.layout(t, [gz]).path, [], "mediaType"


def case_tar_labelled_zstd(t, base, near):
    plain = Layer.of([dir_("./"), file("x", "x")])
    plain.media_type = oci.MT_LAYER["zstd"]
    return oci.layout(t, [plain]).path, [], "layer"


def case_config_media_type(t, base, near):
    return oci.layout(t, [small()], config_overrides={"mediaType": oci.MT_LAYER["gzip"]}).path, [], "config"


def _digest_case(bad, where):
    def case(t, base, near):
        # A real blob where the path trick would lead, so that following it
        # would find something.
        (t.parent / "outside").write_bytes(small().blob)
        if where == "layer":
            return oci.layout(t, [small()], layer_overrides=[{"digest": bad}]).path, [], "digest"
        if where == "config":
            return oci.layout(t, [small()], config_overrides={"digest": bad}).path, [], "digest"
        lay = oci.layout(t, [small()])
        idx = lay.index()
        idx["manifests"][0]["digest"] = bad
        lay.write_index(None, raw=json.dumps(idx))
        return lay.path, [], "digest"
    return case


BAD_DIGESTS = {"dotdot": "sha256:../../../outside", "dotdot-hex": "sha256:../../../" + "a" * 55,
               "upper": "sha256:" + "A" * 64, "short": "sha256:" + "a" * 63, "long": "sha256:" + "a" * 65,
               "slash": "sha256:" + "a" * 32 + "/" + "a" * 31, "absolute": "sha256:/etc/passwd",
               "no-algo": "a" * 64, "sha512": "sha512:" + "a" * 128, "empty": ""}


def case_index_outside_blobs(t, base, near):
    """index.json names a blob by a path out of blobs/ (where a valid
    manifest waits)."""
    lay = oci.layout(t, [small()])
    idx = lay.index()
    man_path = lay.blob_path(idx["manifests"][0]["digest"])
    (t.parent / "manifest.json").write_bytes(man_path.read_bytes())
    idx["manifests"][0]["digest"] = "sha256:../../../manifest.json"
    lay.write_index(None, raw=json.dumps(idx))
    return lay.path, [], "digest"


def case_docker_layer_dotdot(t, base, near):
    return oci.docker_archive(t.with_suffix(".tar"), [small()], layer_paths=["../../etc/passwd"]), [], "Layers[0] is not a plain relative path"


def case_docker_layer_absolute(t, base, near):
    return oci.docker_archive(t.with_suffix(".tar"), [small()], layer_paths=["/etc/passwd"]), [], "Layers[0] is not a plain relative path"


def case_docker_layer_far(t, base, near):
    # An absolute path to a host file that IS a valid layer: must not be read.
    (t.parent / "planted").mkdir(exist_ok=True)
    good = t.parent / "planted" / "layer.tar"
    good.write_bytes(small().blob)
    return oci.docker_archive(t.with_suffix(".tar"), [small()], layer_paths=[str(good)]), [], "Layers[0] is not a plain relative path"


def case_docker_config_absolute(t, base, near):
    return oci.docker_archive(t.with_suffix(".tar"), [small()], config_path="/etc/passwd"), [], "Config is not a plain relative path"


def case_docker_config_dotdot(t, base, near):
    return oci.docker_archive(t.with_suffix(".tar"), [small()], config_path="../config.json"), [], "Config is not a plain relative path"


def case_docker_entry_dotdot(t, base, near):
    """A docker archive with an entry ../canary/dropped beside valid files."""
    out = oci.docker_archive(t.with_suffix(".tar"), [small()],
                             extra_files=[("../canary/dropped", b"pwned"), ("../../dropped", b"pwned")])
    return out, [], ".."


def case_oci_archive_blobs_to_etc(t, base, near):
    lay = oci.layout(t, [small()])
    return oci.oci_archive(lay.path, t.with_suffix(".tar"), blobs_symlink="/etc"), [], "blobs"


def case_oci_archive_blobs_to_planted(t, base, near):
    """`blobs` -> a host directory holding exactly the blobs needed."""
    lay = oci.layout(t, [small()])
    shutil.copytree(lay.path / "blobs", t.parent / "planted" / "blobs")
    return oci.oci_archive(lay.path, t.with_suffix(".tar"), blobs_symlink=str(t.parent / "planted" / "blobs")), [], "blobs"


def case_oci_archive_dotdot_entry(t, base, near):
    lay = oci.layout(t, [small()])
    return oci.oci_archive(lay.path, t.with_suffix(".tar"), extra=[("../canary/dropped", b"pwned")]), [], ".."


def _layer_entry_case(name):
    def case(t, base, near):
        return oci.layout(t, [small(file(name, "escaped"))]).path, [], ".."
    return case


def _root_symlink_case(name):
    def case(t, base, near):
        return oci.layout(t, [small(), Layer.of([symlink(name, str(near)), file("x2", "pwned")])]).path, [], "root"
    return case


def case_gzip_bomb(t, base, near):
    bomb = Layer.streamed(oci.zero_file_chunks(b"zeros", 256 << 20), "gzip")
    assert len(bomb.blob) < 1 << 20
    return oci.layout(t, [bomb]).path, ["--max-bytes", "16m"], "max-bytes"


def case_depth(t, base, near):
    return oci.layout(t, [small(file("/".join(["d"] * 300) + "/x", "deep"))]).path, [], "deep"


def case_not_json(t, base, near):
    lay = oci.layout(t, [small()])
    lay.write_index(None, raw='{"schemaVersion": 2, "manifests": [')
    return lay.path, [], "index.json"


def case_huge_size(t, base, near):
    return oci.layout(t, [small()], layer_overrides=[{"size": 1 << 62}]).path, [], "descriptor says"


def case_negative_size(t, base, near):
    return oci.layout(t, [small()], layer_overrides=[{"size": -1}]).path, [], "size"


HOSTILE = {
    "layer-digest-mismatch": case_layer_digest,
    "layer-size-bigger": case_size_bigger,
    "layer-size-smaller": case_size_smaller,
    "layer-size-2^62": case_huge_size,
    "layer-size-negative": case_negative_size,
    "diff-id-mismatch": case_diff_id,
    "diff-ids-too-few": case_diff_ids_count,
    "config-digest-mismatch": case_config_digest,
    "manifest-digest-mismatch": case_manifest_digest,
    "manifest-behind-index-mediatype": case_manifest_says_index,
    "manifest-with-manifests": case_manifest_and_index,
    "index-with-layers": case_index_with_layers,
    "layer-mediatype-bzip2": case_unknown_layer_type,
    "layer-mediatype-text": case_foreign_layer_type,
    "gzip-labelled-tar": case_gzip_labelled_tar,
    "tar-labelled-zstd": case_tar_labelled_zstd,
    "config-mediatype-layer": case_config_media_type,
    **{f"layer-digest-{k}": _digest_case(v, "layer") for k, v in BAD_DIGESTS.items()},
    **{f"config-digest-{k}": _digest_case(v, "config") for k, v in
       [("dotdot", BAD_DIGESTS["dotdot"]), ("upper", BAD_DIGESTS["upper"]), ("short", BAD_DIGESTS["short"])]},
    **{f"index-digest-{k}": _digest_case(v, "index") for k, v in
       [("dotdot", BAD_DIGESTS["dotdot"]), ("upper", BAD_DIGESTS["upper"]), ("short", BAD_DIGESTS["short"])]},
    "index-points-outside-blobs": case_index_outside_blobs,
    "index-not-json": case_not_json,
    "docker-layer-../../etc/passwd": case_docker_layer_dotdot,
    "docker-layer-/etc/passwd": case_docker_layer_absolute,
    "docker-layer-absolute-valid-host-file": case_docker_layer_far,
    "docker-config-/etc/passwd": case_docker_config_absolute,
    "docker-config-..": case_docker_config_dotdot,
    "docker-archive-entry-..": case_docker_entry_dotdot,
    "oci-archive-blobs->/etc": case_oci_archive_blobs_to_etc,
    "oci-archive-blobs->planted": case_oci_archive_blobs_to_planted,
    "oci-archive-entry-..": case_oci_archive_dotdot_entry,
    **{f"layer-entry-{n}": _layer_entry_case(n) for n in
       ["../canary/x", "a/../../canary/x", "/../canary/x", "./././../x", "..", "a/b/../../.."]},
    **{f"root-becomes-symlink-{n}": _root_symlink_case(n) for n in [".", "./", "/"]},
    "gzip-bomb": case_gzip_bomb,
    "deeper-than-256": case_depth,
}


@pytest.mark.parametrize("case", list(HOSTILE))
def test_hostile_image_is_refused(tmp_path, store, base, canaries, case):
    near, far = canaries
    path, opts, needle = HOSTILE[case](tmp_path / "img", base, near)
    oci.world_readable(tmp_path)
    # Valid blobs some cases plant on the host for a path trick to find:
    # never read, never written.
    planted_before = snapshot(tmp_path / "planted")
    near_before = snapshot(near)
    r = imp(store, path, "--name", "evil", *opts)
    assert r.returncode == REFUSED, (case, r.returncode, r.stderr)
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("sbx: "), (case, r.stderr)
    assert needle.lower() in r.stderr.lower(), (case, needle, r.stderr)
    assert_nothing_published(store, case)
    assert snapshot(near) == near_before and snapshot(tmp_path / "planted") == planted_before
    for p in (tmp_path / "x", tmp_path / "x2", tmp_path / "dropped"):
        assert not p.exists(), (case, p)
    # Nothing dropped into the store's own directory (archive entries with ..).
    assert set(os.listdir(store)) <= {"lock", "images", "blobs", "rootfs", "tmp"}, os.listdir(store)
    # The store is not wedged: a good image still imports.
    assert imp(store, oci.layout(tmp_path / "good", [base]).readable().path, "--name", "good").returncode == 0


def test_hostile_entries_are_contained(tmp_path, store, base, canaries):
    """Absolute names, symlinks out and writes through them, hardlinks to
    host paths: refused, or they land inside the tree."""
    near, far = canaries
    cases = {
        "absolute": [file(str(far / "file"), "pwned"), file("/abs/x", "abs")],
        "symlink-write": [symlink("link", str(far)), file("link/file", "pwned"), dir_("link/newdir")],
        "symlink-up": [symlink("up", "../../../../../../.."), file("up" + str(near) + "/file", "pwned")],
        "symlink-then-layer": None,
        "hardlink-out": [hardlink("h", str(far / "file")), file("h", "pwned")],
        "hardlink-via-symlink": [symlink("s", str(near)), hardlink("h2", "s/file"), file("h2", "pwned")],
        "whiteout-through-symlink": [symlink("w", str(far)), whiteout("w/file"), oci.opaque("w/dir")],
        "dir-becomes-link": None,
    }
    for name, entries in cases.items():
        if name == "symlink-then-layer":
            layers = [base, Layer.of([symlink("lnk", str(far))]), Layer.of([file("lnk/file", "pwned")])]
        elif name == "dir-becomes-link":
            layers = [base, Layer.of([dir_("lib"), file("lib/a", "a")]), Layer.of([symlink("lib", str(far))]),
                      Layer.of([file("lib/file", "pwned"), dir_("lib/dir"), file("lib/dir/inner", "pwned")])]
        else:
            layers = [base, Layer.of(entries)]
        lay = oci.layout(tmp_path / name, layers).readable()
        r = imp(store, lay.path, "--json", "--name", name)
        assert r.returncode in (0, REFUSED), (name, r.returncode, r.stderr)
        if r.returncode == 0:
            root = pathlib.Path(json.loads(r.stdout)["rootfs"])
            if name == "absolute":
                assert (root / str(far / "file").lstrip("/")).read_text() == "pwned"
                assert (root / "abs" / "x").read_text() == "abs"
            if name == "hardlink-out":
                assert os.stat(root / "h").st_ino != os.stat(far / "file").st_ino
        else:
            assert r.stderr.startswith("sbx: "), (name, r.stderr)
            assert not (store / "images" / f"{name}:latest.json").exists()
        assert store_state(store)[2:] == ([], []), name


def test_devices_and_setuid(tmp_path, store, base):
    lay = oci.layout(tmp_path / "lay", [base, Layer.of([
        oci.chardev("dev/mem", 1, 1), oci.chardev("evil-null", 1, 3), oci.fifo("fifo"),
        file("suid", "s", mode=0o4755)])]).readable()
    rec = imp_json(store, lay.path, "--name", "dev")
    assert rec["devices_skipped"] == 2
    root = pathlib.Path(rec["rootfs"])
    assert not (root / "evil-null").exists() and not (root / "dev" / "mem").exists()
    assert stat.S_ISFIFO(os.lstat(root / "fifo").st_mode)
    assert os.stat(root / "suid").st_mode & 0o7777 == 0o4755


OWNED = [file("rootfile", "root's\n", mode=0o600), file("mine", "1000's\n", mode=0o600, uid=1000, gid=1000),
         file("owned", "1234's\n", mode=0o600, uid=1234, gid=4321)]


@pytest.mark.parametrize("user", ["0", "1000", "1234"])
def test_image_owners_inside_the_sandbox(request, tmp_path, store, base, user):
    """README: "root-owned files in the image are root-owned inside the
    sandbox" (root, and rootless with ranges).  Whatever --user the sandbox
    runs as, each file shows its image owner and only that owner reads it
    (0600).  Without ranges every file belongs to the sandbox user."""
    if MODE == "subuid" and user != "1000":
        # Known limitation (README, "Images"): rootless, layers are unpacked
        # with the map of the default user 1000 (1000 -> the caller); a run
        # as another user maps that user to the caller instead, so the files
        # of 1000 and of that user trade places.  Strict: fixing it fails here.
        request.applymarker(pytest.mark.xfail(strict=True, reason="rootless --user other than 1000"))
    lay = oci.layout(tmp_path / "lay", [base, Layer.of(OWNED)]).readable()
    assert imp(store, lay.path, "--name", "own").returncode == 0
    r = run_image(store, "own", "/bin/sh", "-c",
                  "for f in rootfile mine owned; do stat -c \"$f %u:%g\" /$f; cat /$f 2>/dev/null; done; true",
                  opts=["--user", user])
    assert r.returncode == 0, r.stderr
    if MODE in ("root", "subuid"):
        owners = {"0": "0:0", "1000": "1000:1000", "1234": "1234:4321"}
        want = ""
        for name, uid in [("rootfile", "0"), ("mine", "1000"), ("owned", "1234")]:
            want += f"{name} {owners[uid]}\n" + (f"{'root' if uid == '0' else uid}'s\n" if uid == user else "")
    else:
        want = "".join(f"{n} {user}:{user}\n{c}'s\n" for n, c in [("rootfile", "root"), ("mine", "1000"),
                                                                     ("owned", "1234")])
    assert r.stdout == want, (MODE, user, r.stdout)


def test_a_million_entries_are_refused(tmp_path, store):
    """ESC-29 inode exhaustion: a layer of 1 000 001 entries (a directory
    and 1 000 000 empty files, each one 512-byte header: ~500 MB of tar,
    7 MB gzipped, made in ~3 s as a stream of headers from one template,
    ocifixtures.many_entries_chunks) against the default limit of
    1 000 000.

    SCALED DOWN unless SBX_TEST_MILLION=1: sbx counts entries as it
    unpacks them, so it creates (and then removes) a million files before
    refusing: 55 to 295 s as root, ~170 s with subuid ranges and ~370 s
    without on the development VM, over the 60 s this suite allows a test.
    By default the same layer shape is checked against --max-entries 50000
    with 50 001 entries instead."""
    if os.environ.get("SBX_TEST_MILLION") == "1":
        n_files, opts, limit = 1_000_000, [], "1000000"
    else:
        n_files, opts, limit = 50_000, ["--max-entries", "50000"], "50000"
    t0 = time.monotonic()
    layer = Layer.streamed(oci.many_entries_chunks(n_files), "gzip")
    lay = oci.layout(tmp_path / "million", [layer]).readable()
    made = time.monotonic() - t0
    t0 = time.monotonic()
    r = imp(store, lay.path, "--name", "million", *opts, timeout=600)
    took = time.monotonic() - t0
    assert r.returncode == REFUSED, (r.returncode, r.stderr)
    assert limit in r.stderr and "entries" in r.stderr, r.stderr
    assert_nothing_published(store)
    print(f"{n_files + 1} entries: made in {made:.1f}s, refused in {took:.1f}s")


@pytest.mark.parametrize("n,ok", [(1000, True), (1001, False)])
def test_entry_limit_boundary(tmp_path, store, n, ok):
    """The same limit scaled down (--max-entries 1000): exactly N entries
    pass, one more is refused."""
    lay = oci.layout(tmp_path / "lay", [Layer.streamed(oci.many_entries_chunks(n - 1), None)]).readable()
    r = imp(store, lay.path, "--json", "--name", "n", "--max-entries", "1000")
    if ok:
        assert r.returncode == 0, r.stderr
        rec = json.loads(r.stdout)
        assert rec["entries"] == n
        assert len(os.listdir(pathlib.Path(rec["rootfs"]) / "m")) == n - 1
    else:
        assert r.returncode == REFUSED and "1000" in r.stderr, (r.returncode, r.stderr)
        assert_nothing_published(store)


def test_max_bytes_boundary(tmp_path, store):
    lay = oci.layout(tmp_path / "lay", [Layer.of([file("f", b"\0" * (2 << 20))], "gzip")]).readable()
    assert imp(store, lay.path, "--name", "b", "--max-bytes", "1m").returncode == REFUSED
    assert_nothing_published(store)
    assert imp(store, lay.path, "--name", "b", "--max-bytes", "4m").returncode == 0


# ---- 5. interruption and a full disk ------------------------------------------------

@pytest.fixture(scope="module")
def big_layout(tmp_path_factory, base):
    """A few MB of incompressible layers: the base, then three of 1.5 MB."""
    d = tmp_path_factory.mktemp("big")
    rnd = random.Random(1234)
    layers = [base]
    for k in range(3):
        layers.append(Layer.of([dir_(f"data{k}")] + [file(f"data{k}/f{i}", rnd.randbytes(100_000))
                                                      for i in range(15)], "gzip"))
    lay = oci.layout(d / "lay", layers)
    oci.world_readable(d)
    return lay.path


def test_sigkill_leaves_nothing_half_done(tmp_path, big_layout):
    ref_store = tmp_path / "ref"
    started = time.monotonic()
    ref = imp_json(ref_store, big_layout, "--name", "big")
    took = time.monotonic() - started
    want = tree(ref["rootfs"])
    valid_chains = chains(ref)
    s = tmp_path / "s"
    rnd = random.Random(int(os.environ.get("SBX_TEST_SEED", "42")))
    # Spread over a whole import as it runs here, and once after it.
    delays = sorted([0.0, 1.2 * took] + [rnd.uniform(0, took) for _ in range(8)])
    outcomes = []
    try:
        for delay in delays:
            p = subprocess.Popen([SBX, "image", "import", "--store", str(s), "--name", "big", str(big_layout)],
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            time.sleep(delay)
            p.kill()
            p.wait()
            outcomes.append((round(delay, 3), p.returncode))
            # The workers die with sbx (parent-death signal).
            assert wait_gone(str(s)), f"a process of the import outlived sbx's SIGKILL (delay {delay})"
            recs, trees, building, scratch = store_state(s)
            if recs:
                assert recs == ["big:latest.json"]
                assert tree(inspect(s, "big")["rootfs"]) == want, delay
            for t in trees:
                assert t in valid_chains, (delay, "a tree named by no chain of the image", t)
                if t == chain_hex(ref):
                    assert tree(s / "rootfs" / t) == want, (delay, "a published tree is incomplete")
            if s.exists():
                r = sbx("image", "gc", "--store", str(s))
                assert r.returncode == 0, (delay, r.stderr)
                recs2, trees2, building2, scratch2 = store_state(s)
                assert building2 == [] and scratch2 == [], (delay, building2, scratch2)
                assert recs2 == recs
        # Whatever was left, importing again gives the reference.
        got = imp_json(s, big_layout, "--name", "big")
        assert tree(got["rootfs"]) == want and got["chain"] == ref["chain"]
    finally:
        for st in (s, ref_store):
            if st.exists():
                sbx("image", "rm", "--store", str(st), "big")
                sbx("image", "gc", "--store", str(st))
    print("SIGKILL delays and exit codes:", outcomes)
    assert any(rc == -signal.SIGKILL for _, rc in outcomes), "every import finished before the kill"


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM, signal.SIGHUP])
def test_a_caught_signal_cleans_up_without_gc(tmp_path, big_layout, sig):
    rnd = random.Random(int(sig))
    stores, rcs = [tmp_path / "timing"], []
    try:
        # The signals land inside an import: at a fraction of how long a
        # whole one takes here (imports got faster; fixed delays missed).
        started = time.monotonic()
        assert imp(stores[0], big_layout, "--name", "big").returncode == 0
        took = time.monotonic() - started
        for i, delay in enumerate([max(0.01, rnd.uniform(0.15, 0.7) * took) for _ in range(3)]):
            s = tmp_path / f"s{i}"
            stores.append(s)
            p = subprocess.Popen([SBX, "image", "import", "--store", str(s), "--name", "big", str(big_layout)],
                                 stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
            time.sleep(delay)
            p.send_signal(sig)
            err = p.communicate(timeout=60)[1]
            assert wait_gone(str(s))
            recs, trees, building, scratch = store_state(s)
            assert building == [] and scratch == [], (delay, building, scratch)
            rcs.append(p.returncode)
            if p.returncode == 0:
                continue  # finished before the signal
            assert p.returncode == 128 + sig, (delay, p.returncode, err)
            assert err.startswith("sbx: "), err
            assert recs == [] and trees == [], (delay, recs, trees)
        assert 128 + sig in rcs, ("every import finished before the signal", rcs)
    finally:
        for s in stores:
            if s.exists():
                sbx("image", "rm", "--store", str(s), "big")
                sbx("image", "gc", "--store", str(s))


def test_a_full_disk_leaves_no_record_and_no_tree(tmp_path, big_layout):
    if os.geteuid() != 0:
        pytest.skip(f"mode {MODE}: mounting a small tmpfs as the store needs root (covered in root mode)")
    s = tmp_path / "small-store"
    s.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m,mode=0755", "sbx-test-full", str(s)], check=True)
    try:
        r = imp(s, big_layout, "--name", "big")
        assert r.returncode == FAILED, (r.returncode, r.stderr)
        assert "No space left" in r.stderr and r.stderr.startswith("sbx: "), r.stderr
        assert_nothing_published(s)
        # And the store works afterwards for what fits.
        small_lay = oci.layout(tmp_path / "fits", [small()]).readable()
        assert imp(s, small_lay.path, "--name", "fits").returncode == 0
        assert sbx("image", "rm", "--store", str(s), "fits").returncode == 0
    finally:
        subprocess.run(["umount", str(s)], check=True)
