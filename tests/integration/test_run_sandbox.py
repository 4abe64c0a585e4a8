"""scripts/run-sandbox.sh: the seed's Docker wrapper interface (WORKSPACE
COMMAND..., SANDBOX_* settings) on top of `sbx run --image`.

The image is a small one made here from the busybox test rootfs (an OCI
layout written with tarfile/hashlib/json) and imported into a store of the
test's own (SBX_STORE), so that neither the default image nor the user's
store is needed or touched.  Limits this sbx cannot enforce must be reported
only when asked for; when `sbx run --help` lists them they must be passed
on: that half is checked with a stand-in sbx whose help lists them and which
records its arguments."""
import gzip
import hashlib
import io
import json
import os
import pathlib
import re
import shutil
import stat
import subprocess
import tarfile

import pytest

from conftest import MODE, REPO, SBX, expected_ws_owner, sbx

SCRIPT = REPO / "scripts" / "run-sandbox.sh"
LIMIT_OPTIONS = ["--memory", "--cpus", "--pids-limit", "--runtime"]


def write_layout(tree: pathlib.Path, out: pathlib.Path, config: dict) -> pathlib.Path:
    """An OCI image layout at OUT with TREE as its one (gzip) layer, owners root."""
    def as_root(info):
        info.uid = info.gid = 0
        info.uname = info.gname = ""
        info.mtime = 1700000000
        return info

    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        tar.add(str(tree), arcname=".", filter=as_root)
    raw = buf.getvalue()
    gz = gzip.compress(raw, mtime=0)
    blobs = out / "blobs" / "sha256"
    blobs.mkdir(parents=True)

    def blob(data, media_type):
        digest = hashlib.sha256(data).hexdigest()
        (blobs / digest).write_bytes(data)
        return {"mediaType": media_type, "digest": "sha256:" + digest, "size": len(data)}

    cfg = {"architecture": "amd64", "os": "linux", "config": config,
           "rootfs": {"type": "layers", "diff_ids": ["sha256:" + hashlib.sha256(raw).hexdigest()]}}
    manifest = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                "config": blob(json.dumps(cfg).encode(), "application/vnd.oci.image.config.v1+json"),
                "layers": [blob(gz, "application/vnd.oci.image.layer.v1.tar+gzip")]}
    mdesc = blob(json.dumps(manifest).encode(), manifest["mediaType"])
    mdesc["annotations"] = {"org.opencontainers.image.ref.name": "latest"}
    (out / "index.json").write_text(json.dumps({"schemaVersion": 2, "manifests": [mdesc]}))
    (out / "oci-layout").write_text('{"imageLayoutVersion":"1.0.0"}')
    return out


@pytest.fixture(scope="module")
def layout(rootfs, tmp_path_factory):
    return write_layout(rootfs, tmp_path_factory.mktemp("wrapper-layout") / "lay",
                        {"Env": ["PATH=/bin"], "User": "1000:1000", "WorkingDir": "/", "Cmd": ["/bin/sh"]})


@pytest.fixture(scope="module")
def env(layout, tmp_path_factory):
    store = tmp_path_factory.mktemp("wrapper-store") / "store"
    r = sbx("image", "import", "--store", str(store), "--name", "small", str(layout))
    assert r.returncode == 0, r.stderr
    e = {k: v for k, v in os.environ.items() if not k.startswith("SANDBOX_")}
    e.update(SBX=SBX, SBX_STORE=str(store), SANDBOX_IMAGE="small")
    yield e
    sbx("image", "rm", "--store", str(store), "small")


@pytest.fixture(scope="module")
def sbx_help():
    r = sbx("run", "--help")
    assert r.returncode == 0
    return r.stdout + r.stderr


def lists(help_text, option):
    return re.search(r"(^|[^\w-])" + re.escape(option) + r"([^\w-]|$)", help_text, re.M) is not None


def wrapper(env, *args, script=SCRIPT, **extra):
    return subprocess.run([str(script), *args], env={**env, **extra}, capture_output=True, text=True,
                          timeout=60)


def warnings(stderr):
    return [l for l in stderr.splitlines() if l.startswith("run-sandbox.sh: warning:")]


