"""The settings file /etc/default/irisxe-sriov: parse, validate, edit. Pure: no disk access.

The file holds shell `KEY="value"` lines so that sh maintainer scripts and people can read
it. Parsing is strict: an unknown key, a bad value or a malformed line is an error naming
the line, and validation collects every problem before anything is written.
"""

import re
from collections.abc import Mapping
from types import MappingProxyType
from typing import NamedTuple

from irisxe_sriov import pin

DRIVERS = ("i915", "xe")
BOOTLOADERS = ("auto", "grub", "systemd-boot", "proxmox", "none")
ROLES = ("vfio", "host", "none")
DEFAULT_ROLE = "vfio"  # the guide's recommendation: VFs stay on vfio-pci
DEFAULT_PF = "0000:00:02.0"
VFIO_DRIVER = "vfio-pci"

# setting name (as typed on the command line) -> KEY in the file
KEYS = {
    "driver": "DRIVER",
    "num_vfs": "NUM_VFS",
    "bootloader": "BOOTLOADER",
    "vf_roles": "VF_ROLES",
    "pf": "PF",
}
FILE_KEYS = {value: key for key, value in KEYS.items()}

# A value sourced by sh must come out exactly as written: no quotes, $, ` or \ inside.
LINE_RE = re.compile(r'([A-Z][A-Z0-9_]*)="([^"$`\\]*)"')
PF_RE = re.compile(r"[0-9a-f]{4}:[0-9a-f]{2}:[0-9a-f]{2}\.0")


