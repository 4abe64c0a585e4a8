"""The OCI runtime's container (sbx create/start/run on a bundle): the
isolation properties that are sbx's own work, each checked by the attack
that would get through if the property broke.

Root mode runs the containers as root with the spec's own namespaces (as
podman and containerd do); the rootless modes give the spec a user
namespace that maps root inside to the caller (as `sbx spec --rootless`)."""
import json
import os
import pathlib
import shutil
import signal
import subprocess
import time

import pytest

from conftest import MODE, SBX, make_rootfs

ALL_CAPS = ["CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FOWNER", "CAP_FSETID", "CAP_KILL", "CAP_SETGID",
            "CAP_SETUID", "CAP_SETPCAP", "CAP_NET_BIND_SERVICE", "CAP_NET_RAW", "CAP_SYS_CHROOT",
            "CAP_MKNOD", "CAP_AUDIT_WRITE", "CAP_SETFCAP", "CAP_SYS_ADMIN"]


def config(rootfs, args, *, caps=ALL_CAPS, extra_mounts=(), linux=None, process=None, annotations=None):
    """A runc-spec-like config.json for ROOTFS running ARGS as root inside."""
    mounts = [
        {"destination": "/proc", "type": "proc", "source": "proc", "options": ["nosuid", "noexec", "nodev"]},
        {"destination": "/dev", "type": "tmpfs", "source": "tmpfs",
         "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]},
        {"destination": "/dev/pts", "type": "devpts", "source": "devpts",
         "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620"]},
        {"destination": "/tmp", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "nodev", "mode=1777"]},
        *extra_mounts,
    ]
    namespaces = [{"type": t} for t in ("pid", "ipc", "uts", "mount", "network")]
    lx = {"namespaces": namespaces, "maskedPaths": [], "readonlyPaths": []}
    if os.geteuid() != 0:
        lx["namespaces"].append({"type": "user"})
        lx["uidMappings"] = [{"containerID": 0, "hostID": os.getuid(), "size": 1}]
        lx["gidMappings"] = [{"containerID": 0, "hostID": os.getgid(), "size": 1}]
    lx.update(linux or {})
    proc = {"terminal": False, "user": {"uid": 0, "gid": 0}, "args": list(args), "env": ["PATH=/bin"],
            "cwd": "/", "capabilities": {k: list(caps) for k in ("bounding", "effective", "permitted")},
            "noNewPrivileges": True}
    proc.update(process or {})
    cfg = {"ociVersion": "1.0.2", "process": proc, "root": {"path": str(rootfs), "readonly": True},
           "hostname": "oci", "mounts": mounts, "linux": lx}
    if annotations:
        cfg["annotations"] = annotations
    return cfg


class Runtime:
    """sbx in the OCI runtime's slot, with a state root of the test's own."""

    def __init__(self, tmp_path):
        self.root = tmp_path / "state"
        self.n = 0
        self.tmp = tmp_path

    def __call__(self, *args, timeout=60, **kw):
        return subprocess.run([SBX, "--root", str(self.root), *args], capture_output=True, text=True,
                              timeout=timeout, **kw)

    def create(self, *args):
        """create leaves the container's process holding its stdio: give it
        files, not the pipes run() would wait on."""
        out, err = self.tmp / "create.out", self.tmp / "create.err"
        with open(out, "w") as o, open(err, "w") as e:
            rc = subprocess.run([SBX, "--root", str(self.root), "create", *args], stdout=o, stderr=e,
                                stdin=subprocess.DEVNULL, timeout=60).returncode
        return subprocess.CompletedProcess(args, rc, out.read_text(), err.read_text())

    def bundle(self, cfg):
        self.n += 1
        b = self.tmp / f"bundle{self.n}"
        b.mkdir()
        (b / "config.json").write_text(json.dumps(cfg))
        return b

    def run(self, cfg, **kw):
        b = self.bundle(cfg)
        return self("run", "--bundle", str(b), f"c{self.n}", **kw)

    def leftovers(self):
        return sorted(p.name for p in self.root.iterdir()) if self.root.exists() else []


@pytest.fixture
def rt(tmp_path):
    os.chmod(tmp_path, 0o755)
    runtime = Runtime(tmp_path)
    yield runtime
    # A test that failed half-way leaves no container parked for ever.
    for name in runtime.leftovers():
        if not name.startswith("@"):
            runtime("delete", "--force", name, timeout=120)  # runsc's too


