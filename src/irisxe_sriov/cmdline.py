"""Kernel command line tokens: which ones this package wants, and token-level edits. Pure.

/etc/kernel/cmdline belongs to the admin (docs/notes.md, "The admin's own files"): edits
keep every token and every separator of theirs, replace only conflicting values of the
keys we manage, and return a record of exactly what was added or replaced so that `undo`
gives their line back.
"""

import bisect
import re
from collections.abc import Callable
from typing import NamedTuple

from irisxe_sriov import pciids, pin
from irisxe_sriov.choices import Driver
from irisxe_sriov.settings import Settings

BLACKLIST_KEY = "module_blacklist"
IOMMU_KEY = "intel_iommu"
# Keys whose values this package sets for either driver; module_blacklist and intel_iommu
# are merged instead (MEMBERS).
MANAGED_KEYS = (IOMMU_KEY, "i915.enable_guc", "i915.max_vfs", "xe.max_vfs", "xe.force_probe")


class Members(NamedTuple):
    """A parameter whose value is a comma list the admin may share with us: we add our
    member and take its opposite out, and keep every other member of theirs."""

    opposite: Callable[[str], str | None]  # the member ours replaces, if any
    cumulative: bool  # every occurrence counts (a __setup handler), else the last one


MEMBERS: dict[str, Members] = {
    # module_blacklist is one charp parameter: the last occurrence is the list
    BLACKLIST_KEY: Members(lambda member: Driver(member).other, cumulative=False),
    # intel_iommu's __setup handler takes each occurrence's options in turn (on, off,
    # sm_on, igfx_off, ...: drivers/iommu/intel/iommu.c, intel_iommu_setup): on/off, the
    # last one said, decides; the admin's other options stay
    IOMMU_KEY: Members(lambda member: {"on": "off", "off": "on"}.get(member), cumulative=True),
}


def wanted_tokens(settings: Settings, device: str | None, role: str = "host") -> list[str]:
    """Parameters the pinned driver needs (docs/notes.md), for a host or a guest.

    xe needs force_probe=<the GPU's device id>; when the GPU is not visible (an image built
    before the hardware exists) every supported id is listed, which xe accepts as a list.
    A guest needs no IOMMU and no max_vfs: it makes no VFs (upstream's guest steps). A
    machine of role none gets nothing.
    """
    if role == "none":
        return []
    other = settings.other_driver
    guest = role == "guest"
    if settings.driver == "i915":
        driver_tokens = [f"i915.enable_guc={pin.I915_ENABLE_GUC}"]
        driver_tokens += [] if guest else [f"i915.max_vfs={pin.MAX_VFS}"]
    else:
        if device is not None and pciids.platform_of(pciids.INTEL_VENDOR, device):
            probe = device
        else:
            probe = ",".join(i for _, ids in pciids.PLATFORMS.values() for i in ids)
        driver_tokens = [] if guest else [f"xe.max_vfs={pin.MAX_VFS}"]
        driver_tokens += [f"xe.force_probe={probe}"]
    iommu = [] if guest else ["intel_iommu=on"]
    return [*iommu, *driver_tokens, f"{BLACKLIST_KEY}={other}"]


# A token: non-space characters and double-quoted stretches; an unterminated quote runs to
# the end of the line (the kernel's next_arg does the same), so no byte of the admin's
# line is ever dropped (found by hypothesis).
TOKEN_RE = r'(?:[^\s"]|"[^"]*"?)+'
# A comment line of /etc/kernel/cmdline: systemd 257's kernel-install drops it before it
# joins the other lines (90-loaderentry.install: grep -Gv '^\s*#' | tr -s "$IFS" ' '), so
# a token in it never reaches the kernel. Comment lines belong to the separators here.
COMMENT_LINE = r"^[ \t\r\f\v]*#[^\n]*"
COMMENT_AT = re.compile(r"[ \t\r\f\v]*#[^\n]*")  # at the start of a line
SPACE_AT = re.compile(r"[^\S\n]+|\n")  # never past a line start, where a comment may begin
TOKEN_AT = re.compile(TOKEN_RE)


