"""`sbx image import` and `sbx run --image`: images made here and by other
tools (umoci, skopeo) import and run; the store shares what it can without
letting one image change another; the image config is honoured; hostile
images (ESC-23 to ESC-30) are refused before anything is published, with
host canaries unchanged; interrupted imports never leave a half-published
image.  Every test runs in the three modes of tests/run-integration."""
import gzip
import json
import os
import pathlib
import random
import shutil
import signal
import subprocess
import tarfile
import tempfile
import time
import zlib

import pytest

from conftest import MODE, RUNTIME, SBX, sbx, snapshot
from oci_build import (LAYER, OCI_MANIFEST, Layout, archive_of, docker_archive, sha, simple_layout,
                       tar_bytes, tree_entries)

REFUSED, MISSING, FAILED = 65, 66, 125


@pytest.fixture(scope="module")
def base(rootfs):
    """The test rootfs as the entries of one layer."""
    return tree_entries(rootfs)


@pytest.fixture
def store(tmp_path):
    s = tmp_path / "store"
    yield s
    # Trees may belong to subordinate ids: let sbx take them apart.
    if s.exists():
        names = json.loads(sbx("image", "ls", "--json", "--store", str(s)).stdout or "[]")
        if names:
            sbx("image", "rm", "--store", str(s), *[f"{r['name']}:{r['tag']}" for r in names])
        sbx("image", "gc", "--store", str(s))


def imp(store, path, *opts):
    return sbx("image", "import", "--store", str(store), *opts, str(path), timeout=300)


def imp_json(store, path, *opts):
    r = imp(store, path, "--json", *opts)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


def run_image(store, name, *cmd, opts=()):
    return sbx("run", "--store", str(store), "--image", name, *opts, "--", *cmd)


def published(store):
    """What a reader of the store can use: records and trees."""
    recs = sorted(p.name for p in (store / "images").glob("*.json")) if (store / "images").exists() else []
    trees = sorted(p.name for p in (store / "rootfs").iterdir() if not p.name.startswith(".")) \
        if (store / "rootfs").exists() else []
    return recs, trees


@pytest.fixture
def canaries(tmp_path):
    near = tmp_path / "canary"
    near.mkdir()
    (near / "file").write_text("near canary\n")
    far = pathlib.Path(tempfile.mkdtemp(prefix="sbx-image-canary-", dir="/var/tmp"))
    (far / "file").write_text("far canary\n")
    before = (snapshot(near), snapshot(far))
    yield near, far
    assert (snapshot(near), snapshot(far)) == before
    shutil.rmtree(far)


# ---- images that must import and run ----

def test_layout_imports_and_runs(tmp_path, store, base):
    lay = simple_layout(tmp_path / "lay", [base, [("marker", "file", b"layer two\n", 0o644)]],
                        config={"Cmd": ["/bin/cat", "/marker"]})
    r = imp(store, lay, "--name", "demo")
    assert r.returncode == 0, r.stderr
    name, digest = r.stdout.split()
    assert name == "demo:latest" and digest.startswith("sha256:") and len(digest) == 71
    r = run_image(store, "demo", opts=["--json", str(tmp_path / "result.json")])
    assert r.returncode == 0 and r.stdout == "layer two\n", r.stderr
    result = json.loads((tmp_path / "result.json").read_text())
    assert result["image"] == "demo:latest" and result["image_id"] == digest
    r = run_image(store, "demo", "/bin/sh", "-c", "touch /x")
    # gVisor's gofer refuses the write to the read-only root with EACCES.
    refusal = "Permission denied" if RUNTIME == "runsc" else "Read-only"
    assert r.returncode != 0 and refusal in r.stderr, r.stderr


@pytest.mark.parametrize("how", ["gzip", "zstd", None])
def test_compressions(tmp_path, store, base, how):
    lay = simple_layout(tmp_path / "lay", [base, [("c", "file", b"%s\n" % str(how).encode(), 0o644)]],
                        compression=how)
    assert imp(store, lay, "--name", "c").returncode == 0
    assert run_image(store, "c", "/bin/cat", "/c").stdout == f"{how}\n"