@pytest.fixture
def own_rootfs(tmp_path):
    base = tmp_path / "img"
    base.mkdir()
    return make_rootfs(base)


def test_oci_run_exit_status_and_nothing_left(rt, rootfs):
    r = rt.run(config(rootfs, ["sh", "-c", "echo hi; exit 7"]))
    assert r.returncode == 7, r.stderr
    assert r.stdout == "hi\n"
    assert rt.leftovers() == []


def test_oci_mount_destination_symlink_stays_in_root(rt, own_rootfs, tmp_path):
    # The image's /etc/hosts leads, through a symbolic link, to a host
    # path: the bind must land on that path inside the root, never on the
    # host's (runc's CVE-2021-30465 class).
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "victim").write_text("host file\n")
    hosts = own_rootfs / "etc" / "hosts"
    hosts.unlink()
    hosts.symlink_to("../../../../../../../../../.." + str(outside / "victim"))
    src = tmp_path / "hosts-src"
    src.write_text("bound by the spec\n")
    cfg = config(own_rootfs, ["cat", "/etc/hosts"], extra_mounts=[
        {"destination": "/etc/hosts", "type": "bind", "source": str(src), "options": ["rbind", "ro"]}])
    r = rt.run(cfg)
    assert r.returncode == 0, r.stderr
    assert r.stdout == "bound by the spec\n"
    assert (outside / "victim").read_text() == "host file\n"


def test_oci_made_device_nodes_open_nothing(rt, rootfs):
    # The spec grants CAP_MKNOD; without a device cgroup sbx makes every
    # mount but its own device binds nodev, so /dev/mem made by hand
    # opens nothing, in /dev and in /tmp alike.
    for path in ["/dev/probe-mem", "/tmp/probe-mem"]:
        r = rt.run(config(rootfs, ["/bin/sbx-probe", "mknod-open", path, "c", "1", "1"]))
        assert "ok" not in r.stdout.split(), (path, r.stdout, r.stderr)
        if os.geteuid() == 0:
            assert r.stdout.startswith("open err 13 EACCES"), (path, r.stdout, r.stderr)


def test_oci_default_devices_work(rt, rootfs):
    r = rt.run(config(rootfs, ["sh", "-c", "echo x > /dev/null && head -c 4 /dev/zero | wc -c && ls /dev"]))
    assert r.returncode == 0, r.stderr
    out = r.stdout.split()
    assert out[0] == "4"
    for name in ["null", "zero", "full", "random", "urandom", "tty", "pts", "ptmx", "fd"]:
        assert name in out, (name, r.stdout)


def test_oci_partial_device_access_refused(rt, rootfs):
    # Without a device cgroup a bound node is all or nothing: read-only
    # access to a device cannot be given, so create refuses.
    cfg = config(rootfs, ["true"], linux={
        "devices": [{"path": "/dev/full", "type": "c", "major": 1, "minor": 7}],
        "resources": {"devices": [{"allow": False, "access": "rwm"},
                                  {"allow": True, "type": "c", "major": 1, "minor": 7, "access": "r"}]}})
    r = rt.run(cfg)
    assert r.returncode != 0
    assert "allows only reading of /dev/full" in r.stderr, r.stderr
    assert rt.leftovers() == []


def test_oci_denied_listed_device_absent(rt, rootfs):
    cfg = config(rootfs, ["ls", "/dev"], linux={
        "devices": [{"path": "/dev/full", "type": "c", "major": 1, "minor": 7}],
        "resources": {"devices": [{"allow": False, "access": "rwm"},
                                  {"allow": False, "type": "c", "major": 1, "minor": 7, "access": "rwm"}]}})
    r = rt.run(cfg)
    assert r.returncode == 0, r.stderr
    assert "null" in r.stdout.split()


def test_oci_host_sysctl_refused(rt, rootfs):
    # kernel.panic is the host's, whatever the namespaces: refused.  The
    # value is the host's own, so that a weakened build that wrote it
    # (the mutant) changes nothing.
    value = open("/proc/sys/kernel/panic").read().strip()
    r = rt.run(config(rootfs, ["true"], linux={"sysctl": {"kernel.panic": value}}))
    assert r.returncode != 0
    assert "linux.sysctl kernel.panic" in r.stderr, r.stderr
    assert rt.leftovers() == []


