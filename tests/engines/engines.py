"""The container engines of the engine suite: podman (root and rootless)
and containerd (ctr), each with its storage, state, configuration and
sockets in temp dirs of the test's own, and the runtime under test in the
runtime slot.  Nothing here touches the host's real engines: podman gets
its own containers.conf and storage.conf (CONTAINERS_CONF,
CONTAINERS_STORAGE_CONF), containerd is started here with its own config,
root, state and socket and killed at the end.

What the engines still share with the host, and why:
- podman as root passes no --root to the runtime (and 4.3 drops
  --runtime-flag root=... at `delete --force`), so the runtime keeps its
  state in its default directory (/run/runc, /run/sbx); the tests check
  that no entry of theirs is left there.
- containerd-shim-runc-v2 1.6 puts its sockets in /run/containerd/s and
  ctr its fifos in /run/containerd/fifo (--fifo-dir moves those); the
  directories are removed at the end when this suite made them."""
import glob
import json
import os
import pathlib
import pty
import pwd
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import time

HERE = pathlib.Path(__file__).resolve().parent
REPO = HERE.parents[1]
sys.path.insert(0, str(REPO / "tests" / "integration"))
import oci_build  # noqa: E402

IMAGE = "localhost/sbx-engines-busybox:1"
ROOTLESS_USER = os.environ.get("SBX_ENGINE_ROOTLESS_USER", "sbxtest-sub")
BUSYBOX = shutil.which("busybox") or "/bin/busybox"
# A pod's infra process: sleeps until TERM (PID 1 ignores signals it has no
# handler for, so a plain sleep would make every pod stop wait for SIGKILL).
PAUSE = b"#!/bin/sh\ntrap 'exit 0' TERM INT\nsleep 2147483647 &\nwait\n"


def runtime_path():
    return os.path.abspath(os.environ.get("SBX_ENGINE_RUNTIME", str(REPO / "sbx")))


def runtime_name():
    """The runtime's name as its default state directory uses it
    (/run/runc, /run/sbx; $XDG_RUNTIME_DIR/NAME rootless)."""
    return os.environ.get("SBX_ENGINE_RUNTIME_NAME", os.path.basename(runtime_path()))


def build_image(out: pathlib.Path):
    """A docker-archive of a busybox tree (static busybox, its applets as
    symlinks, /etc/passwd and group, the pod pause script): no registry."""
    applets = subprocess.run([BUSYBOX, "--list"], capture_output=True, text=True, check=True).stdout.split()
    entries = [("bin/", "dir", b"", 0o755), ("bin/busybox", "file", pathlib.Path(BUSYBOX).read_bytes(), 0o755)]
    entries += [(f"bin/{a}", "symlink", "busybox", 0o777) for a in applets if a not in ("busybox", "pause")]
    entries.append(("bin/pause", "file", PAUSE, 0o755))
    for d in ("etc/", "proc/", "sys/", "dev/", "root/", "var/", "run/"):
        entries.append((d, "dir", b"", 0o755))
    entries.append(("tmp/", "dir", b"", 0o1777))
    entries.append(("etc/passwd", "file", b"root:x:0:0:root:/root:/bin/sh\n"
                    b"nobody:x:65534:65534:nobody:/nonexistent:/bin/false\n", 0o644))
    entries.append(("etc/group", "file", b"root:x:0:\nnogroup:x:65534:\n", 0o644))
    return oci_build.docker_archive(out, [entries], config={"Env": ["PATH=/bin"], "Cmd": ["/bin/sh"]},
                                    repo_tag=IMAGE)


def private_dir(prefix, owner=None):
    """A temp dir the engine's user can reach (the rootless user cannot
    walk into root's 0700 pytest dirs)."""
    d = pathlib.Path(tempfile.mkdtemp(prefix=prefix, dir="/tmp"))
    os.chmod(d, 0o755)
    if owner is not None:
        os.chown(d, owner.pw_uid, owner.pw_gid)
    return d


def remove_tree(path):
    shutil.rmtree(path, ignore_errors=True)


