"""`doctor`: one finding per requirement of the guide and per known trap (docs/notes.md),
from judgement's Verdicts. Pure.

Where judgement found a problem (what status lists as pending), the finding with the same
id fails (or warns) with the problem's words and fix, so status and doctor cannot
disagree; the other findings say what holds, or why it is not checked (SKIP). Every
failing finding carries the fix, as commands where commands exist.
"""

import shlex
import textwrap
from collections.abc import Sequence
from typing import NamedTuple

from irisxe_sriov import fixes, pciids, pin, sched
from irisxe_sriov.choices import Provider, Role
from irisxe_sriov.fixes import Fix
from irisxe_sriov.kernels.dkms import package_fix
from irisxe_sriov.machine.secureboot import Enrolment
from irisxe_sriov.paths import DKMS_KEY
from irisxe_sriov.report import contract
from irisxe_sriov.report.judgement import Level, Verdicts
from irisxe_sriov.settings import VFIO_DRIVER

OK, WARN, FAIL, SKIP = Level.OK, Level.WARN, Level.FAIL, Level.SKIP

ENROL = fixes.of(
    fixes.run("mokutil", "--import", DKMS_KEY),
    fixes.manual("choose a one-time password"),
    fixes.run("reboot"),
    fixes.manual("choose 'Enroll MOK' in MokManager and enter that password"),
)


class Finding(NamedTuple):
    id: str
    level: Level
    message: str
    fix: Fix = fixes.NONE

    def as_dict(self) -> contract.FindingDoc:
        return {
            "id": self.id,
            "level": str(self.level),
            "message": self.message,
            "fix": str(self.fix) or None,
            "steps": self.fix.as_list(),
        }


def backed(verdicts: Verdicts, id: str, ok: str, moot: str | None = None) -> Finding:
    """The finding `id`: judgement's problem of that id where there is one, else `moot`
    (SKIP: not checked, and why) or `ok`."""
    problem = verdicts.problem(id)
    if problem is not None:
        return Finding(id, problem.level, problem.what, problem.fix)
    if moot is not None:
        return Finding(id, SKIP, moot)
    return Finding(id, OK, ok)


def settings_finding(verdicts: Verdicts) -> Finding:
    problems = verdicts.settings_problems
    if problems:
        return Finding(
            "settings.valid",
            FAIL,
            "; ".join(problems),
            fixes.of(
                fixes.manual("fix /etc/default/irisxe-sriov (defaults are assumed meanwhile)"),
                fixes.run("irisxe-sriov-ctl", "config", "show"),
            ),
        )
    if verdicts.snapshot.settings_file.text is None:
        return Finding("settings.valid", OK, "no /etc/default/irisxe-sriov: the defaults apply")
    return Finding("settings.valid", OK, "/etc/default/irisxe-sriov is valid")


def os_finding(verdicts: Verdicts) -> Finding:
    state = verdicts.host
    if state.os_id == "debian" and state.os_version_id == "13":
        return Finding("os.debian13", OK, "Debian 13")
    seen = f"{state.os_id or 'unknown'} {state.os_version_id or ''}".strip()
    return Finding(
        "os.debian13",
        WARN,
        f"this is {seen}; irisxe-sriov is made for Debian 13",
        fixes.of(fixes.manual("use Debian 13 (trixie)")),
    )


def gpu_finding(verdicts: Verdicts) -> Finding:
    pf = verdicts.host.pf
    problem = verdicts.problem("gpu.present")
    if problem is not None:
        return Finding("gpu.present", problem.level, problem.what, problem.fix)
    ident = f"{pf.vendor or '?'}:{pf.device or '?'}"
    if pf.platform is None:
        return Finding(
            "gpu.present",
            FAIL,
            f"{pf.address} ({ident}) is not a supported Intel GPU",
            fixes.of(
                fixes.manual("SR-IOV needs an Alder Lake or Raptor Lake iGPU (12th-14th gen)")
            ),
        )
    name = pciids.description_of(pf.platform)
    return Finding("gpu.present", OK, f"{pf.address} ({ident}) is {pf.platform}, {name}")