def key_of(token: str) -> str:
    return token.partition("=")[0]


def split(line: str) -> list[str]:
    """Whitespace-separated tokens, comment lines left out; a double-quoted value keeps
    its spaces."""
    return [token for _, token in pieces_of(line)[0]]


def effective_value(line: str | None, key: str) -> str | None:
    """The value the kernel uses for `key`: its last occurrence (a later token overrides an
    earlier one, module_blacklist included); None when absent, "" for a bare `key`."""
    value = None
    for token in split(line or ""):
        name, _, rest = token.partition("=")
        if name == key:
            value = rest
    return value


def effective(line: str | None) -> dict[str, str]:
    """Every key of the line with its effective value (doctor judges these)."""
    values: dict[str, str] = {}
    for token in split(line or ""):
        name, _, rest = token.partition("=")
        values.pop(name, None)  # keep the order of the last occurrences
        values[name] = rest
    return values


def members_in_force(line: str | None, key: str) -> list[str]:
    """The members of a MEMBERS key the kernel goes by: the last occurrence's, or for a
    cumulative one every occurrence's in turn."""
    values = [t.partition("=")[2] for t in split(line or "") if key_of(t) == key]
    if not MEMBERS[key].cumulative:
        values = values[-1:]
    return [member for value in values for member in value.split(",") if member]


def missing_from(running: str | None, wanted: list[str]) -> list[str]:
    """Wanted tokens whose value is not the one in force: a plain key by its last
    occurrence (`intel_iommu=on ... intel_iommu=off` lacks intel_iommu=on), a MEMBERS key
    by its members (intel_iommu=on,sm_on has on; module_blacklist=snd,xe has xe), where a
    later opposite member (off) takes ours back."""
    missing = []
    for token in wanted:
        key, _, value = token.partition("=")
        if key in MEMBERS:
            opposite = MEMBERS[key].opposite(value)
            said = [m for m in members_in_force(running, key) if m in (value, opposite)]
            if not said or said[-1] != value:
                missing.append(token)
        elif effective_value(running, key) != value:
            missing.append(token)
    return missing


class Edit(NamedTuple):
    """One change to the line: `before` None means added; otherwise `before` became `after`.
    `occurrence`: which token equal to `after` it is (0 = the first), so that undo puts
    each of several normalised duplicates back where it was."""

    before: str | None
    after: str
    occurrence: int = 0


class EditResult(NamedTuple):
    line: str
    edits: tuple[Edit, ...]


# A line as (separator, token) pairs, so rejoining gives back every byte.
Pieces = list[tuple[str, str]]


def pieces_of(line: str) -> tuple[Pieces, str]:
    """The line's tokens, each with the separator before it (whitespace and comment
    lines), and the trailer after the last token: rejoined, every byte comes back. An
    unterminated quote runs to the end of the text but not into its trailing whitespace."""
    body = line.rstrip()
    pieces: Pieces = []
    position = start = 0
    while position < len(body):
        if position == 0 or body[position - 1] == "\n":
            comment = COMMENT_AT.match(body, position)
            if comment:
                position = comment.end()
                continue
        space = SPACE_AT.match(body, position)
        if space:
            position = space.end()
            continue
        token = TOKEN_AT.match(body, position)
        assert token is not None  # any other character begins a token
        pieces.append((body[start:position], token.group(0)))
        position = start = token.end()
    return pieces, body[start:] + line[len(body) :]


def join(pieces: Pieces, trailer: str) -> str:
    return "".join(sep + token for sep, token in pieces) + trailer


def merge_members(existing: str, key: str, add: str) -> str:
    """An occurrence of a MEMBERS key with our member added and its opposite taken out,
    the admin's other members kept in their order."""
    remove = MEMBERS[key].opposite(add)
    members = [m for m in existing.partition("=")[2].split(",") if m and m != remove]
    if add not in members:
        members.append(add)
    return f"{key}={','.join(members)}"


