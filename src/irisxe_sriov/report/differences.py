"""What differs between configured and running: one list, from which judgement words the
problems that `status` shows as its pending items and `doctor` as its failing findings.
Pure: settings and a scan in, differences out.

Each rule lives here once. Before, status and doctor each derived these and disagreed
(the host role's driver, a PF without SR-IOV, the module checks); judgement words each
kind once with its fix (problem_of) and drops what a kernel without a provider makes
moot, and status and doctor show those problems. Kept as light as status itself: its
start-up is measured.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from enum import Enum
from typing import TYPE_CHECKING, NamedTuple

from irisxe_sriov import cmdline, pin, sched
from irisxe_sriov.choices import Driver, Role
from irisxe_sriov.machine.roles import Detected
from irisxe_sriov.settings import Settings

if TYPE_CHECKING:  # a type only: the reader is machine/'s, never imported by a pure module
    from irisxe_sriov.machine.reader import HostState


def parameter_int(text: str) -> int | None:
    """A module parameter as the kernel prints it: a decimal, maybe negative (-1: auto).
    xe's unlimited max_vfs reads 4294967295 (U32_MAX)."""
    return int(text) if re.fullmatch(r"-?[0-9]{1,20}", text) else None


def permits_vfs(value: int, current: Settings) -> bool:
    """max_vfs caps the VFs the driver makes: any cap at or above the configured count
    permits it, unlimited (U32_MAX) included (docs/notes.md, "Gather once, judge once")."""
    return value >= current.num_vfs


def permits_guc(value: int, current: Settings) -> bool:
    """SR-IOV needs GuC submission, bit 0 of enable_guc (i915_params.c); -1 (auto) and 0
    do not promise it."""
    return value > 0 and value & 1 == 1


class Parameter(NamedTuple):
    """A module parameter the pinned driver needs (docs/notes.md, "The pinned driver")."""

    driver: str
    roles: tuple[Role, ...]  # the machine roles that need it
    name: str
    needed: Callable[[Settings], str]  # what SR-IOV needs, in words ("at least 3")
    permits: Callable[[int, Settings], bool]


PARAMETERS = (
    Parameter(
        "i915",
        (Role.HOST, Role.GUEST),
        "enable_guc",
        lambda s: str(pin.I915_ENABLE_GUC),
        permits_guc,
    ),
    Parameter("i915", (Role.HOST,), "max_vfs", lambda s: f"at least {s.num_vfs}", permits_vfs),
    Parameter("xe", (Role.HOST,), "max_vfs", lambda s: f"at least {s.num_vfs}", permits_vfs),
)


class Kind(Enum):
    """What differs. Closed: judgement words every kind (problem_of)."""

    MISSING_PARAMETERS = "missing-parameters"  # the running command line lacks some
    DRIVER_NOT_LOADED = "driver-not-loaded"  # the configured driver's module is not loaded
    OTHER_DRIVER_LOADED = "other-driver-loaded"  # the other GPU driver is loaded too
    MODULE_PARAMETER = "module-parameter"  # the loaded module runs with a value that does
    # not permit what is configured
    GUEST_GPU_DRIVER = "guest-gpu-driver"  # a guest's GPU function is on another driver
    PF_MISSING = "pf-missing"  # nothing at the configured PF address
    PF_DRIVER = "pf-driver"  # the PF is on no GPU driver (vfio-pci, none), see functions()
    VF_COUNT = "vf-count"  # sriov_numvfs is not num_vfs
    VF_DRIVER = "vf-driver"  # a VF is not on the driver its role expects
    SCHED = "sched"  # a function's scheduling values are not the settings' (sched.py)
    SCHED_NOT_APPLIED = "sched-not-applied"  # the provider cannot apply them (sched.py)


class Difference(NamedTuple):
    """One difference. `expected` is what the settings ask for, `found` what runs; None
    means nothing: no driver, no VFs, a value that cannot be read."""

    kind: Kind
    # what differs: a PCI address (PF, VF, a guest's GPU function), "modules", a module
    # parameter ("i915.max_vfs"), or "cmdline" for the running command line
    subject: str
    # MISSING_PARAMETERS: the parameters missing, found the running command line;
    # MODULE_PARAMETER: expected what SR-IOV needs in words ("at least 3");
    # SCHED: expected the settings in words, found each function that differs;
    # SCHED_NOT_APPLIED: found why not
    expected: str | None
    found: str | None
    vf: int = 0  # VF_DRIVER: the VF's number
    role: str = ""  # VF_DRIVER: the VF's role


def machine_of(state: HostState, machine: Detected | None) -> Detected:
    """The machine's role; without one, a host whose PF is what the scan found."""
    if machine is not None:
        return machine
    return Detected(Role.HOST, "", state.pf.platform is not None, state.pf.device)