def iommu_finding(verdicts: Verdicts) -> Finding:
    iommu = verdicts.host.iommu
    if iommu is None:
        return Finding("iommu.enabled", SKIP, "no /sys/class to read the IOMMU state from")
    if iommu:
        return Finding("iommu.enabled", OK, "an IOMMU is active")
    return Finding(
        "iommu.enabled",
        FAIL,
        "no IOMMU is active: vfio-pci cannot take VFs",
        fixes.of(fixes.manual("enable VT-d in the firmware set-up")).then(fixes.APPLY_AND_REBOOT),
    )


def provider_finding(verdicts: Verdicts) -> Finding:
    """Does the running kernel have a provider of the configured driver, and is the loaded
    module that provider's? Live evidence first (judgement.judge_running)."""
    running = verdicts.running
    driver = verdicts.settings.driver
    problem = verdicts.problem("provider")
    if problem is not None:
        return Finding("provider", problem.level, problem.what, problem.fix)
    if running.release is None:
        return Finding("provider", SKIP, "kernel release unknown")
    module = verdicts.host.modules[driver]
    loaded = "loaded" if module.loaded else "not loaded yet"
    if running.conflict is not None:
        return Finding("provider", WARN, running.conflict)
    if running.live is not None:
        return Finding(
            "provider", OK, f"{running.release} has {running.live} for {driver} ({loaded})"
        )
    if running.kernel is None:
        return Finding(
            "provider", SKIP, f"the running kernel {running.release} is not installed here"
        )
    return Finding(
        "provider", OK, f"{running.release} has {running.kernel.provider} for {driver} ({loaded})"
    )


def kernel_findings(verdicts: Verdicts) -> list[Finding]:
    """One finding per installed kernel: its provider, the pinned DKMS build's state there
    and what its own xe can do. A kernel without a provider warns, or fails where its
    DKMS build failed; the running one is the provider finding's."""
    findings = []
    for k in verdicts.kernels:
        nxt = " (boots next)" if k.boots_next else ""
        provider = f"{k.provider} ({', '.join(k.drivers)})" if k.provider else "no provider"
        message = f"{provider}{nxt}; DKMS {k.state}: {k.detail}; own xe: {k.kernel_xe}"
        if k.provider is not None:
            findings.append(Finding(f"kernel.{k.release}", OK, message))
        elif k.state == "failed":
            findings.append(Finding(f"kernel.{k.release}", FAIL, message, k.fix))
        else:
            findings.append(Finding(f"kernel.{k.release}", WARN, message, k.fix))
    return findings


def hold_finding(verdicts: Verdicts) -> Finding:
    """Where the next boot lands: a hold on a kernel with a provider is fine; one called
    for but blocked (an admin's default), or none possible, warns."""
    hold = verdicts.hold
    pending = verdicts.problem("kernel.hold")
    if pending is not None:
        return Finding("kernel.hold", pending.level, pending.what, pending.fix)
    if hold.record is not None:
        return Finding(
            "kernel.hold",
            OK,
            f"the boot is held on {hold.record.release} ({hold.record.reason})",
        )
    if hold.blocked:
        return Finding(
            "kernel.hold",
            WARN,
            hold.reason,
            fixes.of(fixes.manual("choose a kernel that has an SR-IOV provider as the default")),
        )
    if hold.reason and hold.natural is not None:
        return Finding("kernel.hold", WARN, hold.reason, verdicts.advice or fixes.NONE)
    return Finding("kernel.hold", OK, "no kernel hold is needed")


