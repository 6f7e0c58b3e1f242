"""The only writer: atomic file replacement, the one lock, and the one Runner.

Under a root other than "/" no host command runs: the Runner prints "would run: ...".
"""

import contextlib
import fcntl
import os
import shlex
import shutil
import subprocess
import tempfile
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

from irisxe_sriov import plan as planning
from irisxe_sriov.host import read_optional
from irisxe_sriov.paths import PACKAGE, Paths

Echo = Callable[[str], None]


class ApplyError(Exception):
    """An operation failed; the message says what and how to go on."""


class Runner:
    """Every subprocess goes through here; tests swap in a recorder only where the real
    command cannot run on a test machine."""

    def __init__(self, live: bool, echo: Echo) -> None:
        self.live = live
        self.echo = echo

    def run(
        self,
        argv: Sequence[str],
        optional: bool = False,
        debconf: bool = False,
        quiet: bool = False,
    ) -> int:
        """Run argv; `optional` commands whose program is not installed are skipped (no
        update-initramfs means no initramfs to refresh). `debconf` commands (ucf
        --debconf-ok) share our debconf channel: fd 3 and stdin. `quiet` ones are not
        announced (ucf says itself what it does with each file)."""
        line = shlex.join(argv)
        if not self.live:
            self.echo(f"would run: {line}")
            return 0
        if optional and shutil.which(argv[0]) is None:
            self.echo(f"skipped: {line} ({argv[0]} is not installed)")
            return 0
        if not quiet:
            self.echo(f"running: {line}")
        if debconf:
            completed = subprocess.run(list(argv), pass_fds=(3,), check=False)
        else:
            # close_fds (the default) keeps debconf's fd 3 from update-grub (facts.md: 4).
            completed = subprocess.run(list(argv), stdin=subprocess.DEVNULL, check=False)
        return completed.returncode


def capture(runner: Runner, argv: Sequence[str], live: bool) -> tuple[int, str]:
    """Run argv through `runner`'s rules and return its exit status and output together;
    (0, "") when it only printed "would run"."""
    line = shlex.join(argv)
    if not live:
        runner.echo(f"would run: {line}")
        return 0, ""
    runner.echo(f"running: {line}")
    done = subprocess.run(
        list(argv), stdin=subprocess.DEVNULL, capture_output=True, text=True, check=False
    )
    return done.returncode, done.stdout + done.stderr


def probe(paths: Paths, argv: Sequence[str]) -> int | None:
    """Exit status of a read-only query (bootctl is-installed), None when it cannot run
    here: under another root, or without the program."""
    if not paths.is_host or shutil.which(argv[0]) is None:
        return None
    done = subprocess.run(
        list(argv),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        check=False,
    )
    return done.returncode


def atomic_write(path: Path, text: str, mode: int = 0o644) -> list[Path]:
    """Replace `path` with `text` through a temporary file in the same directory.

    Returns the directories that had to be created, outermost first.
    """
    created: list[Path] = []
    for parent in reversed(path.parents):
        if not parent.exists():
            parent.mkdir(mode=0o755)
            created.append(parent)
    descriptor, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fchmod(handle.fileno(), mode)
            os.fsync(handle.fileno())
        Path(temporary).replace(path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            Path(temporary).unlink()
        raise
    directory = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)
    return created


@contextlib.contextmanager
def locked(paths: Paths) -> Iterator[None]:
    """One apply at a time; a second one waits for the first."""
    paths.state_dir.mkdir(parents=True, exist_ok=True)
    with paths.lock.open("a") as handle:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


def announce_reboot(paths: Paths) -> None:
    """Debian's reboot notice (facts.md: 4): touch reboot-required, list the package."""
    atomic_write(paths.reboot_required, "*** System restart required ***\n")
    listed = read_optional(paths.reboot_required_pkgs) or ""
    if PACKAGE not in listed.split():
        atomic_write(paths.reboot_required_pkgs, listed + PACKAGE + "\n")


