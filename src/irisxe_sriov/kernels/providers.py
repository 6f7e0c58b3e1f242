"""Who makes the VFs on each installed kernel: the pinned DKMS build or the kernel's own xe.

Judged from each kernel's own files, never from its version string alone:
- i915-sriov-dkms: the pinned source built by dkms and installed in the kernel's
  updates/ tree (dkms.state_of says which state it is in); offers i915 and xe.
- kernel-xe: the kernel's own xe, an SR-IOV PF for Alder Lake and Raptor Lake since Linux
  6.18 (docs/notes.md, "The kernel's own xe"). Its config has CONFIG_DRM_XE and
  CONFIG_PCI_IOV, its module tree has xe.ko with the PF's device id among its PCI aliases
  and a max_vfs parameter. Offers xe only.
Pure: machine/kernelfiles.py reads each kernel's files into XeFacts and dkms.DkmsFiles;
`judge` and `advice` decide from them.
"""

from collections.abc import Iterable
from typing import TYPE_CHECKING, NamedTuple

from irisxe_sriov import fixes, pciids, pin
from irisxe_sriov.choices import Driver, Provider
from irisxe_sriov.fixes import Fix
from irisxe_sriov.kernels import debversion
from irisxe_sriov.kernels.dkms import DkmsState, KernelState

if TYPE_CHECKING:  # the JSON form's type
    from irisxe_sriov.report.contract import KernelDoc

# The package's dependency on a provider (debian/rules puts it in ${irisxe:Driver}): the
# pinned DKMS package first, or a kernel whose own xe is an SR-IOV PF. apt tries the first
# alternative first; the second lets a trixie-backports system install without dkms and
# build-essential (README.Debian says which install path is which).
DEPENDENCY = f"{pin.DRIVER_PACKAGE} (= {pin.DRIVER_VERSION}) | linux-image-amd64 (>= 6.18~)"
DRIVERS_OF = {Provider.DKMS: (Driver.I915, Driver.XE), Provider.KERNEL_XE: (Driver.XE,)}
# Linux 6.18 made xe an SR-IOV PF by default for ADL-S/ADL-P/ADL-N, whose descriptors
# the Raptor Lake ids share (docs/notes.md, "The kernel's own xe").
XE_PF_SINCE = (6, 18)
XE_MODULE = "kernel/drivers/gpu/drm/xe/xe.ko"


class XeFacts(NamedTuple):
    """What one kernel's files say about its own xe driver."""

    config_found: bool
    drm_xe: bool  # CONFIG_DRM_XE=y|m
    pci_iov: bool  # CONFIG_PCI_IOV=y
    module: bool  # xe.ko in the kernel's own tree (not updates/)
    aliases: frozenset[str]  # supported device ids xe claims (lowercase)
    max_vfs: bool | None  # xe has a max_vfs parameter; None: not read, or unreadable
    unreadable: bool = False  # xe.ko was read and is no module we can read (empty, damaged)


class KernelProvider(NamedTuple):
    """One installed kernel: its DKMS state, its own xe, and the provider that results."""

    release: str
    provider: Provider | None
    drivers: tuple[Driver, ...]
    state: DkmsState  # the pinned DKMS build's state (dkms.state_of)
    detail: str
    kernel_xe: str  # why the kernel's own xe does or does not serve
    boots_next: bool | None = None  # None: which kernel boots next is unknown
    fix: Fix = fixes.NONE  # what makes the pinned build this kernel's provider
    xe_serves: bool = False  # the kernel's own xe is an SR-IOV PF for the GPU
    held: bool = False  # the boot is held on this kernel (judgement.decide_hold)

    def as_dict(self) -> "KernelDoc":
        return {
            "release": self.release,
            "provider": None if self.provider is None else str(self.provider),
            "drivers": [str(driver) for driver in self.drivers],
            "state": str(self.state),
            "detail": self.detail,
            "kernel_xe": self.kernel_xe,
            "boots_next": self.boots_next,
            "held": self.held,
        }


# --- pure ---------------------------------------------------------------------------------


def config_values(text: str, names: Iterable[str]) -> dict[str, str]:
    wanted = set(names)
    values = {}
    for line in text.splitlines():
        name, sep, value = line.partition("=")
        if sep and name in wanted:
            values[name] = value
    return values


