"""HostState -> findings, one per requirement of the guide and per known trap (docs/notes.md). Pure.

Every failing finding carries the fix a person can act on.
"""

from collections.abc import Mapping
from typing import Any, NamedTuple

from irisxe_sriov import differences, pciids, pin
from irisxe_sriov.bootcheck import Verdict
from irisxe_sriov.bootloader import Detection
from irisxe_sriov.choices import Provider, Role
from irisxe_sriov.differences import Difference, Kind
from irisxe_sriov.host import HostState
from irisxe_sriov.providers import KernelProvider, advice, running_kernel
from irisxe_sriov.roles import Detected
from irisxe_sriov.secureboot import DKMS_KEY, ENROL_STEPS, Enrolment, SecureBoot
from irisxe_sriov.settings import VFIO_DRIVER, Settings

OK, WARN, FAIL, SKIP = "ok", "warn", "fail", "skip"
APPLY_AND_REBOOT = "run 'irisxe-sriov-ctl apply', then reboot"
RESTORE = "irisxe-sriov-ctl vfs restore"


class Finding(NamedTuple):
    id: str
    level: str
    message: str
    fix: str = ""

    def as_dict(self) -> dict[str, Any]:
        return self._asdict()


def pick(
    found: tuple[Difference, ...], kind: Kind, subject: str | None = None
) -> Difference | None:
    """The difference of `kind` (about `subject`) among `found`, if there is one."""
    return next(
        (d for d in found if d.kind == kind and subject in (None, d.subject)),
        None,
    )


class Evidence(NamedTuple):
    """What doctor reads beyond HostState (kept out of the fast `status` path)."""

    settings_problems: tuple[str, ...]
    driver_package_version: str | None
    driver_package_matches: bool
    kernels: tuple[KernelProvider, ...] = ()
    # the commands that install a kernel with its own SR-IOV xe (aptsources.backports_steps)
    backports_steps: tuple[str, ...] = ()
    secure_boot: SecureBoot | None = None
    # generated files edited or removed since apply wrote them (host.drift)
    drift: tuple[tuple[str, str], ...] = ()
    # boot refreshes that failed; the next apply runs them (host.pending_refreshes)
    pending_refreshes: tuple[str, ...] = ()
    # host, guest or none (roles.decide); None: a host, as the scan found its PF
    machine: Detected | None = None

    def advice(self, state: HostState, driver: str) -> str | None:
        """What leads to VFs when the running kernel has no provider for `driver`."""
        return advice(list(self.kernels), state.kernel_release, driver, list(self.backports_steps))

    def serves(self, state: HostState, driver: str) -> bool:
        """Whether the running kernel has a provider of `driver` (or nothing is known)."""
        return not self.kernels or self.advice(state, driver) is None


def os_finding(state: HostState) -> Finding:
    if state.os_id == "debian" and state.os_version_id == "13":
        return Finding("os.debian13", OK, "Debian 13")
    seen = f"{state.os_id or 'unknown'} {state.os_version_id or ''}".strip()
    return Finding(
        "os.debian13",
        WARN,
        f"this is {seen}; irisxe-sriov is made for Debian 13",
        "use Debian 13 (trixie)",
    )


def gpu_finding(state: HostState, found: tuple[Difference, ...]) -> Finding:
    pf = state.pf
    missing = pick(found, Kind.PF_MISSING)
    if missing is not None:
        return Finding(
            "gpu.present",
            FAIL,
            f"no PCI device at {missing.subject}",
            "check 'lspci -Dnn | grep -i vga' and set pf=ADDRESS if the GPU is elsewhere",
        )
    ident = f"{pf.vendor or '?'}:{pf.device or '?'}"
    if pf.platform is None:
        return Finding(
            "gpu.present",
            FAIL,
            f"{pf.address} ({ident}) is not a supported Intel GPU",
            "SR-IOV needs an Alder Lake or Raptor Lake iGPU (12th-14th gen)",
        )
    name = pciids.description_of(pf.platform)
    return Finding("gpu.present", OK, f"{pf.address} ({ident}) is {pf.platform}, {name}")