def test_help(env):
    r = wrapper(env, "--help")
    assert r.returncode == 0
    assert "Usage: run-sandbox.sh WORKSPACE COMMAND" in r.stdout
    for var in ["SANDBOX_MEMORY", "SANDBOX_CPUS", "SANDBOX_PIDS", "SANDBOX_RUNTIME", "SANDBOX_IMAGE",
                "SANDBOX_TIMEOUT", "SANDBOX_NETWORK"]:
        assert var in r.stdout


@pytest.mark.parametrize("status", [0, 1, 7, 42])
def test_exit_status_passes_through(env, workspace, status):
    r = wrapper(env, str(workspace), "/bin/sh", "-c", f"echo out; echo err >&2; exit {status}")
    assert r.returncode == status, r.stderr
    assert r.stdout == "out\n"
    assert "err" in r.stderr


def test_missing_command_is_127(env, workspace):
    r = wrapper(env, str(workspace), "/bin/no-such-command")
    assert r.returncode == 127


def test_workspace_writable_rest_read_only(env, workspace):
    (workspace / "input.txt").write_text("from the host\n")
    script = ("pwd; cat input.txt; echo made > /workspace/out.txt; "
              "for p in /etc/x /bin/x /x /opt/rw/x; do "
              "  if touch $p 2>/dev/null; then echo WROTE $p; else echo refused $p; fi; done")
    r = wrapper(env, str(workspace), "/bin/sh", "-c", script)
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[:2] == ["/workspace", "from the host"]
    assert lines[2:] == ["refused /etc/x", "refused /bin/x", "refused /x", "refused /opt/rw/x"]
    out = workspace / "out.txt"
    assert out.read_text() == "made\n"
    assert out.stat().st_uid == expected_ws_owner()


def test_relative_workspace(env, workspace):
    r = subprocess.run([str(SCRIPT), workspace.name, "/bin/sh", "-c", "echo rel > /workspace/rel"],
                       env=env, capture_output=True, text=True, timeout=60, cwd=workspace.parent)
    assert r.returncode == 0, r.stderr
    assert (workspace / "rel").read_text() == "rel\n"


def test_no_network_by_default(env, workspace):
    r = wrapper(env, str(workspace), "/bin/cat", "/proc/net/dev")
    assert r.returncode == 0, r.stderr
    ifaces = [l.split(":")[0].strip() for l in r.stdout.splitlines()[2:]]
    assert ifaces == ["lo"]


def test_timeout(env, workspace):
    r = wrapper(env, str(workspace), "/bin/sleep", "30", SANDBOX_TIMEOUT="0.5")
    assert r.returncode == 124


@pytest.fixture
def sbx_without_limits(tmp_path):
    """An older sbx, as the wrapper may meet one: `run --help` lists no
    limit option; anything else is the real sbx."""
    d = tmp_path / "old"
    d.mkdir()
    fake = d / "sbx"
    fake.write_text(f"""#!/bin/sh
if [ "$1 $2" = "run --help" ]; then
	"{SBX}" run --help | grep -v -e '--memory' -e '--cpus' -e '--pids' -e '--require-limits'
	exit 0
fi
exec "{SBX}" "$@"
""")
    fake.chmod(0o755)
    return fake


def test_unenforced_limits_warn_only_when_set(env, workspace, sbx_without_limits):
    env = {**env, "SBX": str(sbx_without_limits)}
    unsupported = {"SANDBOX_MEMORY": "--memory", "SANDBOX_CPUS": "--cpus", "SANDBOX_PIDS": "--pids-limit"}
    # defaults only: no warning at all
    r = wrapper(env, str(workspace), "/bin/true")
    assert r.returncode == 0 and warnings(r.stderr) == [], r.stderr
    # each one set: exactly one line for each, naming the value
    values = {"SANDBOX_MEMORY": "1g", "SANDBOX_CPUS": "0.5", "SANDBOX_PIDS": "50"}
    r = wrapper(env, str(workspace), "/bin/sh", "-c", "echo ran", **values)
    assert r.returncode == 0 and r.stdout == "ran\n"
    got = warnings(r.stderr)
    assert len(got) == len(unsupported)
    for var in unsupported:
        assert [l for l in got if f"{var}={values[var]} is not enforced" in l], r.stderr
    # only the one set
    r = wrapper(env, str(workspace), "/bin/true", SANDBOX_MEMORY="3g")
    if "SANDBOX_MEMORY" in unsupported:
        assert warnings(r.stderr) == [
            "run-sandbox.sh: warning: SANDBOX_MEMORY=3g is not enforced: this sbx has no memory limits yet"]


