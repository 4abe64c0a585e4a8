"""Build OCI image layouts, OCI archives and docker archives from lists of
layers, with knobs that make them hostile (test_images.py).

Standard library only (json, hashlib, tarfile, gzip, io, subprocess); zstd
layers need the `zstd` command (Debian package zstd, in scripts/deps).

    layer = Layer.of([dir_("etc"), file("etc/motd", b"hi\\n")], compression="gzip")
    lay = Layout(tmp / "lay")
    man = lay.image([layer], config={"Cmd": ["/bin/sh"]})
    lay.write_index([man], ref="latest")
    oci_archive(lay.path, tmp / "oci.tar")
    docker_archive(tmp / "docker.tar", [layer], repo_tags=["demo:1"])

Every document is written exactly as asked, so a knob can make any field
lie: `Layout.image(diff_ids=..., layer_overrides=[{"digest": ...}],
config_overrides=..., manifest_extra=..., manifest_media_type=...)`,
`Layout.write_index(raw=...)`, `oci_archive(blobs_symlink=...)`,
`docker_archive(layer_paths=..., config_path=...)`.  Large layers (a
decompression bomb, a million entries) are produced as streams, so that
they cost neither memory nor much time.
"""
import gzip
import hashlib
import io
import json
import os
import pathlib
import shutil
import subprocess
import tarfile
import zlib

MT_INDEX = "application/vnd.oci.image.index.v1+json"
MT_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
MT_CONFIG = "application/vnd.oci.image.config.v1+json"
MT_LAYER = {None: "application/vnd.oci.image.layer.v1.tar",
            "gzip": "application/vnd.oci.image.layer.v1.tar+gzip",
            "zstd": "application/vnd.oci.image.layer.v1.tar+zstd"}
MT_DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
MT_DOCKER_LAYER = "application/vnd.docker.image.rootfs.diff.tar.gzip"
REF_NAME = "org.opencontainers.image.ref.name"
MTIME = 1700000000
CREATED = "2026-01-01T00:00:00Z"


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def digest(data: bytes) -> str:
    return "sha256:" + sha256(data)


def have_zstd() -> bool:
    return shutil.which("zstd") is not None


# ---- tar entries ---------------------------------------------------------------------
# An entry is a dict: name, kind (file dir symlink hardlink fifo chr blk), data,
# target, mode, uid, gid, mtime, pax (extra PAX headers).

def entry(name, kind="file", data=b"", target=None, mode=None, uid=0, gid=0, mtime=MTIME,
          devmajor=0, devminor=0, pax=None):
    if isinstance(data, str):
        data = data.encode()
    if mode is None:
        mode = 0o755 if kind == "dir" else 0o777 if kind == "symlink" else 0o644
    return {"name": name, "kind": kind, "data": data, "target": target, "mode": mode, "uid": uid,
            "gid": gid, "mtime": mtime, "devmajor": devmajor, "devminor": devminor, "pax": pax or {}}


def file(name, data=b"", mode=0o644, **kw):
    return entry(name, "file", data=data, mode=mode, **kw)


def dir_(name, mode=0o755, **kw):
    return entry(name.rstrip("/") + "/" if name not in (".", "/", "./") else name, "dir", mode=mode, **kw)


def symlink(name, target, **kw):
    return entry(name, "symlink", target=target, **kw)


def hardlink(name, target, **kw):
    return entry(name, "hardlink", target=target, **kw)


def fifo(name, **kw):
    return entry(name, "fifo", **kw)


def chardev(name, major, minor, **kw):
    return entry(name, "chr", devmajor=major, devminor=minor, **kw)


def whiteout(path):
    """The OCI removal entry for PATH: DIR/.wh.BASE."""
    head, _, base = path.rstrip("/").rpartition("/")
    return file((head + "/" if head else "") + ".wh." + base)


def opaque(dirpath):
    """The OCI opaque whiteout of DIRPATH: its lower contents disappear."""
    return file(dirpath.rstrip("/") + "/.wh..wh..opq")