def test_the_three_formats_give_the_same_tree(tmp_path, store, base):
    layers = [base, [("etc/fmt", "file", b"same\n", 0o644)]]
    lay = simple_layout(tmp_path / "lay", layers)
    oci_tar = archive_of(lay, tmp_path / "oci.tar")
    dock = docker_archive(tmp_path / "docker.tar", layers, repo_tag="dock:1")
    a = imp_json(store, lay, "--name", "a")
    b = imp_json(store, oci_tar, "--name", "b")
    c = imp_json(store, dock)
    assert a["chain"] == b["chain"] == c["chain"]
    assert (c["name"], c["tag"]) == ("dock", "1")
    assert a["layers_unpacked"] == 2 and b["layers_unpacked"] == 0 and c["layers_unpacked"] == 0
    assert run_image(store, "dock:1", "/bin/cat", "/etc/fmt").stdout == "same\n"
    assert not list((store / "tmp").iterdir()), "scratch of the archives left behind"


def test_a_multi_platform_index_gives_this_hosts_image(tmp_path, store, base):
    lay = Layout(tmp_path / "lay")
    arm = lay.image([base, [("platform", "file", b"arm64\n", 0o644)]], arch="arm64")
    amd = lay.image([base, [("platform", "file", b"amd64\n", 0o644)]])
    s390 = lay.image([base, [("platform", "file", b"s390x\n", 0o644)]], arch="s390x")
    arm["platform"] = {"os": "linux", "architecture": "arm64"}
    amd["platform"] = {"os": "linux", "architecture": "amd64"}
    s390["platform"] = {"os": "linux", "architecture": "s390x"}
    nested = lay.index([s390, amd], top=False)
    lay.index([arm, nested], ref_name="multi")
    r = imp(store, lay.path)
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("multi:latest ")
    assert run_image(store, "multi", "/bin/cat", "/platform").stdout == "amd64\n"
    # Only foreign platforms: refused, saying which exist.
    lay2 = Layout(tmp_path / "lay2")
    arm2 = lay2.image([base], arch="arm64")
    arm2["platform"] = {"os": "linux", "architecture": "arm64"}
    lay2.index([arm2])
    r = imp(store, lay2.path, "--name", "x")
    assert r.returncode == REFUSED and "linux/arm64" in r.stderr


def umoci(cmd, *args):
    extra = ["--rootless"] if os.geteuid() != 0 and cmd == "unpack" else []
    return subprocess.run(["umoci", cmd, *extra, *args], capture_output=True, text=True)


@pytest.mark.skipif(not shutil.which("umoci") or not shutil.which("skopeo"),
                    reason="needs umoci and skopeo (scripts/deps installs them)")
def test_umoci_and_skopeo_images(tmp_path, store, base):
    base_layers = [base, [("etc/keep", "file", b"kept\n", 0o644), ("opt/gone/", "dir", b"", 0o755),
                          ("opt/gone/f", "file", b"x", 0o644), ("etc/gone", "file", b"x", 0o644)]]
    lay = simple_layout(tmp_path / "lay", base_layers)
    bundle = tmp_path / "bundle"
    r = umoci("unpack", "--image", f"{lay}:latest", str(bundle))
    assert r.returncode == 0, r.stderr
    os.unlink(bundle / "rootfs" / "etc" / "gone")
    shutil.rmtree(bundle / "rootfs" / "opt" / "gone")
    (bundle / "rootfs" / "etc" / "added").write_text("umoci\n")
    r = umoci("repack", "--image", f"{lay}:v2", str(bundle))
    assert r.returncode == 0, r.stderr
    info = imp_json(store, lay, "--name", "um:v2")
    assert info["whiteouts"] >= 2
    r = run_image(store, "um:v2", "/bin/sh", "-c",
                  "cat /etc/keep /etc/added; ls /etc/gone /opt/gone 2>&1 | wc -l")
    assert r.returncode == 0 and r.stdout.split() == ["kept", "umoci", "2"], (r.stdout, r.stderr)
    for kind in ["oci-archive", "docker-archive"]:
        out = tmp_path / f"{kind}.tar"
        dest = f"{kind}:{out}" + (":sk/test:v2" if kind == "docker-archive" else ":v2")
        r = subprocess.run(["skopeo", "copy", "--quiet", f"oci:{lay}:v2", dest], capture_output=True, text=True)
        assert r.returncode == 0, r.stderr
        got = imp_json(store, out, "--name", f"sk-{kind}")
        assert got["chain"] == info["chain"], kind
        assert got["layers_unpacked"] == 0


# ---- the store ----

