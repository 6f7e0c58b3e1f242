"""Kernel command line tokens: which ones this package wants, and token-level edits. Pure.

/etc/kernel/cmdline belongs to the admin (design.md): edits keep every token and every
separator of theirs, replace only conflicting values of the keys we manage, and return a
record of exactly what was added or replaced so that `undo` gives their line back.
"""

import re
from typing import NamedTuple

from irisxe_sriov import pciids, pin
from irisxe_sriov.settings import DRIVERS, Settings

BLACKLIST_KEY = "module_blacklist"
# Keys whose values this package sets for either driver; module_blacklist is merged instead.
MANAGED_KEYS = ("intel_iommu", "i915.enable_guc", "i915.max_vfs", "xe.max_vfs", "xe.force_probe")


def wanted_tokens(settings: Settings, device: str | None) -> list[str]:
    """Parameters the pinned driver needs (facts.md: 1, required kernel parameters).

    xe needs force_probe=<the PF's device id>; when the PF is not visible (an image built
    before the hardware exists) every supported id is listed, which xe accepts as a list.
    """
    other = next(name for name in DRIVERS if name != settings.driver)
    if settings.driver == "i915":
        driver_tokens = [f"i915.enable_guc={pin.I915_ENABLE_GUC}", f"i915.max_vfs={pin.MAX_VFS}"]
    else:
        if device is not None and pciids.platform_of(pciids.INTEL_VENDOR, device):
            probe = device
        else:
            probe = ",".join(i for _, ids in pciids.PLATFORMS.values() for i in ids)
        driver_tokens = [f"xe.max_vfs={pin.MAX_VFS}", f"xe.force_probe={probe}"]
    return ["intel_iommu=on", *driver_tokens, f"{BLACKLIST_KEY}={other}"]


def key_of(token: str) -> str:
    return token.partition("=")[0]


def split(line: str) -> list[str]:
    """Whitespace-separated tokens; a double-quoted value keeps its spaces."""
    return re.findall(r'(?:[^\s"]|"[^"]*")+', line)


def missing_from(running: str | None, wanted: list[str]) -> list[str]:
    """Wanted tokens the running command line lacks (module_blacklist by member)."""
    tokens = split(running or "")
    missing = []
    for token in wanted:
        key, _, value = token.partition("=")
        if key == BLACKLIST_KEY:
            members = {
                m for t in tokens if key_of(t) == key for m in t.partition("=")[2].split(",")
            }
            if value not in members:
                missing.append(token)
        elif token not in tokens:
            missing.append(token)
    return missing


class Edit(NamedTuple):
    """One change to the line: `before` None means added; otherwise `before` became `after`."""

    before: str | None
    after: str


class EditResult(NamedTuple):
    line: str
    edits: tuple[Edit, ...]


# A line as (separator, token) pairs, so rejoining gives back every byte.
Pieces = list[tuple[str, str]]


def pieces_of(line: str) -> tuple[Pieces, str]:
    body = line.rstrip()
    trailer = line[len(body) :]
    pieces = [(m.group(1), m.group(2)) for m in re.finditer(r'(\s*)((?:[^\s"]|"[^"]*")+)', body)]
    return pieces, trailer


def join(pieces: Pieces, trailer: str) -> str:
    return "".join(sep + token for sep, token in pieces) + trailer


def merge_blacklist(existing: str, add: str, remove: str) -> str:
    members = [m for m in existing.partition("=")[2].split(",") if m and m != remove]
    if add not in members:
        members.append(add)
    return f"{BLACKLIST_KEY}={','.join(members)}"


def apply(line: str, wanted: list[str]) -> EditResult:
    """Put `wanted` into `line`, recording every token added or replaced.

    A token of the admin's with a key we set (e.g. i915.max_vfs=2) is replaced in place;
    the module_blacklist list gains our member and loses the driver we now use.
    """
    pieces, trailer = pieces_of(line)
    edits: list[Edit] = []
    for token in wanted:
        key = key_of(token)
        found = [i for i, (_, t) in enumerate(pieces) if key_of(t) == key]
        if key == BLACKLIST_KEY and found:
            member = token.partition("=")[2]
            keep = next(name for name in DRIVERS if name != member)
            position = found[0]
            separator, current = pieces[position]
            merged = merge_blacklist(current, member, keep)
            if merged != current:
                pieces[position] = (separator, merged)
                edits.append(Edit(current, merged))
        elif found:
            position = found[0]
            separator, current = pieces[position]
            if current != token:
                pieces[position] = (separator, token)
                edits.append(Edit(current, token))
        else:
            pieces.append((" " if pieces else "", token))
            edits.append(Edit(None, token))
    return EditResult(join(pieces, trailer), tuple(edits))


def undo(line: str, edits: tuple[Edit, ...]) -> str:
    """Take back `edits` from `line`: added tokens go, replaced ones get their old value.

    Tokens the admin changed after us are left alone: we only undo what is still ours.
    """
    pieces, trailer = pieces_of(line)
    for edit in reversed(edits):
        positions = [i for i, (_, t) in enumerate(pieces) if t == edit.after]
        if not positions:
            continue
        position = positions[-1] if edit.before is None else positions[0]
        separator, _ = pieces[position]
        if edit.before is None:
            del pieces[position]
            if position == 0 and pieces:
                pieces[0] = ("", pieces[0][1])
        else:
            pieces[position] = (separator, edit.before)
    return join(pieces, trailer)


def undo_then_apply(line: str, previous: tuple[Edit, ...], wanted: list[str]) -> EditResult:
    """Re-apply from the admin's own line, so a changed setting leaves no stale token."""
    return apply(undo(line, previous), wanted)


# --- the record kept in /var/lib/irisxe-sriov/kernel-cmdline ------------------------------


def format_record(edits: tuple[Edit, ...]) -> str:
    """One edit a line: `add TOKEN` or `replace BEFORE AFTER` (tokens hold no whitespace
    outside quotes, and our own never do)."""
    lines = [
        f"add {edit.after}" if edit.before is None else f"replace {edit.before} {edit.after}"
        for edit in edits
    ]
    return "".join(line + "\n" for line in lines)


def parse_record(text: str | None) -> tuple[Edit, ...]:
    edits = []
    for line in (text or "").splitlines():
        verb, _, rest = line.partition(" ")
        if verb == "add" and rest:
            edits.append(Edit(None, rest))
        elif verb == "replace":
            parts = split(rest)
            if len(parts) == 2:
                edits.append(Edit(parts[0], parts[1]))
    return tuple(edits)
