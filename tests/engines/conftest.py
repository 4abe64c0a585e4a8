"""Fixtures of the engine suite: podman (root and rootless) and containerd
with the runtime under test in their runtime slot.

The runtime is SBX_ENGINE_RUNTIME (default: the checkout's ./sbx); the
suite was calibrated with runc there (SBX_ENGINE_RUNTIME=$(command -v runc)):
every case passes with runc as root and rootless.  An engine that is not
installed, or a mode this machine cannot give, is a skip with the reason."""
import os
import pathlib
import pwd
import shutil
import subprocess

import pytest

import engines


def missing(*tools):
    return [t for t in tools if shutil.which(t) is None]


@pytest.fixture(scope="session")
def runtime():
    path = engines.runtime_path()
    if not os.access(path, os.X_OK):
        pytest.skip(f"the runtime under test {path} is not there (SBX_ENGINE_RUNTIME; `make sbx`)")
    return path


@pytest.fixture(scope="session")
def image_archive(tmp_path_factory):
    return engines.build_image(tmp_path_factory.mktemp("image") / "busybox.tar")


def rootless_unavailable():
    if os.geteuid() == 0:
        try:
            user = pwd.getpwnam(engines.ROOTLESS_USER)
        except KeyError:
            return f"the rootless test user {engines.ROOTLESS_USER} does not exist (tests/setup-users)"
    else:
        user = pwd.getpwuid(os.geteuid())
    try:
        ranges = open("/etc/subuid").read().splitlines()
    except FileNotFoundError:
        ranges = []
    if not any(line.split(":")[0] in (user.pw_name, str(user.pw_uid)) for line in ranges):
        return f"rootless podman needs a subordinate id range for {user.pw_name} in /etc/subuid"
    if missing("newuidmap", "newgidmap"):
        return "rootless podman needs newuidmap/newgidmap (uidmap)"
    return None


@pytest.fixture(scope="session", params=["root", "rootless"])
def podman(request, runtime, image_archive):
    mode = request.param
    if missing("podman", "conmon"):
        pytest.skip(f"podman is not installed ({', '.join(missing('podman', 'conmon'))} missing; scripts/deps)")
    if mode == "root" and os.geteuid() != 0:
        pytest.skip("podman as root needs root (sudo make check)")
    if mode == "rootless":
        why = rootless_unavailable()
        if why:
            pytest.skip(why)
        if os.geteuid() == 0:
            r = subprocess.run(["runuser", "-u", engines.ROOTLESS_USER, "--", "test", "-x", runtime])
            if r.returncode != 0:
                pytest.skip(f"{engines.ROOTLESS_USER} cannot execute {runtime} (a private checkout?)")
    p = engines.Podman(mode, runtime, image_archive)
    yield p
    p.close()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if report.when == "call":
        item.call_failed = report.failed


def check_left(request, engine):
    """After a test that passed: nothing of it left (a failed test's
    leftovers are its failure's consequence; they are cleaned all the same)."""
    left = engine.leftovers()
    engine.clean()
    if not getattr(request.node, "call_failed", False):
        assert not left, "left behind: " + "; ".join(left)


@pytest.fixture
def pm(request, podman):
    """The session's podman, checked after the test: no container, no pod,
    no runtime state or cgroup of its containers, no conmon left."""
    yield podman
    check_left(request, podman)


@pytest.fixture(scope="session")
def containerd(runtime, image_archive):
    if missing("containerd", "ctr", "containerd-shim-runc-v2"):
        pytest.skip("containerd is not installed (" + ", ".join(missing("containerd", "ctr", "containerd-shim-runc-v2"))
                    + " missing; scripts/deps)")
    if os.geteuid() != 0:
        pytest.skip("the containerd tests start a containerd of their own: they need root")
    c = engines.Containerd(runtime, image_archive)
    yield c
    c.close()


@pytest.fixture
def ctd(request, containerd):
    """The session's containerd, checked after the test: no container, no
    task, no runtime state or cgroup, no shim left."""
    yield containerd
    check_left(request, containerd)


@pytest.fixture
def host_dir(podman):
    """A host directory the container's root may write: its owner is the
    engine's user (rootless: the user namespace's root)."""
    d = engines.private_dir("sbx-engines-vol-", podman.user if podman.as_other_user else None)
    yield pathlib.Path(d)
    engines.remove_tree(d)