_TYPES = {"file": tarfile.REGTYPE, "dir": tarfile.DIRTYPE, "symlink": tarfile.SYMTYPE,
          "hardlink": tarfile.LNKTYPE, "fifo": tarfile.FIFOTYPE, "chr": tarfile.CHRTYPE,
          "blk": tarfile.BLKTYPE}


def tar_bytes(entries, fmt=tarfile.PAX_FORMAT) -> bytes:
    """An uncompressed tar of ENTRIES, in order, byte-for-byte reproducible."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=fmt) as tar:
        for e in entries:
            info = tarfile.TarInfo(e["name"])
            info.type = _TYPES[e["kind"]]
            info.mode, info.uid, info.gid, info.mtime = e["mode"], e["uid"], e["gid"], e["mtime"]
            info.uname = info.gname = ""
            info.devmajor, info.devminor = e["devmajor"], e["devminor"]
            if e["pax"]:
                info.pax_headers = dict(e["pax"])
            if e["target"] is not None:
                info.linkname = e["target"]
            if e["kind"] == "file":
                info.size = len(e["data"])
                tar.addfile(info, io.BytesIO(e["data"]))
            else:
                tar.addfile(info)
    return buf.getvalue()


def tree_entries(root, uid=0, gid=0, prefix=""):
    """The entries of directory ROOT (say a test rootfs), owned by UID:GID,
    modes as they are on disk, the root itself first as `./`."""
    root = pathlib.Path(root)
    out = [dir_("./", mode=os.stat(root).st_mode & 0o7777, uid=uid, gid=gid)]
    for p in sorted(root.rglob("*")):
        rel = prefix + str(p.relative_to(root))
        st = os.lstat(p)
        if p.is_symlink():
            out.append(symlink(rel, os.readlink(p), uid=uid, gid=gid))
        elif p.is_dir():
            out.append(dir_(rel, mode=st.st_mode & 0o7777, uid=uid, gid=gid))
        else:
            out.append(file(rel, p.read_bytes(), mode=st.st_mode & 0o7777, uid=uid, gid=gid))
    return out


def compress(raw: bytes, how) -> bytes:
    if how is None:
        return raw
    if how == "gzip":
        return gzip.compress(raw, compresslevel=6, mtime=0)
    if how == "zstd":
        if not have_zstd():
            raise RuntimeError("zstd layers need the zstd command (apt-get install zstd)")
        return subprocess.run(["zstd", "-q", "-c", "-3"], input=raw, capture_output=True, check=True).stdout
    raise ValueError(how)


class Layer:
    """One layer: BLOB as stored, DIFF_ID the sha256 of its tar, MEDIA_TYPE."""

    def __init__(self, blob: bytes, diff_id: str, media_type: str, compression=None):
        self.blob, self.diff_id, self.media_type, self.compression = blob, diff_id, media_type, compression

    @classmethod
    def of(cls, entries_or_tar, compression=None, media_type=None):
        raw = entries_or_tar if isinstance(entries_or_tar, (bytes, bytearray)) else tar_bytes(entries_or_tar)
        return cls(compress(bytes(raw), compression), digest(raw), media_type or MT_LAYER[compression],
                   compression)

    @classmethod
    def of_tree(cls, root, compression=None, **kw):
        return cls.of(tree_entries(root, **kw), compression)

    @classmethod
    def streamed(cls, chunks, compression="gzip"):
        """A layer from an iterable of tar byte chunks (the caller ends the
        archive), compressed and hashed as it goes."""
        h = hashlib.sha256()
        out = bytearray()
        z = zlib.compressobj(6, zlib.DEFLATED, 31) if compression == "gzip" else None
        if compression not in (None, "gzip"):
            raise ValueError("streamed layers: tar or gzip")
        for c in chunks:
            h.update(c)
            out += z.compress(c) if z else c
        if z:
            out += z.flush()
        return cls(bytes(out), "sha256:" + h.hexdigest(), MT_LAYER[compression], compression)


# ---- streamed hostile layers ----------------------------------------------------------

def ustar_header(name: bytes, size=0, typeflag=b"0", mode=0o644) -> bytes:
    """A 512-byte ustar header (names up to 100 bytes)."""
    assert len(name) <= 100
    h = bytearray(512)
    h[0:len(name)] = name
    h[100:108] = b"%07o\0" % mode
    h[108:116] = b"%07o\0" % 0
    h[116:124] = b"%07o\0" % 0
    h[124:136] = b"%011o\0" % size
    h[136:148] = b"%011o\0" % MTIME
    h[148:156] = b" " * 8
    h[156:157] = typeflag
    h[257:263] = b"ustar\0"
    h[263:265] = b"00"
    h[148:156] = b"%06o\0 " % sum(h)
    return bytes(h)


TAR_END = b"\0" * 1024


def many_entries_chunks(n_files, dirname=b"m"):
    """A tar of one directory DIRNAME/ and N_FILES empty regular files in it
    (DIRNAME/0000000, ...): N_FILES + 1 entries, 512 bytes each.  Made from a
    header template whose checksum is adjusted per name, so that a million
    entries take about a second."""
    yield ustar_header(dirname + b"/", typeflag=b"5", mode=0o755)
    width = 7
    proto = bytearray(ustar_header(dirname + b"/" + b"0" * width))
    # The checksum is the sum of the header's bytes with the checksum field
    # as spaces: the template's, less its name's digits.
    base_sum = int(proto[148:154], 8) - sum(b"0" * width)
    off = len(dirname) + 1
    batch = []
    for i in range(n_files):
        name = b"%0*d" % (width, i)
        proto[off:off + width] = name
        proto[148:156] = b"%06o\0 " % (base_sum + sum(name))
        batch.append(bytes(proto))
        if len(batch) == 8192:
            yield b"".join(batch)
            batch = []
    if batch:
        yield b"".join(batch)
    yield TAR_END


def zero_file_chunks(name: bytes, size: int, chunk=1 << 20):
    """A tar of one regular file of SIZE zero bytes (a decompression bomb
    once gzipped: about 1000:1)."""
    yield ustar_header(name, size=size)
    zeros = b"\0" * chunk
    left = size
    while left:
        k = min(left, chunk)
        yield zeros if k == chunk else b"\0" * k
        left -= k
    pad = (-size) % 512
    yield b"\0" * pad + TAR_END


# ---- OCI image layouts ----------------------------------------------------------------

class Layout:
    """An OCI image layout being written at PATH (oci-layout, index.json,
    blobs/sha256/<hex>)."""

    def __init__(self, path, layout_version="1.0.0"):
        self.path = pathlib.Path(path)
        (self.path / "blobs" / "sha256").mkdir(parents=True, exist_ok=True)
        if layout_version is not None:
            (self.path / "oci-layout").write_text(json.dumps({"imageLayoutVersion": layout_version}))

    def blob_path(self, d: str) -> pathlib.Path:
        return self.path / "blobs" / "sha256" / d.split(":", 1)[1]

    def put(self, data, media_type, **overrides):
        """Store DATA as a blob; its descriptor, with OVERRIDES merged in
        (digest, size, mediaType, platform, annotations... may lie)."""
        if isinstance(data, str):
            data = data.encode()
        (self.path / "blobs" / "sha256" / sha256(data)).write_bytes(data)
        desc = {"mediaType": media_type, "digest": digest(data), "size": len(data)}
        desc.update(overrides)
        return desc

    def put_json(self, obj, media_type, **overrides):
        return self.put(json.dumps(obj, sort_keys=True).encode(), media_type, **overrides)

    @staticmethod
    def config_doc(layers, config=None, arch="amd64", os_="linux", variant=None, diff_ids=None,
                   created=CREATED):
        doc = {"architecture": arch, "os": os_, "config": config if config is not None else {},
               "rootfs": {"type": "layers",
                          "diff_ids": diff_ids if diff_ids is not None else [l.diff_id for l in layers]},
               "history": [{"created": created, "created_by": "ocifixtures"} for _ in layers]}
        if created is not None:
            doc["created"] = created
        if variant:
            doc["variant"] = variant
        return doc

    def image(self, layers, config=None, arch="amd64", os_="linux", variant=None, diff_ids=None,
              created=CREATED, layer_overrides=None, config_overrides=None, config_raw=None,
              manifest_extra=None, manifest_media_type=MT_MANIFEST, platform=True, annotations=None):
        """Write LAYERS (Layer objects), a config and a manifest; return the
        manifest's descriptor (with a platform unless PLATFORM is False).
        Knobs: DIFF_IDS replaces the config's list; LAYER_OVERRIDES (a list of
        dicts or None, one per layer) and CONFIG_OVERRIDES are merged into
        the descriptors; CONFIG_RAW replaces the config document's bytes;
        MANIFEST_EXTRA is merged into the manifest (say {"manifests": []});
        MANIFEST_MEDIA_TYPE is the descriptor's mediaType (the manifest
        itself keeps MT_MANIFEST unless MANIFEST_EXTRA says otherwise)."""
        descs = []
        for i, l in enumerate(layers):
            over = (layer_overrides[i] if layer_overrides and i < len(layer_overrides) else None) or {}
            descs.append(self.put(l.blob, l.media_type, **over))
        cfg = config_raw if config_raw is not None else json.dumps(
            self.config_doc(layers, config, arch, os_, variant, diff_ids, created), sort_keys=True).encode()
        cdesc = self.put(cfg, MT_CONFIG, **(config_overrides or {}))
        man = {"schemaVersion": 2, "mediaType": MT_MANIFEST, "config": cdesc, "layers": descs}
        if annotations:
            man["annotations"] = annotations
        man.update(manifest_extra or {})
        desc = self.put_json(man, manifest_media_type)
        if platform:
            desc["platform"] = {"architecture": arch, "os": os_}
            if variant:
                desc["platform"]["variant"] = variant
        return desc

    def nested_index(self, descriptors, **overrides):
        """An index stored as a blob; its descriptor (for a parent index)."""
        return self.put_json({"schemaVersion": 2, "mediaType": MT_INDEX, "manifests": descriptors},
                             MT_INDEX, **overrides)

    def write_index(self, descriptors, ref=None, raw=None):
        """index.json listing DESCRIPTORS (the first one named REF, if given);
        RAW replaces the whole document."""
        if raw is None:
            descriptors = [dict(d) for d in descriptors]
            if ref is not None and descriptors:
                descriptors[0]["annotations"] = dict(descriptors[0].get("annotations", {}), **{REF_NAME: ref})
            raw = json.dumps({"schemaVersion": 2, "mediaType": MT_INDEX, "manifests": descriptors})
        (self.path / "index.json").write_text(raw if isinstance(raw, str) else raw.decode())
        return self.path

    # -- reading back, for tests that doctor a layout after writing it
    def index(self):
        return json.loads((self.path / "index.json").read_text())

    def manifest(self, i=0):
        return json.loads(self.blob_path(self.index()["manifests"][i]["digest"]).read_text())

    def replace_manifest(self, man, i=0, **desc_overrides):
        """Store MAN and point index.json entry I at it (correctly hashed)."""
        desc = self.put_json(man, MT_MANIFEST)
        idx = self.index()
        idx["manifests"][i].update(digest=desc["digest"], size=desc["size"], **desc_overrides)
        self.write_index(None, raw=json.dumps(idx))
        return desc

    def readable(self):
        """Make the layout readable by everybody (rootless modes read it)."""
        world_readable(self.path)
        return self


def world_readable(path):
    path = pathlib.Path(path)
    for p in [path, *path.rglob("*")]:
        if not p.is_symlink():
            os.chmod(p, os.stat(p).st_mode | (0o555 if p.is_dir() else 0o444))
    return path


def layout(path, layers, ref="latest", **image_kw) -> Layout:
    """A layout holding one image of LAYERS, named REF."""
    lay = Layout(path)
    lay.write_index([lay.image(layers, **image_kw)], ref=ref)
    return lay


# ---- archives -------------------------------------------------------------------------

def _add_bytes(tar, name, data, mode=0o644):
    info = tarfile.TarInfo(name)
    info.size, info.mode, info.mtime = len(data), mode, MTIME
    tar.addfile(info, io.BytesIO(data))


def oci_archive(layout_dir, out, blobs_symlink=None, extra=None, prefix=""):
    """A tar of the layout at LAYOUT_DIR (what `skopeo copy ...
    oci-archive:` writes).  BLOBS_SYMLINK: store `blobs` as a symlink to
    that path instead of the blobs.  EXTRA: (name, bytes) entries added
    first."""
    layout_dir = pathlib.Path(layout_dir)
    with tarfile.open(out, "w", format=tarfile.PAX_FORMAT) as tar:
        for name, data in extra or []:
            _add_bytes(tar, name, data)
        for p in sorted(layout_dir.rglob("*")):
            rel = str(p.relative_to(layout_dir))
            if blobs_symlink is not None and (rel == "blobs" or rel.startswith("blobs/")):
                continue
            tar.add(p, arcname=prefix + rel, recursive=False)
        if blobs_symlink is not None:
            info = tarfile.TarInfo(prefix + "blobs")
            info.type, info.linkname, info.mtime = tarfile.SYMTYPE, str(blobs_symlink), MTIME
            tar.addfile(info)
    return pathlib.Path(out)


def docker_archive(out, layers, config=None, repo_tags=("test:latest",), arch="amd64", diff_ids=None,
                   layer_paths=None, config_path=None, extra_files=None, manifest_raw=None):
    """A `docker save` style archive: manifest.json, <hex>.json (the config)
    and <hex>/layer.tar per layer (layers stored as their blobs, usually
    uncompressed).  LAYER_PATHS / CONFIG_PATH: the names manifest.json uses
    (the data is stored under the same names unless they are unsafe, in
    which case it is not stored at all); EXTRA_FILES: more (name, bytes)."""
    cfg = json.dumps(Layout.config_doc(layers, config, arch, diff_ids=diff_ids), sort_keys=True).encode()
    cname = config_path or sha256(cfg) + ".json"
    paths = list(layer_paths) if layer_paths else [sha256(l.blob) + "/layer.tar" for l in layers]
    files = {}

    def safe(n):
        return not n.startswith("/") and ".." not in n.split("/")

    if safe(cname):
        files[cname] = cfg
    for p, l in zip(paths, layers):
        if safe(p):
            files.setdefault(p, l.blob)
    manifest = manifest_raw if manifest_raw is not None else json.dumps(
        [{"Config": cname, "RepoTags": list(repo_tags) if repo_tags else None, "Layers": paths}]).encode()
    with tarfile.open(out, "w", format=tarfile.PAX_FORMAT) as tar:
        dirs = sorted({n.rsplit("/", 1)[0] for n in files if "/" in n})
        for d in dirs:
            info = tarfile.TarInfo(d)
            info.type, info.mode, info.mtime = tarfile.DIRTYPE, 0o755, MTIME
            tar.addfile(info)
        for name, data in list(files.items()) + list(extra_files or []):
            _add_bytes(tar, name, data)
        _add_bytes(tar, "manifest.json", manifest)
    return pathlib.Path(out)


# ---- external tools ---------------------------------------------------------------------

def validate(layout_dir, tag="latest"):
    """Problems `umoci stat` and `skopeo inspect` find in the layout (empty
    when both accept it, or are not installed)."""
    problems = []
    if shutil.which("umoci"):
        r = subprocess.run(["umoci", "stat", "--image", f"{layout_dir}:{tag}"], capture_output=True, text=True)
        if r.returncode:
            problems.append("umoci stat: " + r.stderr.strip())
    if shutil.which("skopeo"):
        r = subprocess.run(["skopeo", "inspect", "--raw", f"oci:{layout_dir}:{tag}"], capture_output=True, text=True)
        if r.returncode:
            problems.append("skopeo inspect: " + r.stderr.strip())
        r = subprocess.run(["skopeo", "inspect", "--config", f"oci:{layout_dir}:{tag}"], capture_output=True,
                           text=True)
        if r.returncode:
            problems.append("skopeo inspect --config: " + r.stderr.strip())
    return problems
