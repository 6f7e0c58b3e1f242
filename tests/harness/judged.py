"""Verdicts of a fake root, as the commands get them: the snapshot gathered at a depth,
judged once (src/irisxe_sriov/machine/snapshot.py, judgement.py). Settings may be laid in
without writing a file, and any other part of the snapshot replaced, as a command's
snapshot would hold it."""

from collections.abc import Mapping
from pathlib import Path
from types import MappingProxyType
from typing import Any

from irisxe_sriov.machine import gather, snapshot
from irisxe_sriov.paths import Paths
from irisxe_sriov.report import judgement
from irisxe_sriov.settings import Settings


def settings_file_of(current: Settings) -> snapshot.SettingsFile:
    """A settings file that holds exactly `current` (text as apply would write it)."""
    from irisxe_sriov.write import render

    values = {name: value for name, value in current.values().items() if value != ""}
    return snapshot.SettingsFile(render.settings_file(current), MappingProxyType(values), ())


def gathered(
    root: Path,
    depth: str = "doctor",
    given: Mapping[str, str] | None = None,
    settings: Settings | None = None,
    **replace: Any,
) -> snapshot.Snapshot:
    found = gather.gather(Paths(root), snapshot.Depth(depth), given)
    if settings is not None:
        found = found._replace(settings_file=settings_file_of(settings))
    return found._replace(**replace) if replace else found


def judged(
    root: Path,
    depth: str = "doctor",
    given: Mapping[str, str] | None = None,
    strict: bool = False,
    settings: Settings | None = None,
    **replace: Any,
) -> judgement.Verdicts:
    return judgement.judge(gathered(root, depth, given, settings, **replace), strict)