def test_limits_reach_sbx_which_speaks_only_of_those_set(env, workspace, sbx_help):
    """SANDBOX_MEMORY/CPUS/PIDS are passed on (not reported unenforced by
    the wrapper); sbx holds them as the host allows and says once on stderr
    what it holds less than asked, and nothing about its own defaults."""
    if not all(lists(sbx_help, o) for o in ("--memory", "--cpus", "--pids-limit")):
        pytest.skip("this sbx has no limit options (test_unenforced_limits_warn_only_when_set)")
    # sbx's own sandbox (runc's stand-in): its rlimits show in /proc/self/limits;
    # under runsc see test_limits_reach_sbx_under_runsc.
    env = {**env, "SANDBOX_RUNTIME": "runc"}
    r = wrapper(env, str(workspace), "/bin/cat", "/proc/self/limits")
    assert r.returncode == 0 and r.stderr == "", r.stderr
    r = wrapper(env, str(workspace), "/bin/cat", "/proc/self/limits", SANDBOX_MEMORY="64m", SANDBOX_CPUS="0.5",
                SANDBOX_PIDS="0")
    assert r.returncode == 0 and warnings(r.stderr) == [], r.stderr
    data = [l.split()[3:5] for l in r.stdout.splitlines() if l.startswith("Max data size")][0]
    notes = [l for l in r.stderr.splitlines() if l.startswith("sbx: notice:")]
    assert len(r.stderr.splitlines()) <= 1, r.stderr
    if notes:  # no cgroup v2 here: memory per process by RLIMIT_DATA, cpus not at all
        assert "--memory 64m holds per process only" in notes[0] and "--cpus 0.5 is not enforced" in notes[0]
        assert data == [str(64 << 20)] * 2
    else:      # held by the sandbox's cgroup
        assert data == ["unlimited"] * 2


def test_limits_reach_sbx_under_runsc(env, workspace, sbx_help):
    """SANDBOX_RUNTIME=runsc with limits: the run goes to gVisor with them
    (root, or rootless with a subuid range), or fails 125 saying why (no
    range).  gVisor emulates /proc and has no /proc/self/limits (Debian's
    runsc), where the native sandbox shows its rlimits."""
    if not lists(sbx_help, "--runtime"):
        pytest.skip("this sbx has no --runtime (test_runsc_requested_but_unsupported_is_125)")
    if shutil.which("runsc") is None:
        pytest.skip("runsc is not installed (scripts/deps installs it)")
    limits = dict(SANDBOX_MEMORY="64m", SANDBOX_CPUS="0.5", SANDBOX_PIDS="0", SANDBOX_RUNTIME="runsc")
    r = wrapper(env, str(workspace), "/bin/sh", "-c", "echo ran; touch /workspace/ran", **limits)
    if MODE == "nosub":
        assert r.returncode == 125 and "--runtime runsc" in r.stderr and "subordinate ids" in r.stderr
        assert r.stdout == "" and not (workspace / "ran").exists()
        return
    assert r.returncode == 0 and r.stdout == "ran\n" and warnings(r.stderr) == [], r.stderr
    assert (workspace / "ran").exists()
    r = wrapper(env, str(workspace), "/bin/cat", "/proc/self/limits", **limits)
    assert r.returncode == 1 and "/proc/self/limits" in r.stderr


def test_runsc_requested_but_unsupported_is_125(env, workspace, sbx_help):
    if lists(sbx_help, "--runtime"):
        pytest.skip("this sbx has --runtime")
    r = wrapper(env, str(workspace), "/bin/sh", "-c", "touch /workspace/ran", SANDBOX_RUNTIME="runsc")
    assert r.returncode == 125
    assert "SANDBOX_RUNTIME=runsc" in r.stderr and "gVisor" in r.stderr
    assert not (workspace / "ran").exists()
    # auto, runc and sbx run with sbx's own isolation (all this sbx has),
    # without complaint
    for runtime in ["auto", "runc", "sbx"]:
        r = wrapper(env, str(workspace), "/bin/true", SANDBOX_RUNTIME=runtime)
        assert r.returncode == 0 and warnings(r.stderr) == [], r.stderr


