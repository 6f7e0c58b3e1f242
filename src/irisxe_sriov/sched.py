"""GPU time sharing between the PF and its VFs (docs/notes.md, "Per-VF scheduling"): the
profiles, the per-function values of the settings, what a provider's sysfs reads back,
and the writes that make it what the settings say, in the order each provider needs.
Pure: reader.read_scheduling reads, vfs.schedule writes.

Two providers have a sysfs ABI for it: the DKMS i915 (`drm/cardN/prelim_iov/` under the
PF) and the kernel's own xe (`sriov_admin/` under the PF). The DKMS xe has debugfs only,
which this package does not write: the settings are "not applied" there, and said so.
"""

import re
from collections.abc import Mapping
from types import MappingProxyType
from typing import NamedTuple

from irisxe_sriov import pin
from irisxe_sriov.choices import Closed, Driver


class Profile(Closed):
    """The scheduling profile of the settings (SCHED)."""

    DEFAULT = "default"  # nothing written: the driver's values, or ones written before
    FAIR = "fair"  # the same quantum and timeout for every function
    PF_LIMITED = "pf-limited"  # the host capped, the VFs given longer
    CUSTOM = "custom"  # per function, from SCHED_EXEC_QUANTUM_MS / SCHED_PREEMPT_TIMEOUT_US


class Priority(Closed):
    """The PF's GuC scheduling priority (SCHED_PF_PRIORITY); only the kernel's xe has one."""

    AUTO = "auto"  # nothing written
    LOW = "low"
    NORMAL = "normal"
    HIGH = "high"


class Interface(Closed):
    """The sysfs directory a provider offers for scheduling, under the PF's device."""

    PRELIM_IOV = "prelim_iov"  # the DKMS i915: drm/cardN/prelim_iov/{pf,vfN}/gtM/
    SRIOV_ADMIN = "sriov_admin"  # the kernel's xe: sriov_admin/{pf,vfN}/profile/


# The drivers take u32 values, but GuC's KLV limits are these, and both xe drivers clamp
# above them without a word (xe_gt_sriov_pf_config.c in the DKMS tree, config.c in the
# kernel's xe; whether the DKMS i915's GuC clamps too is not known): refused instead.
MAX_EXEC_QUANTUM_MS = 100_000
MAX_PREEMPT_TIMEOUT_US = 100_000_000


class Timing(NamedTuple):
    """One function's execution quantum (ms) and preemption timeout (µs); 0 = unlimited."""

    exec_quantum_ms: int
    preempt_timeout_us: int

    def __str__(self) -> str:
        return f"{self.exec_quantum_ms} ms/{self.preempt_timeout_us} us"


# The values of the profiles, each a published fact (docs/notes.md, "Per-VF scheduling"):
# what the kernel's xe 7.3 gives every function at VF enable while nobody has written a
# value (xe_gt_sriov_pf_config_set_fair_sched; intel-gpu/xekmd-backports#501) ...
XE_FAIR = Timing(16, 16_000)
# ... the PF's values of Intel's XPU Manager (intel/xpumanager, vgpu_manager.cpp) ...
XPU_MANAGER_PF = Timing(20, 20_000)
# ... and each VF's of Intel's iGPU set-up scripts (intel/kvm-multios,
# host_setup/ubuntu/setup_libvirt.sh @72d84772).
KVM_MULTIOS_VF = Timing(25, 500_000)

# profile -> (the PF's, every VF's)
PROFILES: Mapping[Profile, tuple[Timing, Timing]] = MappingProxyType(
    {
        Profile.FAIR: (XE_FAIR, XE_FAIR),
        # for strongtz/i915-sriov-dkms#254: a busy host no longer starves the VFs
        Profile.PF_LIMITED: (XPU_MANAGER_PF, KVM_MULTIOS_VF),
    }
)

