"""Supervisor liveness (issue 9, items 6, 7, 12, 13 and --json FILE of 2):
sbx never blocks on its own output, so the deadline and stop signals hold
whatever the reader does; the caller's terminal is put back with --no-tty;
the JSON result goes where it was asked and nowhere else."""
import fcntl
import json
import os
import select
import signal
import subprocess
import termios
import time

import pytest

from conftest import RUNTIME, SBX, python_rootfs, sbx
from test_supervision import Tty

# Generous bounds: the runs below have 1 s deadlines and 0.5 s graces.
ENDS_WITHIN = 10


class Run:
    """sbx with its stdout on a pipe that nobody reads until told to."""

    def __init__(self, rootfs, *cmd, opts=(), stdin=subprocess.DEVNULL):
        self.reader, writer = os.pipe()
        json_r, json_w = os.pipe()
        self.json_reader = json_r
        self.start = time.monotonic()
        self.p = subprocess.Popen([SBX, "run", "--rootfs", str(rootfs), "--json-fd", str(json_w), *opts,
                                   "--", *cmd], stdin=stdin, stdout=writer, stderr=subprocess.PIPE,
                                  pass_fds=(json_w,))
        os.close(writer)
        os.close(json_w)

    def output_waiting(self):
        return int.from_bytes(fcntl.ioctl(self.reader, termios.FIONREAD, b"\0\0\0\0"), "little")

    def wait_for_output(self):
        deadline = time.monotonic() + ENDS_WITHIN
        while self.output_waiting() == 0:
            assert time.monotonic() < deadline and self.p.poll() is None, "the command printed nothing"
            time.sleep(0.02)

    def wait(self, seconds=ENDS_WITHIN):
        """The exit status, stderr and JSON result; fails if sbx is still
        running after SECONDS (then it is killed)."""
        try:
            _, err = self.p.communicate(timeout=seconds)
        except subprocess.TimeoutExpired:
            self.p.kill()
            self.p.communicate()
            pytest.fail(f"sbx still running {seconds} s later, its reader stalled")
        finally:
            self.elapsed = time.monotonic() - self.start
        with os.fdopen(self.json_reader) as f:
            result = json.loads(f.read())
        assert result["exit_code"] == self.p.returncode
        return self.p.returncode, err.decode(errors="replace"), result

    def read_all(self):
        chunks = []
        while True:
            chunk = os.read(self.reader, 1 << 16)
            if not chunk:
                return b"".join(chunks)
            chunks.append(chunk)

    def close(self):
        if self.p.poll() is None:
            self.p.kill()
            self.p.wait()
        os.close(self.reader)


@pytest.fixture
def runs():
    made = []
    yield lambda *a, **kw: made.append(Run(*a, **kw)) or made[-1]
    for r in made:
        r.close()


# ---- item 6: a terminal flood -------------------------------------------------

def test_pty_flood_to_a_stalled_reader_ends_at_the_deadline(rootfs, runs):
    """`-t --timeout 1 -- flood | (nobody reads)`: exit 124 on time; what
    the reader never took is dropped, counted in the JSON and on stderr."""
    r = runs(rootfs, "/bin/sbx-probe", "flood", "100g", opts=["-t", "--timeout", "1", "--kill-grace", "0.5"])
    code, err, res = r.wait()
    assert code == 124 and res["timed_out"] is True, err
    assert res["output_dropped_bytes"] > 0
    assert "bytes of the command's output were dropped" in err
    assert r.elapsed < ENDS_WITHIN


def test_pty_flood_to_a_terminal_nobody_reads_ends_at_the_deadline(rootfs):
    """The same on a terminal (ours, never read): sbx's writes to it cannot
    hold it, and the terminal's settings come back."""
    t = Tty([SBX, "run", "--rootfs", str(rootfs), "--timeout", "1", "--kill-grace", "0.5", "--",
             "/bin/sbx-probe", "flood", "100g"])
    try:
        code = t.p.wait(timeout=ENDS_WITHIN)
    except subprocess.TimeoutExpired:
        pytest.fail("sbx still running long after its deadline, its terminal unread")
    finally:
        if t.p.poll() is None:
            t.p.kill()
            t.p.wait()
    assert code == 124
    assert termios.tcgetattr(t.slave) == t.saved


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_stop_signal_ends_a_pty_flood_to_a_stalled_reader(rootfs, runs, sig):
    """No timeout: a stop signal to sbx reaches the command, and once the
    sandbox is gone sbx waits at most the grace for the reader."""
    r = runs(rootfs, "/bin/sbx-probe", "flood", "100g", opts=["-t", "--kill-grace", "0.5"])
    r.wait_for_output()
    time.sleep(0.3)
    r.p.send_signal(sig)
    code, err, res = r.wait()
    assert code == 128 + sig and res["signal"] == sig, err
    assert res["output_dropped_bytes"] > 0