def test_oci_namespaced_sysctl_applied(rt, rootfs):
    r = rt.run(config(rootfs, ["cat", "/proc/sys/kernel/shmmni"], linux={"sysctl": {"kernel.shmmni": "1234"}}))
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "1234"


def test_oci_proc_masked_beyond_the_spec(rt, rootfs):
    # The spec masks nothing; sbx's own /proc masks still hold.
    r = rt.run(config(rootfs, ["sh", "-c", "wc -c < /proc/kallsyms; /bin/sbx-probe write /proc/sys/kernel/domainname"]))
    assert r.stdout.split()[0] == "0", r.stdout
    assert "err 30 EROFS" in r.stdout, r.stdout


def test_oci_masked_and_readonly_paths(rt, own_rootfs):
    (own_rootfs / "opt" / "data" / "secret").write_text("secret\n")
    cfg = config(own_rootfs, ["sh", "-c", "cat /opt/data/secret; ls /opt/data; /bin/sbx-probe write /tmp/x"],
                 linux={"maskedPaths": ["/opt/data", "/etc/hosts"], "readonlyPaths": ["/tmp"]})
    r = rt.run(cfg)
    assert "secret" not in r.stdout, r.stdout
    assert "err 30 EROFS" in r.stdout, r.stdout


def test_oci_root_readonly(rt, rootfs):
    r = rt.run(config(rootfs, ["/bin/sbx-probe", "write", "/etc/new"]))
    assert "err 30 EROFS" in r.stdout, (r.stdout, r.stderr)


@pytest.mark.skipif(os.geteuid() != 0, reason="needs host root: a rootless container's mounts cannot reach the host")
def test_oci_mounts_do_not_reach_the_host(rt, own_rootfs, tmp_path):
    shared = tmp_path / "shared"
    shared.mkdir()
    cfg = config(own_rootfs, ["/bin/sbx-probe", "mount-tmpfs", "/opt/rw"], extra_mounts=[
        {"destination": "/opt/rw", "type": "bind", "source": str(shared), "options": ["rbind", "rw"]}])
    before = open("/proc/self/mountinfo").read()
    r = rt.run(cfg)
    assert r.stdout.strip() == "ok", (r.stdout, r.stderr)
    after = open("/proc/self/mountinfo").read()
    assert "probe-tmpfs" not in after and before.count("\n") == after.count("\n")


def test_oci_no_fds_beyond_preserved(rt, rootfs):
    rd, wr = os.pipe()
    try:
        os.dup2(rd, 3) if rd != 3 else None
        b = rt.bundle(config(rootfs, ["/bin/sbx-probe", "fds"]))
        r = rt("run", "--bundle", str(b), "fds1", pass_fds=(3,))
        assert r.returncode == 0, r.stderr
        assert [f.split("=")[0] for f in r.stdout.split()[1:]] == ["0", "1", "2"], r.stdout
        r = rt("run", "--bundle", str(b), "--preserve-fds", "1", "fds2", pass_fds=(3,))
        assert r.returncode == 0, r.stderr
        assert [f.split("=")[0] for f in r.stdout.split()[1:]] == ["0", "1", "2", "3"], r.stdout
    finally:
        os.close(rd)
        os.close(wr)


def test_oci_create_start_state_delete(rt, rootfs):
    b = rt.bundle(config(rootfs, ["sleep", "30"]))
    r = rt.create("--bundle", str(b), "life")
    assert r.returncode == 0, r.stderr
    st = json.loads(rt("state", "life").stdout)
    assert st["status"] == "created" and st["pid"] > 0
    pid = st["pid"]
    # Parked before execve: still sbx, not sleep, and sbx from a sealed
    # copy, never the host's binary (runc's CVE-2019-5736).
    assert open(f"/proc/{pid}/comm").read().strip() != "sleep"
    assert os.readlink(f"/proc/{pid}/exe").startswith("/memfd:"), os.readlink(f"/proc/{pid}/exe")
    assert rt("start", "life").returncode == 0
    time.sleep(0.2)
    assert json.loads(rt("state", "life").stdout)["status"] == "running"
    assert open(f"/proc/{pid}/comm").read().strip() == "sleep"
    r = rt("delete", "life")
    assert r.returncode != 0  # running: --force is needed
    assert rt("delete", "--force", "life").returncode == 0
    for _ in range(100):
        if not os.path.exists(f"/proc/{pid}"):
            break
        try:
            os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            pass
        time.sleep(0.05)
    assert not os.path.exists(f"/proc/{pid}") or open(f"/proc/{pid}/stat").read().split()[2] == "Z"
    assert rt.leftovers() == []


