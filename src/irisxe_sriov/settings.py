"""The settings file /etc/default/irisxe-sriov: parse, validate, edit. Pure: no disk access.

The file holds shell `KEY="value"` lines so that sh maintainer scripts and people can read
it. Parsing is strict: an unknown key, a bad value or a malformed line is an error naming
the line, and validation collects every problem before anything is written.
"""

import re
from collections.abc import Mapping
from types import MappingProxyType
from typing import NamedTuple, TypeVar

from irisxe_sriov import errors, pciids, pin, sched
from irisxe_sriov.choices import BootPath, Closed, Driver, KernelHold, MachineRole, VfRole

C = TypeVar("C", bound=Closed)  # a closed set of choices.py

DEFAULT_ROLE = VfRole.VFIO  # the guide's recommendation: VFs stay on vfio-pci
DEFAULT_PF = "0000:00:02.0"
VFIO_DRIVER = "vfio-pci"

# setting name (as typed on the command line) -> KEY in the file
KEYS = {
    "driver": "DRIVER",
    "num_vfs": "NUM_VFS",
    "bootloader": "BOOTLOADER",
    "vf_roles": "VF_ROLES",
    "pf": "PF",
    "machine_role": "MACHINE_ROLE",
    "kernel_hold": "KERNEL_HOLD",
    "sched": "SCHED",
    "sched_exec_quantum_ms": "SCHED_EXEC_QUANTUM_MS",
    "sched_preempt_timeout_us": "SCHED_PREEMPT_TIMEOUT_US",
    "sched_pf_priority": "SCHED_PF_PRIORITY",
}
FILE_KEYS = {value: key for key, value in KEYS.items()}


def closed_values() -> dict[str, tuple[str, ...]]:
    """Every value a setting with a closed set can take (shell completion offers them);
    pf, vf_roles and the per-function sched values are open. num_vfs may be capped lower
    by the PF's sriov_totalvfs."""
    return {
        "driver": Driver.values(),
        "num_vfs": tuple(str(count) for count in range(pin.MAX_VFS + 1)),
        "bootloader": BootPath.values(),
        "machine_role": MachineRole.values(),
        "kernel_hold": KernelHold.values(),
        "sched": sched.Profile.values(),
        "sched_pf_priority": sched.Priority.values(),
    }


# A value sourced by sh must come out exactly as written: no quotes, $, ` or \ inside.
LINE_RE = re.compile(r'([A-Z][A-Z0-9_]*)="([^"$`\\]*)"')
PF_RE = re.compile(r"[0-9a-f]{4}:[0-9a-f]{2}:[0-9a-f]{2}\.0")
# re's [0-9] is ASCII only, unlike str.isdigit() and int(), which take '²' and '٣'.
NUMBER_RE = re.compile(r"-?[0-9]+")

# Every value is printable ASCII of bounded length, checked before any other rule, so that
# a control character ("3\n"), a non-ASCII look-alike ('²', '٣') or a megabyte of text
# never reaches the file, which sh and our own parser read line by line (docs/notes.md,
# "Hostile input").
PRINTABLE_RE = re.compile(r"[\x20-\x7e]*")
# "pf:100000000 vf:100000000 1:100000000 ... 7:100000000", the longest sched value, is 109
MAX_VALUE_LENGTH = 128
MAX_FILE_SIZE = 64 * 1024  # a settings file is a few hundred bytes
MAX_SHOWN = 40  # characters of a bad value quoted in an error


def shown(value: str) -> str:
    """A value for an error message: repr (control characters escaped), and clipped so
    that a megabyte of garbage gives one short line."""
    if len(value) <= MAX_SHOWN:
        return repr(value)
    return f"{value[:MAX_SHOWN]!r}... ({len(value)} characters)"


