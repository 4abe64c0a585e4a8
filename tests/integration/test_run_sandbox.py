"""scripts/run-sandbox.sh: the seed's Docker wrapper interface on top of
sbx run (environment settings, exit status, honest warnings)."""
import json
import os
import subprocess

import pytest

from conftest import REPO, SBX, sbx
from oci_build import simple_layout, tree_entries

SCRIPT = REPO / "scripts" / "run-sandbox.sh"


@pytest.fixture(scope="module")
def env(rootfs, tmp_path_factory):
    d = tmp_path_factory.mktemp("wrapper")
    store = d / "store"
    lay = simple_layout(d / "lay", [tree_entries(rootfs)])
    assert sbx("image", "import", "--store", str(store), "--name", "small", str(lay)).returncode == 0
    e = {k: v for k, v in os.environ.items() if not k.startswith("SANDBOX_")}
    e.update(SBX=SBX, SBX_STORE=str(store), SANDBOX_IMAGE="small")
    yield e
    sbx("image", "rm", "--store", str(store), "small")


def wrapper(env, *args, **extra):
    return subprocess.run([str(SCRIPT), *args], env={**env, **extra}, capture_output=True, text=True, timeout=60)


def test_status_and_workspace(env, workspace):
    r = wrapper(env, str(workspace), "/bin/sh", "-c", "echo hi > /workspace/out; touch /etc/x; exit 7")
    assert r.returncode == 7
    assert (workspace / "out").read_text() == "hi\n"
    assert "Read-only" in r.stderr


def test_limits_it_cannot_enforce_are_reported_only_when_asked_for(env, workspace):
    r = wrapper(env, str(workspace), "/bin/true")
    assert r.returncode == 0 and "warning" not in r.stderr
    r = wrapper(env, str(workspace), "/bin/true", SANDBOX_MEMORY="1g", SANDBOX_PIDS="50")
    assert r.returncode == 0
    assert "SANDBOX_MEMORY=1g is not enforced" in r.stderr and "SANDBOX_PIDS=50 is not enforced" in r.stderr
    assert "SANDBOX_CPUS" not in r.stderr


def test_timeout_and_network_pass_through(env, workspace):
    r = wrapper(env, str(workspace), "/bin/sleep", "5", SANDBOX_TIMEOUT="0.3")
    assert r.returncode == 124
    r = wrapper(env, str(workspace), "/bin/cat", "/proc/net/dev")
    assert r.returncode == 0 and "lo:" in r.stdout and "eth" not in r.stdout


def test_errors_are_125_with_a_reason(env, workspace, tmp_path):
    r = wrapper(env, str(tmp_path / "missing"), "/bin/true")
    assert r.returncode == 125 and "not a directory" in r.stderr
    r = wrapper(env, str(workspace), "/bin/true", SANDBOX_RUNTIME="runsc")
    assert r.returncode == 125 and "gVisor" in r.stderr
    r = wrapper(env, str(workspace), "/bin/true", SANDBOX_IMAGE="nope")
    assert r.returncode == 125 and "not in the store" in r.stderr
    r = wrapper(env, str(workspace))
    assert r.returncode == 125