def test_oci_create_killed_leaves_no_process(rt, rootfs, tmp_path):
    # A createRuntime hook holds create half-way; SIGKILL of create must
    # take the container's process with it (it dies with create until it
    # is recorded).
    marker = tmp_path / "hook-ran"
    hook = {"path": "/bin/sh", "args": ["sh", "-c", f"touch {marker}; sleep 30"]}
    cfg = config(rootfs, ["sleep", "30"])
    cfg["hooks"] = {"createRuntime": [hook]}
    b = rt.bundle(cfg)
    p = subprocess.Popen([SBX, "--root", str(rt.root), "create", "--bundle", str(b), "killed"],
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    for _ in range(200):
        if marker.exists():
            break
        time.sleep(0.02)
    assert marker.exists()
    r = rt("state", "killed", timeout=10)
    assert r.returncode == 0, r.stderr
    pid = json.loads(r.stdout)["pid"]
    assert pid > 0
    os.kill(p.pid, signal.SIGKILL)
    p.wait()
    for _ in range(100):
        if not os.path.exists(f"/proc/{pid}"):
            break
        time.sleep(0.05)
    assert not os.path.exists(f"/proc/{pid}"), "the container's process outlived a killed create"
    try:
        os.killpg(p.pid, signal.SIGKILL)  # the hook, if it outlived create
    except ProcessLookupError:
        pass
    r = rt("delete", "--force", "killed")
    assert r.returncode == 0, r.stderr
    assert rt.leftovers() == []


def test_oci_hardened_profile(rt, own_rootfs):
    # run.sbx.profile=hardened: no capability whatever the spec grants, sbx's
    # seccomp filters on top, and (as host root) a user namespace the spec
    # did not ask for, whose root is never host root: the root is
    # idmapped, so root inside still owns the image's files.
    cfg = config(own_rootfs, ["sh", "-c", "cat /proc/self/uid_map; grep -E 'CapEff|Seccomp_filters' /proc/self/status;"
                                          " touch /opt/rw/made && echo made"],
                 annotations={"run.sbx.profile": "hardened"})
    cfg["root"]["readonly"] = False
    r = rt.run(cfg)
    assert r.returncode == 0, r.stderr
    lines = r.stdout.split("\n")
    inside, outside, count = lines[0].split()
    if os.geteuid() == 0:
        assert (inside, outside, count) == ("0", str(0x70000000), "65536"), lines[0]
        st = os.stat(own_rootfs / "opt" / "rw" / "made")
        assert (st.st_uid, st.st_gid) == (0, 0)
    assert "CapEff:\t0000000000000000" in r.stdout, r.stdout
    assert int(r.stdout.split("Seccomp_filters:")[1].split()[0]) >= 2, r.stdout
    assert "made" in lines


def test_oci_hugepage_limits(rt, rootfs):
    # What kubelet sends through CRI: a hugetlb limit per page size, 0 for
    # "none".  This host's cgroup v2 tree offers hugetlb (it is not bound to
    # v1), so as root the limit is the cgroup's; rootless it is a warning.
    cfg = config(rootfs, ["sleep", "30"], linux={"resources": {"hugepageLimits": [{"pageSize": "2MB", "limit": 0}]}})
    cfg["linux"]["cgroupsPath"] = f"/sbx-tests/hugetlb-{os.getpid()}"
    b = rt.bundle(cfg)
    r = rt.create("--bundle", str(b), "huge")
    assert r.returncode == 0, r.stderr
    cgroup = json.loads((rt.root / "huge" / "state.json").read_text())["cgroup"]
    try:
        if os.geteuid() == 0 and "hugetlb" in open("/sys/fs/cgroup/unified/cgroup.controllers").read().split():
            assert open(os.path.join(cgroup, "hugetlb.2MB.max")).read().strip() == "0"
            assert "hugepageLimits" not in r.stderr, r.stderr
        elif os.geteuid() != 0:
            assert "linux.resources.hugepageLimits is not enforced" in r.stderr, r.stderr
    finally:
        deleted = rt("delete", "--force", "huge").returncode == 0
        gone = not cgroup or not os.path.exists(cgroup)
        try:
            os.rmdir(os.path.dirname(cgroup)) if cgroup else None
        except OSError:
            pass
    assert deleted and gone
