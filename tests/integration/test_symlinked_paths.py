"""Issue 9, item 2: -w and --bind/--ro-bind sources are resolved once,
without following symbolic links, and their owner is decided from what is
mounted.  A path through a link is refused (125) with the real path."""
import os
import shutil
import tempfile

import pytest

from conftest import MODE, ROOT_MODE_WS_UID, python_rootfs, sbx


@pytest.fixture
def base():
    d = tempfile.mkdtemp(prefix="tmp-sbx-links-", dir="/tmp")
    os.chmod(d, 0o755)
    yield d
    shutil.rmtree(d, ignore_errors=True)


def run(*args):
    return sbx("run", "--no-tty", "--rootfs", python_rootfs(), *args)


def users_dir(base, name):
    d = os.path.join(base, name)
    os.mkdir(d)
    if os.geteuid() == 0:
        os.chown(d, ROOT_MODE_WS_UID, ROOT_MODE_WS_UID)
    return d


def test_a_workspace_link_to_a_root_owned_directory_is_refused(base):
    """~/ws -> a root-owned directory: followed, the owner was root's and
    the sandbox got root's rights there (idmapped), a 0600 file included."""
    target = os.path.join(base, "rootdir")
    os.mkdir(target)
    with open(os.path.join(target, "secret"), "w") as f:
        f.write("root only\n")
    os.chmod(os.path.join(target, "secret"), 0o600)
    home = users_dir(base, "home")
    link = os.path.join(home, "ws")
    os.symlink(target, link)
    r = run("-w", link, "--", "sh", "-c", "cat /workspace/secret; echo x > /workspace/planted")
    assert r.returncode == 125, (r.stdout, r.stderr)
    assert "root only" not in r.stdout
    assert "symbolic link" in r.stderr and f"give the real path instead: {target}" in r.stderr, r.stderr
    assert not os.path.exists(os.path.join(target, "planted"))


def test_a_link_a_sandbox_left_in_its_workspace_is_not_followed(base):
    """A first run leaves proj -> /etc in its workspace; `-w WS/proj` must
    not hand a later run /etc."""
    ws = users_dir(base, "ws")
    r = run("-w", ws, "--", "ln", "-s", "/etc", "/workspace/proj")
    assert r.returncode == 0, r.stderr
    planted = f"sbx-link-test-{os.getpid()}-{os.urandom(4).hex()}"
    try:
        r = run("-w", os.path.join(ws, "proj"), "--", "sh", "-c",
                f"echo pwned > /workspace/{planted}; ls /workspace/passwd")
        assert not os.path.exists(f"/etc/{planted}")
    finally:
        if os.path.exists(f"/etc/{planted}"):  # what the unfixed sbx let through
            os.unlink(f"/etc/{planted}")
    assert r.returncode == 125, (r.stdout, r.stderr)
    assert "give the real path instead: /etc" in r.stderr, r.stderr


@pytest.mark.parametrize("option", ["--bind", "--ro-bind"])
def test_a_bind_source_through_a_link_into_a_private_directory_is_refused(base, option):
    """A user's link into a 0700 directory: followed by root, it exposed
    what that directory protects."""
    private = os.path.join(base, "private")
    os.mkdir(private, 0o700)
    with open(os.path.join(private, "data"), "w") as f:
        f.write("behind a 0700 directory\n")
    os.chmod(os.path.join(private, "data"), 0o644)
    home = users_dir(base, "home")
    link = os.path.join(home, "data")
    os.symlink(os.path.join(private, "data"), link)
    r = run(option, f"{link}:/tmp/data", "--", "cat", "/tmp/data")
    assert r.returncode == 125, (r.stdout, r.stderr)
    assert "behind" not in r.stdout
    assert f"{option} {link}: the path goes through a symbolic link" in r.stderr, r.stderr
    # A link higher up the path counts too.
    os.symlink(private, os.path.join(home, "dir"))
    r = run(option, f"{home}/dir/data:/tmp/data", "--", "cat", "/tmp/data")
    assert r.returncode == 125 and "behind" not in r.stdout, (r.stdout, r.stderr)


def test_real_paths_still_work(base):
    ws = users_dir(base, "ws")
    data = os.path.join(ws, "f")
    with open(data, "w") as f:
        f.write("here\n")
    os.chmod(data, 0o644)
    cwd = os.getcwd()
    try:
        os.chdir(base)
        # A file onto a point of the image (runsc mounts no file on a
        # point of its tmpfs: test_isolation's test_extra_mounts).
        r = run("-w", "ws", "--ro-bind", "ws/f:/opt/f", "--", "cat", "/workspace/f", "/opt/f")
    finally:
        os.chdir(cwd)
    assert r.returncode == 0, r.stderr
    assert r.stdout == "here\nhere\n"
