"""irisxe-sriov-ctl's entry point: the console script and `python3 -m irisxe_sriov`.

It sets the umask and the signal handlers, then hands the command line to click
(commands.py), the one parser. A second, click-free parser for `status`, `doctor` and
`kernels` was measured with `make bench` to save 20 ms on `status --json`, below the
60 ms that would pay for keeping two parsers in step (docs/notes.md, "Test tiers and
budgets"; docs/performance.md): it is gone.
"""

import os

from irisxe_sriov.cli import failure


def main() -> None:
    # what we create has the modes we give it, whatever the caller's umask (apply also
    # sets them explicitly): Debian policy 10.9
    os.umask(0o022)
    failure.on_signals()
    from irisxe_sriov.cli import commands

    commands.main()