def xe_verdict(release: str, facts: XeFacts, device: str | None) -> tuple[bool, str]:
    """Whether the kernel's own xe can be an SR-IOV PF for `device` (None: the GPU is not
    visible, any supported id will do), and the reason in words."""
    if not facts.config_found:
        return False, "no kernel config found"
    if not facts.drm_xe:
        return False, "built without xe (CONFIG_DRM_XE is not set)"
    if not facts.pci_iov:
        return False, "built without SR-IOV (CONFIG_PCI_IOV is not set)"
    if not facts.module:
        return False, "no xe module in its module tree"
    if not debversion.upstream_at_least(release, *XE_PF_SINCE):
        return False, "xe is an SR-IOV PF for Alder Lake and Raptor Lake from Linux 6.18 on"
    if facts.max_vfs is False:
        return False, "its xe has no max_vfs parameter"
    if facts.max_vfs is None and facts.unreadable:
        return False, "its xe.ko could not be read: whether xe has max_vfs is unknown"
    if device is not None and device not in facts.aliases:
        return False, f"its xe does not claim the GPU's device id {device}"
    if device is None and not facts.aliases & pciids.ALL_IDS:
        return False, "its xe claims no Alder Lake or Raptor Lake device id"
    claimed = device or "Alder Lake and Raptor Lake"
    return True, f"xe {release} is an SR-IOV PF for {claimed} (xe.max_vfs, xe.force_probe)"


def judge(
    dkms: KernelState, facts: XeFacts, device: str | None, boots_next: bool | None = None
) -> KernelProvider:
    """The provider of one kernel: the pinned DKMS build where it is installed (the first
    choice: docs/notes.md, "Why the DKMS build comes first"), else the kernel's own xe."""
    xe_serves, xe_why = xe_verdict(dkms.release, facts, device)
    provider: Provider | None = None
    if dkms.state == DkmsState.INSTALLED:
        provider = Provider.DKMS
    elif xe_serves:
        provider = Provider.KERNEL_XE
    return KernelProvider(
        release=dkms.release,
        provider=provider,
        drivers=DRIVERS_OF[provider] if provider else (),
        state=dkms.state,
        detail=dkms.detail,
        kernel_xe=xe_why,
        boots_next=boots_next,
        fix=dkms.fix,
        xe_serves=xe_serves,
    )


def serving(kernels: Iterable[KernelProvider], driver: str) -> list[KernelProvider]:
    return [k for k in kernels if driver in k.drivers]


# --- what to do ---------------------------------------------------------------------------


def running_kernel(kernels: Iterable[KernelProvider], release: str | None) -> KernelProvider | None:
    return next((k for k in kernels if k.release == release), None)


def set_driver(driver: str) -> Fix:
    return fixes.of(fixes.run("irisxe-sriov-ctl", "config", "set", f"driver={driver}"))


def boot_into(kernel: KernelProvider, running: str | None = None) -> Fix:
    """Boot `kernel`: a reboot where it boots next, else its boot menu entry."""
    if kernel.boots_next:
        return fixes.REBOOT
    if kernel.release == running and kernel.boots_next is None:
        return fixes.of(
            fixes.manual(
                f"reboot into {kernel.release} (choose it in the boot menu if it is not the "
                "default)"
            )
        )
    return fixes.of(fixes.manual(f"reboot and choose {kernel.release} in the boot menu"))


def advice(
    kernels: list[KernelProvider],
    running: str | None,
    driver: str,
    backports: Fix,
) -> Fix | None:
    """The commands that lead to VFs when the running kernel has no provider for
    `driver`, in order; None when it has one. `backports` are the steps that install a
    kernel with its own xe (aptsources.backports_steps). Never a reboot or `vfs restore`
    where no driver could make VFs afterwards, never headers for a kernel the pin cannot
    build."""
    this = running_kernel(kernels, running)
    if this is not None and driver in this.drivers:
        return None
    if this is not None and this.provider is not None:
        return set_driver(this.drivers[0]).then(fixes.REBOOT)
    ready = serving(kernels, driver)
    if ready:
        upcoming = [k for k in ready if k.boots_next]
        return boot_into(upcoming[0] if upcoming else ready[-1])
    others = [k for k in kernels if k.provider is not None]
    if others:
        upcoming = [k for k in others if k.boots_next]
        chosen = upcoming[0] if upcoming else others[-1]
        return set_driver(chosen.drivers[0]).then(boot_into(chosen))
    fixable = [k for k in kernels if k.fix and k.state != DkmsState.FAILED]
    if fixable:
        # the newest kernel the pinned build can serve: its own commands, then boot it
        chosen = fixable[-1]
        return chosen.fix.then(boot_into(chosen, running))
    then = fixes.APPLY if driver == Driver.XE else set_driver(Driver.XE)
    return backports.then(then, fixes.REBOOT)


def format_text(kernels: list[KernelProvider], next_evidence: str, hold: str = "") -> str:
    """The `kernels` listing: one block per kernel, newest last; `hold` says why the next
    boot lands where it does, where a kernel hold decides it."""
    lines = []
    for k in kernels:
        mark = "  (boots next, held)" if k.held else "  (boots next)" if k.boots_next else ""
        provider = f"{k.provider}: {', '.join(k.drivers)}" if k.provider else "no provider"
        lines.append(f"{k.release}  {provider}{mark}")
        detail = f"{k.detail} (fix: {k.fix})" if k.fix else k.detail
        lines.append(f"    dkms:   {k.state}: {detail}")
        lines.append(f"    own xe: {k.kernel_xe}")
    if kernels:
        lines.append(f"next boot: {hold or next_evidence}")
    return "\n".join(lines)