def character_problem(name: str, value: str) -> str | None:
    """Why `value` cannot be a value of setting `name` whatever its meaning, or None."""
    if len(value) > MAX_VALUE_LENGTH:
        return f"{name}: {shown(value)} is too long: at most {MAX_VALUE_LENGTH} characters"
    if not PRINTABLE_RE.fullmatch(value):
        bad = next(c for c in value if not PRINTABLE_RE.fullmatch(c))
        return (
            f"{name}: {shown(value)} contains {bad!r}: allowed are printable ASCII "
            f"characters (letters, digits, punctuation, space)"
        )
    return None


def ascii_int(text: str) -> int | None:
    """An ASCII decimal number of at most 7 characters, a sign included, or None."""
    return int(text) if NUMBER_RE.fullmatch(text) and len(text) <= 7 else None


MAX_PROBLEMS = 20  # error output stays bounded whatever the file holds


class SettingsError(errors.BadInput):
    """One or more problems, each a one-line message naming the value and what is allowed:
    bad input wherever it is met (exit 2), since the settings file is the person's input."""


def expected_driver(role: VfRole, pf_driver: str | None, configured: Driver) -> str | None:
    """The driver a VF of `role` should be on; None: left unbound. The one rule that
    `vfs restore` binds by and `status`, `doctor` and `vfs roles` compare against.

    vfio -> vfio-pci, none -> unbound, host -> the PF's driver: a VF is driven by its PF's
    driver, so while the PF still runs the other one (the driver was switched, the reboot
    is pending) a host VF on the PF's driver is as it should be and the PF is what differs.
    The configured driver only stands in while the PF has no driver, when no VF exists.
    """
    return {VfRole.VFIO: VFIO_DRIVER, VfRole.HOST: pf_driver or configured}.get(role)


class Settings(NamedTuple):
    driver: Driver = Driver.I915
    num_vfs: int = pin.MAX_VFS
    bootloader: BootPath = BootPath.AUTO
    # Only the roles that were written down; a VF not listed has DEFAULT_ROLE.
    vf_roles: Mapping[int, VfRole] = MappingProxyType({})
    pf: str = DEFAULT_PF
    machine_role: MachineRole = MachineRole.AUTO
    kernel_hold: KernelHold = KernelHold.AUTO
    scheduling: sched.Scheduling = sched.Scheduling()

    def role(self, index: int) -> VfRole:
        return self.vf_roles.get(index, DEFAULT_ROLE)

    def roles(self) -> list[tuple[int, VfRole]]:
        """(VF number, role) for every configured VF, 1..num_vfs."""
        return [(index, self.role(index)) for index in range(1, self.num_vfs + 1)]

    @property
    def other_driver(self) -> Driver:
        """The driver that is blacklisted: the one place "the other driver" is computed."""
        return Driver(self.driver).other

    def expected_driver(self, index: int, pf_driver: str | None) -> str | None:
        """The driver VF `index` should be on, by the one rule (`expected_driver`)."""
        return expected_driver(self.role(index), pf_driver, self.driver)

    def vf_address(self, index: int) -> str:
        """VF N sits at function N of the PF's slot (offset 1, stride 1: docs/notes.md, "The pinned
        driver")."""
        return f"{self.pf[:-1]}{index}"

    def values(self) -> dict[str, str]:
        """Setting name -> value as written in the file."""
        return {
            "driver": str(self.driver),
            "num_vfs": str(self.num_vfs),
            "bootloader": str(self.bootloader),
            "vf_roles": format_roles(self.vf_roles),
            "pf": self.pf,
            "machine_role": str(self.machine_role),
            "kernel_hold": str(self.kernel_hold),
            "sched": str(self.scheduling.profile),
            "sched_exec_quantum_ms": str(self.scheduling.exec_quantum_ms),
            "sched_preempt_timeout_us": str(self.scheduling.preempt_timeout_us),
            "sched_pf_priority": str(self.scheduling.pf_priority),
        }


def format_roles(roles: Mapping[int, VfRole]) -> str:
    return " ".join(f"{index}:{role}" for index, role in sorted(roles.items()))


# --- parsing ------------------------------------------------------------------------------