PF_KEY = "pf"
VF_KEY = "vf"  # every VF not named by its number
KEY_ORDER = (PF_KEY, VF_KEY, *(str(n) for n in range(1, pin.MAX_VFS + 1)))
ITEM_RE = re.compile(r"([a-z0-9]+):([0-9]{1,10})")


class PerFunction(NamedTuple):
    """Custom values by function: "pf", "vf" (every VF not named) and "1".."7"."""

    values: Mapping[str, int] = MappingProxyType({})

    def of(self, number: int) -> int | None:
        """The value for the PF (0) or VF `number`, None where none is given."""
        if number == 0:
            return self.values.get(PF_KEY)
        return self.values.get(str(number), self.values.get(VF_KEY))

    def __str__(self) -> str:
        return " ".join(f"{key}:{self.values[key]}" for key in KEY_ORDER if key in self.values)


def parse_per_function(name: str, text: str, limit: int, problems: list[str]) -> PerFunction:
    """`pf:20 vf:25 3:50` -> PerFunction; each bad item is a problem naming it."""
    values: dict[str, int] = {}
    for item in text.replace(",", " ").split(" "):
        if not item:
            continue
        match = ITEM_RE.fullmatch(item)
        if match is None:
            problems.append(f"{name}: {item!r} is not FUNCTION:VALUE, e.g. 'pf:10 vf:25'")
            continue
        key, value = match.group(1), int(match.group(2))
        if key not in KEY_ORDER:
            problems.append(
                f"{name}: function {key!r} is not pf, vf (every VF) or a VF number 1-{pin.MAX_VFS}"
            )
        elif value > limit:
            problems.append(
                f"{name}: {value} for {key} is above {limit}, GuC's limit, which xe clamps "
                f"it to: allowed 0-{limit} (0: unlimited)"
            )
        elif key in values:
            problems.append(f"{name}: {key} is given twice: give each function once")
        else:
            values[key] = value
    return PerFunction(MappingProxyType(values))


class Scheduling(NamedTuple):
    """What the settings ask for."""

    profile: Profile = Profile.DEFAULT
    exec_quantum_ms: PerFunction = PerFunction()
    preempt_timeout_us: PerFunction = PerFunction()
    pf_priority: Priority = Priority.AUTO

    def wanted(self, count: int) -> dict[int, Timing] | None:
        """Function number (0: the PF) -> its timing, for the PF and VFs 1..`count`;
        None for the default profile (nothing is written). A custom function without
        both values is left out (custom_problems names it)."""
        if self.profile == Profile.DEFAULT:
            return None
        if self.profile != Profile.CUSTOM:
            pf, vf = PROFILES[self.profile]
            return {0: pf, **dict.fromkeys(range(1, count + 1), vf)}
        found = {}
        for number in range(count + 1):
            quantum = self.exec_quantum_ms.of(number)
            timeout = self.preempt_timeout_us.of(number)
            if quantum is not None and timeout is not None:
                found[number] = Timing(quantum, timeout)
        return found

    @property
    def writes_anything(self) -> bool:
        return self.profile != Profile.DEFAULT or self.pf_priority != Priority.AUTO

    def describe(self) -> str:
        """The settings in words: `sched=fair`, with the PF's priority where one is set."""
        return in_words(str(self.profile), str(self.pf_priority))

    def per_function(self) -> tuple[tuple[str, PerFunction], ...]:
        """The per-function settings by their names, in the settings file's order."""
        return (
            ("sched_exec_quantum_ms", self.exec_quantum_ms),
            ("sched_preempt_timeout_us", self.preempt_timeout_us),
        )


def in_words(profile: str, pf_priority: str) -> str:
    """`sched=PROFILE`, with ` sched_pf_priority=P` where one is set (not auto): what
    status and doctor say the settings are."""
    words = f"sched={profile}"
    if pf_priority != Priority.AUTO:
        words += f" sched_pf_priority={pf_priority}"
    return words


