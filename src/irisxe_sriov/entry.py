"""irisxe-sriov-ctl's entry point: the console script and `python3 -m irisxe_sriov`.

`status`, `doctor` and `kernels` are what people, scripts and monitoring run most, and
importing click is most of their start-up (docs/performance.md). A command line of exactly
`[--root DIR] COMMAND [--json]` for one of them, DIR an existing directory, runs the
command (reading.py) without click, with failure.py's error handling. Every other command
line goes to click (cli.py): --help, --version, --notify, a missing root, a misspelt
option, everything click parses or reports. tests/test_entry.py holds these shapes
against click's own definition of the commands, and both paths' output against each
other.
"""

import os
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import NamedTuple

from irisxe_sriov import failure, reading
from irisxe_sriov.paths import Paths

ROOT_OPTION = "--root"
ROOT_VARIABLE = "IRISXE_SRIOV_ROOT"
JSON_FLAG = "--json"


class FastCommand(NamedTuple):
    name: str  # a key of reading.COMMANDS
    root: str
    as_json: bool


def fast_command(args: Sequence[str], environ: Mapping[str, str]) -> FastCommand | None:
    """The command when `args` has one of the shapes run without click, else None. Pure
    but for click's own checks of --root: a directory, readable. An empty one is no
    directory to click (Path("") would be the working directory)."""
    root = environ.get(ROOT_VARIABLE) or "/"  # click ignores an empty variable too
    rest = list(args)
    if rest[:1] == [ROOT_OPTION] and len(rest) >= 2:
        root, rest = rest[1], rest[2:]
    elif rest[:1] and rest[0].startswith(ROOT_OPTION + "="):
        root, rest = rest[0].partition("=")[2], rest[1:]
    if not rest or rest[0] not in reading.COMMANDS or rest[1:] not in ([], [JSON_FLAG]):
        return None
    if not root or not Path(root).is_dir() or not os.access(root, os.R_OK):
        return None  # click says what is wrong with it
    return FastCommand(rest[0], root, rest[1:] == [JSON_FLAG])


def main() -> None:
    # what we create has the modes we give it, whatever the caller's umask (apply also
    # sets them explicitly): Debian policy 10.9
    os.umask(0o022)
    failure.on_signals()
    found = fast_command(sys.argv[1:], os.environ)
    if found is None:
        from irisxe_sriov import cli

        cli.main()
        return
    paths = Paths(found.root)
    command = reading.COMMANDS[found.name]
    sys.exit(failure.guarded(lambda: command(paths, found.as_json), paths, found.as_json))