def iommu_finding(state: HostState) -> Finding:
    if state.iommu is None:
        return Finding("iommu.enabled", SKIP, "no /sys/class to read the IOMMU state from")
    if state.iommu:
        return Finding("iommu.enabled", OK, "an IOMMU is active")
    return Finding(
        "iommu.enabled",
        FAIL,
        "no IOMMU is active: vfio-pci cannot take VFs",
        "enable VT-d in the firmware set-up, then "
        + APPLY_AND_REBOOT
        + " (it adds intel_iommu=on)",
    )


def provider_finding(state: HostState, settings: Settings, evidence: Evidence) -> Finding:
    """Does the running kernel have a provider of the configured driver, and is the loaded
    module that provider's (the DKMS version string, or the kernel's own xe)?"""
    release = state.kernel_release
    if release is None:
        return Finding("provider", SKIP, "kernel release unknown")
    this = running_kernel(list(evidence.kernels), release)
    if this is None:
        return Finding("provider", SKIP, f"the running kernel {release} is not installed here")
    what = evidence.advice(state, settings.driver)
    if what is not None:
        if this.provider is None:
            found = f"no SR-IOV provider on {release}: DKMS {this.state}, own xe: {this.kernel_xe}"
        else:
            found = (
                f"{release} has {this.provider}, which offers {', '.join(this.drivers)}, "
                f"not {settings.driver}"
            )
        return Finding("provider", FAIL, found, what)
    module = state.modules[settings.driver]
    dkms_loaded = module.loaded and module.version == pin.MODULE_VERSION
    if this.provider == Provider.DKMS and module.loaded and not dkms_loaded:
        return Finding(
            "provider",
            FAIL,
            f"{settings.driver} is the stock kernel module (version {module.version or 'none'}), "
            f"though {pin.DRIVER_PACKAGE} {pin.MODULE_VERSION} is installed for {release}",
            f"update-initramfs -u -k {release}; reboot",
        )
    if this.provider == Provider.KERNEL_XE and dkms_loaded:
        return Finding(
            "provider",
            WARN,
            f"xe is {pin.DRIVER_PACKAGE}'s build, not {release}'s own xe",
            "dkms remove i915-sriov-dkms/" + pin.DRIVER_VERSION + f" -k {release}; reboot",
        )
    loaded = "loaded" if module.loaded else "not loaded yet"
    return Finding(
        "provider",
        OK,
        f"{release} has {this.provider} for {settings.driver} ({loaded})",
    )


def secure_boot_finding(state: HostState, evidence: Evidence) -> Finding:
    """Under Secure Boot a DKMS module loads only with its signing key enrolled."""
    secure = evidence.secure_boot
    if secure is None or secure.enabled is None:
        return Finding("secureboot.key", SKIP, "Secure Boot state unknown (no UEFI variables)")
    if not secure.enabled:
        return Finding("secureboot.key", OK, "Secure Boot is off: modules need no signature")
    this = running_kernel(list(evidence.kernels), state.kernel_release)
    if this is not None and this.provider == Provider.KERNEL_XE:
        return Finding(
            "secureboot.key", OK, "Secure Boot is on; the kernel's own xe is signed by Debian"
        )
    if not secure.key_present:
        return Finding(
            "secureboot.key",
            FAIL,
            f"Secure Boot is on and dkms has no signing key ({DKMS_KEY})",
            f"apt install openssl; dkms autoinstall (dkms makes the key); then {ENROL_STEPS}",
        )
    if secure.enrolment == Enrolment.ENROLLED:
        return Finding("secureboot.key", OK, f"Secure Boot is on and {DKMS_KEY} is enrolled")
    if secure.enrolment == Enrolment.PENDING:
        return Finding(
            "secureboot.key",
            WARN,
            f"{DKMS_KEY} waits for enrolment",
            "reboot, choose 'Enroll MOK' in MokManager and enter the password",
        )
    if secure.enrolment == Enrolment.NOT_ENROLLED:
        return Finding(
            "secureboot.key",
            FAIL,
            f"Secure Boot is on and {DKMS_KEY} is not enrolled: the kernel rejects the DKMS "
            "modules ('Key was rejected by service')",
            ENROL_STEPS,
        )
    return Finding(
        "secureboot.key",
        WARN,
        f"Secure Boot is on; whether {DKMS_KEY} is enrolled {secure.why_unknown}",
        f"mokutil --test-key {DKMS_KEY}; if not enrolled: {ENROL_STEPS}",
    )