def secure_boot_finding(verdicts: Verdicts) -> Finding:
    """Under Secure Boot a DKMS module loads only with its signing key enrolled."""
    secure = verdicts.snapshot.secure_boot
    if secure is None or secure.enabled is None:
        return Finding("secureboot.key", SKIP, "Secure Boot state unknown (no UEFI variables)")
    if not secure.enabled:
        return Finding("secureboot.key", OK, "Secure Boot is off: modules need no signature")
    running = verdicts.running
    if running.live == Provider.KERNEL_XE or (
        running.live is None
        and running.kernel is not None
        and running.kernel.provider == Provider.KERNEL_XE
    ):
        return Finding(
            "secureboot.key", OK, "Secure Boot is on; the kernel's own xe is signed by Debian"
        )
    if not secure.key_present:
        return Finding(
            "secureboot.key",
            FAIL,
            f"Secure Boot is on and dkms has no signing key ({DKMS_KEY})",
            fixes.of(
                fixes.run("apt", "install", "openssl"),
                fixes.run("dkms", "autoinstall"),
            ).then(ENROL),
        )
    if secure.enrolment == Enrolment.ENROLLED:
        return Finding("secureboot.key", OK, f"Secure Boot is on and {DKMS_KEY} is enrolled")
    if secure.enrolment == Enrolment.PENDING:
        return Finding(
            "secureboot.key",
            WARN,
            f"{DKMS_KEY} waits for enrolment",
            fixes.of(
                fixes.run("reboot"),
                fixes.manual("choose 'Enroll MOK' in MokManager and enter the password"),
            ),
        )
    if secure.enrolment == Enrolment.NOT_ENROLLED:
        return Finding(
            "secureboot.key",
            FAIL,
            f"Secure Boot is on and {DKMS_KEY} is not enrolled: the kernel rejects the DKMS "
            "modules ('Key was rejected by service')",
            ENROL,
        )
    return Finding(
        "secureboot.key",
        WARN,
        f"Secure Boot is on; whether {DKMS_KEY} is enrolled {secure.why_unknown}",
        fixes.of(fixes.run("mokutil", "--test-key", DKMS_KEY)).then(ENROL),
    )


def package_finding(verdicts: Verdicts) -> Finding:
    wanted = f"{pin.DRIVER_PACKAGE} {pin.DRIVER_VERSION}"
    fix = package_fix()
    installed = (verdicts.snapshot.packages or {}).get(pin.DRIVER_PACKAGE)
    if installed is None:
        kernel = verdicts.running.kernel
        if kernel is not None and kernel.provider == Provider.KERNEL_XE:
            return Finding(
                "driver.package",
                OK,
                f"{pin.DRIVER_PACKAGE} is not installed; not needed on "
                f"{kernel.release}, whose own xe is the provider",
            )
        if any(k.provider == Provider.KERNEL_XE for k in verdicts.kernels):
            return Finding(
                "driver.package",
                WARN,
                f"{pin.DRIVER_PACKAGE} is not installed; only kernels whose own xe is the "
                "provider can make VFs",
                fix,
            )
        return Finding("driver.package", FAIL, f"{pin.DRIVER_PACKAGE} is not installed", fix)
    from irisxe_sriov.machine import packages

    if not packages.same_version(installed, pin.DRIVER_VERSION):
        return Finding(
            "driver.package",
            FAIL,
            f"{pin.DRIVER_PACKAGE} {installed} is installed, the pin is {wanted}",
            fix,
        )
    return Finding("driver.package", OK, f"{wanted} is installed")


def module_findings(verdicts: Verdicts) -> list[Finding]:
    current = verdicts.settings
    module = verdicts.host.modules[current.driver]
    other = verdicts.host.modules[current.other_driver]
    offered = verdicts.running.offers is not False
    findings = [
        backed(verdicts, "module.loaded", f"{current.driver} is loaded"),
        backed(verdicts, "module.other", f"{other.name} is not loaded"),
    ]
    if current.driver != "i915" or not module.loaded:
        findings.append(Finding("guc.enabled", SKIP, "only a loaded i915 has enable_guc"))
    elif not offered:
        findings.append(Finding("guc.enabled", SKIP, "this i915 is no SR-IOV provider"))
    else:
        findings.append(parameter_finding(verdicts, "guc.enabled", "enable_guc", FAIL))
    if verdicts.machine.role == Role.HOST:
        # a guest makes no VFs: max_vfs is the host's only (cmdline.wanted_tokens)
        if not module.loaded:
            findings.append(Finding("module.max_vfs", SKIP, f"{current.driver} is not loaded"))
        elif not offered:
            findings.append(
                Finding("module.max_vfs", SKIP, f"this {current.driver} is no SR-IOV provider")
            )
        else:
            # unreadable also where doctor runs without root (the parameter is 0400)
            findings.append(parameter_finding(verdicts, "module.max_vfs", "max_vfs", SKIP))
    return findings


