"""The entry point's fast path (entry.py): which command lines it takes, that they agree
with click's own definition of the commands, and that both paths print the same."""

import os
import subprocess
import sys
from pathlib import Path

import click
import pytest

from fakesys import install_kernel
from irisxe_sriov import entry, reading
from irisxe_sriov.cli import cli

SOURCE = Path(__file__).resolve().parent.parent / "src"
FAST = entry.FastCommand


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["status"], FAST("status", "/", False)),
        (["status", "--json"], FAST("status", "/", True)),
        (["--root", "ROOT", "doctor", "--json"], FAST("doctor", "ROOT", True)),
        (["--root=ROOT", "kernels"], FAST("kernels", "ROOT", False)),
        # everything else is click's: help, other options, other commands, odd orders
        (["status", "--help"], None),
        (["status", "-h"], None),
        (["status", "--json", "--json"], None),
        (["--json", "status"], None),
        (["kernels", "--notify", "6.12.118+deb13-amd64"], None),
        (["kernels", "--json", "--notify=x"], None),
        (["--root", "ROOT"], None),
        (["--root"], None),
        (["--version"], None),
        (["config", "show", "--json"], None),
        (["stat"], None),
        (["--root", "MISSING", "status"], None),
        (["--root", "", "status"], None),
        (["--root=", "status"], None),
        ([], None),
    ],
)
def test_fast_command_takes_only_the_plain_shapes(tmp_path, args, expected):
    args = [a.replace("ROOT", str(tmp_path)).replace("MISSING", str(tmp_path / "x")) for a in args]
    if expected is not None:
        expected = expected._replace(root=expected.root.replace("ROOT", str(tmp_path)))
    assert entry.fast_command(args, {}) == expected


def test_the_root_variable_counts_as_click_counts_it(tmp_path):
    variable = {entry.ROOT_VARIABLE: str(tmp_path)}
    assert entry.fast_command(["status"], variable) == FAST("status", str(tmp_path), False)
    assert entry.fast_command(["--root", "/", "status"], variable) == FAST("status", "/", False)
    assert entry.fast_command(["status"], {entry.ROOT_VARIABLE: ""}) == FAST("status", "/", False)
    missing = {entry.ROOT_VARIABLE: str(tmp_path / "missing")}
    assert entry.fast_command(["status"], missing) is None


def options_of(command: click.Command) -> set[str]:
    return {name for param in command.params for name in param.opts}


def test_the_fast_shapes_are_what_click_defines():
    """A new option on one of these commands, or on the group, must be taught to
    entry.fast_command (or be one that sends the command line to click): this fails
    until it is."""
    assert isinstance(cli, click.Group)
    assert set(reading.COMMANDS) == {"status", "doctor", "kernels"}
    sends_to_click = {"--notify", "--removed", "--boot", "--verbose", "-v"}
    for name in reading.COMMANDS:
        assert options_of(cli.commands[name]) - sends_to_click == {entry.JSON_FLAG}, name
    group_options = {p.name: p for p in cli.params}
    assert options_of(cli) == {entry.ROOT_OPTION, "--version"}
    root = group_options["root"]
    assert root.envvar == entry.ROOT_VARIABLE and root.default == "/"


def run(args, *, fast: bool, env=None, stdout=subprocess.PIPE, prelude=""):
    """The console script (entry.main) or click's path (cli.main), as a subprocess: the
    fast path must not import click, which only a fresh interpreter shows. `prelude` is
    Python run first."""
    program = (
        "import sys\n"
        f"{prelude}"
        f"from irisxe_sriov import {'entry' if fast else 'cli'} as start\n"
        "try:\n"
        "    start.main()\n"
        "finally:\n"
        "    print('click imported:', 'click' in sys.modules, file=sys.stderr)\n"
    )
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


def same_on_both_paths(args, env=None, prelude=""):
    fast = run(args, fast=True, env=env, prelude=prelude)
    slow = run(args, fast=False, env=env, prelude=prelude)
    assert fast.stderr.endswith("click imported: False\n"), fast.stderr
    assert slow.stderr.endswith("click imported: True\n")
    assert (fast.returncode, fast.stdout) == (slow.returncode, slow.stdout)
    assert fast.stderr.replace("False", "True") == slow.stderr
    return fast


@pytest.fixture
def machine(fake):
    fake.healthy(numvfs=3)
    install_kernel(fake.root, "6.12.118+deb13-amd64", dkms=True)
    install_kernel(fake.root, "7.3.4+deb13-amd64", usr=True)
    fake.grub()
    return fake