def test_stdin_still_reaches_the_pty_during_a_flood(rootfs, runs, workspace):
    """While the command's terminal output waits for the stalled reader,
    sbx keeps passing our input on."""
    stdin_r, stdin_w = os.pipe()
    try:
        r = runs(rootfs, "sh", "-c", "/bin/sbx-probe flood 100g & read x; echo \"got-$x\" > /workspace/x",
                 opts=["-t", "-w", str(workspace), "--timeout", "20", "--kill-grace", "0.5"], stdin=stdin_r)
        r.wait_for_output()
        time.sleep(0.3)
        os.write(stdin_w, b"hello\n")
        deadline = time.monotonic() + ENDS_WITHIN
        while not (workspace / "x").exists():
            assert time.monotonic() < deadline, "our input never reached the command"
            time.sleep(0.05)
        assert (workspace / "x").read_text() == "got-hello\n"
    finally:
        os.close(stdin_r)
        os.close(stdin_w)


def test_pty_output_reaches_a_slow_reader_whole(rootfs, runs):
    """Without a deadline nothing is dropped: a reader that starts late gets
    every byte (the pty turns each newline into CR LF)."""
    r = runs(rootfs, "/bin/sbx-probe", "flood", "256k", opts=["-t"])
    r.wait_for_output()
    time.sleep(1)
    data = r.read_all()
    code, err, res = r.wait()
    assert code == 0, err
    assert res["output_dropped_bytes"] == 0
    if RUNTIME == "runsc" and data != b"y\r\n" * (128 * 1024):
        # gVisor 20221219 now and then loses or repeats a byte when its
        # write to a full terminal is short (seen about once in five runs
        # of this test; README).  sbx dropped nothing (above); what arrived
        # is the flood, give or take those bytes.
        assert abs(len(data) - 3 * 128 * 1024) <= 16 and set(data) == set(b"y\r\n"), len(data)
        return
    assert data == b"y\r\n" * (128 * 1024)


# ---- item 7: --output-limit and a stalled reader -------------------------------

def test_output_limit_ends_at_the_deadline_with_a_stalled_reader(rootfs, runs):
    r = runs(rootfs, "/bin/sbx-probe", "flood", "100g",
             opts=["--no-tty", "--output-limit", "1m", "--timeout", "1", "--kill-grace", "0.5"])
    code, err, res = r.wait()
    assert code == 124 and res["timed_out"] is True, err
    assert res["stdout_truncated"] is True and res["output_dropped_bytes"] > 0
    assert r.elapsed < ENDS_WITHIN


def test_deadline_holds_for_output_after_the_command_ended(rootfs, runs):
    """The command ends before the deadline; its output does not reach the
    stalled reader: sbx still ends by the deadline plus the grace, with the
    command's own status (it did not time out), the rest dropped."""
    r = runs(rootfs, "/bin/sbx-probe", "flood", "2m",
             opts=["--no-tty", "--output-limit", "1m", "--timeout", "1", "--kill-grace", "0.5"])
    code, err, res = r.wait()
    assert code == 0 and res["timed_out"] is False, err
    assert res["output_dropped_bytes"] > 0 and res["stdout_bytes"] == 2 << 20
    assert "were dropped" in err


def test_output_limit_never_blocks_the_command(rootfs, runs, workspace):
    """The command runs to its end while nobody reads; the reader, when it
    comes, gets head, marker and tail, whole."""
    r = runs(rootfs, "sh", "-c", "/bin/sbx-probe flood 20m; echo > /workspace/done",
             opts=["--no-tty", "--output-limit", "1m", "-w", str(workspace)])
    deadline = time.monotonic() + ENDS_WITHIN
    while not (workspace / "done").exists():
        assert time.monotonic() < deadline, "the command was blocked by sbx's stalled reader"
        time.sleep(0.05)
    data = r.read_all()
    code, err, res = r.wait()
    assert code == 0, err
    marker = b"\n[sbx: output truncated, %d bytes omitted]\n" % (20 * (1 << 20) - (1 << 20))
    assert data == b"y\n" * (256 * 1024) + marker + b"y\n" * (256 * 1024)
    assert res["output_dropped_bytes"] == 0 and res["stdout_bytes"] == 20 << 20


def test_output_limit_stop_signal_with_a_stalled_reader(rootfs, runs):
    r = runs(rootfs, "/bin/sbx-probe", "flood", "100g", opts=["--no-tty", "--output-limit", "1m",
                                                             "--kill-grace", "0.5"])
    r.wait_for_output()
    r.p.send_signal(signal.SIGTERM)
    code, err, res = r.wait()
    assert code == 128 + signal.SIGTERM, err