def parameter_finding(verdicts: Verdicts, id: str, name: str, unknown: Level) -> Finding:
    """A parameter of the loaded SR-IOV driver: judgement's problem (it does not permit
    what is configured), else its value; one that cannot be read gets `unknown`."""
    from irisxe_sriov.report.differences import PARAMETERS

    problem = verdicts.problem(id)
    if problem is not None:
        return Finding(id, problem.level, problem.what, problem.fix)
    current = verdicts.settings
    value = verdicts.host.modules[current.driver].parameters.get(name)
    if value is None:
        needed = next(p for p in PARAMETERS if (p.driver, p.name) == (current.driver, name))
        return Finding(
            id,
            unknown,
            f"{current.driver}.{name} is unknown, SR-IOV needs {needed.needed(current)}",
            fixes.APPLY_AND_REBOOT,
        )
    return Finding(id, OK, f"{current.driver}.{name}={value}")


def sriov_findings(verdicts: Verdicts) -> list[Finding]:
    pf = verdicts.host.pf
    if not pf.present:
        return [Finding("sriov.totalvfs", SKIP, "no PF"), Finding("sriov.numvfs", SKIP, "no PF")]
    findings = []
    capped = verdicts.problem("sriov.totalvfs")
    if capped is not None:
        findings.append(Finding("sriov.totalvfs", capped.level, capped.what, capped.fix))
    elif pf.sriov_totalvfs is None:
        findings.append(
            Finding(
                "sriov.totalvfs",
                FAIL,
                f"{pf.address} has no sriov_totalvfs: its driver "
                f"({pf.driver or 'none'}) offers no SR-IOV",
                verdicts.advice or fixes.APPLY_AND_REBOOT,
            )
        )
    elif pf.sriov_totalvfs == 0:
        findings.append(
            Finding(
                "sriov.totalvfs",
                FAIL,
                "sriov_totalvfs is 0: max_vfs did not apply",
                fixes.APPLY_AND_REBOOT,
            )
        )
    else:
        findings.append(Finding("sriov.totalvfs", OK, f"sriov_totalvfs is {pf.sriov_totalvfs}"))
    findings.append(
        backed(verdicts, "sriov.numvfs", f"{pf.sriov_numvfs or 0} VFs exist as configured")
    )
    return findings


def vf_findings(verdicts: Verdicts) -> list[Finding]:
    current = verdicts.settings
    state = verdicts.host
    present = {vf.number: vf for vf in state.vfs}
    findings = []
    for index, role in current.roles():
        vf = present.get(index)
        name = f"vf.{index}.driver"
        if vf is None:
            findings.append(Finding(name, SKIP, f"VF {index} does not exist"))
            continue
        findings.append(
            backed(
                verdicts,
                name,
                f"VF {index} ({vf.address}) is on {vf.driver or 'no driver'} as its role "
                f"{role} asks",
            )
        )
    pf = state.pf
    if pf.present:
        if pf.driver is None:
            ok = f"the PF waits for {current.driver} to be loaded"
        else:
            ok = f"the PF is on {pf.driver}, a GPU driver"
        findings.append(backed(verdicts, "pf.driver", ok))
        if pf.driver == VFIO_DRIVER:
            findings.append(
                Finding(
                    "pf.not_vfio",
                    FAIL,
                    f"the PF {pf.address} is on vfio-pci, which disables every VF",
                    fixes.of(fixes.run("driverctl", "unset-override", pf.address)).then(
                        fixes.REBOOT
                    ),
                )
            )
        else:
            findings.append(Finding("pf.not_vfio", OK, f"the PF is on {pf.driver or 'no driver'}"))
    return findings


