"""Fixtures for the escape suite (see README.md in this directory).

Like tests/integration, the suite runs once per mode (tests/run-integration
sets SBX_TEST_MODE: root, subuid, nosub) and takes SBX, MODE and BUSYBOX from
tests/integration/conftest.py.

Each probe run happens once per session and is shared by the tests:
  sandboxed          sbx run, default policy                (the attacks)
  unconfined         sbx run --seccomp unconfined           (control: no seccomp)
  unconfined_userns  the same, each attempt in a fresh user+mount+pid namespace
                     (control for calls the kernel gates on CAP_SYS_ADMIN or
                     CAP_SYS_BOOT over a namespace)
  host_run           the probe straight on the host, outside any sandbox
                     (control for the layers sbx adds besides seccomp)
The sandboxed runs aim at the host canaries; the host run aims at control
canaries of its own, which it must reach.
"""
import dataclasses
import hashlib
import importlib.util
import json
import os
import pathlib
import shutil
import socket
import subprocess
import uuid

import pytest

HERE = pathlib.Path(__file__).resolve().parent
_spec = importlib.util.spec_from_file_location("sbx_integration_conftest",
                                               HERE.parent / "integration" / "conftest.py")
integration = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(integration)
SBX = integration.SBX
MODE = integration.MODE
BUSYBOX = integration.BUSYBOX

PROBE_SRC = HERE / "escape-probe.c"
PROBE_BIN = HERE / "escape-probe"
# The Makefile's rule for tests/escape/escape-probe (see test_escape.py).
PROBE_CFLAGS = ["-std=gnu11", "-O2", "-Wall", "-Wextra", "-Werror", "-Wshadow", "-Wformat=2",
                "-Wno-format-nonliteral", "-static", "-pthread"]
SECRET = f"sbx-escape-canary-{uuid.uuid4().hex}"
RUN_TIMEOUT = 120


def sha256(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


@pytest.fixture(scope="session")
def escape_probe(tmp_path_factory):
    """tests/escape/escape-probe when `make helper` built it from the current
    source; otherwise a build of our own in a temporary directory."""
    if PROBE_BIN.exists() and PROBE_BIN.stat().st_mtime >= PROBE_SRC.stat().st_mtime:
        return PROBE_BIN
    out = tmp_path_factory.mktemp("probe") / "escape-probe"
    r = subprocess.run([os.environ.get("CC", "cc"), *PROBE_CFLAGS, "-o", str(out), str(PROBE_SRC)],
                       capture_output=True, text=True)
    if r.returncode != 0:
        pytest.fail(f"building the escape probe failed:\n{r.stderr}")
    return out


def make_escape_rootfs(base, probe):
    """The integration suite's minimal rootfs, plus the escape probe."""
    root = integration.make_rootfs(base)
    shutil.copy2(probe, root / "bin" / "escape-probe")
    os.chmod(root / "bin" / "escape-probe", 0o755)
    return root


@dataclasses.dataclass
class Canaries:
    """What the sandboxed runs aim at, and what must survive them."""
    file: pathlib.Path
    file_before: tuple
    process: subprocess.Popen
    tcp: socket.socket
    abstract: socket.socket
    abstract_name: str
    sbx_sha256: str
    core_pattern: str

    def probe_args(self):
        return ["--canary-pid", str(self.process.pid), "--tcp-port", str(self.tcp.getsockname()[1]),
                "--abstract", self.abstract_name, "--canary-file", str(self.file)]


def file_state(path):
    st = os.stat(path)
    return path.read_bytes(), st.st_ino, st.st_mtime_ns, st.st_size


def listener(family, address):
    s = socket.socket(family, socket.SOCK_STREAM)
    s.bind(address)
    s.listen(8)
    s.setblocking(False)
    return s


def spawn_sleeper():
    """A `sleep` of the caller, with a pid no sandbox process can have: the
    probe forks about a hundred children, numbered from 2 in its namespace."""
    for _ in range(5000):
        p = subprocess.Popen(["sleep", "600"], start_new_session=True)
        if p.pid > 1000:
            return p
        p.kill()
        p.wait()
    pytest.fail("could not get a process with a pid above 1000")


def read_core_pattern():
    with open("/proc/sys/kernel/core_pattern") as f:
        return f.read()


@pytest.fixture(scope="session")
def base(tmp_path_factory):
    b = tmp_path_factory.mktemp("escape")
    os.chmod(b, 0o755)
    return b


@pytest.fixture(scope="session")
def rootfs(base, escape_probe):
    return make_escape_rootfs(base, escape_probe)


@pytest.fixture(scope="session")
def canaries(base, rootfs):
    f = base / "canary"  # beside the rootfs
    f.write_text(f"host canary {SECRET}\n")
    os.chmod(f, 0o666)  # writable by anyone: only isolation protects it
    name = f"sbx-escape-canary-{uuid.uuid4().hex[:8]}"
    digest, core_pattern = sha256(SBX), read_core_pattern()  # before anything needs cleaning up
    with listener(socket.AF_INET, ("127.0.0.1", 0)) as tcp, listener(socket.AF_UNIX, "\0" + name) as abstract, \
            spawn_sleeper() as process:
        try:
            yield Canaries(file=f, file_before=file_state(f), process=process, tcp=tcp, abstract=abstract,
                           abstract_name=name, sbx_sha256=digest, core_pattern=core_pattern)
        finally:
            process.kill()


@dataclasses.dataclass
class ProbeRun:
    """One run of the probe: its results by test name, and the raw output."""
    what: str
    proc: subprocess.CompletedProcess
    results: dict
    control_canaries: "ControlCanaries | None" = None

    def __getitem__(self, name):
        if name not in self.results:
            pytest.fail(f"{self.what}: the probe reported no result for {name!r} "
                        f"(exit {self.proc.returncode}):\n{self.proc.stdout[-2000:]}\n{self.proc.stderr[-2000:]}")
        return self.results[name]

    def output(self):
        return self.proc.stdout + self.proc.stderr


def probe_env():
    return dict(os.environ, SBX_CANARY_SECRET=SECRET)


def parse(what, proc):
    results = {}
    for line in proc.stdout.splitlines():
        if not line.startswith("{"):
            continue
        rec = json.loads(line)
        assert rec["test"] not in results, f"{what}: {rec['test']} reported twice"
        results[rec["test"]] = rec
    return ProbeRun(what, proc, results)


def run_in_sbx(rootfs, *probe_args, sbx_opts=()):
    cmd = [SBX, "run", "--rootfs", str(rootfs), "--no-tty", "--timeout", "90", *sbx_opts,
           "--", "/bin/escape-probe", *probe_args]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=RUN_TIMEOUT, env=probe_env(),
                          stdin=subprocess.DEVNULL)
    return parse(" ".join(["sbx run", *sbx_opts]), proc)


