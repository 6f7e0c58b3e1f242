"""Desired files vs what is on disk -> a Plan of changes and the commands they need. Pure."""

import difflib
from typing import NamedTuple

CREATE = "create"
UPDATE = "update"
DELETE = "delete"
UNCHANGED = "unchanged"


class Change(NamedTuple):
    path: str  # host spelling, "/etc/..."
    action: str
    old: str | None
    new: str | None
    owned: bool = True  # False: the admin's file, edited in place (/etc/kernel/cmdline)

    def diff(self) -> str:
        before = "/dev/null" if self.old is None else f"{self.path} (on disk)"
        after = "/dev/null" if self.new is None else f"{self.path} (planned)"
        return "".join(
            difflib.unified_diff(
                (self.old or "").splitlines(keepends=True),
                (self.new or "").splitlines(keepends=True),
                before,
                after,
            )
        )


class Plan(NamedTuple):
    changes: tuple[Change, ...]
    manifest: str | None  # new manifest text, None when it stays as it is
    commands: tuple[tuple[str, ...], ...]
    reboot: bool  # the changes take effect only after a reboot
    notes: tuple[str, ...] = ()  # what a person must do that no file here does

    @property
    def pending(self) -> tuple[Change, ...]:
        return tuple(change for change in self.changes if change.action != UNCHANGED)

    @property
    def empty(self) -> bool:
        return not self.pending and self.manifest is None


def compare(path: str, old: str | None, new: str | None, owned: bool = True) -> Change:
    if old == new:
        action = UNCHANGED
    elif old is None:
        action = CREATE
    elif new is None:
        action = DELETE
    else:
        action = UPDATE
    return Change(path, action, old, new, owned)


def parse_manifest(text: str | None) -> list[str]:
    return [line for line in (text or "").splitlines() if line.startswith("/")]


def format_manifest(paths: list[str]) -> str:
    return "".join(f"{path}\n" for path in sorted(set(paths)))


def make_plan(
    owned: dict[str, str],
    edited: dict[str, str],
    on_disk: dict[str, str | None],
    manifest_text: str | None,
    reboot_files: frozenset[str],
    commands_by_file: dict[str, tuple[str, ...]],
    notes: tuple[str, ...] = (),
) -> Plan:
    """Compare each desired text with `on_disk` (which holds every path named here and in
    the manifest). Owned files the manifest lists but the configuration no longer needs
    are deleted; edited files (the admin's) are never deleted.

    `reboot_files` are the paths whose change needs a reboot; `commands_by_file` maps a
    path to the command a change of it needs (each command runs once).
    """
    previously = parse_manifest(manifest_text)
    changes = [compare(path, on_disk.get(path), text) for path, text in sorted(owned.items())]
    changes += [
        compare(path, on_disk.get(path), text, owned=False) for path, text in sorted(edited.items())
    ]
    changes += [
        compare(path, on_disk.get(path), None)
        for path in previously
        if path not in owned and not path.endswith("/")
    ]
    # Directories apply created stay recorded until purge, which removes them if empty.
    directories = [path for path in previously if path.endswith("/")]
    wanted_manifest = format_manifest([*owned, *directories])
    manifest = None if wanted_manifest == (manifest_text or "") else wanted_manifest

    changed = {change.path for change in changes if change.action != UNCHANGED}
    commands: list[tuple[str, ...]] = []
    for path in sorted(changed):
        command = commands_by_file.get(path)
        if command is not None and command not in commands:
            commands.append(command)
    return Plan(
        changes=tuple(changes),
        manifest=manifest,
        commands=tuple(commands),
        reboot=bool(changed & reboot_files),
        notes=notes,
    )