def sched_finding(verdicts: Verdicts) -> Finding:
    """The GPU time share of the PF and the VFs (docs/notes.md, "Per-VF scheduling")."""
    wanted = verdicts.settings.scheduling
    observed = verdicts.host.scheduling
    if not wanted.writes_anything:
        return backed(
            verdicts,
            "sched.profile",
            "sched=default: nothing is written (the values in force are the driver's, or "
            "ones written before, which it keeps until it forgets them)",
        )
    if observed.interface is None and verdicts.problem("sched.profile") is None:
        return Finding("sched.profile", SKIP, "the PF is on no GPU driver")
    holding = ", ".join(
        f"{sched.function_name(f.number)} {f.timing or 'unreadable'}"
        + (f" priority {f.priority}" if f.priority else "")
        for f in observed.functions
    )
    return backed(
        verdicts,
        "sched.profile",
        f"{wanted.describe()} holds through {observed.interface}: {holding}",
    )


def tools_findings(verdicts: Verdicts) -> list[Finding]:
    state = verdicts.host
    findings = []
    if state.sysfs_conf_present:
        findings.append(Finding("sysfsutils.conf", OK, "/etc/sysfs.conf exists"))
    else:
        findings.append(
            Finding(
                "sysfsutils.conf",
                FAIL,
                "/etc/sysfs.conf is missing, so sysfsutils ignores /etc/sysfs.d",
                # dpkg restores a deleted conffile only when told to (dpkg(1), --force-confmiss)
                fixes.of(
                    fixes.run(
                        "apt",
                        "install",
                        "--reinstall",
                        "-o",
                        "Dpkg::Options::=--force-confmiss",
                        "sysfsutils",
                    )
                ),
            )
        )
    if state.driverctl_present:
        findings.append(Finding("driverctl.installed", OK, "driverctl is installed"))
    else:
        findings.append(
            Finding(
                "driverctl.installed",
                FAIL,
                "driverctl is not installed",
                fixes.of(fixes.run("apt", "install", "driverctl")),
            )
        )
    return findings


def boot_finding(verdicts: Verdicts) -> Finding:
    boot = verdicts.boot
    if boot.name is None:
        return Finding(
            "bootloader.found",
            FAIL,
            f"no boot path found: {boot.evidence}",
            fixes.of(
                fixes.manual(
                    "irisxe-sriov-ctl config set bootloader=grub (or systemd-boot, proxmox, "
                    "none): whichever boots this machine"
                )
            ),
        )
    return Finding("bootloader.found", OK, f"boot path {boot.name}: {boot.evidence}")


def media_next(node: str) -> str:
    return (
        "for video: apt install vainfo intel-media-va-driver-non-free, then "
        f"'vainfo --display drm --device /dev/dri/{node}'"
    )


def guest_findings(verdicts: Verdicts) -> list[Finding]:
    """Inside a virtual machine given a VF: the VF on the configured driver, with a render
    node, and the next step for media."""
    machine = verdicts.machine
    current = verdicts.settings
    if not machine.gpus:
        return [
            Finding(
                "guest.gpu",
                WARN,
                "this virtual machine has no GPU function yet",
                fixes.of(
                    fixes.manual(
                        "on the host: irisxe-sriov-ctl attach libvirt NAME (or 'snippet') "
                        "gives it a VF"
                    ),
                    fixes.manual("then restart this virtual machine"),
                ),
            )
        ]
    findings = []
    for gpu in machine.gpus:
        findings.append(
            backed(verdicts, f"guest.{gpu.address}", f"{gpu.address} is on {gpu.driver}")
        )
        if gpu.render_node is None:
            findings.append(
                Finding(
                    f"guest.{gpu.address}.render",
                    FAIL if gpu.driver == current.driver else SKIP,
                    f"{gpu.address} has no render node: the driver did not bring the VF up",
                    fixes.of(fixes.run("sh", "-c", f"dmesg | grep -i {current.driver}")),
                )
            )
        else:
            findings.append(
                Finding(
                    f"guest.{gpu.address}.render",
                    OK,
                    f"render node /dev/dri/{gpu.render_node}; {media_next(gpu.render_node)}",
                )
            )
    return findings