def parse_lines(text: str, source: str) -> dict[str, str]:
    """File text -> {setting name: raw value}. Raises SettingsError naming each bad line."""
    values: dict[str, str] = {}
    problems: list[str] = []
    # sh splits lines at "\n" only; str.splitlines() would also split at \x1c, \x85 ...
    for number, line in enumerate(text.split("\n"), start=1):
        if len(problems) > MAX_PROBLEMS:  # one past the cap tells that more are not shown
            break
        stripped = line.strip(" \t")
        if not stripped or stripped.startswith("#"):
            continue
        match = LINE_RE.fullmatch(stripped)
        where = f"{source}:{number}"
        if match is None:
            problems.append(f'{where}: {shown(stripped)} is not a KEY="value" line')
            continue
        key, value = match.groups()
        name = FILE_KEYS.get(key)
        problem = None if name is None else character_problem(name, value)
        if problem is not None:
            problems.append(f"{where}: {problem}")
        elif name is None:
            problems.append(
                f"{where}: unknown key {shown(key)}: known keys are {', '.join(FILE_KEYS)}"
            )
        elif name in values:
            problems.append(f"{where}: {key} is set a second time")
        else:
            values[name] = value
    if len(problems) > MAX_PROBLEMS:
        problems[MAX_PROBLEMS:] = [f"{source}: more problems not shown"]
    if problems:
        raise SettingsError(*problems)
    return values


def parse_assignments(assignments: list[str]) -> dict[str, str]:
    """`config set` arguments (name=value) -> {setting name: raw value}."""
    values: dict[str, str] = {}
    problems: list[str] = []
    for assignment in assignments:
        name, sep, value = assignment.partition("=")
        name = name.strip().lower()
        if not sep:
            problems.append(
                f"{shown(assignment)} is not KEY=VALUE: known keys are {', '.join(KEYS)}"
            )
        elif name not in KEYS:
            problems.append(f"unknown key {shown(name)}: known keys are {', '.join(KEYS)}")
        elif not LINE_RE.fullmatch(f'{KEYS[name]}="{value}"'):
            problems.append(f"{name}: {shown(value)} may not contain quotes, $, ` or \\")
        elif name in values:
            problems.append(f"{name} is given twice: give each key once")
        else:
            values[name] = value
    if problems:
        raise SettingsError(*problems)
    return values


def parse_roles(text: str, problems: list[str]) -> dict[int, VfRole]:
    roles: dict[int, VfRole] = {}
    problem = character_problem("vf_roles", text)
    if problem is not None:
        problems.append(problem)
        return roles
    # split(" "), not split(): str.split() also splits at tabs, \x1c or \u2028.
    for item in text.replace(",", " ").split(" "):
        if not item:
            continue
        number, sep, name = item.partition(":")
        role = VfRole.of(name)
        index = ascii_int(number) if not number.startswith("-") else None
        if not sep or index is None:
            problems.append(f"vf_roles: {shown(item)} is not N:ROLE, e.g. '1:vfio 2:none'")
        elif not 1 <= index <= pin.MAX_VFS:
            problems.append(f"vf_roles: VF {number} is out of range: allowed 1-{pin.MAX_VFS}")
        elif role is None:
            problems.append(
                f"vf_roles: role {shown(name)} of VF {index} is not one of "
                f"{', '.join(VfRole.values())}"
            )
        elif index in roles:
            problems.append(f"vf_roles: VF {index} is given a role twice: give each VF one")
        else:
            roles[index] = role
    return roles


def closed_value(
    values: Mapping[str, str], name: str, default: C, allowed: str, problems: list[str]
) -> C:
    """Setting `name` as a member of `default`'s closed set; a value outside it is a
    problem ("choose `allowed`") and the default stands in, so later rules still run."""
    text = values.get(name, default.value)
    member = type(default).of(text)
    if member is None:
        problems.append(f"{name}: {shown(text)} is not allowed: choose {allowed}")
        return default
    return member