def test_shared_layers_are_unpacked_once_and_never_shared_for_writing(tmp_path, store, base):
    a = simple_layout(tmp_path / "a", [base, [("etc/shared", "file", b"from A\n", 0o644)]])
    b = simple_layout(tmp_path / "b", [base, [("etc/shared", "file", b"from A\n", 0o644)],
                                       [("etc/shared", "file", b"B rewrote it\n", 0o604),
                                        ("bin/.wh.cat", "file", b"", 0o644)]])
    ia = imp_json(store, a, "--name", "a")
    tree_a = pathlib.Path(ia["rootfs"])
    shared = tree_a / "etc" / "shared"
    st_before = os.stat(shared)
    ib = imp_json(store, b, "--name", "b")
    assert ib["layers_reused"] == 2 and ib["layers_unpacked"] == 1
    st_after = os.stat(shared)
    assert shared.read_bytes() == b"from A\n"
    assert (st_after.st_ino, st_after.st_mode, st_after.st_mtime) == \
        (st_before.st_ino, st_before.st_mode, st_before.st_mtime)
    assert os.path.lexists(tree_a / "bin" / "cat")
    # (B removed cat: the shell reads the file itself.)
    r = run_image(store, "b", "/bin/sh", "-c", "read -r l < /etc/shared; echo $l; ls /bin/cat 2>&1 | wc -l")
    assert r.stdout.split() == ["B", "rewrote", "it", "1"], r.stderr
    assert imp_json(store, a, "--name", "a2")["layers_unpacked"] == 0


def test_ownership_follows_the_sandbox_id_map(tmp_path, store, base):
    lay = simple_layout(tmp_path / "lay", [base, [("home/", "dir", b"", 0o755),
                                                  ("home/u/", "dir", b"", 0o700, 1000),
                                                  ("home/u/f", "file", b"mine\n", 0o600, 1000),
                                                  ("etc/rootonly", "file", b"secret\n", 0o600, 0),
                                                  ("bin/su", "file", b"#!/bin/sh\n", 0o4755, 0)]])
    assert imp(store, lay, "--name", "own").returncode == 0
    r = run_image(store, "own", "/bin/sh", "-c",
                  "stat -c '%u %a' /etc/rootonly /home/u/f /bin/su; cat /home/u/f; cat /etc/rootonly")
    lines = r.stdout.splitlines()
    if MODE == "nosub":
        # Only the caller's id exists: everything is the sandbox user's.
        assert lines[:3] == ["1000 600", "1000 600", "1000 4755"], r.stdout
    else:
        assert lines[:3] == ["0 600", "1000 600", "0 4755"], r.stdout
        assert "secret" not in r.stdout and "Permission denied" in r.stderr
    assert "mine" in lines


def test_ls_inspect_rm_and_gc(tmp_path, store, base):
    lay = simple_layout(tmp_path / "lay", [base])
    imp(store, lay, "--name", "one:1")
    imp(store, lay, "--name", "two")
    r = sbx("image", "ls", "--store", str(store))
    assert r.returncode == 0 and "one" in r.stdout and "two" in r.stdout
    listed = json.loads(sbx("image", "ls", "--json", "--store", str(store)).stdout)
    assert sorted((x["name"], x["tag"]) for x in listed) == [("one", "1"), ("two", "latest")]
    rec = json.loads(sbx("image", "inspect", "--store", str(store), "one:1").stdout)
    tree = pathlib.Path(rec["rootfs"])
    assert tree.is_dir() and rec["platform"] == "linux/amd64" and len(rec["layers"]) == 1
    assert sbx("image", "inspect", "--store", str(store), "nope").returncode == MISSING
    assert sbx("image", "rm", "--store", str(store), "one:1").returncode == 0
    assert tree.is_dir(), "a tree still named by another image was removed"
    assert sbx("image", "rm", "--store", str(store), "two").returncode == 0
    assert not tree.exists() and published(store) == ([], [])
    assert sbx("image", "rm", "--store", str(store), "two").returncode == MISSING
    # Leftovers of killed imports go with gc; a tree in use by a sandbox stays.
    (store / "rootfs" / ".tmp-leftover").mkdir()
    (store / "tmp" / "import-leftover").mkdir()
    r = sbx("image", "gc", "--store", str(store))
    assert r.returncode == 0 and "rootfs/.tmp-leftover" in r.stdout
    assert not list((store / "rootfs").iterdir()) and not list((store / "tmp").iterdir())


