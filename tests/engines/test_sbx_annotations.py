"""sbx's annotations through a real engine (sbx only: runc ignores them)."""
import pytest

from engines import runtime_name
from test_podman import run


def test_sbx_runsc_annotation(pm):
    """run.sbx.runtime=runsc: podman's container runs under gVisor (its
    dmesg is gVisor's), exit status and all, and nothing of it is left
    (the pm fixture checks podman, sbx's state and cgroups)."""
    if runtime_name() != "sbx":
        pytest.skip(f"run.sbx.runtime is sbx's annotation; the runtime under test is {runtime_name()}")
    r = run(pm, "sh", "-c", "dmesg | head -1; exit 5", opts=("--annotation", "run.sbx.runtime=runsc"))
    assert r.returncode == 5, r.stderr
    assert "gVisor" in r.stdout, (r.stdout, r.stderr)
