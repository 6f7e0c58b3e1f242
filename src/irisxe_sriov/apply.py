"""The only writer: atomic file replacement, the one lock, and the one Runner.

Under a root other than "/" no host command runs: the Runner prints "would run: ...".
"""

import contextlib
import fcntl
import os
import shlex
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

    def run(self, argv: Sequence[str]) -> int:
        line = shlex.join(argv)
        if not self.live:
            self.echo(f"would run: {line}")
            return 0
        self.echo(f"running: {line}")
        # close_fds (the default) keeps debconf's fd 3 away from update-grub (facts.md: 4).
        completed = subprocess.run(list(argv), stdin=subprocess.DEVNULL, check=False)
        return completed.returncode


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


def show(plan: planning.Plan, echo: Echo) -> None:
    for change in plan.pending:
        echo(change.diff().rstrip("\n"))


def execute(plan: planning.Plan, paths: Paths, runner: Runner, echo: Echo) -> None:
    """Write every pending change, record what we own, run the commands the changes need."""
    created: list[Path] = []
    for change in plan.pending:
        target = paths.at(change.path)
        if change.new is None:
            with contextlib.suppress(FileNotFoundError):
                target.unlink()
            echo(f"removed {change.path}")
        else:
            created += atomic_write(target, change.new)
            echo(f"{'created' if change.action == planning.CREATE else 'updated'} {change.path}")
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
        status = runner.run(command)
        if status != 0:
            failures.append(f"{shlex.join(command)} failed with exit status {status}")
    if plan.reboot:
        announce_reboot(paths)
        echo("reboot needed: the kernel command line or module options changed")
    if failures:
        raise ApplyError(
            "; ".join(failures) + "; the files are written, run it again once the cause is fixed"
        )