def apply(line: str, wanted: list[str]) -> EditResult:
    """Put `wanted` into `line`, recording every token added or replaced.

    Every occurrence of a key we set is normalised, not only the first: the kernel uses
    the last one. A token of the admin's with such a key (e.g. i915.max_vfs=2) is
    replaced in place; each module_blacklist list gains our member and loses the driver
    we now use, each intel_iommu list gains on and loses off. A token added goes on the
    last line that is no comment (kernel-install drops comment lines), or on a line of
    its own after a file of comments alone.
    """
    pieces, trailer = pieces_of(line)
    # In the order of `wanted`: (position, before) of a replaced token, (-1, None) added.
    changed: list[tuple[int, str | None]] = []
    for token in wanted:
        key = key_of(token)
        found = [i for i, (_, t) in enumerate(pieces) if key_of(t) == key]
        if not found:
            # After an unterminated quote a token would be swallowed by it: go before it.
            open_quote = next((i for i, (_, t) in enumerate(pieces) if t.count('"') % 2), None)
            if open_quote is None:
                if pieces:
                    pieces.append((" ", token))
                elif trailer.strip():  # comments alone: a line of its own after them
                    lead = trailer if trailer.endswith("\n") else trailer + "\n"
                    pieces.append((lead, token))
                    trailer = "\n"
                else:
                    pieces.append(("", token))
                changed.append((len(pieces) - 1, None))
            else:
                separator, quoted = pieces[open_quote]
                pieces[open_quote : open_quote + 1] = (
                    [(separator, token), (" ", quoted)]  # the line's leading space stays first
                    if open_quote == 0
                    else [(" ", token), (separator, quoted)]
                )
                changed = [(p + (p >= open_quote), b) for p, b in changed]
                changed.append((open_quote, None))
            continue
        for position in found:
            separator, current = pieces[position]
            value = token.partition("=")[2]
            new = merge_members(current, key, value) if key in MEMBERS else token
            if new != current:
                pieces[position] = (separator, new)
                changed.append((position, current))
    edits = []
    seen: dict[str, list[int]] = {}  # token -> its positions, for the occurrence numbers
    for position, (_, token) in enumerate(pieces):
        seen.setdefault(token, []).append(position)
    for position, before in changed:
        after = pieces[position][1]
        occurrence = bisect.bisect_left(seen[after], position) if before else 0
        edits.append(Edit(before, after, occurrence))
    return EditResult(join(pieces, trailer), tuple(edits))


def undo(line: str, edits: tuple[Edit, ...]) -> str:
    """Take back `edits` from `line`: added tokens go, replaced ones get their old value.

    Tokens the admin changed after us are left alone: we only undo what is still ours.
    """
    pieces, trailer = pieces_of(line)
    where = token_positions(pieces)
    for edit in reversed(edits):
        positions = where.get(edit.after, [])
        if not positions:
            continue
        if edit.before is None:
            position = positions[-1]
            separator = pieces[position][0]
            del pieces[position]
            if position == 0 and pieces:  # the line's leading space (or none) stays first
                pieces[0] = (separator, pieces[0][1])
            elif position == 0:  # the only token, after a file of comments alone
                trailer = separator if separator.strip() else trailer
            elif re.search(COMMENT_LINE, separator, re.MULTILINE):
                # comment lines before our token stay, before whatever follows it
                if position < len(pieces):
                    pieces[position] = (separator + pieces[position][0], pieces[position][1])
                else:
                    trailer = separator + trailer
            where = token_positions(pieces)  # rare: only the few tokens we add
        else:
            position = positions[min(edit.occurrence, len(positions) - 1)]
            pieces[position] = (pieces[position][0], edit.before)
            positions.remove(position)
            bisect.insort(where.setdefault(edit.before, []), position)
    return join(pieces, trailer)


