"""Which installed kernel boots next, where the boot loader's files say so.

GRUB: the generated /boot/grub/grub.cfg is what GRUB reads, so its `set default=` line,
grubenv's next_entry (grub-reboot) and saved_entry (GRUB_DEFAULT=saved) are resolved
against its menu; Debian's default "0" is the newest kernel. systemd-boot: the
LoaderEntryDefault efivar (bootctl set-default), else loader.conf's `default` glob, else
the entry with the highest version. Proxmox VE: its kernel pin, where one is set.
Anything else: unknown (None), said as such.
Pure parsing: machine/bootfiles.py gathers the files.
"""

import fnmatch
import re
from collections.abc import Mapping
from typing import NamedTuple

from irisxe_sriov.kernels import debversion


class NextBoot(NamedTuple):
    release: str | None  # None: not known
    evidence: str


class MenuEntry(NamedTuple):
    title: str
    id: str
    release: str | None  # from its `linux .../vmlinuz-<release>` line
    children: tuple["MenuEntry", ...] = ()


# --- GRUB ---------------------------------------------------------------------------------

ENTRY_RE = re.compile(r"""^\s*(menuentry|submenu)\s+(['"])(.*?)\2(.*)\{\s*$""")
ID_RE = re.compile(r"""\$menuentry_id_option\s+(['"])(.*?)\1""")
LINUX_RE = re.compile(r"^\s*linux\S*\s+\S*/vmlinuz-(\S+)")
DEFAULT_RE = re.compile(r"""^\s*set\s+default=(['"]?)(.*?)\1\s*$""")


def parse_menu(text: str) -> tuple[MenuEntry, ...]:
    """The menu tree of a grub-mkconfig grub.cfg (menuentry/submenu blocks)."""
    stack: list[tuple[str, str, str, list[MenuEntry], list[str | None]]] = []
    top: list[MenuEntry] = []
    for line in text.splitlines():
        match = ENTRY_RE.match(line)
        if match:
            kind, _, title, rest = match.groups()
            found = ID_RE.search(rest)
            stack.append((kind, title, found.group(2) if found else title, [], [None]))
            continue
        if not stack:
            continue
        linux = LINUX_RE.match(line)
        if linux and stack[-1][4][0] is None:
            stack[-1][4][0] = linux.group(1)
        elif line.strip() == "}":
            kind, title, ident, children, release = stack.pop()
            entry = MenuEntry(title, ident, release[0], tuple(children))
            (stack[-1][3] if stack else top).append(entry)
    return tuple(top)


def grub_default(text: str) -> str | None:
    """The `set default=` value that is not grub-reboot's ${next_entry}."""
    value = None
    for line in text.splitlines():
        match = DEFAULT_RE.match(line)
        if match and match.group(2) != "${next_entry}":
            value = match.group(2)
    return value


def select(menu: tuple[MenuEntry, ...], default: str) -> MenuEntry | None:
    """GRUB's lookup of a default: '>'-separated steps, each an index, an id or a title."""
    level, entry = menu, None
    for step in default.split(">"):
        if step.isascii() and step.isdigit():
            index = int(step)
            entry = level[index] if index < len(level) else None
        else:
            entry = next((e for e in level if step in (e.id, e.title)), None)
        if entry is None:
            return None
        level = entry.children
    return entry


def grub_next(grub_cfg: str | None, grubenv: str | None) -> NextBoot:
    if grub_cfg is None:
        return NextBoot(None, "no /boot/grub/grub.cfg")
    env = dict(
        line.split("=", 1)
        for line in (grubenv or "").splitlines()
        if "=" in line and not line.startswith("#")
    )
    default = grub_default(grub_cfg) or "0"
    source = f"grub.cfg's default {default!r}"
    if env.get("next_entry"):
        default, source = env["next_entry"], "grubenv's next_entry (grub-reboot)"
    elif default == "${saved_entry}":
        default = env.get("saved_entry") or "0"
        source = f"grubenv's saved_entry {default!r}"
    entry = select(parse_menu(grub_cfg), default)
    if entry is None or entry.release is None:
        return NextBoot(None, f"{source} names no kernel entry in grub.cfg")
    return NextBoot(entry.release, f"GRUB: {source}")


# --- systemd-boot -------------------------------------------------------------------------


def entry_release(text: str) -> str | None:
    """A Boot Loader Specification entry's kernel: its `version`, else the linux path."""
    fields = {}
    for line in text.splitlines():
        key, _, value = line.strip().partition(" ")
        if key:
            fields[key] = value.strip()
    if fields.get("version"):
        return fields["version"].strip()
    linux = fields.get("linux", "")
    match = re.search(r"vmlinuz-(\S+)", linux) or re.search(r"/([^/]+)/linux$", linux.strip())
    return match.group(1) if match else None


def matches(name: str, pattern: str) -> bool:
    """Whether a default names the entry: systemd-boot's id of a Type #1 entry is its file
    name, .conf included, in lower case (systemd's src/boot/boot.c: `entry->id =
    xstrdup16(file); strtolower16(entry->id)`), and defaults are glob patterns on it."""
    return fnmatch.fnmatchcase(f"{name}.conf".lower(), pattern)


def systemd_boot_next(
    entries: Mapping[str, str], loader_conf: str | None, efivar_default: str | None
) -> NextBoot:
    """`entries`: entry file name without .conf -> text."""
    releases = {name: entry_release(text) for name, text in entries.items()}
    known = {name: release for name, release in releases.items() if release}
    if not known:
        return NextBoot(None, "no systemd-boot entry names a kernel")
    pattern, source = None, "the newest entry (no default is set)"
    if efivar_default:
        pattern, source = efivar_default, f"the LoaderEntryDefault efivar {efivar_default!r}"
    elif loader_conf:
        for line in loader_conf.splitlines():
            words = line.split(None, 1)
            if len(words) == 2 and words[0] == "default":
                pattern = words[1].strip()
                source = f"loader.conf's default {pattern!r}"
    names = [n for n in known if pattern is None or matches(n, pattern)]
    if not names:
        return NextBoot(None, f"{source} matches no entry")
    newest = max(names, key=lambda n: debversion.release_key(known[n]))
    return NextBoot(known[newest], f"systemd-boot: {source}")
