"""Judge once: every verdict about a machine, from one Snapshot (docs/notes.md, "Gather once,
judge once"). Pure: machine/gather.py read the Snapshot.

status, doctor, kernels, the kernel hook, debconf's defaults and `vfs restore` all take
their verdicts from `judge`, so they cannot disagree:
- the settings in force, and the defaults a machine without a setting gets (one fact:
  the CLI and debconf propose the same);
- the machine's role (roles.decide), its boot path, every kernel's provider and which
  kernel boots next;
- what the running kernel does, where live evidence (the loaded module's version, the VFs
  that exist) outranks what the files suggest, and says so where they disagree;
- the problems: what differs from the settings, each with the commands that mend it, in
  order, never leading to fewer working VFs than now (docs/notes.md, "Never take working VFs
  away"). status lists them; doctor fails the same ones with the same fixes.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, NamedTuple

from irisxe_sriov import cmdline, fixes, pin, settings
from irisxe_sriov.boot.bootloader import Detection, resolve_with
from irisxe_sriov.choices import (
    BootPath,
    Closed,
    Driver,
    HoldKind,
    KernelHold,
    MachineRole,
    Provider,
    Role,
    VfRole,
)
from irisxe_sriov.fixes import Fix
from irisxe_sriov.kernels import hold, providers
from irisxe_sriov.kernels.dkms import state_of
from irisxe_sriov.kernels.providers import KernelProvider
from irisxe_sriov.machine import aptsources
from irisxe_sriov.machine.roles import Detected, decide
from irisxe_sriov.machine.snapshot import Snapshot
from irisxe_sriov.paths import APT_SOURCES_DIR, DEB822_SOURCES
from irisxe_sriov.report.contract import HoldDoc
from irisxe_sriov.report.differences import Difference, Kind, find
from irisxe_sriov.settings import Settings

if TYPE_CHECKING:  # a type only: the reader is machine/'s, never imported by a pure module
    from irisxe_sriov.machine.reader import HostState


class Level(Closed):
    """How a finding of doctor (and a problem of status) stands."""

    OK = "ok"
    WARN = "warn"
    FAIL = "fail"
    SKIP = "skip"


class Running(NamedTuple):
    """What the running kernel does for SR-IOV."""

    release: str | None
    kernel: KernelProvider | None  # as its files say; None: not installed in this root
    module: str | None  # the GPU driver judged: the PF's, else the configured one
    live: Provider | None  # the provider the loaded module shows itself to be
    offers: bool | None  # the running kernel has a provider of the configured driver
    makes_vfs: bool | None  # a write of sriov_numvfs can make VFs now
    conflict: str | None  # where the loaded module and the files disagree
    conflict_fix: Fix = fixes.NONE


class Hold(NamedTuple):
    """Where the next boot lands, and why (docs/notes.md, "The kernel hold")."""

    record: hold.Record | None  # the hold to be in place; None: none
    natural: KernelProvider | None  # the kernel that would boot without a hold
    reason: str  # in words: why held, or why not although the natural kernel has no provider
    blocked: bool = False  # a hold is called for but cannot be made (the admin's default)

    def as_dict(self) -> HoldDoc:
        """`release` held on (null: none), `kind`, `reason`, `natural` (the kernel that
        would boot without it), `blocked` (called for, but an admin's default is kept)."""
        record = self.record
        return {
            "release": None if record is None else record.release,
            "kind": None if record is None else str(record.kind),
            "reason": self.reason or None,
            "natural": None if self.natural is None else self.natural.release,
            "blocked": self.blocked,
        }


class HoldRequest(NamedTuple):
    """`kernels hold RELEASE` (release set) or `kernels release` (None): the admin's word,
    which this judgement follows instead of deciding."""

    release: str | None


def decide_hold(
    snapshot: Snapshot,
    current: Settings,
    machine: Detected,
    kernels: tuple[KernelProvider, ...],
    boot: BootPath | None,
    request: HoldRequest | None,
) -> Hold:
    """Hold the boot on the newest kernel that has a provider of the driver when the
    kernel that would boot next (without a hold: Debian's default, the newest) has none;
    keep an admin's hold; respect an admin's own default and kernel_hold=off."""
    record = snapshot.hold_record
    defaults = snapshot.boot_defaults
    natural = kernels[-1] if kernels else None
    if record is None and defaults.admin_default is not None:
        # the admin's default decides; without one the newest kernel boots once the boot
        # loader's own hooks ran, which in a kernel's postinst.d come after ours
        # (zz-update-grub, zz-systemd-boot): grub.cfg and the entries still name the old
        upcoming = snapshot.next_boot.release
        natural = next((k for k in kernels if k.release == upcoming), natural)
    driver = current.driver
    none = Hold(None, natural, "")
    if machine.role != Role.HOST or boot not in (
        BootPath.GRUB,
        BootPath.SYSTEMD_BOOT,
        BootPath.PROXMOX,
    ):
        return none
    by_release = {k.release: k for k in kernels}

    def held(target: KernelProvider, kind: HoldKind, reason: str) -> Hold:
        goal = defaults.targets.get(target.release, target.release)
        if boot != BootPath.PROXMOX and target.release not in defaults.targets:
            return Hold(None, natural, f"no boot entry of {target.release} to hold on", True)
        assert boot is not None
        return Hold(hold.Record(target.release, kind, boot, goal, reason), natural, reason)

    if request is not None:
        if request.release is None:
            return none._replace(reason="released by hand (irisxe-sriov-ctl kernels release)")
        target = by_release[request.release]
        return held(target, HoldKind.MANUAL, f"held by hand on {target.release}")
    if record is not None and record.kind == HoldKind.MANUAL and record.release in by_release:
        return held(by_release[record.release], HoldKind.MANUAL, record.reason)
    if natural is None or driver in natural.drivers:
        return none
    lacking = f"{natural.release} has no SR-IOV provider for {driver}"
    if current.kernel_hold == KernelHold.OFF:
        return none._replace(reason=f"kernel_hold=off: {lacking}, and it boots next")
    serving = [k for k in kernels if driver in k.drivers]
    if not serving:
        return none._replace(reason=f"{lacking}, nor has any installed kernel: nothing to hold on")
    if defaults.admin_default is not None:
        return Hold(
            None, natural, f"{lacking}; {defaults.admin_default} is the admin's: not held", True
        )
    return held(serving[-1], HoldKind.AUTO, f"held: {lacking}")


class Problem(NamedTuple):
    """One way the machine is not as the settings ask: a pending item of status and the
    failing (or warning) finding of doctor with the same id."""

    id: str
    what: str
    fix: Fix
    reboot: bool  # the fix involves a reboot
    level: Level = Level.FAIL


class Verdicts(NamedTuple):
    snapshot: Snapshot
    settings: Settings
    settings_problems: tuple[str, ...]  # why the file or the given values were not used
    defaults: Mapping[str, str]  # what a machine without a setting gets
    machine: Detected
    boot: Detection
    kernels: tuple[KernelProvider, ...]  # the kernels read, oldest first
    running: Running
    next_kernel: KernelProvider | None  # the kernel that boots next, where known and read
    advice: Fix | None  # what leads to VFs: the running kernel lacks the driver, or none has one
    gpu_absent: str | None  # why no supported Intel GPU is here at all, on bare metal
    differences: tuple[Difference, ...]
    problems: tuple[Problem, ...]
    hold: Hold = Hold(None, None, "")  # the hold to be in place (apply writes it)

    @property
    def boots_after_apply(self) -> KernelProvider | None:
        """The kernel that boots next once apply has written the hold decided here."""
        record = self.hold.record
        if record is not None:
            return next((k for k in self.kernels if k.release == record.release), None)
        if self.snapshot.hold_record is not None:
            return self.hold.natural
        return self.next_kernel

    @property
    def host(self) -> HostState:
        return self.snapshot.host

    def problem(self, id: str) -> Problem | None:
        return next((p for p in self.problems if p.id == id), None)


# --- kernels ------------------------------------------------------------------------------


def judge_kernels(snapshot: Snapshot, device: str | None) -> tuple[KernelProvider, ...]:
    """The provider of every kernel read, oldest first; boots_next where known."""
    upcoming = snapshot.next_boot.release
    found = []
    for release in snapshot.installed:
        files = snapshot.kernels.get(release)
        if files is None:
            continue
        boots_next = None if upcoming is None else release == upcoming
        found.append(providers.judge(state_of(files.dkms), files.xe, device, boots_next))
    return tuple(found)


def judge_running(state: HostState, kernels: tuple[KernelProvider, ...], driver: str) -> Running:
    """Live evidence first: a loaded module with the pinned build's version is the DKMS
    provider whatever the files say; the stock module where the files promise the DKMS
    build is a conflict; VFs that exist make VFs, full stop."""
    release = state.kernel_release
    kernel = providers.running_kernel(kernels, release)
    pf = state.pf
    name = pf.driver if Driver.of(pf.driver or "") else driver
    module = state.modules.get(name) if name else None
    dkms_loaded = module is not None and module.loaded and module.version == pin.MODULE_VERSION
    stock_loaded = module is not None and module.loaded and not dkms_loaded
    live: Provider | None = None
    conflict, conflict_fix = None, fixes.NONE
    if dkms_loaded:
        live = Provider.DKMS
        if kernel is not None and kernel.provider != Provider.DKMS:
            conflict = (
                f"the loaded {name} is {pin.DRIVER_PACKAGE}'s build, but none is installed for "
                f"{release}: its next boot loads {release}'s own {name}"
            )
    elif stock_loaded and kernel is not None:
        if name == Driver.XE and kernel.xe_serves:
            live = Provider.KERNEL_XE
        elif kernel.provider == Provider.DKMS:
            version = (module.version if module else None) or "none"
            conflict = (
                f"{name} is the stock kernel module (version {version}), though "
                f"{pin.DRIVER_PACKAGE} {pin.MODULE_VERSION} is installed for {release}"
            )
            conflict_fix = fixes.of(fixes.run("update-initramfs", "-u", "-k", release or "all"))
            conflict_fix = conflict_fix.then(fixes.REBOOT)
    if live is not None:
        offers: bool | None = driver in providers.DRIVERS_OF[live]
    elif conflict is not None:
        offers = False
    elif kernel is not None:
        offers = driver in kernel.drivers
    else:
        offers = None
    if pf.sriov_numvfs and state.vfs:
        makes: bool | None = True
    elif pf.driver is None or Driver.of(pf.driver) is None:
        makes = None  # no driver yet, or one we know nothing of: only a write tells
    elif live is not None:
        makes = True
    else:
        makes = False if kernel is not None else None
    return Running(release, kernel, name, live, offers, makes, conflict, conflict_fix)


def backports_fix(apt: aptsources.AptSources | None) -> Fix:
    """The commands that install trixie-backports' kernel, whose own xe is an SR-IOV PF."""
    sources = apt or aptsources.AptSources(False, None, True)
    steps = []
    if not sources.backports:
        if sources.deb822:
            steps.append(
                fixes.manual(f"add {aptsources.BACKPORTS} to the Suites: line of {DEB822_SOURCES}")
            )
        else:
            mirror = sources.mirror or "http://deb.debian.org/debian"
            line = f"deb {mirror} {aptsources.BACKPORTS} main"
            target = f"{APT_SOURCES_DIR}/{aptsources.BACKPORTS}.list"
            steps.append(fixes.run("sh", "-c", f"echo '{line}' > {target}"))
        steps.append(fixes.run("apt", "update"))
    steps.append(fixes.run("apt", "install", "-t", aptsources.BACKPORTS, "linux-image-amd64"))
    return Fix(tuple(steps))


# --- settings and defaults ----------------------------------------------------------------


def adopted(state: HostState) -> dict[str, str]:
    """A working set-up found live (VFs exist on a PF driven by i915 or xe): its driver,
    VF count and bindings, as setting values. {} when there is none."""
    pf = state.pf
    driver = Driver.of(pf.driver or "")
    if driver is None or not pf.sriov_numvfs or not state.vfs:
        return {}
    roles = {}
    for vf in state.vfs:
        if vf.driver == pf.driver:
            roles[vf.number] = VfRole.HOST
        elif vf.driver is None:
            roles[vf.number] = VfRole.NONE
    values = {"driver": str(driver), "num_vfs": str(pf.sriov_numvfs)}
    if roles:
        values["vf_roles"] = settings.format_roles(roles)
    return values


def default_values(
    snapshot: Snapshot, kernels: tuple[KernelProvider, ...], running: Running | None
) -> dict[str, str]:
    """What a machine gets for a setting it lacks, the one source of it: the CLI without
    a settings file and debconf's first questions propose exactly this. Without a file, a
    working set-up found live is adopted; else the driver is what the kernel that boots
    next offers first (Debian boots the newest when nothing says otherwise), and the VF
    count what the PF offers (settings.vf_limit)."""
    if snapshot.settings_file.text is None:
        found = adopted(snapshot.host)
        if found:
            return found
    target = next((k for k in kernels if k.boots_next), None)
    if target is None or not target.drivers:
        target = running.kernel if running is not None else None
    if target is None or not target.drivers:
        target = next((k for k in reversed(kernels) if k.drivers), None)
    values = {"num_vfs": str(settings.vf_limit(snapshot.host.pf.sriov_totalvfs))}
    if target is not None and target.drivers:
        values["driver"] = str(target.drivers[0])
    return values


def judge_settings(
    snapshot: Snapshot, defaults: Mapping[str, str], strict: bool
) -> tuple[Settings, tuple[str, ...]]:
    """The settings in force and the problems that kept any value out. Values given now
    (config set, debconf) are held to what the PF offers now; the file's are not (a
    count above it is capped by vfs restore, and status says so). `strict`: raise
    SettingsError rather than fall back (every command but doctor, metrics, the kernel
    hook and debconf)."""
    file = snapshot.settings_file
    pf = snapshot.host.pf
    found = settings.PciIdentity(pf.vendor, pf.pci_class, pf.device) if pf.present else None
    problems = list(file.problems)
    totalvfs = pf.sriov_totalvfs
    try:
        if problems:
            raise settings.SettingsError(*problems)
        current = settings.build(file.values, totalvfs, found, defaults, capped=False)
        if snapshot.given:
            # the given values, checked as given, then laid over the file's
            settings.build(
                snapshot.given,
                totalvfs,
                found,
                {**defaults, **file.values},
                capped="num_vfs" in snapshot.given,
            )
            current = settings.build(
                {**file.values, **snapshot.given}, totalvfs, found, defaults, capped=False
            )
        return current, ()
    except settings.SettingsError as error:
        if strict:
            raise
        problems = list(error.problems)
    for values in (dict(snapshot.given), {}):
        try:
            return settings.build(values, totalvfs, found, defaults), tuple(problems)
        except settings.SettingsError:
            continue
    return settings.Settings(), tuple(problems)


# --- problems -----------------------------------------------------------------------------

REBOOT_FIX = fixes.APPLY_AND_REBOOT  # apply is idempotent: it writes what is missing


def finding_id(difference: Difference) -> str:
    """The doctor finding that carries a difference."""
    match difference.kind:
        case Kind.MISSING_PARAMETERS:
            return "cmdline.parameters"
        case Kind.DRIVER_NOT_LOADED:
            return "module.loaded"
        case Kind.OTHER_DRIVER_LOADED:
            return "module.other"
        case Kind.MODULE_PARAMETER:
            return "guc.enabled" if difference.subject.endswith(".enable_guc") else "module.max_vfs"
        case Kind.GUEST_GPU_DRIVER:
            return f"guest.{difference.subject}"
        case Kind.PF_MISSING:
            return "gpu.present"
        case Kind.PF_DRIVER:
            return "pf.driver"
        case Kind.VF_COUNT:
            return "sriov.numvfs"
        case Kind.VF_DRIVER:
            return f"vf.{difference.vf}.driver"
        case Kind.SCHED | Kind.SCHED_NOT_APPLIED:
            return "sched.profile"
    raise AssertionError(difference.kind)


def pf_fix(difference: Difference) -> Fix:
    """What puts the PF back on its GPU driver."""
    if difference.found is None:
        # the module is loaded (differences.functions), so it refused the GPU
        return fixes.of(
            fixes.run("sh", "-c", f"dmesg | grep -i {difference.expected}"),
            fixes.manual("act on what it says, then reboot"),
        )
    # an override (driverctl's, or the VFs' id in vfio-pci's new_id) survives a reboot
    return fixes.of(fixes.run("driverctl", "unset-override", difference.subject)).then(fixes.REBOOT)


def problem_of(d: Difference, boot_fix: Fix, boot_problem: str, advice: Fix | None) -> Problem:
    """The problem a difference is, worded once for status and doctor."""
    restore = fixes.RESTORE
    match d.kind:
        case Kind.MISSING_PARAMETERS:
            what = f"the running kernel command line lacks {d.expected}: {boot_problem}"
            return Problem(finding_id(d), what, boot_fix, True)
        case Kind.DRIVER_NOT_LOADED:
            return Problem(finding_id(d), f"{d.expected} is not loaded", advice or REBOOT_FIX, True)
        case Kind.OTHER_DRIVER_LOADED:
            what = f"{d.found} is loaded although {d.expected} is configured"
            return Problem(finding_id(d), what, advice or REBOOT_FIX, True)
        case Kind.MODULE_PARAMETER:
            driver, _, name = d.subject.partition(".")
            what = f"{driver} runs with {name}={d.found}, SR-IOV needs {d.expected}"
            return Problem(finding_id(d), what, REBOOT_FIX, True)
        case Kind.GUEST_GPU_DRIVER:
            what = (
                f"the GPU function {d.subject} is on {d.found or 'no driver'}, "
                f"{d.expected} is configured"
            )
            return Problem(finding_id(d), what, REBOOT_FIX, True)
        case Kind.PF_MISSING:
            return Problem(
                finding_id(d),
                f"no PCI device at {d.subject}",
                fixes.of(
                    fixes.run("sh", "-c", "lspci -Dnn | grep -i -e vga -e display"),
                    fixes.manual("irisxe-sriov-ctl config set pf=ADDRESS with the GPU's address"),
                ),
                False,
            )
        case Kind.PF_DRIVER:
            what = f"the PF {d.subject} is on {d.found or 'no driver'}, {d.expected} is configured"
            return Problem(finding_id(d), what, pf_fix(d), True)
        case Kind.VF_COUNT:
            what = f"{d.found or 'no'} VFs exist, {d.expected} configured"
            return Problem(finding_id(d), what, restore, False)
        case Kind.VF_DRIVER:
            what = (
                f"VF {d.vf} ({d.subject}) is on {d.found or 'no driver'}, its role "
                f"{d.role} wants {d.expected or 'no driver'}"
            )
            return Problem(finding_id(d), what, restore, False)
        case Kind.SCHED:
            what = f"GPU scheduling is not as {d.expected} asks: {d.found}"
            return Problem(finding_id(d), what, restore, False)
        case Kind.SCHED_NOT_APPLIED:
            what = f"not applied: unsupported on this provider: {d.found}"
            fix = fixes.of(
                fixes.manual(
                    "per-VF scheduling needs the DKMS i915 or the kernel's xe; "
                    "'irisxe-sriov-ctl config set sched=default sched_pf_priority=auto' "
                    "asks for nothing"
                )
            )
            return Problem(finding_id(d), what, fix, False, Level.WARN)
    raise AssertionError(d.kind)


# Differences a kernel without a provider of the driver makes moot: neither vfs restore
# nor a reboot could mend them there (the provider problem's fix is the way).
MOOT_WITHOUT_PROVIDER = (
    Kind.VF_COUNT,
    Kind.VF_DRIVER,
    Kind.MODULE_PARAMETER,
    Kind.SCHED,
    Kind.SCHED_NOT_APPLIED,
)


def provider_problem(running: Running, driver: str, advice: Fix | None) -> Problem | None:
    if running.offers is not False:
        return None
    kernel = running.kernel
    release = running.release
    if running.conflict is not None and running.conflict_fix:
        return Problem("provider", running.conflict, running.conflict_fix, True)
    if kernel is None or kernel.provider is None:
        state = f"DKMS {kernel.state}" if kernel else "not installed"
        own = kernel.kernel_xe if kernel else "unknown"
        what = f"no SR-IOV provider on {release}: {state}, own xe: {own}"
    else:
        what = (
            f"{release} has {kernel.provider}, which offers {', '.join(kernel.drivers)}, "
            f"not {driver}"
        )
    return Problem("provider", what, advice or fixes.NONE, True)


def hold_problems(snapshot: Snapshot, held: Hold) -> list[Problem]:
    """Our hold is not where it should be: apply (or the next kernel hook) puts it there."""
    wanted, in_place = held.record, snapshot.hold_record
    if wanted == in_place:
        return []
    if wanted is not None:
        what = f"the boot should be held on {wanted.release} ({wanted.reason})"
    else:
        assert in_place is not None
        why = f": {held.reason}" if held.reason else ""
        what = f"the hold on {in_place.release} should be released{why}"
    return [Problem("kernel.hold", what, fixes.APPLY, False, Level.WARN)]


def sets_driver(fix: Fix) -> bool:
    return any((step.argv or ())[:3] == ("irisxe-sriov-ctl", "config", "set") for step in fix.steps)


def recorded_problems(snapshot: Snapshot) -> list[Problem]:
    """What apply left for later: local edits it kept, boot refreshes that failed."""
    edits = []
    for path, how in snapshot.drift or ():
        if how == "edited":
            edits.append(
                (
                    f"{path} was edited locally; irisxe-sriov's version is {path}.ucf-dist",
                    fixes.of(
                        fixes.manual(f"merge {path}.ucf-dist into {path} by hand, or"),
                        fixes.run("rm", path),
                        fixes.run("irisxe-sriov-ctl", "apply"),
                    ),
                )
            )
        else:
            edits.append((f"{path} was removed locally", fixes.APPLY))
    problems = []
    if edits:
        what = "; ".join(e[0] for e in edits)
        problems.append(Problem("files.local_edits", what, edits[0][1], False, Level.WARN))
    refreshes = list(snapshot.pending_refreshes or ())
    if refreshes:
        what = "; ".join(f"the boot refresh '{c}' failed or was cut off" for c in refreshes)
        fix = fixes.of(fixes.manual("fix its cause"), fixes.run("irisxe-sriov-ctl", "apply")).then(
            fixes.REBOOT
        )
        problems.append(Problem("boot.refresh", what + " (apply runs it again)", fix, True))
    return problems


def no_gpu(snapshot: Snapshot, machine: Detected) -> str | None:
    """Why no supported Intel GPU is here at all: bare metal whose PCI functions sysfs
    lists hold none, at the PF address or elsewhere. None where one is, in a virtual
    machine, or where sysfs lists nothing (a chroot, an image built before the hardware
    exists: nothing to judge yet)."""
    observed = snapshot.observed
    if machine.role == Role.GUEST or machine.binds or observed.gpus:
        return None
    if observed.virtual is not None or observed.pci_devices == 0:
        return None
    pf = observed.pf
    if pf.present:
        found = (
            f"{pf.address} ({pf.vendor or '?'}:{pf.device or '?'}) is not a supported Intel "
            "GPU, and no other PCI function is one"
        )
    else:
        found = f"none of the {observed.pci_devices} PCI functions is a supported Intel GPU"
    return (
        f"{found}: SR-IOV here needs an Alder Lake or Raptor Lake iGPU (12th-14th gen Core, "
        "N100 and kin)"
    )


def problems_of(
    snapshot: Snapshot,
    current: Settings,
    machine: Detected,
    running: Running,
    advice: Fix | None,
    found: tuple[Difference, ...],
    absent: str | None,
    held: Hold,
) -> tuple[Problem, ...]:
    if absent is not None:
        return (Problem("gpu.present", absent, fixes.NONE, False),)
    problems: list[Problem] = []
    if machine.role == Role.NONE:
        return tuple(recorded_problems(snapshot))
    wanted = cmdline.wanted_tokens(current, machine.device, machine.role)
    boot_files = snapshot.boot_files
    if boot_files is not None:
        from irisxe_sriov.boot import bootcheck

        verdict = bootcheck.locate(boot_files, wanted)
        boot_fix, boot_problem = verdict.steps, verdict.problem
    else:
        boot_fix, boot_problem = REBOOT_FIX, "the boot files were not read"
    provider = provider_problem(running, current.driver, advice)
    if provider is not None:
        problems.append(provider)
    if provider is not None and advice is not None and sets_driver(advice):
        # the way to a provider writes the parameters of its driver itself
        boot_fix = advice
    for difference in found:
        if provider is not None and difference.kind in MOOT_WITHOUT_PROVIDER:
            continue
        problems.append(problem_of(difference, boot_fix, boot_problem, advice))
    offered = snapshot.host.pf.sriov_totalvfs
    if machine.role == Role.HOST and provider is None and offered and offered < current.num_vfs:
        problems.append(
            Problem(
                "sriov.totalvfs",
                f"num_vfs {current.num_vfs} is above the {offered} VFs "
                f"{snapshot.host.pf.address} offers: {offered} are made",
                fixes.of(fixes.run("irisxe-sriov-ctl", "config", "set", f"num_vfs={offered}")),
                False,
                Level.WARN,
            )
        )
    problems += hold_problems(snapshot, held)
    return (*problems, *recorded_problems(snapshot))


# --- the one judgement --------------------------------------------------------------------


def judge(snapshot: Snapshot, strict: bool = True, request: HoldRequest | None = None) -> Verdicts:
    """Every verdict about the snapshot. `strict`: bad settings raise SettingsError;
    otherwise (doctor, metrics, the kernel hook, debconf) they are recorded and the
    defaults stand in. `request`:
    the admin's `kernels hold`/`kernels release`."""
    raw = snapshot.raw_settings
    role_setting = MachineRole.of(raw.get("machine_role", "auto")) or MachineRole.AUTO
    machine = decide(snapshot.observed, role_setting)
    kernels = judge_kernels(snapshot, machine.device)
    preliminary = Driver.of(raw.get("driver", "")) or Driver.I915
    running = judge_running(snapshot.host, kernels, preliminary)
    defaults = default_values(snapshot, kernels, running)
    current, problems = judge_settings(snapshot, defaults, strict)
    if current.machine_role != role_setting:
        machine = decide(snapshot.observed, current.machine_role)
    if current.driver != preliminary:
        running = judge_running(snapshot.host, kernels, current.driver)
    boot = resolve_with(current.bootloader, snapshot.boot)
    held = decide_hold(snapshot, current, machine, kernels, boot.name, request)
    in_place = snapshot.hold_record
    if in_place is not None and in_place.release in {k.release for k in kernels}:
        # as things stand: our hold decides where the boot lands
        kernels = tuple(
            k._replace(boots_next=k.release == in_place.release, held=k.release == in_place.release)
            for k in kernels
        )
    upcoming = next((k for k in kernels if k.boots_next), None)
    advice = None
    nowhere = running.offers is None and not any(k.provider for k in kernels)
    if running.offers is False or nowhere:
        # nowhere: the running kernel is unknown (a chroot, an image) and no installed
        # kernel has a provider: what leads to one is still known
        advice = running.conflict_fix or providers.advice(
            list(kernels), running.release, current.driver, backports_fix(snapshot.apt)
        )
        if running.live is not None and running.module and running.module != current.driver:
            # VFs run now with the other driver: the setting is what differs, nothing else
            advice = providers.set_driver(running.module)
    absent = no_gpu(snapshot, machine)
    found = find(snapshot.host, current, machine)
    return Verdicts(
        snapshot=snapshot,
        settings=current,
        settings_problems=problems,
        defaults=defaults,
        machine=machine,
        boot=boot,
        kernels=kernels,
        running=running,
        next_kernel=upcoming,
        advice=advice,
        gpu_absent=absent,
        differences=found,
        problems=problems_of(snapshot, current, machine, running, advice, found, absent, held),
        hold=held,
    )


# --- decisions of the commands that change things -----------------------------------------


def refusal_to_boot(verdicts: Verdicts) -> str | None:
    """Why writing the boot configuration for these settings would lead to fewer working
    VFs at the next boot (docs/notes.md, "Never take working VFs away"), or None. Judged for
    the kernel that boots next, or, where that is unknown, for every installed kernel:
    none offers the configured driver while one offers another, or none offers any while
    VFs work now."""
    driver = verdicts.settings.driver
    if verdicts.machine.role != Role.HOST or not verdicts.kernels:
        return None
    upcoming = verdicts.boots_after_apply
    candidates = [upcoming] if upcoming is not None else list(verdicts.kernels)
    if any(driver in k.drivers for k in candidates):
        return None
    where = (
        f"the kernel that boots next, {upcoming.release},"
        if upcoming is not None
        else "no installed kernel"
    )
    offering = [k for k in candidates if k.drivers]
    if offering:
        chosen = offering[-1]
        if upcoming is not None:
            what = f"{where} has {chosen.provider}, which offers {', '.join(chosen.drivers)} only"
        else:
            what = f"{where} offers {driver} ({chosen.release} offers {', '.join(chosen.drivers)})"
        return (
            f"driver={driver}: {what}, so no VF would be made after the next boot; set "
            f"driver={chosen.drivers[0]}, or use --force"
        )
    working = len(verdicts.host.vfs) if verdicts.host.pf.sriov_numvfs else 0
    if working:
        none = (
            f"{where} has no SR-IOV provider"
            if upcoming is not None
            else "no installed kernel has an SR-IOV provider"
        )
        return (
            f"{none}, and {working} VFs work now: see 'irisxe-sriov-ctl kernels'; use "
            "--force to write the configuration anyway"
        )
    return None


def hold_words(verdicts: Verdicts) -> str:
    """Where the next boot lands and why, where a kernel hold decides it ("" otherwise)."""
    record = verdicts.hold.record
    if record is not None:
        release = "'irisxe-sriov-ctl kernels release' releases it"
        return f"{record.release} ({record.reason}; {release})"
    return verdicts.hold.reason


def reboot_lands_on_vfs(verdicts: Verdicts) -> bool:
    """Whether a reboot after apply lands on a kernel with a provider of the driver (or
    nothing says which kernel boots next): only then does apply leave Debian's reboot
    notice, which unattended-upgrades may act on by itself."""
    upcoming = verdicts.boots_after_apply
    return upcoming is None or verdicts.settings.driver in upcoming.drivers


def notify_line(verdicts: Verdicts, release: str) -> tuple[str, bool]:
    """The kernel hook's line for a newly installed `release`, and whether it is a
    warning. A kernel without a provider for the driver never gets a reboot notice; the
    boot stays on one that has, where the hold may."""
    kernel = next((k for k in verdicts.kernels if k.release == release), None)
    driver = verdicts.settings.driver
    record = verdicts.hold.record
    if record is not None and record.release != release:
        return (
            f"irisxe-sriov: kernel {release} has no SR-IOV provider for {driver}: the boot "
            f"stays on {record.release}, which has (held; 'irisxe-sriov-ctl kernels release' "
            "releases it)",
            True,
        )
    if kernel is not None and driver in kernel.drivers:
        return (
            f"irisxe-sriov: kernel {release}: SR-IOV by {kernel.provider} "
            f"({', '.join(kernel.drivers)}; configured driver {driver})",
            False,
        )
    if kernel is None:
        why = "it is not installed"
    elif kernel.provider is None:
        why = f"no provider: DKMS {kernel.state}: {kernel.detail}; own xe: {kernel.kernel_xe}"
    else:
        why = f"{kernel.provider} offers {', '.join(kernel.drivers)}, {driver} is configured"
    why_not = f"; not held: {verdicts.hold.reason}" if verdicts.hold.reason else ""
    return (
        f"irisxe-sriov: warning: kernel {release} would boot without an SR-IOV driver for "
        f"{driver} ({why}){why_not}; no reboot is requested for it; see 'irisxe-sriov-ctl "
        "kernels'",
        True,
    )
