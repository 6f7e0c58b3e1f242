"""Desired files vs what is on disk -> a Plan of changes and the commands they need. Pure."""

import re
from typing import NamedTuple

from irisxe_sriov.choices import BootPath
from irisxe_sriov.paths import DEV_NULL, is_generated

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
        import difflib  # here: status imports this module but never shows a diff (make bench)

        before = DEV_NULL if self.old is None else f"{self.path} (on disk)"
        after = DEV_NULL if self.new is None else f"{self.path} (planned)"
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
        return not self.pending and self.manifest is None and not self.commands


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
    """The manifest's entries that name a file we generate (paths.is_generated) or a
    directory apply created; anything else in it (damage, or a hostile "/../x" or
    "/etc/passwd") is ignored, so it is never deleted (docs/notes.md, "Hostile input")."""
    entries = []
    for line in (text or "").split("\n"):
        parts = line.split("/")
        if not line.startswith("/") or ".." in parts or "." in parts or "//" in line:
            continue
        if is_generated(line) or (line.endswith("/") and len(parts) > 2):
            entries.append(line)
    return entries


def format_manifest(paths: list[str]) -> str:
    return "".join(f"{path}\n" for path in sorted(set(paths)))


def from_files(
    owned: dict[str, str],
    edited: dict[str, str],
    on_disk: dict[str, str | None],
    manifest_text: str | None,
    reboot_files: frozenset[str],
    commands_by_file: dict[str, tuple[str, ...]],
    notes: tuple[str, ...] = (),
    pending_commands: tuple[tuple[str, ...], ...] = (),
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
    # Refreshes that failed (or were cut off) in an earlier apply run again first.
    commands: list[tuple[str, ...]] = list(dict.fromkeys(pending_commands))
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


# --- the state apply keeps under /var/lib/irisxe-sriov -----------------------------------


# The commands an apply runs after changing files (docs/notes.md, "Debian's boot paths"),
# and nothing else: the journal, the pending refreshes and purge's record are replayed only
# where they name one of these.
UPDATE_GRUB = ("update-grub",)
UPDATE_INITRAMFS = ("update-initramfs", "-u", "-k", "all")
PROXMOX_REFRESH = ("proxmox-boot-tool", "refresh")
# initramfs-tools' trigger: inside a dpkg run it rebuilds the newest initrd once, at the end
TRIGGER_INITRAMFS = ("dpkg-trigger", "--no-await", "update-initramfs")
# The kernel hold where it is a boot loader setting (docs/notes.md, "The kernel hold"):
# bootctl set-default ENTRY (the LoaderEntryDefault EFI variable; "" removes it) and
# proxmox-boot-tool kernel pin RELEASE / unpin.
SYSTEMD_BOOT = BootPath.SYSTEMD_BOOT
PROXMOX = BootPath.PROXMOX
HOLD_COMMANDS = {
    SYSTEMD_BOOT: ("bootctl", "set-default"),
    PROXMOX: ("proxmox-boot-tool", "kernel", "pin"),
}
RELEASE_COMMANDS = {
    SYSTEMD_BOOT: ("bootctl", "set-default", ""),
    PROXMOX: ("proxmox-boot-tool", "kernel", "unpin"),
}
KNOWN_COMMANDS = frozenset(
    {UPDATE_GRUB, UPDATE_INITRAMFS, PROXMOX_REFRESH, TRIGGER_INITRAMFS, *RELEASE_COMMANDS.values()}
)
ENTRY_ID_RE = re.compile(r"[0-9A-Za-z._+~-]{1,200}\.conf")
RELEASE_RE = re.compile(r"[0-9][0-9A-Za-z.+_~-]{0,99}")


def hold_command(boot: BootPath, target: str) -> tuple[str, ...]:
    return (*HOLD_COMMANDS[boot], target)


def known_command(command: tuple[str, ...]) -> bool:
    """One of the commands apply runs: the refreshes, a release, or a hold of a target
    that is an entry id or a release (checked: no option, no path)."""
    if command in KNOWN_COMMANDS:
        return True
    for boot, pattern in ((SYSTEMD_BOOT, ENTRY_ID_RE), (PROXMOX, RELEASE_RE)):
        prefix = HOLD_COMMANDS[boot]
        if command[:-1] == prefix and len(command) == len(prefix) + 1:
            return pattern.fullmatch(command[-1]) is not None
    return False


def parse_pending(text: str | None) -> list[str]:
    """Boot refresh commands still to run (one shell-quoted command a line)."""
    return [line for line in (text or "").split("\n") if line.strip()]


def parse_known(text: str | None) -> list[tuple[str, ...]]:
    """The commands of a pending-refresh record that apply runs (known_command:
    KNOWN_COMMANDS and the hold commands); any other line (damage, or a plant) is no
    command of ours and is never run."""
    import shlex

    found = []
    for line in parse_pending(text):
        try:
            command = tuple(shlex.split(line))
        except ValueError:
            continue
        if known_command(command):
            found.append(command)
    return found


def format_pending(commands: list[tuple[str, ...]]) -> str:
    import shlex

    return "".join(shlex.join(command) + "\n" for command in commands)


class Drift(NamedTuple):
    path: str  # host spelling
    state: str  # "edited": differs from what apply last wrote; "removed": gone


def drift(on_disk: dict[str, str | None], written: dict[str, str | None]) -> list[Drift]:
    """Generated files an admin changed since apply wrote them (ucf's local edits): the
    path's content on disk against apply's copy of what it wrote. Pure."""
    found = []
    for path, copy in sorted(written.items()):
        if copy is None:
            continue
        current = on_disk.get(path)
        if current is None:
            found.append(Drift(path, "removed"))
        elif current != copy:
            found.append(Drift(path, "edited"))
    return found
