"""The OCI runtime's hand-off to gVisor: a bundle annotated
run.sbx.runtime=runsc runs under runsc, and every later command for its id
(start, state, exec, kill, delete) reaches runsc; sbx leaves nothing behind.
Root only: Debian's runsc as an OCI runtime needs root (rootless engines
run it in their own user namespace: tests/engines covers podman)."""
import json
import os
import shutil
import time

import pytest

from test_oci_isolation import config, rt  # noqa: F401 (rt: the fixture)

pytestmark = [
    pytest.mark.skipif(os.geteuid() != 0, reason="runsc as an OCI runtime needs root here (runsc needs a full "
                                                 "id range, which an engine's user namespace gives)"),
    pytest.mark.skipif(shutil.which("runsc") is None, reason="runsc (gVisor) is not installed (scripts/deps "
                                                             "installs it)"),
]

GVISOR = {"run.sbx.runtime": "runsc"}


def left(rt):
    """What the state root holds but runsc's own (empty) directory."""
    out = [p for p in rt.leftovers() if p != "@runsc"]
    runsc_root = rt.root / "@runsc"
    if runsc_root.exists():
        out += [f"@runsc/{p.name}" for p in runsc_root.iterdir()]
    return out


def test_oci_runsc_run_is_gvisor(rt, rootfs):
    r = rt.run(config(rootfs, ["sh", "-c", "dmesg | head -1; exit 3"], annotations=GVISOR), timeout=120)
    assert r.returncode == 3, r.stderr
    assert "gVisor" in r.stdout, r.stdout
    assert left(rt) == []


def test_oci_runsc_native_without_annotation(rt, rootfs):
    # The same bundle without the annotation is sbx's own container: the
    # host kernel's dmesg is not gVisor's (and is refused or empty).
    r = rt.run(config(rootfs, ["sh", "-c", "dmesg 2>&1 | head -1"]))
    assert "gVisor" not in r.stdout


def test_oci_runsc_lifecycle_forwarded(rt, rootfs):
    b = rt.bundle(config(rootfs, ["sleep", "60"], annotations=GVISOR))
    r = rt.create("--bundle", str(b), "g1")
    assert r.returncode == 0, r.stderr
    assert json.loads(rt("state", "g1").stdout)["status"] == "created"
    assert rt("start", "g1", timeout=120).returncode == 0
    assert json.loads(rt("state", "g1").stdout)["status"] == "running"
    r = rt("exec", "g1", "sh", "-c", "dmesg | head -1", timeout=120)
    assert r.returncode == 0 and "gVisor" in r.stdout, (r.stdout, r.stderr)
    assert rt("kill", "g1", "KILL").returncode == 0
    for _ in range(100):
        if json.loads(rt("state", "g1").stdout)["status"] == "stopped":
            break
        time.sleep(0.05)
    r = rt("delete", "g1")
    assert r.returncode == 0, r.stderr
    assert left(rt) == []
    assert rt("state", "g1").returncode != 0


def test_oci_unknown_runtime_annotation_refused(rt, rootfs):
    r = rt.run(config(rootfs, ["true"], annotations={"run.sbx.runtime": "kata"}))
    assert r.returncode != 0
    assert "run.sbx.runtime=kata" in r.stderr, r.stderr
    assert left(rt) == []
