"""The entry point (entry.py) and the one top-level handler behind it, as a person meets
them: the console script in a fresh interpreter, its output, exit status and the one
error line, whatever went wrong."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from fakesys import install_kernel

SOURCE = Path(__file__).resolve().parents[2] / "src"
ROOT_VARIABLE = "IRISXE_SRIOV_ROOT"
COMMANDS = ("status", "doctor", "kernels")


def run(args, *, env=None, stdout=subprocess.PIPE, prelude=""):
    """The console script (entry.main) as a subprocess. `prelude` is Python run first."""
    program = f"import sys\n{prelude}from irisxe_sriov.cli import entry\nentry.main()\n"
    environment = {**os.environ, "PYTHONPATH": str(SOURCE), **(env or {})}
    environment.pop("IRISXE_SRIOV_DEBUG", None)
    return subprocess.run(
        [sys.executable, "-c", program, *args],
        stdout=stdout,
        stderr=subprocess.PIPE,
        text=True,
        env=environment,
        timeout=60,
    )


@pytest.fixture
def machine(fake):
    fake.healthy(numvfs=3)
    install_kernel(fake.root, "6.12.118+deb13-amd64", dkms=True)
    install_kernel(fake.root, "7.3.4+deb13-amd64", usr=True)
    fake.grub()
    return fake


@pytest.mark.parametrize("command", COMMANDS)
@pytest.mark.parametrize("as_json", [True, False])
def test_the_reporting_commands_print_and_exit_0_on_a_healthy_machine(machine, command, as_json):
    done = run(["--root", str(machine.root), command, *(["--json"] if as_json else [])])
    assert done.stdout.strip() and done.stderr == ""
    assert done.returncode == 0, done.stdout


def test_an_empty_root_is_refused():
    for args in (["--root=", "status"], ["--root", "", "doctor", "--json"]):
        done = run(args)
        assert done.returncode == 2, done.stderr
        assert "Directory '' does not exist" in done.stderr


def test_a_bad_settings_file_is_one_line_and_exit_2(machine):
    (machine.root / "etc/default/irisxe-sriov").write_text("IRISXE_NUM_VFS=99\n")
    for args in (["status", "--json"], ["kernels"], ["doctor", "--json"]):
        done = run(["--root", str(machine.root), *args])
        assert done.returncode in (1, 2), args
        assert "Traceback" not in done.stderr
    done = run(["--root", str(machine.root), "status"])
    assert done.returncode == 2 and "IRISXE_NUM_VFS" in done.stderr


def test_a_settings_file_that_is_not_a_file(machine):
    settings = machine.root / "etc/default/irisxe-sriov"
    settings.unlink(missing_ok=True)
    settings.mkdir(parents=True)
    done = run(["--root", str(machine.root), "status", "--json"])
    assert done.returncode == 2 and "not a regular file" in done.stderr
    assert '"exit_status": 2' in done.stdout


# Test double for the moment of Ctrl-C: Python's SIGINT handler raises KeyboardInterrupt
# wherever the command is; here it is raised where every read-only command starts reading.
CTRL_C = (
    "import irisxe_sriov.machine.gather as gather\n"
    "def interrupted(*args, **kwargs):\n"
    "    raise KeyboardInterrupt\n"
    "gather.gather = interrupted\n"
)


@pytest.mark.parametrize("command", ["status", "doctor"])
def test_ctrl_c_is_one_line_and_exit_130(machine, command):
    done = run(["--root", str(machine.root), command], prelude=CTRL_C)
    assert done.returncode == 130
    assert done.stderr == "irisxe-sriov-ctl: error: interrupted\n"


def test_the_root_variable_is_the_root(machine):
    done = run(["status", "--json"], env={ROOT_VARIABLE: str(machine.root)})
    assert '"num_vfs"' in done.stdout


@pytest.mark.parametrize("command", COMMANDS)
@pytest.mark.parametrize("as_json", [True, False])
def test_a_reader_that_went_away_gets_no_error_line(machine, command, as_json):
    """`irisxe-sriov-ctl status | head -1` with head gone before the first write: exit 1,
    nothing on stderr (no traceback, no "Broken pipe" line)."""
    args = ["--root", str(machine.root), command, *(["--json"] if as_json else [])]
    reader, writer = os.pipe()
    os.close(reader)
    try:
        done = run(args, stdout=writer)
    finally:
        os.close(writer)
    assert done.returncode == 1, done.stderr
    assert done.stderr == "", done.stderr


def test_a_reader_gone_never_stops_the_work(machine):
    """`irisxe-sriov-ctl apply | head -1` (here the reader is gone before the first line):
    every file is written, the manifest recorded, no journal left, exit 1 and no error
    line. Output must never interrupt a write sequence."""
    settings = machine.root / "etc/default/irisxe-sriov"
    settings.write_text('NUM_VFS="3"\nDRIVER="xe"\n')
    reader, writer = os.pipe()
    os.close(reader)
    try:
        done = run(["--root", str(machine.root), "apply"], stdout=writer)
    finally:
        os.close(writer)
    assert done.returncode == 1, done.stderr
    assert done.stderr == "", done.stderr
    state = machine.root / "var/lib/irisxe-sriov"
    assert not (state / "journal").exists()
    managed = (state / "managed").read_text().splitlines()
    for name in (
        "/etc/modprobe.d/irisxe-sriov.conf",
        "/etc/sysfs.d/irisxe-sriov.conf",
        "/etc/udev/rules.d/70-irisxe-sriov.rules",
        "/etc/default/grub.d/irisxe-sriov.cfg",
    ):
        assert name in managed
        assert (machine.root / name.lstrip("/")).exists(), name
    assert "options xe" in (machine.root / "etc/modprobe.d/irisxe-sriov.conf").read_text()


@pytest.mark.parametrize(("signal_name", "status"), [("SIGTERM", 143), ("SIGHUP", 129)])
def test_sigterm_and_sighup_are_one_line_and_their_exit_status(machine, signal_name, status):
    """systemd stopping the boot unit, or a closed terminal, ends a command as Ctrl-C
    does: one line naming the signal and 128 + its number (Python's default ended it
    silently). The command is caught waiting for the lock that flock(1) holds."""
    import signal

    lock = machine.root / "var/lib/irisxe-sriov/lock"
    lock.parent.mkdir(parents=True, exist_ok=True)
    holder = subprocess.Popen(["flock", str(lock), "cat"], stdin=subprocess.PIPE)
    # until the kernel lists flock(1)'s lock on the file (no sleep)
    while not (
        lock.exists()
        and f":{lock.stat().st_ino} " in Path("/proc/locks").read_text().replace(" EOF", " ")
    ):
        assert holder.poll() is None
    try:
        environment = {**os.environ, "PYTHONPATH": str(SOURCE)}
        environment.pop("IRISXE_SRIOV_DEBUG", None)
        command = subprocess.Popen(
            [sys.executable, "-m", "irisxe_sriov", "--root", str(machine.root), "vfs", "restore"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=environment,
        )
        assert command.stdout is not None
        first = command.stdout.readline()  # it waits for the lock now
        assert first.startswith("waiting for process "), first
        command.send_signal(getattr(signal, signal_name))
        _, stderr = command.communicate(timeout=30)
        assert command.returncode == status
        assert stderr == f"irisxe-sriov-ctl: error: stopped by {signal_name}\n"
    finally:
        assert holder.stdin is not None
        holder.stdin.close()
        holder.wait()


def test_status_loads_no_version_comparison_library(fake):
    """python-debian's version module loads apt_pkg, about 12 ms of every start
    (packages.py): status never compares versions, so it never imports it."""
    fake.healthy(numvfs=2)
    program = (
        "import sys\n"
        "from irisxe_sriov.cli import entry\n"
        "try:\n"
        "    entry.main()\n"
        "finally:\n"
        "    print('loaded:', 'apt_pkg' in sys.modules, file=sys.stderr)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", program, "--root", str(fake.root), "status", "--json"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(SOURCE)},
        timeout=60,
        check=False,
    )
    assert done.returncode == 0 and done.stderr.endswith("loaded: False\n"), done.stderr