@pytest.fixture(scope="session")
def sandboxed(rootfs, canaries):
    return run_in_sbx(rootfs, "--arch-tests", *canaries.probe_args())


@pytest.fixture(scope="session")
def unconfined(rootfs, canaries):
    return run_in_sbx(rootfs, "--arch-tests", *canaries.probe_args(), sbx_opts=["--seccomp", "unconfined"])


@pytest.fixture(scope="session")
def unconfined_userns(base, escape_probe):
    """The probe on the host, each attempt in user, mount and pid namespaces
    of its own: sbx allows no user namespace inside, whatever the profile
    (issue 9), so this control cannot run in an unconfined sandbox."""
    proc = subprocess.run([str(escape_probe), "--userns"], capture_output=True, text=True, timeout=RUN_TIMEOUT,
                          env=dict(os.environ), stdin=subprocess.DEVNULL, cwd=base)
    return parse("the probe on the host in user namespaces of its own", proc)


@dataclasses.dataclass
class ControlCanaries:
    """Disposable twins of the canaries, for the probe run on the host."""
    file: pathlib.Path
    file_before: tuple
    victim: subprocess.Popen
    tcp: socket.socket
    abstract: socket.socket
    abstract_name: str


@pytest.fixture(scope="session")
def host_run(base, escape_probe):
    f = base / "control-canary"
    f.write_text("control canary\n")
    name = f"sbx-escape-control-{uuid.uuid4().hex[:8]}"
    with listener(socket.AF_INET, ("127.0.0.1", 0)) as tcp, listener(socket.AF_UNIX, "\0" + name) as abstract, \
            spawn_sleeper() as victim:
        try:
            cc = ControlCanaries(file=f, file_before=file_state(f), victim=victim, tcp=tcp, abstract=abstract,
                                 abstract_name=name)
            args = ["--arch-tests", "--canary-pid", str(victim.pid), "--tcp-port", str(tcp.getsockname()[1]),
                    "--abstract", name, "--canary-file", str(f)]
            proc = subprocess.run([str(escape_probe), *args], capture_output=True, text=True,
                                  timeout=RUN_TIMEOUT, env=probe_env(), stdin=subprocess.DEVNULL, cwd=base)
            run = parse("the probe on the host", proc)
            run.control_canaries = cc
            yield run
        finally:
            victim.kill()