def find(state: HostState, settings: Settings, machine: Detected) -> tuple[Difference, ...]:
    """Every difference between `settings` and the running `state`, for a machine of this
    role: a guest has no PF or VFs of its own to compare; a machine of role none, nothing.
    Something that cannot be read (an unreadable /proc/cmdline, a module without the
    parameter) is no difference: nothing says it differs."""
    if machine.role == Role.NONE:
        return ()
    found = [*kernel(state, settings, machine), *modules(state, settings, machine.role)]
    if machine.role == Role.GUEST:
        found += [
            Difference(Kind.GUEST_GPU_DRIVER, gpu.address, settings.driver, gpu.driver)
            for gpu in machine.gpus
            if gpu.driver != settings.driver
        ]
        return tuple(found)
    return (*found, *functions(state, settings))


def kernel(state: HostState, settings: Settings, machine: Detected) -> list[Difference]:
    if state.cmdline is None:
        return []
    wanted = cmdline.wanted_tokens(settings, machine.device, machine.role)
    missing = cmdline.missing_from(state.cmdline, wanted)
    if not missing:
        return []
    return [Difference(Kind.MISSING_PARAMETERS, "cmdline", " ".join(missing), state.cmdline)]


def modules(state: HostState, settings: Settings, role: Role) -> list[Difference]:
    """The GPU driver modules: the configured one alone should be loaded (the other one
    too is a difference: module_blacklist should have kept it out, and it may hold the
    GPU), and with parameters that permit what is configured. A parameter that cannot be
    read is no difference: nothing says it differs."""
    found = []
    module = state.modules[settings.driver]
    other = state.modules[settings.other_driver]
    if not module.loaded:
        found.append(Difference(Kind.DRIVER_NOT_LOADED, "modules", settings.driver, None))
    if other.loaded:
        found.append(Difference(Kind.OTHER_DRIVER_LOADED, "modules", settings.driver, other.name))
    if not module.loaded:
        return found
    for parameter in PARAMETERS:
        if parameter.driver != settings.driver or role not in parameter.roles:
            continue
        running = module.parameters.get(parameter.name)
        if running is None:
            continue
        value = parameter_int(running)
        if value is None or not parameter.permits(value, settings):
            subject = f"{parameter.driver}.{parameter.name}"
            found.append(
                Difference(Kind.MODULE_PARAMETER, subject, parameter.needed(settings), running)
            )
    return found


def capped_count(settings: Settings, sriov_totalvfs: int | None) -> int:
    """The VFs restore makes: num_vfs, at most what the PF offers where it says (a 0
    offers nothing yet: max_vfs did not apply, which is a difference of its own)."""
    if sriov_totalvfs is not None and 0 < sriov_totalvfs < settings.num_vfs:
        return sriov_totalvfs
    return settings.num_vfs


def functions(state: HostState, settings: Settings) -> list[Difference]:
    """The PF, the VF count and each configured VF that exists. A VF that is missing is
    the count's difference, not one of its own; VFs beyond num_vfs go with the count."""
    pf = state.pf
    if not pf.present:
        return [Difference(Kind.PF_MISSING, pf.address, settings.pf, None)]
    found = []
    # A PF on the other GPU driver, or on none while the configured one is not loaded,
    # is the modules' difference already; what is left: a PF on vfio-pci (or any other
    # driver), or on none although its driver is loaded (it failed to bind).
    unbound = pf.driver is None and state.modules[settings.driver].loaded
    if Driver.of(pf.driver or "") is None and (pf.driver is not None or unbound):
        found.append(Difference(Kind.PF_DRIVER, pf.address, settings.driver, pf.driver))
    # A PF without SR-IOV (sriov_numvfs unreadable) has no VFs: a difference only when
    # some are configured. A count above what the PF offers is capped: restore makes
    # what it offers (judgement warns of the cap).
    wanted = capped_count(settings, pf.sriov_totalvfs)
    if (pf.sriov_numvfs or 0) != wanted:
        numvfs = None if pf.sriov_numvfs is None else str(pf.sriov_numvfs)
        found.append(Difference(Kind.VF_COUNT, pf.address, str(wanted), numvfs))
    for vf in state.vfs:
        if vf.number > wanted:
            continue
        expected = settings.expected_driver(vf.number, pf.driver)
        if vf.driver != expected:
            found.append(
                Difference(
                    Kind.VF_DRIVER,
                    vf.address,
                    expected,
                    vf.driver,
                    vf=vf.number,
                    role=settings.role(vf.number),
                )
            )
    if Driver.of(pf.driver or "") is not None:
        found += scheduling(state, settings, wanted)
    return found


def scheduling(state: HostState, settings: Settings, count: int) -> list[Difference]:
    """The PF's and each existing VF's scheduling against the settings, where the PF is
    on a GPU driver; settings it cannot apply are a difference of their own."""
    wanted = settings.scheduling
    reasons = sched.not_applied(state.scheduling, wanted, state.pf.driver, state.pf_on_dkms)
    found = [
        Difference(Kind.SCHED_NOT_APPLIED, state.pf.address, wanted.describe(), reason)
        for reason in reasons
    ]
    numbers = (0, *(vf.number for vf in state.vfs if vf.number <= count))
    differing = sched.mismatches(state.scheduling, wanted, numbers)
    if differing:
        found.append(
            Difference(
                Kind.SCHED,
                state.pf.address,
                wanted.describe(),
                "; ".join(str(mismatch) for mismatch in differing),
            )
        )
    return found