def recorded_findings(verdicts: Verdicts) -> list[Finding]:
    """Local edits apply kept, and boot refreshes it could not run."""
    return [
        backed(verdicts, "files.local_edits", "no generated file was edited locally"),
        backed(verdicts, "boot.refresh", "no boot refresh is pending"),
    ]


def cmdline_finding(verdicts: Verdicts) -> Finding:
    if verdicts.host.cmdline is None:
        return Finding("cmdline.parameters", SKIP, "/proc/cmdline is unreadable")
    return backed(verdicts, "cmdline.parameters", "the kernel command line has every parameter")


def vf_work_findings(verdicts: Verdicts) -> list[Finding]:
    """The VF count and bindings; skipped where the running kernel has no provider of the
    driver, since neither `vfs restore` nor a reboot could make VFs there. The PF's driver
    is not: a PF off its GPU driver is wrong whatever the kernel provides."""
    findings = [*sriov_findings(verdicts), *vf_findings(verdicts), sched_finding(verdicts)]
    if verdicts.running.offers is not False:
        return findings
    why = f"no SR-IOV provider of {verdicts.settings.driver} on this kernel: see the provider check"
    return [
        f if f.id in ("pf.not_vfio", "pf.driver") else Finding(f.id, SKIP, f"{f.message} ({why})")
        for f in findings
    ]


def host_findings(verdicts: Verdicts) -> list[Finding]:
    return [
        gpu_finding(verdicts),
        iommu_finding(verdicts),
        *driver_findings(verdicts),
        *vf_work_findings(verdicts),
        *tools_findings(verdicts),
        boot_finding(verdicts),
    ]


def driver_findings(verdicts: Verdicts) -> list[Finding]:
    return [
        provider_finding(verdicts),
        *kernel_findings(verdicts),
        hold_finding(verdicts),
        secure_boot_finding(verdicts),
        package_finding(verdicts),
        *module_findings(verdicts),
        cmdline_finding(verdicts),
    ]


def diagnose(verdicts: Verdicts) -> list[Finding]:
    machine = verdicts.machine
    head = [settings_finding(verdicts), os_finding(verdicts)]
    if machine.reason:
        head.append(Finding("machine.role", OK, f"{machine.role}: {machine.reason}"))
    if verdicts.gpu_absent is not None:
        # one FAIL says it all; the rest cannot be checked without a GPU
        checks = host_findings(verdicts)
        return [
            *head,
            *(
                f if f.id == "gpu.present" else Finding(f.id, SKIP, "no supported Intel GPU")
                for f in checks
            ),
            *recorded_findings(verdicts),
        ]
    if machine.role == Role.NONE:
        return [*head, *recorded_findings(verdicts)]
    if machine.role == Role.GUEST:
        return [
            *head,
            *driver_findings(verdicts),
            *guest_findings(verdicts),
            boot_finding(verdicts),
            *recorded_findings(verdicts),
        ]
    return [*head, *host_findings(verdicts), *recorded_findings(verdicts)]


def failed(findings: list[Finding]) -> bool:
    return any(finding.level == FAIL for finding in findings)


def counts(findings: list[Finding]) -> dict[Level, int]:
    """How many findings of each level."""
    return {level: sum(f.level == level for f in findings) for level in Level}


def document(findings: list[Finding]) -> contract.DoctorDoc:
    """The `doctor --json` document (conf/schema/doctor.schema.json): how many findings
    of each level, then the findings in doctor's order."""
    count = counts(findings)
    return {
        "schema_version": contract.SCHEMA_VERSION,
        "summary": {"ok": count[OK], "warn": count[WARN], "fail": count[FAIL], "skip": count[SKIP]},
        "findings": [finding.as_dict() for finding in findings],
    }