# ---- item 13: --json-fd on stdio ----------------------------------------------

@pytest.mark.parametrize("fd", [1, 2])
def test_json_fd_on_stdio_leaves_the_command_its_stdio(rootfs, fd):
    r = subprocess.run([SBX, "run", "--rootfs", str(rootfs), "--json-fd", str(fd), "--", "sh", "-c",
                        "echo out; echo err >&2"], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    stream = r.stdout if fd == 1 else r.stderr
    other = r.stderr if fd == 1 else r.stdout
    first, json_line = stream.split("\n", 1)
    assert first == ("out" if fd == 1 else "err")
    assert json.loads(json_line)["exit_code"] == 0
    assert other == ("err\n" if fd == 1 else "out\n")


def test_json_fd_not_open_is_refused(rootfs):
    r = subprocess.run([SBX, "run", "--rootfs", str(rootfs), "--json-fd", "77", "--", "true"],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 125 and "--json-fd 77" in r.stderr


# ---- item 2 (part): --json FILE ------------------------------------------------

def json_to(rootfs, path):
    return subprocess.run([SBX, "run", "--rootfs", str(rootfs), "--json", str(path), "--", "true"],
                          capture_output=True, text=True, timeout=20)


@pytest.fixture
def victim(tmp_path):
    v = tmp_path / "victim"
    v.write_text("precious\n")
    return v


def test_json_file_refuses_a_symlink(rootfs, tmp_path, victim):
    """A link planted where the result goes (a reused workspace): the file
    it points to is not overwritten."""
    link = tmp_path / "result.json"
    link.symlink_to(victim)
    r = json_to(rootfs, link)
    assert r.returncode == 125 and "symbolic link" in r.stderr, r.stderr
    assert victim.read_text() == "precious\n"


def test_json_file_refuses_a_path_through_a_symlink(rootfs, tmp_path):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (tmp_path / "out").symlink_to(elsewhere)
    r = json_to(rootfs, tmp_path / "out" / "result.json")
    assert r.returncode == 125 and "symbolic link" in r.stderr, r.stderr
    assert str(elsewhere / "result.json") in r.stderr, "the message names the path without links"
    assert not (elsewhere / "result.json").exists()


def test_json_file_refuses_a_fifo_without_hanging(rootfs, tmp_path):
    fifo = tmp_path / "result.json"
    os.mkfifo(fifo)
    try:
        r = json_to(rootfs, fifo)
    except subprocess.TimeoutExpired:
        pytest.fail("sbx blocked opening a fifo for --json")
    assert r.returncode == 125 and "not a regular file" in r.stderr, r.stderr


def test_json_file_refuses_a_directory(rootfs, tmp_path):
    r = json_to(rootfs, tmp_path)
    assert r.returncode == 125 and "--json" in r.stderr, r.stderr


def test_json_file_refuses_a_second_name(rootfs, tmp_path, victim):
    """A hard link is another file's name: writing through it would
    overwrite that file."""
    os.link(victim, tmp_path / "result.json")
    r = json_to(rootfs, tmp_path / "result.json")
    assert r.returncode == 125 and "hard link" in r.stderr, r.stderr
    assert victim.read_text() == "precious\n"


def test_json_file_refuses_someone_elses_file(rootfs, tmp_path):
    if os.geteuid() != 0:
        pytest.skip("only root can make a file of another user's here")
    planted = tmp_path / "result.json"
    planted.write_text("planted\n")
    os.chown(planted, 4242, 4242)
    r = json_to(rootfs, planted)
    assert r.returncode == 125 and "belongs to uid 4242" in r.stderr, r.stderr
    assert planted.read_text() == "planted\n"


def test_json_file_created_or_truncated(rootfs, tmp_path):
    new = tmp_path / "new.json"
    assert json_to(rootfs, new).returncode == 0
    assert json.loads(new.read_text())["exit_code"] == 0
    old = tmp_path / "old.json"
    old.write_text("x" * 100000)
    assert json_to(rootfs, old).returncode == 0
    assert json.loads(old.read_text())["exit_code"] == 0


# ---- item 12: the caller's terminal with --no-tty ------------------------------

def no_tty_run(rootfs, script, opts=()):
    return Tty([SBX, "run", "--no-tty", "--rootfs", str(rootfs), *opts, "--", "sh", "-c", script])


@pytest.mark.parametrize("end", ["exit", "timeout", "sigterm"])
def test_no_tty_terminal_settings_restored(rootfs, end):
    """The command gets the caller's terminal as its stdio and changes its
    modes; however the run ends, they come back."""
    if end == "exit":
        t = no_tty_run(rootfs, "stty -echo -icanon; exit 3")
        expected = 3
    elif end == "timeout":
        t = no_tty_run(rootfs, "stty -echo -icanon; exec sleep 100", opts=["--timeout", "0.5"])
        expected = 124
    else:
        t = no_tty_run(rootfs, "stty -echo -icanon; echo changed; exec sleep 100")
        t.expect("changed")
        t.p.send_signal(signal.SIGTERM)
        expected = 128 + signal.SIGTERM
    try:
        assert t.p.wait(timeout=ENDS_WITHIN) == expected
    finally:
        if t.p.poll() is None:
            t.p.kill()
    assert termios.tcgetattr(t.slave) == t.saved, "the sandbox's stty outlived the run"


# Under runsc the caller's terminal (--no-tty) is a plain host file inside
# gVisor: its terminal ioctls fail there (ENOTTY), so the command cannot
# stop or lock it at all; the check after the run holds the same.
NO_TTY_IOCTL_STATUS = 1 if RUNTIME == "runsc" else 0


def test_no_tty_stopped_output_restarted():
    """tcflow(TCOOFF) from the sandbox would leave the caller's terminal
    silent after the run."""
    rootfs = python_rootfs()
    t = Tty([SBX, "run", "--no-tty", "--rootfs", rootfs, "--", "python3", "-c",
             "import termios; termios.tcflow(1, termios.TCOOFF)"])
    try:
        assert t.p.wait(timeout=30) == NO_TTY_IOCTL_STATUS
    finally:
        if t.p.poll() is None:
            t.p.kill()
    fcntl.fcntl(t.slave, fcntl.F_SETFL, fcntl.fcntl(t.slave, fcntl.F_GETFL) | os.O_NONBLOCK)
    try:
        os.write(t.slave, b"still-talking\n")
    except BlockingIOError:
        pytest.fail("the caller's terminal output is still stopped after the run")
    t.expect("still-talking")
    if RUNTIME == "runsc":
        assert b"(25, " in t.out, t.out  # termios.error: ENOTTY


def test_no_tty_exclusive_mode_undone():
    """TIOCEXCL from the sandbox would keep every later open of the caller's
    terminal (a new shell's /dev/tty, sudo, ssh) failing with EBUSY."""
    tiocgexcl = 0x80045440
    rootfs = python_rootfs()
    t = Tty([SBX, "run", "--no-tty", "--rootfs", rootfs, "--", "python3", "-c",
             "import fcntl, termios; fcntl.ioctl(1, termios.TIOCEXCL)"])
    try:
        assert t.p.wait(timeout=30) == NO_TTY_IOCTL_STATUS
    finally:
        if t.p.poll() is None:
            t.p.kill()
    if RUNTIME == "runsc":
        t.expect("Errno 25")  # OSError: ENOTTY
    exclusive = int.from_bytes(fcntl.ioctl(t.slave, tiocgexcl, b"\0\0\0\0"), "little")
    assert exclusive == 0, "the caller's terminal was left in exclusive mode"


def test_json_fd_1_on_a_stalled_reader_still_ends(rootfs):
    """--json-fd 1 after a flood that filled the reader's pipe: the result
    waits the grace at most, then sbx says so and ends."""
    reader, writer = os.pipe()
    try:
        p = subprocess.Popen([SBX, "run", "--rootfs", str(rootfs), "--no-tty", "--output-limit", "1m",
                              "--timeout", "1", "--kill-grace", "0.5", "--json-fd", "1", "--",
                              "/bin/sbx-probe", "flood", "100g"], stdout=writer, stderr=subprocess.PIPE)
        os.close(writer)
        writer = -1
        try:
            _, err = p.communicate(timeout=ENDS_WITHIN)
        except subprocess.TimeoutExpired:
            p.kill()
            p.communicate()
            pytest.fail("sbx still running: its JSON result waits on a stalled reader")
        assert p.returncode == 124 and b"writing the JSON result: its reader did not take it" in err, err
    finally:
        os.close(reader)
        if writer >= 0:
            os.close(writer)


def test_a_deadline_during_the_setup_is_a_timeout(rootfs, tmp_path):
    """--timeout counts from the start: when it passes before the command
    has started, the run timed out (124), sbx did not fail (125)."""
    out = tmp_path / "r.json"
    r = sbx("run", "--no-tty", "--rootfs", str(rootfs), "--timeout", "0.001", "--json", str(out), "--",
            "/bin/sleep", "5", timeout=30)
    assert r.returncode == 124, (r.returncode, r.stderr)
    assert json.loads(out.read_text())["timed_out"] is True