def vf_limit(sriov_totalvfs: int | None) -> int:
    """The most VFs allowed: the PF's sriov_totalvfs when it reports a positive value below
    the hardware's 7. A 0 means the driver was loaded without max_vfs (or is the stock
    one), which says nothing about what the hardware offers after the reboot."""
    if sriov_totalvfs is not None and 0 < sriov_totalvfs < pin.MAX_VFS:
        return sriov_totalvfs
    return pin.MAX_VFS


class PciIdentity(NamedTuple):
    """What sysfs says about the device at the configured PF address (None: unreadable)."""

    vendor: str | None
    pci_class: str | None  # six hex digits, "030000" for a VGA controller
    device: str | None


def pf_problem(pf: str, found: PciIdentity) -> str | None:
    """Why the device at `pf` may not be the PF: not a supported Intel GPU. Bindings are
    written for its functions .1-.7, and on real boards 00:14.3 is the Wi-Fi (docs/notes.md,
    "Hostile input")."""
    what = ", ".join(
        f"{label} {value or '?'}"
        for label, value in zip(("vendor", "class", "device"), found, strict=True)
    )
    if (
        found.vendor == pciids.INTEL_VENDOR
        and (found.pci_class or "").startswith("03")
        and pciids.platform_of(found.vendor, found.device) is not None
    ):
        return None
    return (
        f"pf: {pf} is not a supported Intel GPU ({what}): allowed is the address of an "
        f"Intel GPU of vendor 8086, class 03xx and a device id 'irisxe-sriov-ctl status' "
        f"knows, or of no device yet"
    )