def test_gc_leaves_a_running_sandboxs_tree(tmp_path, store, base):
    lay = simple_layout(tmp_path / "lay", [base])
    imp(store, lay, "--name", "busy")
    tree = pathlib.Path(json.loads(sbx("image", "inspect", "--store", str(store), "busy").stdout)["rootfs"])
    p = subprocess.Popen([SBX, "run", "--store", str(store), "--image", "busy", "--", "/bin/sleep", "3"])
    try:
        time.sleep(0.5)
        # The record goes; the tree stays while the sandbox uses it.
        assert sbx("image", "rm", "--store", str(store), "busy").returncode == 0
        assert tree.is_dir()
    finally:
        assert p.wait(timeout=30) == 0
    sbx("image", "gc", "--store", str(store))
    assert not tree.exists()


# ---- the image config ----

def test_the_image_config_is_honoured(tmp_path, store, base):
    passwd = b"root:x:0:0::/root:/bin/sh\napp:x:1234:4321::/home/app:/bin/sh\n"
    group = b"root:x:0:\nstaff:x:50:\n"
    lay = simple_layout(tmp_path / "lay", [base, [("etc/passwd", "file", passwd, 0o644),
                                                  ("etc/group", "file", group, 0o644),
                                                  ("srv/", "dir", b"", 0o755)]],
                        config={"Env": ["FROM_IMAGE=1", "SHADOWED=image"], "Entrypoint": ["/bin/sh", "-c"],
                                "Cmd": ["echo $FROM_IMAGE $SHADOWED $(id -u):$(id -g) $(pwd)"],
                                "WorkingDir": "/srv", "User": "app"})
    assert imp(store, lay, "--name", "cfg").returncode == 0
    r = run_image(store, "cfg", opts=["-e", "SHADOWED=cli"])
    assert r.returncode == 0 and r.stdout == "1 cli 1234:4321 /srv\n", r.stderr
    # A command replaces Entrypoint and Cmd; --user and -w win over User and WorkingDir.
    ws = tmp_path / "ws"
    ws.mkdir()
    os.chmod(ws, 0o777)
    r = run_image(store, "cfg", "/bin/sh", "-c", "echo $(id -u):$(id -g) $(pwd)",
                  opts=["--user", "2000:3000", "-w", str(ws)])
    assert r.stdout == "2000:3000 /workspace\n", r.stderr
    for user, want in [("77", "77:77"), ("app:staff", "1234:50"), ("5:6", "5:6")]:
        lay2 = simple_layout(tmp_path / f"u{user.replace(':', '_')}", [base, [("etc/passwd", "file", passwd, 0o644),
                                                                             ("etc/group", "file", group, 0o644)]],
                             config={"User": user, "Cmd": ["/bin/sh", "-c", "echo $(id -u):$(id -g)"]})
        assert imp(store, lay2, "--name", "u").returncode == 0
        assert run_image(store, "u").stdout == want + "\n", user
    lay3 = simple_layout(tmp_path / "nouser", [base], config={"User": "ghost", "Cmd": ["/bin/true"]})
    imp(store, lay3, "--name", "ghost")
    r = run_image(store, "ghost")
    assert r.returncode == FAILED and "ghost" in r.stderr


def test_no_image_says_how_to_build_one(tmp_path):
    r = sbx("run", "--store", str(tmp_path / "empty"), "--", "/bin/true")
    assert r.returncode == FAILED and "rootfs/build" in r.stderr


# ---- hostile images: refused before anything is published ----

def corrupt(path: pathlib.Path):
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))


def layer_blob(lay):
    idx = json.loads((lay / "index.json").read_text())
    man = json.loads((lay / "blobs" / "sha256" / idx["manifests"][0]["digest"][7:]).read_text())
    return man, lay / "blobs" / "sha256" / man["layers"][-1]["digest"][7:]


def rewrite_manifest(lay, man):
    """Point index.json at a changed manifest (correctly hashed)."""
    data = json.dumps(man).encode()
    (lay / "blobs" / "sha256" / sha(data)).write_bytes(data)
    idx = json.loads((lay / "index.json").read_text())
    idx["manifests"][0].update(digest="sha256:" + sha(data), size=len(data))
    (lay / "index.json").write_text(json.dumps(idx))