def package_finding(state: HostState, evidence: Evidence) -> Finding:
    wanted = f"{pin.DRIVER_PACKAGE} {pin.DRIVER_VERSION}"
    fix = (
        f"install {pin.DRIVER_PACKAGE}_{pin.DRIVER_VERSION}_amd64.deb from the upstream "
        f"release page (see /usr/share/doc/irisxe-sriov/README.Debian)"
    )
    if evidence.driver_package_version is None:
        this = running_kernel(list(evidence.kernels), state.kernel_release)
        if this is not None and this.provider == Provider.KERNEL_XE:
            return Finding(
                "driver.package",
                OK,
                f"{pin.DRIVER_PACKAGE} is not installed; not needed on "
                f"{this.release}, whose own xe is the provider",
            )
        return Finding("driver.package", FAIL, f"{pin.DRIVER_PACKAGE} is not installed", fix)
    if not evidence.driver_package_matches:
        return Finding(
            "driver.package",
            FAIL,
            f"{pin.DRIVER_PACKAGE} "
            f"{evidence.driver_package_version} is installed, the pin is {wanted}",
            fix,
        )
    return Finding("driver.package", OK, f"{wanted} is installed")


def module_findings(
    state: HostState,
    settings: Settings,
    evidence: Evidence,
    found: tuple[Difference, ...],
    role: Role,
) -> list[Finding]:
    module = state.modules[settings.driver]
    other = state.modules[settings.other_driver]
    # Where the running kernel has no provider of the driver, a reboot alone loads nothing:
    # the provider finding's advice is the fix.
    what = evidence.advice(state, settings.driver) or APPLY_AND_REBOOT
    serves = evidence.serves(state, settings.driver)
    findings = []
    modules = pick(found, Kind.DRIVER_MODULES)
    loaded = [settings.driver] if modules is None else (modules.found or "").split()
    if settings.driver not in loaded:
        findings.append(Finding("module.loaded", FAIL, f"{settings.driver} is not loaded", what))
    else:
        findings.append(Finding("module.loaded", OK, f"{settings.driver} is loaded"))
    if other.name in loaded:
        findings.append(
            Finding(
                "module.other",
                FAIL,
                f"{other.name} is loaded although {settings.driver} is configured",
                (APPLY_AND_REBOOT + f" (it blacklists {other.name})") if serves else what,
            )
        )
    else:
        findings.append(Finding("module.other", OK, f"{other.name} is not loaded"))
    if settings.driver != "i915" or not module.loaded:
        findings.append(Finding("guc.enabled", SKIP, "only i915 has enable_guc"))
    elif not serves:
        findings.append(Finding("guc.enabled", SKIP, "this i915 is no SR-IOV provider"))
    else:
        findings.append(
            parameter_finding("guc.enabled", module.parameters, "i915", "enable_guc", found, FAIL)
        )
    if role == Role.HOST:
        # a guest makes no VFs: max_vfs is the host's only (cmdline.wanted_tokens)
        if not module.loaded:
            findings.append(Finding("module.max_vfs", SKIP, f"{settings.driver} is not loaded"))
        elif not serves:
            findings.append(
                Finding("module.max_vfs", SKIP, f"this {settings.driver} is no SR-IOV provider")
            )
        else:
            findings.append(
                # unreadable also where doctor runs without root (the parameter is 0400)
                parameter_finding(
                    "module.max_vfs", module.parameters, settings.driver, "max_vfs", found, SKIP
                )
            )
    return findings