def build(
    values: Mapping[str, str],
    sriov_totalvfs: int | None = None,
    pf_found: PciIdentity | None = None,
    defaults: Mapping[str, str] | None = None,
    capped: bool = True,
) -> Settings:
    """Validate raw values into Settings; missing ones take `defaults` (judgement's
    default_values, the one source of what a machine without a setting gets), then the
    Settings class's.

    `sriov_totalvfs` caps num_vfs (see vf_limit) where `capped`: for a value given now
    (config set, debconf), which may be refused; a file's value above what the PF offers
    today is no error (judgement says so, and vfs restore makes what the PF offers). A
    missing num_vfs takes the cap, so a PF offering 3 VFs gets 3 by default. `pf_found`
    describes the device at a `pf` given in `values`; None means there is no device
    (images are built before the hardware exists), which is allowed.
    """
    explicit = set(values)
    values = {**(defaults or {}), **values}
    problems: list[str] = []
    bad = {}
    for name, value in values.items():
        problem = character_problem(name, value)
        if problem is not None:
            problems.append(problem)
            bad[name] = value
    # A value with a bad character is reported once; its other rules judge the default.
    values = {name: value for name, value in values.items() if name not in bad}

    fallback = Settings()
    driver = closed_value(values, "driver", fallback.driver, " or ".join(Driver.values()), problems)

    limit = vf_limit(sriov_totalvfs if capped else None)
    raw_count = values.get("num_vfs", str(limit))
    num_vfs = limit
    count = ascii_int(raw_count)
    if count is None and NUMBER_RE.fullmatch(raw_count):
        problems.append(f"num_vfs: {shown(raw_count)} is out of range: allowed 0-{limit}")
    elif count is None:
        problems.append(f"num_vfs: {shown(raw_count)} is not a number: allowed 0-{limit}")
    else:
        num_vfs = count
        if not 0 <= num_vfs <= pin.MAX_VFS:
            problems.append(f"num_vfs: {num_vfs} is out of range: allowed 0-{limit}")
        elif num_vfs > limit:
            problems.append(
                f"num_vfs: {num_vfs} is above the PF's sriov_totalvfs ({limit}): allowed 0-{limit}"
            )

    bootloader = closed_value(
        values,
        "bootloader",
        fallback.bootloader,
        f"one of {', '.join(BootPath.values())}",
        problems,
    )

    pf = values.get("pf", fallback.pf)
    if not PF_RE.fullmatch(pf):
        problems.append(
            f"pf: {shown(pf)} is not a PF address: expected DDDD:BB:SS.0 in lowercase hex, "
            f"e.g. {DEFAULT_PF}"
        )
    elif "pf" in values and pf != DEFAULT_PF and pf_found is not None:
        # At the default address whatever sits there is judged by the machine's role
        # (roles.decide: a root port in a guest binds nothing); another address must
        # hold a supported GPU.
        problem = pf_problem(pf, pf_found)
        if problem is not None:
            problems.append(problem)

    machine_role = closed_value(
        values,
        "machine_role",
        fallback.machine_role,
        f"one of {', '.join(MachineRole.values())}",
        problems,
    )

    kernel_hold = closed_value(
        values,
        "kernel_hold",
        fallback.kernel_hold,
        f"one of {', '.join(KernelHold.values())}",
        problems,
    )

    scheduling = sched.Scheduling(
        profile=closed_value(
            values,
            "sched",
            fallback.scheduling.profile,
            f"one of {', '.join(sched.Profile.values())}",
            problems,
        ),
        exec_quantum_ms=sched.parse_per_function(
            "sched_exec_quantum_ms",
            values.get("sched_exec_quantum_ms", ""),
            sched.MAX_EXEC_QUANTUM_MS,
            problems,
        ),
        preempt_timeout_us=sched.parse_per_function(
            "sched_preempt_timeout_us",
            values.get("sched_preempt_timeout_us", ""),
            sched.MAX_PREEMPT_TIMEOUT_US,
            problems,
        ),
        pf_priority=closed_value(
            values,
            "sched_pf_priority",
            fallback.scheduling.pf_priority,
            f"one of {', '.join(sched.Priority.values())}",
            problems,
        ),
    )
    if 0 <= num_vfs <= pin.MAX_VFS:
        problems += sched.custom_problems(scheduling, num_vfs)

    roles = parse_roles(values.get("vf_roles", ""), problems)
    if "vf_roles" not in explicit:
        # default roles (those of VFs found working) go with a smaller count
        roles = {index: role for index, role in roles.items() if index <= num_vfs}
    for index, role in sorted(roles.items()):
        if index > num_vfs and 0 <= num_vfs <= pin.MAX_VFS:
            allowed = f"1-{num_vfs}" if num_vfs else "none"
            problems.append(
                f"vf_roles: VF {index} has role {role.value!r} but num_vfs is {num_vfs}: "
                f"VF numbers allowed: {allowed}"
            )

    if problems:
        raise SettingsError(*problems)
    return Settings(
        driver=driver,
        num_vfs=num_vfs,
        bootloader=bootloader,
        vf_roles=roles,
        pf=pf,
        machine_role=machine_role,
        kernel_hold=kernel_hold,
        scheduling=scheduling,
    )


def parse(text: str | None, source: str, sriov_totalvfs: int | None = None) -> Settings:
    """Settings from the file's text; None (no file) gives the defaults."""
    values = {} if text is None else parse_lines(text, source)
    return build(values, sriov_totalvfs)


# --- editing ------------------------------------------------------------------------------


def update_text(text: str, changes: dict[str, str]) -> str:
    """Set values in the file's text, keeping every other line and comment as it is."""
    remaining = dict(changes)
    lines = [line + "\n" for line in text.split("\n")]
    lines[-1] = lines[-1][:-1]  # the text after the last newline, often ""
    if not lines[-1]:
        lines.pop()
    for position, line in enumerate(lines):
        match = LINE_RE.fullmatch(line.strip(" \t\n"))
        if match is None:
            continue
        name = FILE_KEYS.get(match.group(1))
        if name in remaining:
            lines[position] = f'{KEYS[name]}="{remaining.pop(name)}"\n'
    if lines and not lines[-1].endswith("\n"):
        lines[-1] += "\n"
    lines.extend(f'{KEYS[name]}="{value}"\n' for name, value in remaining.items())
    return "".join(lines)
