#!/usr/bin/env python3
"""Images that no one shaped for sbx, made with real tools as they come
(test_third_party_images.py), built once and cached:

  debian/            an OCI layout written by umoci from an mmdebstrap
                     --variant=minbase Debian bookworm with python3 and
                     python3-pip (no /workspace, as in every public image):
                     tags `minbase`, and `app` (the same, WorkingDir /app,
                     which the image does not have)
  debian-oci.tar     the `minbase` tag as an OCI archive (skopeo)
  debian-docker.tar  the same as a docker archive named tp/debian:minbase
                     (skopeo)
  busybox/           an OCI layout (umoci), tag `latest`: Debian's static
                     busybox and its applet links in /bin, nothing else (no
                     /etc, /tmp, /proc, /dev, /sys, /workspace)

The cache directory is keyed by this recipe and the versions of mmdebstrap,
umoci, skopeo and busybox-static: CACHE/<key>/, complete once
CACHE/<key>/.complete exists, built in a sibling temporary directory and
renamed into place, under a lock; older builds are removed then.  CACHE is /var/cache/sbx-tests/third-party
as root (readable by everybody: the rootless modes read the layouts), else
${XDG_CACHE_HOME:-~/.cache}/sbx-tests/third-party.  tests/run-integration
builds it (as root) before the modes run and passes the directory in
SBX_THIRD_PARTY_IMAGES.

    tests/integration/thirdparty.py [CACHE]   # prints the directory

Unprivileged, mmdebstrap --mode=auto picks unshare (with /etc/subuid
ranges) or fakechroot (without; scripts/deps installs fakechroot), and umoci
runs --rootless.  Cold: about 25-40 s (mmdebstrap downloads ~30 MB); warm:
0.2 s.

Environment: SBX_ROOTFS_MIRROR (as rootfs/build), SBX_MMDEBSTRAP_MODE.
"""
import fcntl
import hashlib
import os
import pathlib
import shutil
import subprocess
import sys
import tempfile
import time

SUITE = "bookworm"
PACKAGES = "python3,python3-pip"
DOCKER_NAME = "tp/debian:minbase"
TOOLS = {"mmdebstrap": ["mmdebstrap", "--version"], "umoci": ["umoci", "--version"],
         "skopeo": ["skopeo", "--version"],
         "busybox-static": ["dpkg-query", "-W", "-f=${Version}", "busybox-static"]}
BUSYBOX = "/bin/busybox"


def log(*a):
    print("thirdparty:", *a, file=sys.stderr, flush=True)


def missing_tools():
    return [t for t in ("mmdebstrap", "umoci", "skopeo") if not shutil.which(t)] + \
        ([] if os.path.exists(BUSYBOX) else [BUSYBOX])


def cache_key():
    h = hashlib.sha256(pathlib.Path(__file__).read_bytes())
    for name, cmd in sorted(TOOLS.items()):
        r = subprocess.run(cmd, capture_output=True, text=True)
        h.update(f"{name}={r.stdout.strip()}\n".encode())
    h.update(f"mirror={os.environ.get('SBX_ROOTFS_MIRROR', '')}\n".encode())
    return h.hexdigest()[:16]


def default_cache():
    if os.geteuid() == 0:
        return pathlib.Path("/var/cache/sbx-tests/third-party")
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return pathlib.Path(base) / "sbx-tests" / "third-party"


def sh(*cmd, **kw):
    r = subprocess.run([str(c) for c in cmd], capture_output=True, text=True, **kw)
    if r.returncode:
        raise RuntimeError(f"{' '.join(map(str, cmd))}: exit {r.returncode}: {r.stderr.strip()[-2000:]}")
    return r.stdout


def umoci(cmd, *args):
    # Unprivileged umoci maps the caller to root in the image (--rootless).
    rootless = ["--rootless"] if os.geteuid() != 0 and cmd in ("insert", "unpack", "repack") else []
    return sh("umoci", cmd, *rootless, *args)