@pytest.mark.parametrize("var,value", [("SANDBOX_RUNTIME", "docker"), ("SANDBOX_RUNTIME", "kata"),
                                       ("SANDBOX_NETWORK", "bridge")])
def test_bad_setting_is_125(env, workspace, var, value):
    r = wrapper(env, str(workspace), "/bin/sh", "-c", "touch /workspace/ran", **{var: value})
    assert r.returncode == 125
    assert f"{var}={value}" in r.stderr
    if var == "SANDBOX_RUNTIME":
        assert "expected runsc (gVisor), runc (sbx's own sandbox) or auto" in r.stderr
    assert not (workspace / "ran").exists()


def test_missing_workspace_is_125(env, tmp_path):
    r = wrapper(env, str(tmp_path / "missing"), "/bin/true")
    assert r.returncode == 125
    assert r.stderr.startswith("run-sandbox.sh: error: workspace") and "does not exist" in r.stderr
    assert not (tmp_path / "missing").exists()
    (tmp_path / "file").write_text("")
    r = wrapper(env, str(tmp_path / "file"), "/bin/true")
    assert r.returncode == 125 and "is not a directory" in r.stderr


def test_usage_errors_are_125(env, workspace):
    for args in [(), (str(workspace),)]:
        r = wrapper(env, *args)
        assert r.returncode == 125
        assert "expected a WORKSPACE directory and a COMMAND" in r.stderr


def test_missing_image_is_125(env, workspace):
    r = wrapper(env, str(workspace), "/bin/true", SANDBOX_IMAGE="nope")
    assert r.returncode == 125
    assert "image nope is not in the store" in r.stderr


def test_bad_sbx_is_125(env, workspace, tmp_path):
    r = wrapper(env, str(workspace), "/bin/true", SBX=str(tmp_path / "no-sbx"))
    assert r.returncode == 125 and "not found or not executable" in r.stderr


# --- an sbx that lists the limit options: they are passed on ---------------

@pytest.fixture
def recording_sbx(tmp_path, sbx_help):
    """A stand-in for sbx: `run --help` adds the four options to the real
    help, `run ...` records its arguments (one a line) and exits 3, anything
    else is the real sbx."""
    d = tmp_path / "fake"
    d.mkdir()
    args = d / "args"
    fake = d / "sbx"
    fake.write_text(f"""#!/bin/sh
if [ "$1 $2" = "run --help" ]; then
	"{SBX}" run --help
	echo "      --memory SIZE         memory limit"
	echo "      --cpus N              CPU limit"
	echo "      --pids-limit N        process limit"
	echo "      --runtime NAME        auto, native or runsc"
	exit 0
fi
if [ "$1" = run ]; then
	shift
	printf '%s\\n' "$@" > "{args}"
	exit 3
fi
exec "{SBX}" "$@"
""")
    fake.chmod(0o755)
    bindir = d / "bin"
    bindir.mkdir()
    return fake, args, bindir


def recorded(args_file):
    return args_file.read_text().splitlines()


def option_value(argv, option):
    assert argv.count(option) == 1, argv
    return argv[argv.index(option) + 1]