def parameter_finding(
    id: str,
    parameters: Mapping[str, str],
    driver: str,
    name: str,
    found: tuple[Difference, ...],
    unknown: str,
) -> Finding:
    """A parameter of the loaded SR-IOV driver: its difference (differences.PARAMETERS),
    else its value. One that cannot be read is no difference, so status says nothing of
    it; doctor gives it the level `unknown`."""
    differs = pick(found, Kind.MODULE_PARAMETER, f"{driver}.{name}")
    if differs is not None:
        return Finding(
            id,
            FAIL,
            f"{driver}.{name} is {differs.found}, SR-IOV needs {differs.expected}",
            APPLY_AND_REBOOT,
        )
    value = parameters.get(name)
    if value is None:
        wanted = next(v for d, _, n, v in differences.PARAMETERS if (d, n) == (driver, name))
        return Finding(
            id, unknown, f"{driver}.{name} is unknown, SR-IOV needs {wanted}", APPLY_AND_REBOOT
        )
    return Finding(id, OK, f"{driver}.{name}={value}")


def kernel_findings(evidence: Evidence) -> list[Finding]:
    """One finding per installed kernel: its provider, the pinned DKMS build's state there
    and what its own xe can do."""
    findings = []
    for k in evidence.kernels:
        nxt = " (boots next)" if k.boots_next else ""
        if k.state == "failed":
            level, fix = FAIL, k.detail
        elif k.provider is not None:
            level, fix = OK, ""
        else:
            level, fix = WARN, k.detail if k.state in ("built", "not-built", "no-headers") else ""
        provider = f"{k.provider} ({', '.join(k.drivers)})" if k.provider else "no provider"
        findings.append(
            Finding(
                f"kernel.{k.release}",
                level,
                f"{provider}{nxt}; DKMS {k.state}: {k.detail}; own xe: {k.kernel_xe}",
                fix,
            )
        )
    return findings


def cmdline_finding(state: HostState, verdict: Verdict, found: tuple[Difference, ...]) -> Finding:
    if state.cmdline is None:
        return Finding("cmdline.parameters", SKIP, "/proc/cmdline is unreadable")
    missing = pick(found, Kind.MISSING_PARAMETERS)
    if missing is not None:
        return Finding(
            "cmdline.parameters",
            FAIL,
            f"the running kernel command line lacks {missing.expected}: {verdict.problem}",
            verdict.steps,
        )
    return Finding("cmdline.parameters", OK, "the kernel command line has every parameter")


def sriov_findings(
    state: HostState, settings: Settings, found: tuple[Difference, ...]
) -> list[Finding]:
    pf = state.pf
    if not pf.present:
        return [Finding("sriov.totalvfs", SKIP, "no PF"), Finding("sriov.numvfs", SKIP, "no PF")]
    findings = []
    if pf.sriov_totalvfs is None:
        findings.append(
            Finding(
                "sriov.totalvfs",
                FAIL,
                f"{pf.address} has no sriov_totalvfs: its driver "
                f"({pf.driver or 'none'}) offers no SR-IOV",
                "load the SR-IOV driver: " + APPLY_AND_REBOOT,
            )
        )
    elif pf.sriov_totalvfs == 0:
        findings.append(
            Finding(
                "sriov.totalvfs",
                FAIL,
                "sriov_totalvfs is 0: max_vfs did not apply",
                APPLY_AND_REBOOT,
            )
        )
    else:
        findings.append(Finding("sriov.totalvfs", OK, f"sriov_totalvfs is {pf.sriov_totalvfs}"))
    count = pick(found, Kind.VF_COUNT)
    if count is None:
        findings.append(Finding("sriov.numvfs", OK, f"{settings.num_vfs} VFs exist as configured"))
    else:
        findings.append(
            Finding(
                "sriov.numvfs",
                FAIL,
                f"{count.found or 'no'} VFs exist, {count.expected} configured",
                RESTORE,
            )
        )
    return findings


