"""How an error reaches a person: one line per problem on stderr, an exit status, and under
--json a JSON error document on stdout too, so a JSON reader always gets JSON.

The one place that maps errors to exit statuses (mkosi's model), so no traceback ever
reaches a person: click's group (commands.Group) hands over every error that is not one of
click's own, and debconf_ui.main every error of the maintainer scripts' helper.
"""

import contextlib
import json
import os
import sys

from irisxe_sriov import errors
from irisxe_sriov.paths import Paths
from irisxe_sriov.report import contract

PROG = "irisxe-sriov-ctl"
MAX_ERROR_LINES = 20  # bounded whatever went wrong (docs/notes.md, "Hostile input")
MAX_ERROR_LENGTH = 500
DEBUG_VARIABLE = "IRISXE_SRIOV_DEBUG"


def describe_os_error(error: OSError, paths: Paths | None = None) -> str:
    filename = error.filename
    if filename is not None and paths is not None:
        filename = paths.shown(filename)
    where = f": {filename}" if filename else ""
    return f"{error.strerror or error}{where}"


def bounded(problems: list[str]) -> list[str]:
    lines = [line for problem in problems for line in str(problem).splitlines() or [""]]
    clipped = [
        line if len(line) <= MAX_ERROR_LENGTH else line[:MAX_ERROR_LENGTH] + "..."
        for line in lines[:MAX_ERROR_LINES]
    ]
    if len(lines) > MAX_ERROR_LINES:
        clipped.append(f"... and {len(lines) - MAX_ERROR_LINES} more")
    return clipped


def on_signals() -> None:
    """SIGTERM and SIGHUP end a command as Ctrl-C does: one line, no traceback, exit 128
    plus the signal (Python's defaults end it silently, with no line at all)."""
    import signal

    def stop(number: int, frame: object) -> None:
        raise errors.Signalled(number, signal.Signals(number).name)

    for number in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(number, stop)


def classify(error: BaseException, paths: Paths | None) -> tuple[list[str], int]:
    """Any error of any command but click's own -> (problem lines, exit status). An
    errors.Error carries its own status: the same problem exits the same way from every
    command (docs/notes.md, "One error, one exit status"); the commands translate
    nothing."""
    if isinstance(error, errors.Error):
        return error.lines(paths.shown if paths is not None else None), error.status
    if isinstance(error, OSError):
        return [describe_os_error(error, paths)], errors.ExitStatus.FAILED
    if isinstance(error, KeyboardInterrupt):
        return ["interrupted"], errors.ExitStatus.INTERRUPTED
    if isinstance(error, errors.Signalled):
        return [f"stopped by {error.name}"], 128 + error.signal_number
    if isinstance(error, RecursionError | MemoryError):
        message = f"{type(error).__name__}: the input is too large or too deep"
        return [message], errors.ExitStatus.FAILED
    return [
        f"internal error: {type(error).__name__}: {error} (please report it; "
        f"{DEBUG_VARIABLE}=1 shows the traceback)"
    ], errors.ExitStatus.FAILED


def debugging() -> bool:
    """IRISXE_SRIOV_DEBUG set: errors go up as tracebacks, for a bug report."""
    return bool(os.environ.get(DEBUG_VARIABLE))


def report(problems: list[str], code: int, as_json: bool) -> None:
    """Print what went wrong: `irisxe-sriov-ctl: error: ` and a problem per line on
    stderr, and under --json the error document on stdout."""
    lines = bounded(problems)
    for line in lines:
        print(f"{PROG}: error: {line}", file=sys.stderr)
    if as_json:
        document: contract.ErrorDoc = {
            "schema_version": contract.SCHEMA_VERSION,
            "error": "; ".join(lines),
            "problems": lines,
            "exit_status": code,
        }
        try:
            print(json.dumps(document, indent=2, sort_keys=True), flush=True)
        except BrokenPipeError:
            reader_gone()


class Output:
    """Standard output for a command's lines. Its reader going away (`| head`) must never
    stop the work under way (an apply between two files, a restore between two VFs): the
    line is dropped, stdout goes to /dev/null, the work goes on, and the command ends with
    exit 1 (`gone`). One per process: standard output is one per process too."""

    gone = False

    @classmethod
    def say(cls, text: str) -> None:
        if cls.gone:
            return
        try:
            print(text, flush=True)
        except BrokenPipeError:
            reader_gone()


def reader_gone() -> int:
    """Standard output's reader went away (`| head`): there is no one to tell, so no
    error line, and stdout goes to /dev/null so that Python's flush at exit finds nothing
    to complain about (Python's documentation, "Note on SIGPIPE"). Exit status 1."""
    Output.gone = True
    with contextlib.suppress(OSError):
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    return int(errors.ExitStatus.FAILED)