def hostile_cases(tmp_path, base, near):
    small = [("./", "dir", b"", 0o755), ("bin/", "dir", b"", 0o755), ("x", "file", b"x", 0o644)]
    cases = {}

    lay = simple_layout(tmp_path / "digest", [small])
    corrupt(layer_blob(lay)[1])
    cases["layer digest mismatch"] = (lay, [], "does not match its digest")

    lay = simple_layout(tmp_path / "size", [small])
    man, _ = layer_blob(lay)
    man["layers"][0]["size"] += 1
    rewrite_manifest(lay, man)
    cases["layer size mismatch"] = (lay, [], "bytes")

    lay = simple_layout(tmp_path / "diffid", [small], diff_ids=["sha256:" + "0" * 64])
    cases["diff_id mismatch"] = (lay, [], "diff_id")

    lay = simple_layout(tmp_path / "config", [small])
    man, _ = layer_blob(lay)
    corrupt(lay / "blobs" / "sha256" / man["config"]["digest"][7:])
    cases["config digest mismatch"] = (lay, [], "does not match its digest")

    lay = simple_layout(tmp_path / "confused", [small])
    man, _ = layer_blob(lay)
    man["manifests"] = []
    rewrite_manifest(lay, man)
    cases["manifest that is also an index"] = (lay, [], "ambiguous")

    lay = simple_layout(tmp_path / "mt", [small])
    idx = json.loads((lay / "index.json").read_text())
    idx["manifests"][0]["mediaType"] = "application/vnd.oci.image.index.v1+json"
    (lay / "index.json").write_text(json.dumps(idx))
    cases["manifest behind an index media type"] = (lay, [], "not an image index")

    lay = simple_layout(tmp_path / "bzip", [small], layer_types=["application/vnd.oci.image.layer.v1.tar+bzip2"])
    cases["unknown layer media type"] = (lay, [], "mediaType")

    # Digests right, but the compression is not the one the media type names.
    lay = simple_layout(tmp_path / "gzlabelledtar", [small],
                        layer_types=["application/vnd.oci.image.layer.v1.tar"])
    cases["gzip content labelled tar"] = (lay, [], "does not match its compression")

    for i, bad in enumerate(["sha256:../../../../etc/passwd", "sha256:" + "A" * 64, "sha256:" + "a" * 63,
                             "sha512:" + "a" * 128]):
        lay = simple_layout(tmp_path / f"baddigest{i}", [small])
        man, _ = layer_blob(lay)
        man["layers"][0]["digest"] = bad
        rewrite_manifest(lay, man)
        cases[f"descriptor digest {bad[:20]}"] = (lay, [], "digest")

    # (The archive's own entry for that path is refused first.)
    cases["docker layer path with .."] = (docker_archive(tmp_path / "dd.tar", [small],
                                                          layer_paths=["../../etc/passwd"]), [], "..")
    cases["docker absolute config path"] = (docker_archive(tmp_path / "da.tar", [small], config_path="/etc/passwd"),
                                            [], "relative path")

    # An OCI archive whose blobs/ is a symlink to a host directory holding
    # the blobs: they must not be read from there.
    good = simple_layout(tmp_path / "good", [small])
    planted = near / "planted"
    shutil.copytree(good / "blobs", planted)
    link = tmp_path / "linkarch.tar"
    with tarfile.open(link, "w") as tar:
        for name in ["oci-layout", "index.json"]:
            tar.add(good / name, arcname=name)
        info = tarfile.TarInfo("blobs")
        info.type, info.linkname = tarfile.SYMTYPE, str(planted)
        tar.addfile(info)
    cases["archive with blobs -> host dir"] = (link, [], "missing")

    for name in ["../canary/x", "a/../../canary/x"]:
        lay = simple_layout(tmp_path / f"dotdot{len(cases)}", [small + [(name, "file", b"escaped", 0o644)]])
        cases[f"layer entry {name}"] = (lay, [], "..")

    lay = simple_layout(tmp_path / "rootlink", [small, [(".", "symlink", str(near), 0o777),
                                                        ("x2", "file", b"x", 0o644)]])
    cases["root turned into a symlink"] = (lay, [], "root directory")

    bomb = gzip.compress(b"\0" * (8 << 20))
    lay = Layout(tmp_path / "bomb")
    raw = tar_bytes([("big", "file", b"\0" * (8 << 20), 0o644)])
    lay.index([lay.image([raw])], ref_name="latest")
    del bomb
    # Stopped while the digests are checked, before anything is written.
    cases["gzip bomb"] = (lay.path, ["--max-bytes", "1m"], "raise --max-bytes")
    return cases


