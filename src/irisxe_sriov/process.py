"""The one process gateway: every command this package runs goes through a Runner.

Under a root other than "/" no host command runs: a Runner that is not live prints
"would run: ..." instead, so --root and --dry-run show what would happen and change
nothing. Kept apart from apply (the writer), so that machine/bootfiles.py's questions to
the host (`bootctl is-installed`, `mokutil --test-key`) run without importing the writer
(docs/notes.md, "One error, one exit status").
"""

import shlex
import shutil
import subprocess
from collections.abc import Callable, Sequence

Echo = Callable[[str], None]


def silent(line: str) -> None:
    """An Echo that says nothing: for a detector's query, which changes nothing."""


class Runner:
    """Every subprocess goes through here; tests swap in a recorder only where the real
    command cannot run on a test machine."""

    def __init__(self, live: bool, echo: Echo = silent) -> None:
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
            # close_fds (the default) keeps debconf's fd 3 from update-grub (docs/notes.md,
            # "Debian's boot paths").
            completed = subprocess.run(list(argv), stdin=subprocess.DEVNULL, check=False)
        return completed.returncode

    def capture(self, argv: Sequence[str], quiet: bool = False) -> tuple[int, str]:
        """Run argv and return its exit status and its output (stdout, then stderr);
        (0, "") when it only printed "would run". `quiet` ones are not announced."""
        line = shlex.join(argv)
        if not self.live:
            self.echo(f"would run: {line}")
            return 0, ""
        if not quiet:
            self.echo(f"running: {line}")
        done = subprocess.run(
            list(argv), stdin=subprocess.DEVNULL, capture_output=True, text=True, check=False
        )
        return done.returncode, done.stdout + done.stderr

    def probe(self, argv: Sequence[str]) -> int | None:
        """The exit status of a read-only query (bootctl is-installed), never announced;
        None when it cannot run here: not live (another root), or without the program."""
        if not self.live or shutil.which(argv[0]) is None:
            return None
        done = subprocess.run(
            list(argv),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            check=False,
        )
        return done.returncode