@pytest.mark.parametrize("command", sorted(reading.COMMANDS))
@pytest.mark.parametrize("as_json", [True, False])
def test_both_paths_print_the_same(machine, command, as_json):
    args = ["--root", str(machine.root), command, *(["--json"] if as_json else [])]
    done = same_on_both_paths(args)
    assert done.stdout.strip()
    # the machine is healthy; doctor finds the i915 defaults wanting on it (exit 1)
    assert done.returncode == EXIT_ON_THE_MACHINE[command], done.stdout


EXIT_ON_THE_MACHINE = {"status": 0, "kernels": 0, "doctor": 0}


def test_an_empty_root_is_clicks_to_refuse():
    for args in (["--root=", "status"], ["--root", "", "doctor", "--json"]):
        done = run(args, fast=True)
        assert done.returncode == 2, done.stderr
        assert "Directory '' does not exist" in done.stderr
        assert done.stderr.endswith("click imported: True\n")


def test_both_paths_fail_alike_on_a_bad_settings_file(machine):
    (machine.root / "etc/default/irisxe-sriov").write_text("IRISXE_NUM_VFS=99\n")
    for args in (["status", "--json"], ["kernels"], ["doctor", "--json"]):
        done = same_on_both_paths(["--root", str(machine.root), *args])
        assert done.returncode in (1, 2), args
    done = same_on_both_paths(["--root", str(machine.root), "status"])
    assert done.returncode == 2 and "IRISXE_NUM_VFS" in done.stderr


def test_both_paths_fail_alike_on_a_settings_file_that_is_not_a_file(machine):
    settings = machine.root / "etc/default/irisxe-sriov"
    settings.unlink(missing_ok=True)
    settings.mkdir(parents=True)
    done = same_on_both_paths(["--root", str(machine.root), "status", "--json"])
    assert done.returncode == 2 and "not a regular file" in done.stderr
    assert '"exit_status": 2' in done.stdout


# Test double for the moment of Ctrl-C: Python's SIGINT handler raises KeyboardInterrupt
# wherever the command is; here it is raised where every read-only command starts reading.
CTRL_C = (
    "import irisxe_sriov.snapshot as snapshot\n"
    "def interrupted(*args, **kwargs):\n"
    "    raise KeyboardInterrupt\n"
    "snapshot.gather = interrupted\n"
)


@pytest.mark.parametrize("command", ["status", "doctor"])
def test_ctrl_c_is_one_line_and_exit_130_on_both_paths(machine, command):
    done = same_on_both_paths(["--root", str(machine.root), command], prelude=CTRL_C)
    assert done.returncode == 130
    assert done.stderr == "irisxe-sriov-ctl: error: interrupted\nclick imported: False\n"


def test_the_root_variable_reaches_the_fast_path(machine):
    done = same_on_both_paths(["status", "--json"], env={entry.ROOT_VARIABLE: str(machine.root)})
    assert '"num_vfs"' in done.stdout


@pytest.mark.parametrize("command", sorted(reading.COMMANDS))
@pytest.mark.parametrize("as_json", [True, False])
def test_a_reader_that_went_away_gets_no_error_line_on_either_path(machine, command, as_json):
    """`irisxe-sriov-ctl status | head -1` with head gone before the first write: exit 1,
    nothing on stderr (no traceback, no "Broken pipe" line), on both paths."""
    args = ["--root", str(machine.root), command, *(["--json"] if as_json else [])]
    for fast in (True, False):
        reader, writer = os.pipe()
        os.close(reader)
        try:
            done = run(args, fast=fast, stdout=writer)
        finally:
            os.close(writer)
        assert done.returncode == 1, done.stderr
        assert done.stderr == f"click imported: {not fast}\n", done.stderr


def test_a_reader_gone_never_stops_the_work(machine):
    """`irisxe-sriov-ctl apply | head -1` (here the reader is gone before the first line):
    every file is written, the manifest recorded, no journal left, exit 1 and no error
    line. Output must never interrupt a write sequence."""
    settings = machine.root / "etc/default/irisxe-sriov"
    settings.write_text('NUM_VFS="3"\nDRIVER="xe"\n')
    reader, writer = os.pipe()
    os.close(reader)
    try:
        done = run(["--root", str(machine.root), "apply"], fast=False, stdout=writer)
    finally:
        os.close(writer)
    assert done.returncode == 1, done.stderr
    assert done.stderr == "click imported: True\n", done.stderr
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
        "from irisxe_sriov import entry\n"
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