def test_hostile_images_are_refused_and_nothing_is_published(tmp_path, store, base, canaries):
    near, far = canaries
    for what, (path, opts, needle) in hostile_cases(tmp_path, base, near).items():
        r = imp(store, path, "--name", "evil", *opts)
        assert r.returncode == REFUSED, (what, r.returncode, r.stderr)
        assert needle in r.stderr, (what, r.stderr)
        assert len(r.stderr.strip().splitlines()) == 1, (what, r.stderr)
        assert published(store) == ([], []), what
        assert not os.path.exists(near / "x") and not os.path.exists(near / "x2"), what
        assert not list((store / "tmp").iterdir()), what
        assert not [p for p in (store / "rootfs").iterdir()], (what, "leftover tree")
    # The planted blobs were not used, and nothing was written next to them.
    assert sorted(p.name for p in (near / "planted" / "sha256").iterdir()) == \
        sorted(p.name for p in (tmp_path / "good" / "blobs" / "sha256").iterdir())
    shutil.rmtree(near / "planted")


def test_a_million_entry_layer_is_refused(tmp_path, store):
    """1 000 001 entries (the default limit is 1 000 000): one 512-byte header
    repeated, for an empty file of the same name, so that the layer is cheap
    to make and the unpacker's work is bounded by the limit, not by inodes."""
    info = tarfile.TarInfo("e")
    info.mtime = 1700000000
    header = info.tobuf(format=tarfile.USTAR_FORMAT)
    assert len(header) == 512
    n = 1_000_001
    comp = zlib.compressobj(6, zlib.DEFLATED, 31)
    chunk = header * 4096
    diff, blob = __import__("hashlib").sha256(), bytearray()
    done = 0
    while done < n:
        k = min(4096, n - done)
        part = chunk if k == 4096 else header * k
        diff.update(part)
        blob += comp.compress(part)
        done += k
    end = b"\0" * 1024
    diff.update(end)
    blob += comp.compress(end) + comp.flush()
    lay = Layout(tmp_path / "million")
    desc = lay.blob(bytes(blob), LAYER["gzip"])
    cfg = lay.json_blob({"architecture": "amd64", "os": "linux",
                         "rootfs": {"type": "layers", "diff_ids": ["sha256:" + diff.hexdigest()]}},
                        "application/vnd.oci.image.config.v1+json")
    man = lay.json_blob({"schemaVersion": 2, "config": cfg, "layers": [desc]}, OCI_MANIFEST)
    lay.index([man])
    r = imp(store, lay.path, "--name", "million")
    assert r.returncode == REFUSED and "more than 1000000 entries" in r.stderr, r.stderr
    assert published(store) == ([], [])
    assert not [p for p in (store / "rootfs").iterdir()]


# ---- interruptions ----

def tree_digest(root: pathlib.Path):
    out = []
    for p in sorted(root.rglob("*")):
        st = os.lstat(p)
        out.append((str(p.relative_to(root)), st.st_mode, p.read_bytes() if p.is_file() and not p.is_symlink() else b""))
    return out


@pytest.fixture(scope="module")
def big_layout(tmp_path_factory, base):
    d = tmp_path_factory.mktemp("big")
    rnd = random.Random(5)
    files = [(f"data/f{i}", "file", rnd.randbytes(100_000), 0o644) for i in range(60)]
    lay = simple_layout(d / "lay", [base, [("data/", "dir", b"", 0o755)] + files[:30], files[30:]])
    for p in [d, *d.rglob("*")]:
        os.chmod(p, os.stat(p).st_mode | 0o005)
    return lay