class Style(NamedTuple):
    """How the text is laid out: the terminal's width (80 when it is not a terminal) and
    whether the level tags are coloured (only on a terminal, never with NO_COLOR set:
    https://no-color.org). reports.doctor decides; the rendering is pure."""

    width: int = 80
    colour: bool = False
    verbose: bool = False  # list the passed and skipped checks too


# ECMA-48 SGR colours of the level tags: red, yellow, green, none
COLOURS = {FAIL: "31", WARN: "33", OK: "32", SKIP: ""}
INDENT = " " * len("[FAIL] ")
FIX = "fix: "


def tag(level: Level, style: Style) -> str:
    text = f"[{level.upper():<4}]"
    colour = COLOURS[level]
    return f"\033[1;{colour}m{text}\033[0m" if style.colour and colour else text


def wrapped(text: str, first: str, rest: str, width: int) -> list[str]:
    """`text` filled to `width` after `first`, continued after `rest`; a word longer
    than a line (a path) stays whole."""
    return textwrap.wrap(
        text,
        width=width,
        initial_indent=first,
        subsequent_indent=rest,
        break_long_words=False,
        break_on_hyphens=False,
    ) or [first.rstrip()]


def summary_line(findings: list[Finding]) -> str:
    count = counts(findings)
    problems = count[FAIL] + count[WARN]
    checks = f"{count[OK]} passed, {count[SKIP]} skipped"
    if not problems:
        return f"no problems: {checks}"
    parts = [f"{count[FAIL]} failed"] if count[FAIL] else []
    if count[WARN]:
        parts.append(f"{count[WARN]} warning" + ("s" if count[WARN] > 1 else ""))
    noun = "problem" if problems == 1 else "problems"
    return f"{problems} {noun} ({', '.join(parts)}), {checks}"


def finding_lines(finding: Finding, style: Style) -> list[str]:
    # the tag's colour codes take no columns: fill the plain text, then colour the tag
    plain = f"[{finding.level.upper():<4}] "
    lines = wrapped(f"{finding.id}: {finding.message}", plain, INDENT, style.width)
    lines[0] = tag(finding.level, style) + lines[0][len(plain) - 1 :]
    if finding.level in (FAIL, WARN):
        rest = INDENT + " " * len(FIX) + "  "
        for number, step in enumerate(finding.fix.steps):
            first = INDENT + (FIX if number == 0 else " " * len(FIX))
            if step.argv is None:
                lines += wrapped(step.text, first, rest, style.width)
            else:
                lines += command_lines(step.argv, first, rest, style.width)
    return lines


def command_lines(argv: Sequence[str], first: str, rest: str, width: int) -> list[str]:
    """A command as a person pastes it into a shell: its quoted words filled to `width`,
    every line but the last ending in a line continuation, so the lines are one command.
    A word is never split, nor a quoted one broken (where a backslash-newline would be
    taken literally)."""
    lines: list[str] = []
    line = first
    for word in (shlex.quote(arg) for arg in argv):
        joined = word if line == first else f"{line} {word}"
        if line not in (first, rest) and len(joined) + len(" \\") > width:
            lines.append(line + " \\")
            line = rest + word
        else:
            line = first + word if line == first else joined
    return [*lines, line]


PLAIN = Style()


def format_text(findings: list[Finding], style: Style = PLAIN) -> str:
    """The summary line, then the failed findings and those to look at, each with its fix
    one step per line; the passed and skipped ones only when `style.verbose` (else one
    line says how many and how to see them). Lines fit `style.width` but for a single
    word (a path, a command) longer than a line."""
    lines = [summary_line(findings)]
    shown = [FAIL, WARN, OK, SKIP] if style.verbose else [FAIL, WARN]
    for level in shown:
        for finding in findings:
            if finding.level == level:
                lines += finding_lines(finding, style)
    folded = sum(f.level in (OK, SKIP) for f in findings)
    if folded and not style.verbose:
        checks = "check" if folded == 1 else "checks"
        lines += wrapped(
            f"{folded} passed or skipped {checks} not shown: irisxe-sriov-ctl doctor --verbose",
            "",
            "",
            style.width,
        )
    return "\n".join(lines)
