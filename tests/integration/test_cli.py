"""The command line: help, version, exit statuses and error messages."""
import os

from conftest import MODE, RUNTIME, probe, run, sbx


def test_help_and_version():
    for args in (["--help"], ["help"], ["run", "--help"]):
        r = sbx(*args)
        assert r.returncode == 0, r.stderr
        assert "Usage: sbx" in r.stdout
    r = sbx("run", "--help")
    for opt in ("--rootfs", "--workspace", "--env", "--ro-bind", "--bind", "--tmpfs", "--user",
                "--network", "--hostname", "--verbose"):
        assert opt in r.stdout
    r = sbx("version")
    assert r.returncode == 0 and r.stdout.startswith("sbx ")


def test_mode_is_what_it_claims():
    """A run labelled rootless must really be rootless, and so on."""
    assert (os.geteuid() == 0) == (MODE == "root")


def test_exit_status_is_the_commands(rootfs):
    for code in (0, 1, 42):
        r = probe(rootfs, "exit", str(code))
        assert r.returncode == code, r.stderr
        assert r.stderr == ""


def test_not_found_is_127(rootfs):
    r = run(rootfs, "no-such-command")
    assert r.returncode == 127
    assert "not found in the sandbox: no-such-command" in r.stderr
    r = run(rootfs, "/bin/missing")
    assert r.returncode == 127


def test_not_executable_is_126(rootfs):
    r = run(rootfs, "/notexec")
    assert r.returncode == 126
    assert "cannot execute /notexec" in r.stderr
    r = run(rootfs, "/bin")
    assert r.returncode == 126


def test_sbx_failures_are_125_with_one_clear_line(rootfs, tmp_path):
    cases = [
        (["run", "--rootfs", str(tmp_path / "missing"), "--", "true"], "--rootfs"),
        (["run", "--rootfs", str(rootfs), "--bogus", "true"], "unknown option '--bogus'"),
        (["run", "--rootfs", str(rootfs)], "no command given"),
        (["run", "--store", str(tmp_path / "nostore"), "true"], "rootfs/build"),
        (["run", "--store", str(tmp_path / "nostore"), "--image", "x:1", "true"], "no image x:1"),
        (["run", "--image", "x", "--rootfs", str(rootfs), "true"], "not both"),
        (["run", "--rootfs", str(rootfs), "--user", "root", "true"], "--user"),
        (["run", "--rootfs", str(rootfs), "-w", str(tmp_path / "nows"), "true"], "--workspace"),
        (["run", "--rootfs", str(rootfs), "--ro-bind", f"{tmp_path}/nope:/opt/data", "true"], "--ro-bind"),
        # A target missing from the image is made (test_mount_points); one
        # below a host directory is not.
        (["run", "--rootfs", str(rootfs), "--ro-bind", f"{tmp_path}:/opt/data", "--bind",
          f"{tmp_path}:/opt/data/no/such", "true"], "--bind /opt/data/no/such"),
        (["frobnicate"], "unknown command"),
    ]
    for args, needle in cases:
        r = sbx(*args)
        assert r.returncode == 125, (args, r.stderr)
        lines = r.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("sbx: "), (args, r.stderr)
        assert needle in lines[0], (args, r.stderr)


def test_a_setup_error_inside_carries_its_reason(rootfs, tmp_path):
    """A failure in the sandbox's child reaches the user with its cause."""
    os.chmod(tmp_path, 0o755)
    r = sbx("run", "--rootfs", str(rootfs), "--ro-bind", f"{tmp_path}:/opt/data", "--bind",
            f"{tmp_path}:/opt/data/no/such/dir", "true")
    assert "No such file or directory" in r.stderr
    assert "sbx never writes the host's directories" in r.stderr


def test_verbose_says_each_step(rootfs):
    r = run(rootfs, "true", opts=["-v"])
    assert r.returncode == 0
    steps = ("user namespace", "creating user, mount, pid", "mount propagation private",
             "read-only", "pivot_root", "lo up", "switching to uid 1000")
    if RUNTIME == "runsc":
        # sbx's steps end at the bundle: the root, the mounts, lo and the
        # sandbox user are gVisor's to make, as config.json asks
        steps = ("sbx: runtime: runsc", "user namespace", "creating user, mount, pid namespaces for runsc",
                 "runsc: writing the bundle", "landlock: not applied under runsc")
    for step in steps:
        assert step in r.stderr, step