def test_sigkill_never_leaves_a_half_published_image(tmp_path, big_layout):
    ref_store = tmp_path / "ref"
    ref = imp_json(ref_store, big_layout, "--name", "big")
    want = tree_digest(pathlib.Path(ref["rootfs"]))
    for i, delay in enumerate([0.0, 0.02, 0.05, 0.1, 0.15, 0.25, 0.4]):
        s = tmp_path / f"s{i}"
        p = subprocess.Popen([SBX, "image", "import", "--store", str(s), "--name", "big", str(big_layout)],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(delay)
        p.send_signal(signal.SIGKILL)
        p.wait()
        time.sleep(0.1)  # the worker dies with it (parent-death signal)
        recs, trees = published(s) if s.exists() else ([], [])
        if recs:
            rec = json.loads(sbx("image", "inspect", "--store", str(s), "big").stdout)
            assert tree_digest(pathlib.Path(rec["rootfs"])) == want, delay
        for t in trees:
            # A published tree is whole, whether or not a record names it yet.
            assert t in [c[7:] for c in ref["chains"]], t
        if s.exists():
            assert sbx("image", "gc", "--store", str(s)).returncode == 0
            # (Killed early, the store may not have its directories yet.)
            if (s / "rootfs").exists():
                assert not [p for p in (s / "rootfs").iterdir() if p.name.startswith(".")], delay
            if (s / "tmp").exists():
                assert not list((s / "tmp").iterdir())
            # What gc kept still imports to the reference result.
            got = imp_json(s, big_layout, "--name", "big")
            assert tree_digest(pathlib.Path(got["rootfs"])) == want
            sbx("image", "rm", "--store", str(s), "big")
    sbx("image", "rm", "--store", str(ref_store), "big")


@pytest.fixture(scope="module")
def slow_layout(tmp_path_factory, base):
    """150 MB in two uncompressed layers: checking and unpacking each take a
    good tenth of a second, so that a signal can land in either."""
    d = tmp_path_factory.mktemp("slow")
    rnd = random.Random(7)
    files = [(f"d/f{i}", "file", rnd.randbytes(1_000_000), 0o644) for i in range(150)]
    lay = simple_layout(d / "lay", [base + [("d/", "dir", b"", 0o755)] + files[:75], files[75:]], compression=None)
    for p in [d, *d.rglob("*")]:
        os.chmod(p, os.stat(p).st_mode | 0o005)
    return lay


def worker_started(store):
    """A tree being built has something in it: the unpacking worker runs."""
    trees = store / "rootfs"
    return trees.exists() and any(p.name.startswith(".tmp-") and any(p.iterdir())
                                  for p in trees.iterdir() if p.is_dir())


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
@pytest.mark.parametrize("phase", ["checking", "unpacking"])
def test_an_interrupted_import_cleans_up(tmp_path, slow_layout, sig, phase):
    s = tmp_path / "s"
    p = subprocess.Popen([SBX, "image", "import", "--store", str(s), "--name", "slow", str(slow_layout)],
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 30
    if phase == "checking":
        time.sleep(0.02)
    else:
        while not worker_started(s) and time.monotonic() < deadline and p.poll() is None:
            time.sleep(0.002)
    p.send_signal(sig)
    err = p.communicate()[1]
    assert p.returncode == 128 + sig, (phase, p.returncode, err)
    assert f"interrupted by signal {int(sig)}" in err
    assert published(s) == ([], [])
    assert not list((s / "rootfs").iterdir()) and not list((s / "tmp").iterdir())


def test_a_full_disk_leaves_the_store_as_it_was(tmp_path, big_layout):
    if os.geteuid() != 0:
        pytest.skip("SKIP: mounting a small tmpfs as the store needs root (runs in root mode)")
    s = tmp_path / "small"
    s.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=3m,mode=0700", "tmpfs", str(s)], check=True)
    try:
        r = imp(s, big_layout, "--name", "big")
        assert r.returncode == FAILED and "No space left" in r.stderr, r.stderr
        assert published(s) == ([], [])
        assert not list((s / "rootfs").iterdir()) and not list((s / "tmp").iterdir())
    finally:
        subprocess.run(["umount", str(s)], check=True)


def test_progress_is_shown_on_a_terminal_only(tmp_path, store, slow_layout):
    import pty
    master, slave = pty.openpty()
    p = subprocess.Popen([SBX, "image", "import", "--store", str(store), "--name", "p", str(slow_layout)],
                         stdout=subprocess.DEVNULL, stderr=slave)
    os.close(slave)
    out = b""
    while True:
        try:
            chunk = os.read(master, 4096)
        except OSError:
            break
        if not chunk:
            break
        out += chunk
    assert p.wait() == 0
    os.close(master)
    text = out.decode()
    assert "\rsbx: checking layer 1/2" in text and "\rsbx: unpacking layer 2/2" in text, text
    assert text.endswith("\r\x1b[K"), "the progress line is not cleared"
    sbx("image", "rm", "--store", str(store), "p")
    r = imp(store, slow_layout, "--name", "p")
    assert r.returncode == 0 and r.stderr == ""