def unused_values(scheduling: Scheduling) -> str | None:
    """Per-function values a profile other than custom leaves unused, in words (they stay
    in the file for a later sched=custom), or None."""
    if scheduling.profile == Profile.CUSTOM:
        return None
    given = [name for name, values in scheduling.per_function() if values.values]
    if not given:
        return None
    verb = "is" if len(given) == 1 else "are"
    return f"{' and '.join(given)} {verb} used only with sched=custom (sched={scheduling.profile})"


def custom_problems(scheduling: Scheduling, count: int) -> list[str]:
    """A custom profile must give every function 0..`count` both values."""
    if scheduling.profile != Profile.CUSTOM:
        return []
    problems = []
    for name, given in scheduling.per_function():
        missing = [function_name(n) for n in range(count + 1) if given.of(n) is None]
        if missing:
            problems.append(
                f"{name}: sched=custom needs a value for {', '.join(missing)}: "
                f"give pf:VALUE and vf:VALUE (every VF) or N:VALUE per VF"
            )
    return problems


def function_name(number: int) -> str:
    return "PF" if number == 0 else f"VF {number}"


def directory_name(number: int) -> str:
    """The function's directory in either interface: pf, vf1 .. vf7."""
    return "pf" if number == 0 else f"vf{number}"


# --- what sysfs reads back ----------------------------------------------------------------


class FunctionTiming(NamedTuple):
    """One function's values as read back; None: unreadable (or its GTs disagree)."""

    number: int  # 0: the PF
    exec_quantum_ms: int | None
    preempt_timeout_us: int | None
    priority: Priority | None = None  # sriov_admin only

    @property
    def timing(self) -> Timing | None:
        if self.exec_quantum_ms is None or self.preempt_timeout_us is None:
            return None
        return Timing(self.exec_quantum_ms, self.preempt_timeout_us)


class Observed(NamedTuple):
    """The scheduling interface of the PF, as read: which one, where, and the values of
    the PF and of each VF that exists."""

    interface: Interface | None = None
    directory: str = ""  # relative to the PF's device directory: drm/card0/prelim_iov
    gts: tuple[str, ...] = ()  # prelim_iov: the GT directories (gt0 on ADL/RPL)
    auto_provisioning: bool | None = None  # prelim_iov's pf/auto_provisioning
    functions: tuple[FunctionTiming, ...] = ()

    def function(self, number: int) -> FunctionTiming | None:
        return next((f for f in self.functions if f.number == number), None)


PRIORITY_RE = re.compile(r"\[([a-z]+)\]")


def parse_priority(text: str | None) -> Priority | None:
    """xe's sched_priority reads "low [normal] high": the bracketed word is in force."""
    match = PRIORITY_RE.search(text or "")
    return None if match is None else Priority.of(match.group(1))


def not_applied(
    observed: Observed, scheduling: Scheduling, pf_driver: str | None, dkms: bool
) -> list[str]:
    """Why settings that write something cannot be applied here (one line each): no
    interface (the DKMS xe's debugfs is not written: docs/notes.md, "Per-VF scheduling"),
    or a priority on the DKMS i915, which has none."""
    if not scheduling.writes_anything:
        return []
    if observed.interface is None:
        if pf_driver == Driver.XE and dkms:
            why = "the DKMS xe offers scheduling through debugfs only, which is not written"
        else:
            why = (
                f"{pf_driver or 'no driver'} offers neither prelim_iov (the DKMS i915) "
                "nor sriov_admin (the kernel's xe)"
            )
        return [f"{scheduling.describe()}: {why}"]
    if observed.interface == Interface.PRELIM_IOV and scheduling.pf_priority != Priority.AUTO:
        return [
            f"sched_pf_priority={scheduling.pf_priority}: the DKMS i915 has no scheduling "
            "priority (only the kernel's xe has one)"
        ]
    return []