def debian_tree(work):
    """mmdebstrap's minbase with python3 and pip, extracted into WORK/rootfs.
    Device nodes are left out (public images have an empty /dev, and an
    unprivileged caller cannot make them)."""
    tar = work / "debian.tar"
    hooks = "/usr/share/mmdebstrap/hooks/merged-usr"
    args = ["mmdebstrap", "--variant=minbase", f"--mode={os.environ.get('SBX_MMDEBSTRAP_MODE', 'auto')}",
            f"--include={PACKAGES}", "--aptopt=Acquire::Languages \"none\"",
            "--dpkgopt=path-exclude=/usr/share/man/*", "--dpkgopt=path-exclude=/usr/share/locale/*",
            "--dpkgopt=path-exclude=/usr/share/doc/*", "--format=tar",
            *([f"--hook-dir={hooks}"] if os.path.isdir(hooks) else []),
            SUITE, str(tar), *([os.environ["SBX_ROOTFS_MIRROR"]] if os.environ.get("SBX_ROOTFS_MIRROR") else [])]
    sh(*args, env=dict(os.environ, HOME="/"), stdin=subprocess.DEVNULL, cwd="/")
    root = work / "rootfs"
    root.mkdir(mode=0o755)
    owners = ["--numeric-owner", "--same-owner"] if os.geteuid() == 0 else ["--no-same-owner"]
    sh("tar", "-xpf", tar, "-C", root, *owners, "--exclude=./dev/*")
    tar.unlink()
    for d in ("workspace", "app"):
        if (root / d).exists():
            raise RuntimeError(f"the Debian tree has /{d}: the tests would prove nothing")
    return root


def busybox_tree(work):
    root = work / "bb"
    (root / "bin").mkdir(parents=True)
    os.chmod(root, 0o755)
    shutil.copy2(BUSYBOX, root / "bin" / "busybox")
    for applet in sh(BUSYBOX, "--list").split():
        if applet != "busybox":
            (root / "bin" / applet).symlink_to("busybox")
    return root


def build(dest):
    work = pathlib.Path(tempfile.mkdtemp(prefix=dest.name + ".tmp.", dir=dest.parent))
    try:
        t0 = time.monotonic()
        deb = work / "debian"
        umoci("init", "--layout", deb)
        umoci("new", "--image", f"{deb}:minbase")
        tree = debian_tree(work)
        log(f"mmdebstrap: {time.monotonic() - t0:.0f}s")
        umoci("insert", "--image", f"{deb}:minbase", tree, "/")
        shutil.rmtree(tree)
        umoci("config", "--image", f"{deb}:minbase", "--config.cmd", "python3")
        umoci("config", "--image", f"{deb}:minbase", "--tag", "app", "--config.workingdir", "/app")
        sh("skopeo", "copy", "--quiet", f"oci:{deb}:minbase", f"oci-archive:{work / 'debian-oci.tar'}")
        sh("skopeo", "copy", "--quiet", f"oci:{deb}:minbase", f"docker-archive:{work / 'debian-docker.tar'}:{DOCKER_NAME}")
        bb = work / "busybox"
        umoci("init", "--layout", bb)
        umoci("new", "--image", f"{bb}:latest")
        umoci("insert", "--image", f"{bb}:latest", busybox_tree(work), "/")
        umoci("config", "--image", f"{bb}:latest", "--config.cmd", "/bin/sh")
        shutil.rmtree(work / "bb")
        (work / ".complete").write_text(f"built in {time.monotonic() - t0:.0f}s\n")
        sh("chmod", "-R", "a+rX", work)
        work.rename(dest)
        log(f"built {dest} in {time.monotonic() - t0:.0f}s")
    finally:
        if work.exists():
            sh("chmod", "-R", "u+rwX", work)
            shutil.rmtree(work, ignore_errors=True)
    return dest


def images(cache=None):
    """The directory of the images (built if need be)."""
    cache = pathlib.Path(cache) if cache else default_cache()
    cache.mkdir(parents=True, exist_ok=True)
    p = cache
    while p != p.parent and str(p).startswith(("/var/cache/sbx-tests",)):
        os.chmod(p, 0o755)
        p = p.parent
    dest = cache / cache_key()
    if (dest / ".complete").exists():
        return dest
    missing = missing_tools()
    if missing:
        raise RuntimeError(f"missing {', '.join(missing)} (scripts/deps installs them)")
    with open(cache / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (dest / ".complete").exists():
            if dest.exists():
                shutil.rmtree(dest)
            build(dest)
            prune(cache, keep=dest)
    return dest


def prune(cache, keep):
    """Builds for older tools or recipes (a few hundred MB each) go."""
    for old in cache.iterdir():
        if old != keep and old.is_dir() and (old / ".complete").exists():
            shutil.rmtree(old, ignore_errors=True)


if __name__ == "__main__":
    try:
        print(images(sys.argv[1] if len(sys.argv) > 1 else None))
    except RuntimeError as e:
        log(f"error: {e}")
        sys.exit(1)