def test_supported_limits_are_passed_on(env, workspace, recording_sbx):
    fake, args, bindir = recording_sbx
    e = {**env, "SBX": str(fake), "PATH": f"{bindir}:/usr/bin:/bin"}
    r = wrapper(e, str(workspace), "python3", "x.py")
    assert r.returncode == 3 and warnings(r.stderr) == [], r.stderr
    argv = recorded(args)
    assert option_value(argv, "--image") == "small"
    assert option_value(argv, "-w") == str(workspace)
    assert option_value(argv, "--network") == "none"
    # unset: sbx's own defaults (memory 2g, pids 256, cpus none), of which it
    # speaks only with -v
    assert not {"--memory", "--cpus", "--pids-limit"} & set(argv[:argv.index("--")])
    assert "--runtime" not in argv and "--timeout" not in argv  # auto, runsc not installed
    assert argv[argv.index("--"):] == ["--", "python3", "x.py"]

    r = wrapper(e, str(workspace), "/bin/true", SANDBOX_MEMORY="1g", SANDBOX_CPUS="0.5", SANDBOX_PIDS="64",
                SANDBOX_TIMEOUT="9", SANDBOX_NETWORK="host", SANDBOX_RUNTIME="runsc")
    assert r.returncode == 3 and warnings(r.stderr) == [], r.stderr
    argv = recorded(args)
    assert [option_value(argv, o) for o in ["--memory", "--cpus", "--pids-limit", "--timeout", "--network",
                                            "--runtime"]] == ["1g", "0.5", "64", "9", "host", "runsc"]


@pytest.mark.parametrize("setting,passed", [("runsc", "runsc"), ("runc", "native"), ("native", "native"),
                                            ("sbx", "native"), ("auto", None), ("", None)])
def test_sandbox_runtime_maps_onto_sbx_runtime(env, workspace, recording_sbx, setting, passed):
    """The seed's SANDBOX_RUNTIME=runsc|runc becomes --runtime runsc|native;
    auto is sbx's own default, even with runsc on PATH: sbx, not the
    wrapper, knows whether this caller can run it."""
    fake, args, bindir = recording_sbx
    runsc = bindir / "runsc"
    runsc.write_text("#!/bin/sh\nexit 0\n")
    runsc.chmod(0o755)
    e = {**env, "SBX": str(fake), "PATH": f"{bindir}:/usr/bin:/bin", "SANDBOX_RUNTIME": setting}
    r = wrapper(e, str(workspace), "/bin/true")
    assert r.returncode == 3 and warnings(r.stderr) == [], r.stderr
    argv = recorded(args)
    if passed is None:
        assert "--runtime" not in argv[:argv.index("--")]
    else:
        assert option_value(argv, "--runtime") == passed


# --- the default image is built when missing ------------------------------

def test_default_image_built_once_when_missing(env, workspace, layout, tmp_path):
    """The wrapper runs rootfs/build (here a stand-in next to a copy of the
    script, which imports the small image as sbx-default) when the store has
    no sbx-default, and not when it has."""
    tree = tmp_path / "checkout"
    (tree / "scripts").mkdir(parents=True)
    (tree / "rootfs").mkdir()
    shutil.copy2(SCRIPT, tree / "scripts" / "run-sandbox.sh")
    calls = tmp_path / "build-calls"
    build = tree / "rootfs" / "build"
    build.write_text(f"""#!/bin/sh
echo called >> "{calls}"
"$SBX" image import --name sbx-default "{layout}" >&2 || exit 1
echo sbx-default
""")
    build.chmod(build.stat().st_mode | stat.S_IXUSR)
    store = tmp_path / "store"
    e = {**env, "SBX_STORE": str(store)}
    del e["SANDBOX_IMAGE"]
    script = tree / "scripts" / "run-sandbox.sh"
    try:
        r = wrapper(e, str(workspace), "/bin/sh", "-c", "echo first", script=script)
        assert r.returncode == 0, r.stderr
        assert r.stdout == "first\n"
        assert "building it with rootfs/build" in r.stderr
        assert calls.read_text() == "called\n"
        r = wrapper(e, str(workspace), "/bin/sh", "-c", "echo second", script=script)
        assert r.returncode == 0 and r.stdout == "second\n", r.stderr
        assert "building" not in r.stderr
        assert calls.read_text() == "called\n"
        # a build that fails is reported, and nothing runs
        sbx("image", "rm", "--store", str(store), "sbx-default")
        build.write_text("#!/bin/sh\necho 'rootfs/build: error: no network' >&2\nexit 1\n")
        r = wrapper(e, str(workspace), "/bin/sh", "-c", "touch /workspace/ran", script=script)
        assert r.returncode == 125
        assert "no network" in r.stderr and "building the default image failed" in r.stderr
        assert not (workspace / "ran").exists()
    finally:
        sbx("image", "rm", "--store", str(store), "sbx-default")