class Mismatch(NamedTuple):
    number: int  # 0: the PF
    expected: str
    found: str

    def __str__(self) -> str:
        return f"{function_name(self.number)} has {self.found}, {self.expected} wanted"


def mismatches(
    observed: Observed, scheduling: Scheduling, numbers: tuple[int, ...]
) -> list[Mismatch]:
    """Where the functions `numbers` (0: the PF; the VFs that exist) differ from the
    settings. Nothing differs where nothing is written or the interface is missing."""
    if observed.interface is None:
        return []
    want = scheduling.wanted(max(numbers, default=0)) or {}
    found = []
    for number in numbers:
        expected = want.get(number)
        function = observed.function(number)
        timing = None if function is None else function.timing
        if expected is not None and timing != expected:
            found.append(Mismatch(number, str(expected), str(timing or "unreadable values")))
    priority = scheduling.pf_priority
    if priority != Priority.AUTO and observed.interface == Interface.SRIOV_ADMIN:
        pf = observed.function(0)
        running = None if pf is None else pf.priority
        if running != priority:
            found.append(Mismatch(0, f"priority {priority}", f"priority {running or 'unknown'}"))
    return found


# --- the writes ---------------------------------------------------------------------------


class Write(NamedTuple):
    """One sysfs write: `attribute` relative to the PF's device directory."""

    attribute: str
    value: str


def rearm(observed: Observed) -> Write | None:
    """Before VFs are enabled on the DKMS i915: auto-provisioning back on where a VF's
    quantum or timeout write turned it off, or the VFs would come up with empty
    configurations (docs/notes.md, "Per-VF scheduling"). Written after the VFs are
    disabled: only then are the auto-provisioned configurations empty again."""
    if observed.interface == Interface.PRELIM_IOV and observed.auto_provisioning is False:
        return Write(f"{observed.directory}/pf/auto_provisioning", "1")
    return None


ATTRIBUTES = ("exec_quantum_ms", "preempt_timeout_us")


def writes(observed: Observed, scheduling: Scheduling, numbers: tuple[int, ...]) -> list[Write]:
    """The writes that give the functions `numbers` (0 and the VFs that exist, after they
    were enabled) their settings, leaving alone what already holds. prelim_iov: per
    function and GT. sriov_admin: `.bulk_profile` where one timing serves every function
    (it sets the PF and every VF), else per function; then the PF's priority."""
    if observed.interface is None:
        return []
    wanted = scheduling.wanted(max(numbers, default=0)) or {}
    want = {number: timing for number, timing in wanted.items() if number in numbers}
    planned: list[Write] = []
    base = observed.directory

    def differs(number: int, attribute: str, value: int) -> bool:
        function = observed.function(number)
        return function is None or getattr(function, attribute) != value

    if observed.interface == Interface.PRELIM_IOV:
        for number, timing in sorted(want.items()):
            for attribute in ATTRIBUTES:
                value = getattr(timing, attribute)
                if differs(number, attribute, value):
                    planned += [
                        Write(f"{base}/{directory_name(number)}/{gt}/{attribute}", str(value))
                        for gt in observed.gts
                    ]
        return planned
    one = set(want.values())
    for attribute in ATTRIBUTES:
        if len(one) == 1 and 0 in want:
            value = getattr(next(iter(one)), attribute)
            if any(differs(number, attribute, value) for number in want):
                planned.append(Write(f"{base}/.bulk_profile/{attribute}", str(value)))
            continue
        for number, timing in sorted(want.items()):
            value = getattr(timing, attribute)
            if differs(number, attribute, value):
                planned.append(
                    Write(f"{base}/{directory_name(number)}/profile/{attribute}", str(value))
                )
    priority = scheduling.pf_priority
    pf = observed.function(0)
    if priority != Priority.AUTO and (pf is None or pf.priority != priority):
        planned.append(Write(f"{base}/pf/profile/sched_priority", str(priority)))
    return planned
