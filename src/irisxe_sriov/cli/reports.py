"""The reporting commands: status, doctor and kernels (and the kernel hook's `kernels
--notify`), as plain functions of a Paths: gather the snapshot at the command's depth,
judge it once, render the verdicts.

commands.py's commands run these. The modules a command needs are imported inside it: these
commands' start-up is measured (make bench, docs/performance.md). Of the machine's files
they write only the modinfo cache (machine/modinfo.py: any command may refresh it where a
kernel lacks modules.alias) and the textfile of `metrics --textfile`; `kernels --notify`
prints the kernel hook's line, and the hook's hold is written by commands.hold_in_hook,
through apply.
"""

import json
import os
import shutil
import sys
from typing import TYPE_CHECKING

from irisxe_sriov import errors
from irisxe_sriov.cli.failure import Output
from irisxe_sriov.paths import Paths

if TYPE_CHECKING:
    from irisxe_sriov.report.doctor import Style


def echo(text: str) -> None:
    Output.say(text)


def print_json(document: object) -> None:
    echo(json.dumps(document, indent=2, sort_keys=True))


def text_style(verbose: bool) -> "Style":
    """doctor's layout for this standard output: a terminal's width (80 otherwise, and at
    most 100 where lines get hard to read), colour only on a terminal and never with
    NO_COLOR set to anything (https://no-color.org) or TERM=dumb."""
    from irisxe_sriov.report.doctor import Style

    terminal = sys.stdout.isatty()
    width = min(shutil.get_terminal_size().columns, 100) if terminal else 80
    colour = terminal and not os.environ.get("NO_COLOR") and os.environ.get("TERM") != "dumb"
    return Style(width=max(width, 40), colour=colour, verbose=verbose)


def status(paths: Paths, as_json: bool) -> None:
    """Show the PF, its VFs with driver and role, the settings, and what differs from
    what is running (a pending reboot)."""
    from irisxe_sriov.machine import gather, snapshot
    from irisxe_sriov.report import judgement
    from irisxe_sriov.report import status as reporting

    verdicts = judgement.judge(gather.gather(paths, snapshot.Depth.STATUS))
    document = reporting.report(verdicts)
    if as_json:
        print_json(document)
    else:
        echo(reporting.format_text(document))


def doctor(paths: Paths, as_json: bool, verbose: bool = False) -> None:
    """Check every requirement and known trap; exit 1 when a check fails."""
    from irisxe_sriov.machine import gather, snapshot
    from irisxe_sriov.report import doctor as diagnosis
    from irisxe_sriov.report import judgement

    # a broken settings file is one finding: diagnose with the defaults rather than refuse
    verdicts = judgement.judge(gather.gather(paths, snapshot.Depth.DOCTOR), strict=False)
    findings = diagnosis.diagnose(verdicts)
    if as_json:
        print_json(diagnosis.document(findings))
    else:
        echo(diagnosis.format_text(findings, text_style(verbose)))
    if diagnosis.failed(findings):
        sys.exit(errors.ExitStatus.FAILED)  # the findings say why: no error line


def kernels(paths: Paths, as_json: bool, notify: str | None = None) -> None:
    """Show every installed kernel with its SR-IOV provider (the pinned DKMS build or the
    kernel's own xe), the DKMS state of the pinned driver, and which kernel boots next."""
    from irisxe_sriov.kernels import providers
    from irisxe_sriov.machine import gather, snapshot
    from irisxe_sriov.report import judgement

    depth = snapshot.Depth.KERNELS if notify is None else snapshot.Depth.HOOK
    # a kernel installation goes on whatever the settings file holds
    verdicts = judgement.judge(gather.gather(paths, depth), strict=notify is None)
    if notify is not None:
        line, _ = judgement.notify_line(verdicts, notify)
        print(line, file=sys.stderr)
        return
    found = list(verdicts.kernels)
    if as_json:
        from irisxe_sriov.report import contract

        next_boot = verdicts.snapshot.next_boot
        document: contract.KernelsDoc = {
            "schema_version": contract.SCHEMA_VERSION,
            "kernels": [kernel.as_dict() for kernel in found],
            "next_boot": {"release": next_boot.release, "evidence": next_boot.evidence},
            "hold": verdicts.hold.as_dict(),
        }
        print_json(document)
    else:
        text = providers.format_text(
            found, verdicts.snapshot.next_boot.evidence, judgement.hold_words(verdicts)
        )
        echo(text or "no installed kernel found")


def metrics(paths: Paths, textfile: bool = False) -> None:
    """The health of the machine in Prometheus' text format (metrics.py): on stdout, or
    with `textfile` into node-exporter's textfile directory, replaced whole, where that
    directory exists (nothing written, and exit 0, where it does not)."""
    from irisxe_sriov.machine import gather, snapshot
    from irisxe_sriov.paths import METRICS_DIR, METRICS_TEXTFILE
    from irisxe_sriov.report import doctor as diagnosis
    from irisxe_sriov.report import judgement
    from irisxe_sriov.report import metrics as exposition
    from irisxe_sriov.report import status as reporting

    if textfile and not paths.at(METRICS_DIR).is_dir():
        return  # no node-exporter here: nothing to read or write for
    verdicts = judgement.judge(gather.gather(paths, snapshot.Depth.DOCTOR), strict=False)
    status = reporting.report(verdicts)
    doctor = diagnosis.document(diagnosis.diagnose(verdicts))
    text = exposition.exposition(exposition.families(status, doctor))
    if not textfile:
        Output.say(text.rstrip("\n"))
        return
    from irisxe_sriov.write import apply

    apply.replace_file(paths.at(METRICS_TEXTFILE), text, 0o644)