def vf_findings(
    state: HostState, settings: Settings, found: tuple[Difference, ...]
) -> list[Finding]:
    findings = []
    present = {vf.number: vf for vf in state.vfs}
    differs = {d.vf: d for d in found if d.kind == Kind.VF_DRIVER}
    for index, role in settings.roles():
        vf = present.get(index)
        name = f"vf.{index}.driver"
        wrong = differs.get(index)
        if vf is None:
            findings.append(Finding(name, SKIP, f"VF {index} does not exist"))
        elif wrong is None:
            findings.append(
                Finding(
                    name,
                    OK,
                    f"VF {index} ({vf.address}) is on "
                    f"{vf.driver or 'no driver'} as its role {role} asks",
                )
            )
        else:
            findings.append(
                Finding(
                    name,
                    FAIL,
                    f"VF {index} ({wrong.subject}) is on {wrong.found or 'no driver'}, "
                    f"its role {wrong.role} wants {wrong.expected or 'no driver'}",
                    RESTORE,
                )
            )
    if state.pf.present:
        findings.append(pf_driver_finding(state, settings, found))
    if state.pf.present and state.pf.driver == VFIO_DRIVER:
        findings.append(
            Finding(
                "pf.not_vfio",
                FAIL,
                f"the PF {state.pf.address} is on vfio-pci, which disables every VF",
                f"driverctl unset-override {state.pf.address}; reboot",
            )
        )
    elif state.pf.present:
        findings.append(
            Finding("pf.not_vfio", OK, f"the PF is on {state.pf.driver or 'no driver'}")
        )
    return findings


def pf_driver_finding(
    state: HostState, settings: Settings, found: tuple[Difference, ...]
) -> Finding:
    """The PF on a GPU driver. Which one is the module check's (module.loaded,
    module.other); host VFs follow it (settings.expected_driver)."""
    from irisxe_sriov.status import pf_fix

    wrong = pick(found, Kind.PF_DRIVER)
    if wrong is None and state.pf.driver is None:
        # with its driver not loaded: that is module.loaded's failure
        return Finding("pf.driver", OK, f"the PF waits for {settings.driver} to be loaded")
    if wrong is None:
        return Finding("pf.driver", OK, f"the PF is on {state.pf.driver}, a GPU driver")
    return Finding(
        "pf.driver",
        FAIL,
        f"the PF {wrong.subject} is on {wrong.found or 'no driver'}, "
        f"{wrong.expected} is configured",
        pf_fix(wrong),
    )


def tools_findings(state: HostState) -> list[Finding]:
    findings = []
    if state.sysfs_conf_present:
        findings.append(Finding("sysfsutils.conf", OK, "/etc/sysfs.conf exists"))
    else:
        findings.append(
            Finding(
                "sysfsutils.conf",
                FAIL,
                "/etc/sysfs.conf is missing, so sysfsutils ignores /etc/sysfs.d",
                "apt install --reinstall sysfsutils",
            )
        )
    if state.driverctl_present:
        findings.append(Finding("driverctl.installed", OK, "driverctl is installed"))
    else:
        findings.append(
            Finding(
                "driverctl.installed", FAIL, "driverctl is not installed", "apt install driverctl"
            )
        )
    return findings


def boot_finding(boot: Detection) -> Finding:
    if boot.name is None:
        return Finding(
            "bootloader.found",
            FAIL,
            f"no boot path found: {boot.evidence}",
            "set bootloader=grub, systemd-boot, proxmox or none with 'irisxe-sriov-ctl config set'",
        )
    return Finding("bootloader.found", OK, f"boot path {boot.name}: {boot.evidence}")


MEDIA_NEXT = (
    "for video: apt install vainfo intel-media-va-driver-non-free, then "
    "'vainfo --display drm --device /dev/dri/{node}'"
)


def guest_findings(
    settings: Settings, machine: Detected, found: tuple[Difference, ...]
) -> list[Finding]:
    """Inside a virtual machine given a VF: the VF on the configured driver, with a render
    node, and the next step for media."""
    if not machine.gpus:
        return [
            Finding(
                "guest.gpu",
                WARN,
                "this virtual machine has no GPU function yet",
                "on the host: irisxe-sriov-ctl attach libvirt NAME (or 'snippet') gives it a "
                "VF; then reboot it",
            )
        ]
    findings = []
    for gpu in machine.gpus:
        wrong = pick(found, Kind.GUEST_GPU_DRIVER, gpu.address)
        if wrong is None:
            findings.append(
                Finding(f"guest.{gpu.address}", OK, f"{gpu.address} is on {gpu.driver}")
            )
        else:
            findings.append(
                Finding(
                    f"guest.{gpu.address}",
                    FAIL,
                    f"{gpu.address} is on {wrong.found or 'no driver'}, {wrong.expected} is "
                    "configured",
                    APPLY_AND_REBOOT,
                )
            )
        if gpu.render_node is None:
            findings.append(
                Finding(
                    f"guest.{gpu.address}.render",
                    FAIL if gpu.driver == settings.driver else SKIP,
                    f"{gpu.address} has no render node: the driver did not bring the VF up",
                    f"dmesg | grep -i {settings.driver}",
                )
            )
        else:
            findings.append(
                Finding(
                    f"guest.{gpu.address}.render",
                    OK,
                    f"render node /dev/dri/{gpu.render_node}; "
                    + MEDIA_NEXT.format(node=gpu.render_node),
                )
            )
    return findings