class SettingsError(Exception):
    """One or more problems, each a one-line message naming the value and what is allowed."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


class Settings(NamedTuple):
    driver: str = "i915"
    num_vfs: int = pin.MAX_VFS
    bootloader: str = "auto"
    # Only the roles that were written down; a VF not listed has DEFAULT_ROLE.
    vf_roles: Mapping[int, str] = MappingProxyType({})
    pf: str = DEFAULT_PF

    def role(self, index: int) -> str:
        return self.vf_roles.get(index, DEFAULT_ROLE)

    def roles(self) -> list[tuple[int, str]]:
        """(VF number, role) for every configured VF, 1..num_vfs."""
        return [(index, self.role(index)) for index in range(1, self.num_vfs + 1)]

    def expected_driver(self, index: int, host_driver: str | None = None) -> str | None:
        """The driver VF `index` should be bound to; None means left unbound. Host VFs
        follow `host_driver` (the PF's driver at runtime) or the configured driver."""
        return {"vfio": VFIO_DRIVER, "host": host_driver or self.driver}.get(self.role(index))

    def vf_address(self, index: int) -> str:
        """VF N sits at function N of the PF's slot (offset 1, stride 1: facts.md: 1)."""
        return f"{self.pf[:-1]}{index}"

    def values(self) -> dict[str, str]:
        """Setting name -> value as written in the file."""
        return {
            "driver": self.driver,
            "num_vfs": str(self.num_vfs),
            "bootloader": self.bootloader,
            "vf_roles": format_roles(self.vf_roles),
            "pf": self.pf,
        }


def format_roles(roles: Mapping[int, str]) -> str:
    return " ".join(f"{index}:{role}" for index, role in sorted(roles.items()))


# --- parsing ------------------------------------------------------------------------------


def parse_lines(text: str, source: str) -> dict[str, str]:
    """File text -> {setting name: raw value}. Raises SettingsError naming each bad line."""
    values: dict[str, str] = {}
    problems: list[str] = []
    for number, line in enumerate(text.splitlines(), start=1):
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        match = LINE_RE.fullmatch(stripped)
        where = f"{source}:{number}"
        if match is None:
            problems.append(f'{where}: {stripped!r} is not a KEY="value" line')
            continue
        key, value = match.groups()
        name = FILE_KEYS.get(key)
        if name is None:
            problems.append(f"{where}: unknown key {key!r}: known keys are {', '.join(FILE_KEYS)}")
        elif name in values:
            problems.append(f"{where}: {key} is set a second time")
        else:
            values[name] = value
    if problems:
        raise SettingsError(problems)
    return values


def parse_assignments(assignments: list[str]) -> dict[str, str]:
    """`config set` arguments (name=value) -> {setting name: raw value}."""
    values: dict[str, str] = {}
    problems: list[str] = []
    for assignment in assignments:
        name, sep, value = assignment.partition("=")
        name = name.strip().lower()
        if not sep:
            problems.append(f"{assignment!r} is not KEY=VALUE: known keys are {', '.join(KEYS)}")
        elif name not in KEYS:
            problems.append(f"unknown key {name!r}: known keys are {', '.join(KEYS)}")
        elif not LINE_RE.fullmatch(f'{KEYS[name]}="{value}"'):
            problems.append(f"{name}: {value!r} may not contain quotes, $, ` or \\")
        else:
            values[name] = value
    if problems:
        raise SettingsError(problems)
    return values


def parse_roles(text: str, problems: list[str]) -> dict[int, str]:
    roles: dict[int, str] = {}
    for item in text.replace(",", " ").split():
        number, sep, role = item.partition(":")
        index = int(number) if number.isdigit() else None
        if not sep or index is None:
            problems.append(f"vf_roles: {item!r} is not N:ROLE, e.g. '1:vfio 2:none'")
        elif not 1 <= index <= pin.MAX_VFS:
            problems.append(f"vf_roles: VF {number} is out of range: allowed 1-{pin.MAX_VFS}")
        elif role not in ROLES:
            problems.append(
                f"vf_roles: role {role!r} of VF {index} is not one of {', '.join(ROLES)}"
            )
        else:
            roles[index] = role
    return roles


def vf_limit(sriov_totalvfs: int | None) -> int:
    """The most VFs allowed: the PF's sriov_totalvfs when it reports a positive value below
    the hardware's 7. A 0 means the driver was loaded without max_vfs (or is the stock
    one), which says nothing about what the hardware offers after the reboot."""
    if sriov_totalvfs is not None and 0 < sriov_totalvfs < pin.MAX_VFS:
        return sriov_totalvfs
    return pin.MAX_VFS


def build(values: dict[str, str], sriov_totalvfs: int | None = None) -> Settings:
    """Validate raw values (missing ones take defaults) into Settings.

    `sriov_totalvfs` caps num_vfs (see vf_limit).
    """
    defaults = Settings()
    problems: list[str] = []

    driver = values.get("driver", defaults.driver)
    if driver not in DRIVERS:
        problems.append(f"driver: {driver!r} is not allowed: choose {' or '.join(DRIVERS)}")

    limit = vf_limit(sriov_totalvfs)
    raw_count = values.get("num_vfs", str(defaults.num_vfs)).strip()
    num_vfs = defaults.num_vfs
    if not re.fullmatch(r"-?[0-9]+", raw_count):
        problems.append(f"num_vfs: {raw_count!r} is not a number: allowed 0-{limit}")
    else:
        num_vfs = int(raw_count)
        if not 0 <= num_vfs <= pin.MAX_VFS:
            problems.append(f"num_vfs: {num_vfs} is out of range: allowed 0-{limit}")
        elif num_vfs > limit:
            problems.append(
                f"num_vfs: {num_vfs} is above the PF's sriov_totalvfs ({limit}): allowed 0-{limit}"
            )

    bootloader = values.get("bootloader", defaults.bootloader)
    if bootloader not in BOOTLOADERS:
        problems.append(
            f"bootloader: {bootloader!r} is not allowed: choose one of {', '.join(BOOTLOADERS)}"
        )

    pf = values.get("pf", defaults.pf)
    if not PF_RE.fullmatch(pf):
        problems.append(
            f"pf: {pf!r} is not a PF address: expected DDDD:BB:SS.0 in lowercase hex, "
            f"e.g. {DEFAULT_PF}"
        )

    roles = parse_roles(values.get("vf_roles", ""), problems)
    for index, role in sorted(roles.items()):
        if index > num_vfs and 0 <= num_vfs <= pin.MAX_VFS:
            allowed = f"1-{num_vfs}" if num_vfs else "none"
            problems.append(
                f"vf_roles: VF {index} has role {role!r} but num_vfs is {num_vfs}: "
                f"VF numbers allowed: {allowed}"
            )

    if problems:
        raise SettingsError(problems)
    return Settings(driver=driver, num_vfs=num_vfs, bootloader=bootloader, vf_roles=roles, pf=pf)


def parse(text: str | None, source: str, sriov_totalvfs: int | None = None) -> Settings:
    """Settings from the file's text; None (no file) gives the defaults."""
    values = {} if text is None else parse_lines(text, source)
    return build(values, sriov_totalvfs)


# --- editing ------------------------------------------------------------------------------


def update_text(text: str, changes: dict[str, str]) -> str:
    """Set values in the file's text, keeping every other line and comment as it is."""
    remaining = dict(changes)
    lines = text.splitlines(keepends=True)
    for position, line in enumerate(lines):
        match = LINE_RE.fullmatch(line.strip())
        if match is None:
            continue
        name = FILE_KEYS.get(match.group(1))
        if name in remaining:
            lines[position] = f'{KEYS[name]}="{remaining.pop(name)}"\n'
    if lines and not lines[-1].endswith("\n"):
        lines[-1] += "\n"
    lines.extend(f'{KEYS[name]}="{value}"\n' for name, value in remaining.items())
    return "".join(lines)