class DirectWriter:
    """Writes files itself: irisxe-sriov-ctl, and every file outside /etc."""

    def write(self, path: Path, text: str) -> list[Path]:
        return atomic_write(path, text)

    def remove(self, path: Path) -> None:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()


class UcfWriter(DirectWriter):
    """Hands configuration files under /etc to ucf, as the postinst must (policy 10.7.3,
    facts.md: 4): a local edit survives, noninteractively as DEST.ucf-dist beside it.

    Only for the real root: ucf and ucfr act on host paths and their own registry.
    """

    def __init__(self, paths: Paths, runner: Runner, staging: Path) -> None:
        self.paths = paths
        self.runner = runner
        self.staging = staging

    def is_config(self, path: Path) -> bool:
        return self.paths.display(path).startswith("/etc/")

    def write(self, path: Path, text: str) -> list[Path]:
        if not self.is_config(path):
            return atomic_write(path, text)
        created = [parent for parent in reversed(path.parents) if not parent.exists()]
        for parent in created:
            parent.mkdir(mode=0o755)
        staged = self.staging / path.name
        atomic_write(staged, text)
        host_path = self.paths.display(path)
        self.check(["ucf", "--three-way", "--debconf-ok", str(staged), host_path], debconf=True)
        self.check(["ucfr", PACKAGE, host_path])
        return created

    def remove(self, path: Path) -> None:
        if self.is_config(path):
            host_path = self.paths.display(path)
            self.check(["ucf", "--purge", host_path])
            self.check(["ucfr", "--purge", PACKAGE, host_path])
            for leftover in path.parent.glob(f"{path.name}.ucf-*"):
                leftover.unlink()
        super().remove(path)

    def check(self, argv: list[str], debconf: bool = False) -> None:
        status = self.runner.run(argv, debconf=debconf, quiet=True)
        if status != 0:
            raise ApplyError(f"{shlex.join(argv)} failed with exit status {status}")


def show(plan: planning.Plan, echo: Echo) -> None:
    for change in plan.pending:
        echo(change.diff().rstrip("\n"))


def echo_outcome(
    change: planning.Change, before: str | None, after: str | None, echo: Echo
) -> None:
    """Say what happened on disk, which under ucf need not be what was planned."""
    if before == after:
        if after != change.new:
            echo(f"kept the local version of {change.path}; the new one is {change.path}.ucf-dist")
    elif after is None:
        echo(f"removed {change.path}")
    else:
        echo(f"{'created' if before is None else 'updated'} {change.path}")


def execute(
    plan: planning.Plan,
    paths: Paths,
    runner: Runner,
    echo: Echo,
    writer: DirectWriter | None = None,
) -> None:
    """Write every pending change, record what we own, run the commands the changes need."""
    direct = DirectWriter()
    created: list[Path] = []
    for change in plan.pending:
        target = paths.at(change.path)
        chosen = (writer or direct) if change.owned else direct
        before = read_optional(target)
        if change.new is None:
            chosen.remove(target)
        else:
            created += chosen.write(target, change.new)
        echo_outcome(change, before, read_optional(target), echo)
    state_dir = paths.state_dir
    new_dirs = [
        paths.display(d) + "/" for d in created if d != state_dir and state_dir not in d.parents
    ]
    if plan.manifest is not None or new_dirs:
        current = plan.manifest if plan.manifest is not None else read_optional(paths.manifest)
        entries = planning.parse_manifest(current) + new_dirs
        atomic_write(paths.manifest, planning.format_manifest(entries))
    failures = []
    for command in plan.commands:
        status = runner.run(command, optional=True)
        if status != 0:
            failures.append(f"{shlex.join(command)} failed with exit status {status}")
    if plan.reboot:
        announce_reboot(paths)
        echo("reboot needed: the kernel command line or module options changed")
    if failures:
        raise ApplyError(
            "; ".join(failures) + "; the files are written, run it again once the cause is fixed"
        )