def diagnose(
    state: HostState, settings: Settings, boot: Detection, evidence: Evidence, verdict: Verdict
) -> list[Finding]:
    machine = differences.machine_of(state, evidence.machine)
    # the differences status lists too, found once; the findings below render them
    found = differences.find(state, settings, machine)
    if evidence.settings_problems:
        settings_finding = Finding(
            "settings.valid",
            FAIL,
            "; ".join(evidence.settings_problems),
            "fix /etc/default/irisxe-sriov (defaults are assumed meanwhile)",
        )
    else:
        settings_finding = Finding("settings.valid", OK, "/etc/default/irisxe-sriov is valid")
    head = [settings_finding, os_finding(state)]
    if machine.reason:
        head.append(Finding("machine.role", OK, f"{machine.role}: {machine.reason}"))
    if machine.role == Role.NONE:
        return [*head, *recorded_findings(evidence)]
    driver = [
        provider_finding(state, settings, evidence),
        *kernel_findings(evidence),
        secure_boot_finding(state, evidence),
        package_finding(state, evidence),
        *module_findings(state, settings, evidence, found, machine.role),
        cmdline_finding(state, verdict, found),
    ]
    if machine.role == Role.GUEST:
        return [
            *head,
            *driver,
            *guest_findings(settings, machine, found),
            boot_finding(boot),
            *recorded_findings(evidence),
        ]
    return [
        *head,
        gpu_finding(state, found),
        iommu_finding(state),
        *driver,
        *vf_work_findings(state, settings, evidence, found),
        *tools_findings(state),
        boot_finding(boot),
        *recorded_findings(evidence),
    ]


def vf_work_findings(
    state: HostState, settings: Settings, evidence: Evidence, found: tuple[Difference, ...]
) -> list[Finding]:
    """The VF count and bindings; skipped where the running kernel has no provider of the
    driver, since neither `vfs restore` nor a reboot could make VFs there. The PF's driver
    is not: a PF off its GPU driver is wrong whatever the kernel provides."""
    findings = [
        *sriov_findings(state, settings, found),
        *vf_findings(state, settings, found),
    ]
    if evidence.serves(state, settings.driver):
        return findings
    why = f"no SR-IOV provider of {settings.driver} on this kernel: see the provider check"
    return [
        f if f.id in ("pf.not_vfio", "pf.driver") else Finding(f.id, SKIP, f"{f.message} ({why})")
        for f in findings
    ]


def recorded_findings(evidence: Evidence) -> list[Finding]:
    """Local edits apply kept, and boot refreshes it could not run (status.recorded)."""
    from irisxe_sriov.status import recorded

    edits = recorded(list(evidence.drift), [])
    refreshes = recorded([], list(evidence.pending_refreshes))
    findings = [
        Finding("files.local_edits", WARN, "; ".join(p.what for p in edits), edits[0].fix)
        if edits
        else Finding("files.local_edits", OK, "no generated file was edited locally"),
        Finding("boot.refresh", FAIL, "; ".join(p.what for p in refreshes), refreshes[0].fix)
        if refreshes
        else Finding("boot.refresh", OK, "no boot refresh is pending"),
    ]
    return findings


def failed(findings: list[Finding]) -> bool:
    return any(finding.level == FAIL for finding in findings)


def format_text(findings: list[Finding]) -> str:
    lines = []
    for finding in findings:
        lines.append(f"[{finding.level.upper():<4}] {finding.id}: {finding.message}")
        if finding.level in (FAIL, WARN) and finding.fix:
            lines.append(f"       fix: {finding.fix}")
    return "\n".join(lines)
