"""Hostile root file systems: mount targets that are symlinks out of the
rootfs must be refused or contained, never followed (ESC-11, ESC-15, ESC-19).
Each case has a canary directory on the host that must stay byte-for-byte
the same, and the host's mount table must not change."""
import os
import pathlib
import shutil
import tempfile

import pytest

from conftest import RUNTIME, snapshot, host_mounts, make_rootfs, probe, run




@pytest.fixture
def hostile(tmp_path):
    """A fresh rootfs and a populated canary directory on the host.  The
    canary lives outside /tmp, where sbx's staging tmpfs would hide it and
    make an escape look contained."""
    base = tmp_path / "base"
    base.mkdir()
    os.chmod(tmp_path, 0o755)
    root = make_rootfs(base)
    canary = pathlib.Path(tempfile.mkdtemp(prefix="sbx-canary-", dir="/var/tmp"))
    for name in ("ptmx", "null", "fd", "hosts", "keep"):
        (canary / name).write_text(f"canary {name}\n")
    (canary / "sub").mkdir()
    os.chmod(canary, 0o755)
    yield root, canary
    shutil.rmtree(canary)


def replace_with_symlink(root, name, target):
    path = root / name
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    else:
        path.unlink()
    path.symlink_to(target)


def relative_to_canary(root, canary):
    depth = len(root.parts) - 1
    return "../" * (depth + 2) + str(canary).lstrip("/")


@pytest.mark.parametrize("name", ["proc", "dev", "workspace", "tmp", "sys"])
@pytest.mark.parametrize("how", ["absolute", "relative", "dangling", "proc-self-root"])
def test_symlinked_mount_target_is_refused(hostile, workspace, name, how):
    root, canary = hostile
    target = {"absolute": str(canary), "relative": relative_to_canary(root, canary),
              "dangling": "/nonexistent-sbx-target", "proc-self-root": "/proc/self/root" + str(canary)}[how]
    replace_with_symlink(root, name, target)
    before, mounts = snapshot(canary), host_mounts()
    opts = ["-w", str(workspace)] if name == "workspace" else []
    r = run(root, "/bin/sbx-probe", "write", f"/{name}/pwned", opts=opts)
    assert r.returncode == 125, (r.stdout, r.stderr)
    assert f"/{name} is a symbolic link" in r.stderr
    assert snapshot(canary) == before
    assert host_mounts() == mounts


@pytest.mark.parametrize("name", ["etc/hosts", "etc/resolv.conf", "etc/hostname"])
def test_symlinked_etc_file_is_not_followed(hostile, name):
    root, canary = hostile
    replace_with_symlink(root, name, str(canary / "hosts"))
    before = snapshot(canary)
    r = probe(root, "read", "/" + name)
    # Never followed: sbx's own file hides the link on the mount point
    # overlay (issue 10); before, the link resolved inside the rootfs,
    # where nothing is.
    assert r.stdout.startswith("ok"), r.stdout
    assert "canary" not in r.stdout
    assert snapshot(canary) == before


def test_symlinked_etc_dir_is_contained(hostile):
    root, canary = hostile
    replace_with_symlink(root, "etc", str(canary))
    before = snapshot(canary)
    r = probe(root, "read", "/etc/hosts")
    assert "canary" not in r.stdout
    assert snapshot(canary) == before


def test_symlinked_bind_target_is_refused(hostile, tmp_path):
    root, canary = hostile
    replace_with_symlink(root, "opt/data", str(canary))
    src = tmp_path / "src"
    src.mkdir()
    os.chmod(src, 0o755)
    before = snapshot(canary)
    r = run(root, "true", opts=["--ro-bind", f"{src}:/opt/data"])
    assert r.returncode == 125 and "symbolic link" in r.stderr
    # A symlink in the middle of the path resolves inside the rootfs.
    replace_with_symlink(root, "opt", str(canary))
    r = run(root, "true", opts=["--ro-bind", f"{src}:/opt/sub"])
    assert r.returncode == 125, r.stderr
    assert snapshot(canary) == before


def test_rootfs_itself_a_symlink_is_followed_only_by_the_caller(hostile, tmp_path):
    """--rootfs is the caller's own choice: a symlink to a directory works."""
    root, _ = hostile
    link = tmp_path / "link"
    link.symlink_to(root)
    # Under runsc no init of sbx's runs inside gVisor: the command is pid 1.
    assert probe(link, "pid").stdout == ("ok 1\n" if RUNTIME == "runsc" else "ok 2\n")


def test_missing_mount_point_is_made_without_writing_the_tree(hostile, workspace):
    """(Issue 10: see test_mount_points.py for the whole of it.)"""
    root, _ = hostile
    shutil.rmtree(root / "workspace")
    r = run(root, "true", opts=["-w", str(workspace)])
    assert r.returncode == 0, r.stderr
    r = probe(root, "cwd")
    assert r.stdout == "ok /workspace\n", r.stderr
    assert not (root / "workspace").exists()
