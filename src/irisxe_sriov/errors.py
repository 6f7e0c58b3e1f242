"""One error type that carries its exit status: every module raises it, only the CLI's
top-level handler (commands.Group.main) and debconf_ui.main turn it into output and a status.

The status belongs to the problem, not to the command that met it, so the same problem
exits the same way from every command (docs/notes.md, "One error, one exit status";
docs/irisxe-sriov-ctl.8, EXIT STATUS). Pure.
"""

import enum
from collections.abc import Callable
from typing import ClassVar


class ExitStatus(enum.IntEnum):
    """The exit statuses of irisxe-sriov-ctl (docs/irisxe-sriov-ctl.8, EXIT STATUS)."""

    OK = 0
    FAILED = 1  # a failed check or operation, or a state the host is in (no free VF)
    BAD_INPUT = 2  # the request itself is wrong; nothing on disk has changed
    INTERRUPTED = 130  # Ctrl-C: 128 + SIGINT, as a shell reports it
    HANGUP = 129  # SIGHUP: 128 + 1
    TERMINATED = 143  # SIGTERM (systemd stopping the unit, kill): 128 + 15


class Error(Exception):
    """Problems a person can act on: each is one line naming the value or the file and
    what would work. Several at once (every bad value of one `config set`) are listed in
    one pass, so nobody has to fix them one run at a time."""

    status: ClassVar[ExitStatus] = ExitStatus.FAILED

    def __init__(self, *problems: str) -> None:
        super().__init__("\n".join(problems))
        self.problems = list(problems)

    def lines(self, shown: Callable[[str], str] | None = None) -> list[str]:
        """The one-line messages. `shown` gives a path's host spelling under --root
        (Paths.shown), for the subclasses whose messages name a file."""
        return list(self.problems)


class BadInput(Error):
    """The request is wrong (a value out of range, a VF that does not exist)."""

    status = ExitStatus.BAD_INPUT


class Failed(Error):
    """A valid request that failed: an operation, a check, or the state of the host."""

    status = ExitStatus.FAILED


class Signalled(BaseException):
    """SIGTERM or SIGHUP arrived: the command stops as after Ctrl-C, with one line and
    128 + the signal's number (what is half done is the journal's to complete). A
    BaseException, like KeyboardInterrupt, so that no `except Exception` swallows it."""

    def __init__(self, signal_number: int, name: str) -> None:
        super().__init__(name)
        self.signal_number = signal_number
        self.name = name