def pid_alive(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def processes_mentioning(text):
    """Pids whose command line contains TEXT (conmon, shims, engines)."""
    out = []
    for p in pathlib.Path("/proc").iterdir():
        if not p.name.isdigit() or int(p.name) == os.getpid():
            continue
        try:
            cmd = (p / "cmdline").read_bytes().replace(b"\0", b" ")
        except OSError:
            continue
        if text.encode() in cmd and pid_alive(p.name):
            out.append((int(p.name), cmd.decode(errors="replace")))
    return out


def cgroups_at(relpath):
    """The cgroup directories RELPATH names, in every hierarchy mounted
    (v1 controllers, v2 or hybrid's unified)."""
    return [p for p in glob.glob(f"/sys/fs/cgroup/*/{relpath}") + glob.glob(f"/sys/fs/cgroup/{relpath}")
            if os.path.isdir(p)]


def wait_gone(probe, timeout=15):
    """PROBE() until it returns nothing or TIMEOUT passes; its last answer."""
    deadline = time.monotonic() + timeout
    while True:
        found = probe()
        if not found or time.monotonic() > deadline:
            return found
        time.sleep(0.1)


def run_in_pty(argv, env=None, send=None, ready=None, timeout=30):
    """Runs ARGV with a pty as its controlling terminal (as a user at a
    terminal would), writes SEND once READY appears in the output, and
    returns (output, exit status)."""
    pid, fd = pty.fork()
    if pid == 0:
        try:
            if env is not None:
                os.execvpe(argv[0], argv, env)
            os.execvp(argv[0], argv)
        finally:
            os._exit(127)
    out, sent, deadline = b"", send is None, time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            if not sent and (ready is None or ready.encode() in out):
                os.write(fd, send.encode())
                sent = True
            r, _, _ = select.select([fd], [], [], 0.2)
            if not r:
                continue
            try:
                data = os.read(fd, 4096)
            except OSError:
                break
            if not data:
                break
            out += data
        else:
            os.kill(pid, signal.SIGKILL)
    finally:
        os.close(fd)
    _, status = os.waitpid(pid, 0)
    return out.decode(errors="replace"), os.waitstatus_to_exitcode(status)


class Podman:
    """A podman of the test's own: MODE root (run by root) or rootless (run
    as ROOTLESS_USER, or as the invoking user when it is not root)."""

    def __init__(self, mode, runtime, image_archive):
        self.mode, self.runtime = mode, runtime
        self.as_other_user = mode == "rootless" and os.geteuid() == 0
        self.user = pwd.getpwnam(ROOTLESS_USER) if self.as_other_user else pwd.getpwuid(os.geteuid())
        # Short: rootless `podman container cleanup` (conmon's exit command)
        # refuses a runroot longer than 50 characters, and `run` then waits
        # out conmon's 20 s timeout.
        self.base = private_dir(f"sbxe-{'u' if mode == 'rootless' else 'r'}-",
                                self.user if self.as_other_user else None)
        b = self.base
        for d in ("storage", "runroot", "tmp", "home", "run"):
            (b / d).mkdir()
            if self.as_other_user:
                os.chown(b / d, self.user.pw_uid, self.user.pw_gid)
        os.chmod(b / "run", 0o700)
        self.xdg_runtime_dir = b / "run"
        # Root here lacks CAP_SYS_RESOURCE: podman's default nproc/nofile
        # rlimits (the hard limits it finds raised to 1048576) are above what
        # root may set, and a faithful runtime fails on them.
        ulimits = "" if mode == "rootless" else \
            'default_ulimits = ["nofile=1024:1024", "nproc=1024:1024"]\n'
        conf = ("[containers]\n" + ulimits +
                "[engine]\n"
                'cgroup_manager = "cgroupfs"\n'
                'events_logger = "file"\n'
                f'tmp_dir = "{b}/tmp"\n')
        (b / "containers.conf").write_text(conf)
        # The same with the runtime's name among those podman passes
        # `--log-format=json --log FILE` and reads errors from (runc, crun,
        # ... by default; not sbx).
        (b / "containers-json.conf").write_text(
            conf + f'runtime_supports_json = ["crun", "runc", "runsc", "{runtime_name()}"]\n')
        (b / "storage.conf").write_text(
            "[storage]\n"
            'driver = "vfs"\n'
            f'graphroot = "{b}/storage"\n'
            f'runroot = "{b}/runroot"\n'
            f'rootless_storage_path = "{b}/storage"\n')
        self.env = {"PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                    "HOME": str(b / "home"), "USER": self.user.pw_name, "LOGNAME": self.user.pw_name,
                    "CONTAINERS_CONF": str(b / "containers.conf"),
                    "CONTAINERS_STORAGE_CONF": str(b / "storage.conf"), "LANG": "C.UTF-8"}
        if mode == "rootless":
            self.env["XDG_RUNTIME_DIR"] = str(self.xdg_runtime_dir)
        self.prefix = (["runuser", "-u", self.user.pw_name, "--"] if self.as_other_user else []) + \
            ["env", "-i"] + [f"{k}={v}" for k, v in self.env.items()]
        self.root_state = pathlib.Path("/run") / runtime_name() if mode == "root" else \
            self.xdg_runtime_dir / runtime_name()
        archive = b / "image.tar"
        shutil.copy(image_archive, archive)
        os.chmod(archive, 0o644)
        self.check("load", "-i", str(archive))

    def argv(self, *args, json_log=False):
        prefix = self.prefix
        if json_log:
            conf = f"CONTAINERS_CONF={self.base / 'containers.conf'}"
            prefix = [f"CONTAINERS_CONF={self.base / 'containers-json.conf'}" if w == conf else w for w in prefix]
        return prefix + ["podman", "--runtime", self.runtime, *args]

    def __call__(self, *args, timeout=120, input=None, json_log=False):
        return subprocess.run(self.argv(*args, json_log=json_log), capture_output=True, text=True,
                              timeout=timeout, input=input)

    def check(self, *args, **kw):
        r = self(*args, **kw)
        assert r.returncode == 0, f"podman {' '.join(args)}: exit {r.returncode}\n{r.stdout}\n{r.stderr}"
        return r

    def pty(self, *args, **kw):
        return run_in_pty(self.argv(*args), **kw)

    def container_ids(self):
        """Every container this podman ever created (its events file)."""
        ids = set()
        try:
            lines = (self.base / "tmp" / "events" / "events.log").read_text().splitlines()
        except FileNotFoundError:
            return ids
        for line in lines:
            try:
                e = json.loads(line)
            except ValueError:
                continue
            if e.get("Type") == "container" and e.get("ID"):
                ids.add(e["ID"])
        return ids

    def leftovers(self):
        """What a finished test must not leave: containers, pods, the
        runtime's state of its containers, conmon processes."""
        left = []
        for what, args in (("containers", ("ps", "-a", "--format", "{{.ID}} {{.Names}} {{.Status}}")),
                           ("pods", ("pod", "ps", "--format", "{{.ID}} {{.Name}} {{.Status}}"))):
            r = self(*args)
            if r.returncode != 0 or r.stdout.strip():
                left.append(f"podman {what}: {r.stdout.strip()} {r.stderr.strip()}")
        if self.mode == "rootless":
            try:
                entries = sorted(os.listdir(self.root_state))
            except FileNotFoundError:
                entries = []
            if "@runsc" in entries:
                entries.remove("@runsc")
                entries += [f"@runsc/{e}" for e in sorted(os.listdir(self.root_state / "@runsc"))]
            if entries:
                left.append(f"runtime state in {self.root_state}: {entries}")
        else:
            ids = self.container_ids()
            # sbx's run.sbx.runtime=runsc keeps runsc's state in @runsc.
            stale = [i for i in ids if (self.root_state / i).exists() or
                     glob.glob(f"{glob.escape(str(self.root_state))}/@runsc/{i}*")]
            if stale:
                left.append(f"runtime state in {self.root_state}: {stale}")
            # cgroupfs: podman's cgroupsPath for a container is /libpod_parent/libpod-ID.
            cgroups = [c for i in ids for c in cgroups_at(f"libpod_parent/libpod-{i}")]
            if cgroups:
                left.append(f"cgroups: {cgroups}")
        # conmon and its `podman container cleanup` outlive `run --rm` a little.
        procs = wait_gone(lambda: processes_mentioning(str(self.base / "storage")))
        if procs:
            left.append(f"processes: {procs}")
        return left

    def clean(self):
        self("pod", "rm", "-a", "-f", "-t", "0")
        self("rm", "-a", "-f", "-t", "0")
        if self.mode == "root":
            # What a failing runtime kept in the host's /run/NAME: deleted
            # by the runtime itself, with the PATH podman does not give it.
            for i in self.container_ids():
                if (self.root_state / i).exists():
                    subprocess.run([self.runtime, "delete", "--force", i], capture_output=True,
                                   env={"PATH": self.env["PATH"]}, timeout=60)

    def close(self):
        self.clean()
        if self.mode == "rootless" and not self.as_other_user:
            # Files of subordinate ids: only the user namespace's root may
            # remove them (before its pause process goes).
            self("unshare", "rm", "-rf", str(self.base / "storage"))
        # Rootless podman keeps a pause process holding its user namespace.
        pause = self.base / "tmp" / "pause.pid"
        if pause.exists():
            try:
                os.kill(int(pause.read_text()), signal.SIGKILL)
            except (ValueError, ProcessLookupError):
                pass
        for pid, _ in processes_mentioning(str(self.base)):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        remove_tree(self.base)


class Containerd:
    """A containerd of the test's own (root only): config, root, state,
    sockets and the runtime's --runc-root in a temp dir; killed at the end."""
    # Also the parent of its containers' cgroups (cgroupsPath /NAMESPACE/ID):
    # one per session, so that two runs of the suite do not see each other's.
    NAMESPACE = f"sbx-engines-{os.getpid()}"

    def __init__(self, runtime, image_archive):
        self.runtime = runtime
        self.base = private_dir("sbxe-ctrd-")
        b = self.base
        self.address = str(b / "containerd.sock")
        self.runc_root = b / "runc-root"
        self.fifo_dir = b / "fifo"
        self.run_containerd_existed = os.path.exists("/run/containerd")
        (b / "config.toml").write_text(f"""version = 2
root = "{b}/root"
state = "{b}/state"
disabled_plugins = ["io.containerd.grpc.v1.cri", "io.containerd.snapshotter.v1.btrfs",
  "io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.zfs",
  "io.containerd.snapshotter.v1.devmapper", "io.containerd.tracing.processor.v1.otlp",
  "io.containerd.internal.v1.tracing"]
[grpc]
  address = "{self.address}"
[ttrpc]
  address = "{self.address}.ttrpc"
[debug]
  address = "{b}/debug.sock"
[metrics]
  address = ""
[plugins."io.containerd.internal.v1.opt"]
  path = "{b}/opt"
""")
        self.log = open(b / "containerd.log", "w")
        self.proc = subprocess.Popen(["containerd", "--config", str(b / "config.toml")],
                                     stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + 30
        while self.ctr("version").returncode != 0:
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("containerd did not start: " + (b / "containerd.log").read_text()[-2000:])
            time.sleep(0.1)
        self.check("image", "import", str(image_archive))

    def argv(self, *args):
        return ["ctr", "--address", self.address, "--namespace", self.NAMESPACE, *args]

    def ctr(self, *args, timeout=120):
        return subprocess.run(self.argv(*args), capture_output=True, text=True, timeout=timeout)

    def check(self, *args, **kw):
        r = self.ctr(*args, **kw)
        assert r.returncode == 0, f"ctr {' '.join(args)}: exit {r.returncode}\n{r.stdout}\n{r.stderr}"
        return r

    def runtime_args(self):
        """The runc v2 shim with options BinaryName (and Root): what a
        Kubernetes RuntimeClass handler's options set."""
        return ["--runtime", "io.containerd.runc.v2", "--runc-binary", self.runtime,
                "--runc-root", str(self.runc_root), "--fifo-dir", str(self.fifo_dir)]

    def run_args(self, cid, *args, opts=()):
        """ctr's arguments for `ctr run` of the test image as container CID."""
        return ["run", *self.runtime_args(), *opts, IMAGE, cid, *args]

    def leftovers(self):
        left = []
        for what in ("containers", "tasks"):
            r = self.ctr(what, "ls", "-q")
            if r.returncode != 0 or r.stdout.strip():
                left.append(f"ctr {what}: {r.stdout.strip()} {r.stderr.strip()}")
        ns_root = self.runc_root / self.NAMESPACE
        entries = sorted(os.listdir(ns_root)) if ns_root.exists() else []
        if "@runsc" in entries:  # sbx's run.sbx.runtime=runsc keeps runsc's state there
            entries.remove("@runsc")
            entries += [f"@runsc/{e}" for e in sorted(os.listdir(ns_root / "@runsc"))]
        if entries:
            left.append(f"runtime state in {ns_root}: {entries}")
        cgroups = cgroups_at(f"{self.NAMESPACE}/*")
        if cgroups:
            left.append(f"cgroups: {cgroups}")
        shims = wait_gone(lambda: [p for p in processes_mentioning(self.address) if p[0] != self.proc.pid])
        if shims:
            left.append(f"processes: {shims}")
        return left

    def clean(self):
        for task in self.ctr("tasks", "ls", "-q").stdout.split():
            self.ctr("tasks", "kill", "-s", "SIGKILL", task)
            self.ctr("tasks", "delete", "-f", task)
        for c in self.ctr("containers", "ls", "-q").stdout.split():
            self.ctr("containers", "delete", c)

    def close(self):
        self.clean()
        for pid, _ in processes_mentioning(self.address):
            if pid != self.proc.pid:
                os.kill(pid, signal.SIGKILL)
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.log.close()
        remove_tree(self.base)
        for d in cgroups_at(self.NAMESPACE):
            try:
                os.rmdir(d)
            except OSError:
                pass
        if not self.run_containerd_existed:
            # What the shims and ctr made there: empty directories.
            for d in ("s", "fifo", f"runc/{self.NAMESPACE}", "runc", ""):
                try:
                    os.rmdir(os.path.join("/run/containerd", d))
                except OSError:
                    pass
