"""The kernel hold: where the boot is kept on the newest kernel that has an SR-IOV provider
when the one that would boot next has none (docs/notes.md, "The kernel hold").

Pure parsing and formatting of what each boot path says about its default and of our
record (/var/lib/irisxe-sriov/kernel-hold); machine/bootfiles.py gathers the files. The
decision itself is judgement's; render and configure write it.
"""

import re
from collections.abc import Mapping
from pathlib import Path
from typing import NamedTuple

from irisxe_sriov.boot import nextboot
from irisxe_sriov.choices import BootPath, HoldKind
from irisxe_sriov.paths import Paths

RELEASE_RE = re.compile(r"[0-9][0-9A-Za-z.+_~-]{0,99}")
ENTRY_RE = re.compile(r"[0-9A-Za-z._+~-]{1,200}\.conf")


class Record(NamedTuple):
    """Our hold, as recorded: ours to release, and purge's to take back."""

    release: str
    kind: HoldKind
    boot: BootPath
    target: str  # what the boot loader was told: GRUB's menu path, an entry id, a release
    reason: str


def format_record(record: Record) -> str:
    return (
        f"release={record.release}\nkind={record.kind}\nboot={record.boot}\n"
        f"target={record.target}\nreason={record.reason}\n"
    )


def parse_record(text: str | None) -> Record | None:
    """The record, or None where there is none or it is damaged (then nothing is ours)."""
    fields = dict(line.split("=", 1) for line in (text or "").split("\n") if "=" in line)
    kind = HoldKind.of(fields.get("kind", ""))
    boot = BootPath.of(fields.get("boot", ""))
    release = fields.get("release", "")
    if kind is None or boot is None or not RELEASE_RE.fullmatch(release):
        return None
    return Record(release, kind, boot, fields.get("target", ""), fields.get("reason", ""))


class Defaults(NamedTuple):
    """What a boot path says about which kernel it boots, beyond our own hold."""

    boot: BootPath | None
    admin_default: str | None  # the admin's own choice of default, where one is set
    targets: Mapping[str, str]  # release -> how to name its boot entry to the boot loader


# --- GRUB ---------------------------------------------------------------------------------

GRUB_DEFAULT_RE = re.compile(r"""^\s*(?:export\s+)?GRUB_DEFAULT=(["']?)(.*?)\1\s*(?:#.*)?$""")


def grub_default(texts: list[str]) -> str | None:
    """GRUB_DEFAULT as grub-mkconfig ends up with it: the last assignment in the order it
    sources the files (/etc/default/grub, then the drop-ins in glob order)."""
    value = None
    for text in texts:
        for line in text.splitlines():
            match = GRUB_DEFAULT_RE.match(line)
            if match:
                value = match.group(2)
    return value


def grub_targets(menu: tuple[nextboot.MenuEntry, ...]) -> dict[str, str]:
    """release -> the `>`-path of ids of its normal entry (not recovery mode) in grub.cfg,
    as GRUB_DEFAULT takes it: gnulinux-advanced-<id>>gnulinux-<release>-advanced-<id> on
    Debian (10_linux), or the entry's own id where submenus are off. Only ids that name
    the release: gnulinux-simple-<id> is whichever kernel is newest when grub.cfg is made
    again, the new one."""
    found: dict[str, str] = {}

    def walk(entries: tuple[nextboot.MenuEntry, ...], prefix: str) -> None:
        for entry in entries:
            path = f"{prefix}>{entry.id}" if prefix else entry.id
            if entry.children:
                walk(entry.children, path)
            elif (
                entry.release
                and f"-{entry.release}-" in entry.id
                and "recovery" not in entry.id
                and entry.release not in found
            ):
                found[entry.release] = path

    walk(menu, "")
    return found


# --- systemd-boot -------------------------------------------------------------------------


def entry_targets(entries: Mapping[str, str]) -> dict[str, str]:
    """release -> loader entry id (the file name, .conf included, as bootctl set-default
    takes it) of the entries kernel-install wrote."""
    found: dict[str, str] = {}
    for name, text in sorted(entries.items()):
        release = nextboot.entry_release(text)
        if release and release not in found:
            found[release] = f"{name}.conf"
    return found


def record_path(paths: Paths) -> Path:
    return paths.kernel_hold
