"""Build OCI image layouts, OCI archives and docker archives for the tests,
with knobs that make them hostile.  Standard library only."""
import gzip
import hashlib
import io
import json
import os
import pathlib
import subprocess
import tarfile

OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
LAYER = {None: "application/vnd.oci.image.layer.v1.tar",
         "gzip": "application/vnd.oci.image.layer.v1.tar+gzip",
         "zstd": "application/vnd.oci.image.layer.v1.tar+zstd"}


def sha(data):
    return hashlib.sha256(data).hexdigest()


def tar_bytes(entries):
    """ENTRIES: (name, kind, data/target, mode[, uid]) with kind file, dir,
    symlink, hardlink or fifo."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for e in entries:
            name, kind, payload, mode = e[:4]
            uid = e[4] if len(e) > 4 else 0
            info = tarfile.TarInfo(name)
            info.mode, info.mtime, info.uid, info.gid = mode, 1700000000, uid, uid
            info.type = {"file": tarfile.REGTYPE, "dir": tarfile.DIRTYPE, "symlink": tarfile.SYMTYPE,
                         "hardlink": tarfile.LNKTYPE, "fifo": tarfile.FIFOTYPE}[kind]
            if kind == "file":
                info.size = len(payload)
                tar.addfile(info, io.BytesIO(payload))
            else:
                if kind in ("symlink", "hardlink"):
                    info.linkname = payload
                tar.addfile(info)
    return buf.getvalue()


def tree_entries(root: pathlib.Path):
    """The entries of a directory tree (a test rootfs), owners as root."""
    out = [("./", "dir", b"", 0o755)]
    for p in sorted(root.rglob("*")):
        rel = str(p.relative_to(root))
        st = os.lstat(p)
        mode = st.st_mode & 0o7777
        if p.is_symlink():
            out.append((rel, "symlink", os.readlink(p), 0o777))
        elif p.is_dir():
            out.append((rel + "/", "dir", b"", mode))
        else:
            out.append((rel, "file", p.read_bytes(), mode))
    return out


def compress(raw, how):
    if how == "gzip":
        return gzip.compress(raw, mtime=0)
    if how == "zstd":
        return subprocess.run(["zstd", "-q", "-c"], input=raw, capture_output=True, check=True).stdout
    return raw


class Layout:
    """An OCI image layout being written at PATH."""

    def __init__(self, path):
        self.path = pathlib.Path(path)
        (self.path / "blobs" / "sha256").mkdir(parents=True, exist_ok=True)
        (self.path / "oci-layout").write_text('{"imageLayoutVersion":"1.0.0"}')

    def blob(self, data, media_type, digest=None, size=None, **extra):
        if isinstance(data, str):
            data = data.encode()
        h = sha(data)
        (self.path / "blobs" / "sha256" / h).write_bytes(data)
        d = {"mediaType": media_type, "digest": digest or "sha256:" + h,
             "size": len(data) if size is None else size}
        d.update(extra)
        return d

    def json_blob(self, obj, media_type, **kw):
        return self.blob(json.dumps(obj), media_type, **kw)

    def image(self, layers, config=None, arch="amd64", compression="gzip", diff_ids=None,
              layer_types=None):
        """LAYERS: lists of tar entries (or raw tar bytes).  Returns the
        manifest descriptor."""
        descs, diffs = [], []
        for i, layer in enumerate(layers):
            raw = layer if isinstance(layer, bytes) else tar_bytes(layer)
            diffs.append("sha256:" + sha(raw))
            mt = layer_types[i] if layer_types else LAYER[compression]
            descs.append(self.blob(compress(raw, compression), mt))
        cfg = {"architecture": arch, "os": "linux", "created": "2026-01-01T00:00:00Z",
               "config": config or {},
               "rootfs": {"type": "layers", "diff_ids": diff_ids if diff_ids is not None else diffs}}
        cdesc = self.json_blob(cfg, OCI_CONFIG)
        manifest = {"schemaVersion": 2, "mediaType": OCI_MANIFEST, "config": cdesc, "layers": descs}
        return self.json_blob(manifest, OCI_MANIFEST)

    def index(self, descriptors, ref_name=None, top=True):
        if ref_name:
            for d in descriptors:
                d.setdefault("annotations", {})["org.opencontainers.image.ref.name"] = ref_name
        idx = {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": descriptors}
        if top:
            (self.path / "index.json").write_text(json.dumps(idx))
            return None
        return self.json_blob(idx, OCI_INDEX)


def simple_layout(path, layers, **kw):
    lay = Layout(path)
    ref = kw.pop("ref_name", "latest")
    lay.index([lay.image(layers, **kw)], ref_name=ref)
    return lay.path


def archive_of(directory: pathlib.Path, out: pathlib.Path):
    """A tar of DIRECTORY's contents (an oci-archive of a layout)."""
    with tarfile.open(out, "w") as tar:
        for p in sorted(directory.rglob("*")):
            tar.add(p, arcname=str(p.relative_to(directory)), recursive=False)
    return out


def docker_archive(out: pathlib.Path, layers, config=None, repo_tag="test:1", layer_paths=None,
                   config_path=None):
    """A docker-save style archive: manifest.json, HEX.json, HEX/layer.tar."""
    raws = [layer if isinstance(layer, bytes) else tar_bytes(layer) for layer in layers]
    cfg = json.dumps({"architecture": "amd64", "os": "linux", "config": config or {},
                      "rootfs": {"type": "layers", "diff_ids": ["sha256:" + sha(r) for r in raws]}}).encode()
    files = {config_path or sha(cfg) + ".json": cfg}
    paths = layer_paths or [f"{sha(r)}/layer.tar" for r in raws]
    for p, r in zip(paths, raws):
        files.setdefault(p, r)
    files["manifest.json"] = json.dumps([{"Config": config_path or sha(cfg) + ".json",
                                          "RepoTags": [repo_tag] if repo_tag else None,
                                          "Layers": paths}]).encode()
    with tarfile.open(out, "w") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size, info.mode = len(data), 0o644
            tar.addfile(info, io.BytesIO(data))
    return out