def token_positions(pieces: Pieces) -> dict[str, list[int]]:
    """Each token's positions in the line, in order: undo looks tokens up here instead of
    scanning the line once per edit (a line of thousands of managed tokens stays quick)."""
    where: dict[str, list[int]] = {}
    for position, (_, token) in enumerate(pieces):
        where.setdefault(token, []).append(position)
    return where


def undo_then_apply(line: str, previous: tuple[Edit, ...], wanted: list[str]) -> EditResult:
    """Re-apply from the admin's own line, so a changed setting leaves no stale token."""
    return apply(undo(line, previous), wanted)


def sed_literal(text: str) -> str:
    """`text` as a literal in a sed basic regular expression or replacement (with "/" as
    the delimiter)."""
    return re.sub(r"[]\\/$*.^&[]", lambda m: "\\" + m.group(0), text)


def undo_sed(edits: tuple[Edit, ...], first_line_only: bool = False) -> str:
    """A GNU sed script that takes `edits` back from a line edited since apply wrote it:
    purge's fallback, replayed by the postrm, which has no Python (docs/notes.md, "Purge").
    It follows `undo` as far as sed can: newest edit first; an added token goes from its
    last occurrence (or from the start of the line); a replaced one gets its old value at
    its occurrence, or at the last one when there are fewer. Comment lines are left alone
    (kernel-install drops them). `first_line_only`: Proxmox VE reads the first line alone.

    Two patterns an edit at most, so the script grows with the edits, not with their
    square. Each edit tries its patterns in turn: `t` jumps past the rest once one
    matched, and a `t` to the very next label first clears the flag an earlier edit set."""
    space = "[[:space:]]"
    commands = []
    for number, edit in enumerate(reversed(edits)):
        after = sed_literal(edit.after)
        done = f"e{number}"
        patterns: list[str]
        if edit.before is None:
            patterns = [
                rf"s/^\(.*\){space}{after}\({space}\|$\)/\1\2/",
                rf"s/^\({space}*\){after}\({space}\+\|$\)/\1/",
            ]
        else:
            before = sed_literal(edit.before)
            match = rf"\(^\|{space}\)\({after}\)\({space}\|$\)"
            # the greedy .* makes the last occurrence the one replaced
            last = rf"s/^\(.*\)\(^\|{space}\){after}\({space}\|$\)/\1\2{before}\3/"
            if edit.occurrence:
                patterns = [rf"s/{match}/\1{before}\3/{edit.occurrence + 1}", last]
            else:
                patterns = [rf"s/{match}/\1{before}\3/"]
        commands += [f"t {done}c", f":{done}c"]
        for pattern in patterns:
            commands += [pattern, f"t {done}"]
        commands.append(f":{done}")
    if commands:
        commands = [f"/^{space}*#/b", *commands]
    if first_line_only and commands:
        commands = ["1{", *commands, "}"]
    return "".join(command + "\n" for command in commands)


# --- the record kept in /var/lib/irisxe-sriov/kernel-cmdline ------------------------------


def format_record(edits: tuple[Edit, ...]) -> str:
    """One edit a line: `add TOKEN` or `replace BEFORE AFTER [@N]` (tokens hold no
    whitespace outside quotes, and our own never do; @N is Edit.occurrence)."""
    lines = []
    for edit in edits:
        if edit.before is None:
            lines.append(f"add {edit.after}")
        else:
            suffix = f" @{edit.occurrence}" if edit.occurrence else ""
            lines.append(f"replace {edit.before} {edit.after}{suffix}")
    return "".join(line + "\n" for line in lines)


def parse_record(text: str | None) -> tuple[Edit, ...]:
    edits = []
    for line in (text or "").split("\n"):
        verb, _, rest = line.partition(" ")
        if verb == "add" and rest:
            edits.append(Edit(None, rest))
        elif verb == "replace":
            parts = split(rest)
            if len(parts) == 3 and re.fullmatch(r"@[0-9]{1,4}", parts[2]):
                edits.append(Edit(parts[0], parts[1], int(parts[2][1:])))
            elif len(parts) == 2:
                edits.append(Edit(parts[0], parts[1]))
    return tuple(edits)
