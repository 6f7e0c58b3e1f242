"""Who makes the VFs on each installed kernel: the pinned DKMS build or the kernel's own xe.

Judged from each kernel's own files, never from its version string alone:
- i915-sriov-dkms: the pinned source built by dkms and installed in the kernel's
  updates/ tree (compat.state_of says which state it is in); offers i915 and xe.
- kernel-xe: the kernel's own xe, an SR-IOV PF for Alder Lake and Raptor Lake since Linux
  6.18 (docs/notes.md, "The kernel's own xe"). Its config has CONFIG_DRM_XE and
  CONFIG_PCI_IOV, its module tree has xe.ko with the PF's device id among its PCI aliases
  and a max_vfs parameter. Offers xe only.
The reading functions take a Paths root; `judge` and `choose` are pure.
"""

import re
from collections.abc import Iterable
from pathlib import Path
from typing import NamedTuple

from irisxe_sriov import debversion, host, modinfo, pciids, pin
from irisxe_sriov.choices import BootPath, Driver, Provider
from irisxe_sriov.compat import KernelState
from irisxe_sriov.paths import Paths

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
# depmod's modules.alias of Debian's 7.3.4 is about 1.4 MB
MODULES_ALIAS_LIMIT = 32 << 20


class XeFacts(NamedTuple):
    """What one kernel's files say about its own xe driver."""

    config_found: bool
    drm_xe: bool  # CONFIG_DRM_XE=y|m
    pci_iov: bool  # CONFIG_PCI_IOV=y
    module: bool  # xe.ko in the kernel's own tree (not updates/)
    aliases: frozenset[str]  # supported device ids xe claims (lowercase)
    max_vfs: bool | None  # xe has a max_vfs parameter; None: not read


class KernelProvider(NamedTuple):
    """One installed kernel: its DKMS state, its own xe, and the provider that results."""

    release: str
    provider: Provider | None
    drivers: tuple[str, ...]
    state: str  # the pinned DKMS build's state (compat.KernelState.state)
    detail: str
    kernel_xe: str  # why the kernel's own xe does or does not serve
    boots_next: bool | None = None  # None: which kernel boots next is unknown

    def as_dict(self) -> dict[str, object]:
        document: dict[str, object] = self._asdict()
        document["provider"] = None if self.provider is None else str(self.provider)
        document["drivers"] = list(self.drivers)
        return document


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
    if dkms.state == "installed":
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
    )


def serving(kernels: Iterable[KernelProvider], driver: str) -> list[KernelProvider]:
    return [k for k in kernels if driver in k.drivers]


# --- reading ------------------------------------------------------------------------------


def module_trees(paths: Paths, release: str) -> list[Path]:
    """Debian 7.x kernels keep their files in /usr/lib/modules, older ones in /lib/modules
    (the same directory on a merged-/usr system, two on a fake root)."""
    trees = [paths.at("/lib/modules") / release, paths.at("/usr/lib/modules") / release]
    return [tree for tree in trees if tree.is_dir()]


def read_config(paths: Paths, release: str) -> str | None:
    """The kernel's config: /boot/config-<release>, or the copy in its module tree that
    Debian 7.x packages ship (linux-base copies it to /boot)."""
    candidates = [paths.at("/boot") / f"config-{release}"]
    candidates += [tree / "config" for tree in module_trees(paths, release)]
    for candidate in candidates:
        text = host.read_text(candidate)
        if text is not None:
            return text
    return None


def xe_module_file(paths: Paths, release: str) -> Path | None:
    for tree in module_trees(paths, release):
        for suffix in ("", ".xz", ".gz"):
            candidate = tree / (XE_MODULE + suffix)
            if candidate.is_file():
                return candidate
        if (tree / (XE_MODULE + ".zst")).is_file():
            return tree / (XE_MODULE + ".zst")
    return None


def aliases_from_index(paths: Paths, release: str) -> frozenset[str] | None:
    """Device ids that depmod's modules.alias maps to xe; None when there is no index."""
    for tree in module_trees(paths, release):
        try:
            data = host.read_bytes(tree / "modules.alias", MODULES_ALIAS_LIMIT)
        except (OSError, host.UnreadableFile):
            continue
        lines = re.findall(rb"^alias pci:v00008086d0000([0-9A-F]{4})\S* xe$", data, re.M)
        return frozenset(line.decode().lower() for line in lines)
    return None


def read_xe_facts(paths: Paths, release: str, thorough: bool = True) -> XeFacts:
    """The kernel's own xe. `thorough` reads xe.ko's modinfo for max_vfs (modinfo.py: about
    75 ms for Debian's xe.ko.xz the first time) where the verdict can turn on it; without
    it, max_vfs is not read (the 6.18 rule implies it) and the module is only opened when
    depmod's modules.alias is missing."""
    config = read_config(paths, release)
    values = config_values(config or "", ("CONFIG_DRM_XE", "CONFIG_PCI_IOV"))
    drm_xe = values.get("CONFIG_DRM_XE") in ("y", "m")
    pci_iov = values.get("CONFIG_PCI_IOV") == "y"
    module = xe_module_file(paths, release)
    aliases = aliases_from_index(paths, release)
    # xe_verdict looks at max_vfs only for an SR-IOV capable xe from 6.18 on
    decisive = drm_xe and pci_iov and debversion.upstream_at_least(release, *XE_PF_SINCE)
    max_vfs: bool | None = None
    if module is not None and ((thorough and decisive) or aliases is None):
        found = modinfo.read(paths, module)
        max_vfs = found.max_vfs
        aliases = found.aliases if aliases is None else aliases
    return XeFacts(
        config_found=config is not None,
        drm_xe=drm_xe,
        pci_iov=pci_iov,
        module=module is not None,
        aliases=aliases or frozenset(),
        max_vfs=max_vfs if module is not None else False,
    )


def kernel_providers(
    paths: Paths,
    states: list[KernelState],
    device: str | None,
    next_release: str | None,
    thorough: bool = True,
) -> list[KernelProvider]:
    """Every installed kernel (compat.kernel_states) with its provider; `next_release` is
    the kernel that boots next (None: unknown)."""
    return [
        judge(
            state,
            read_xe_facts(paths, state.release, thorough),
            device,
            None if next_release is None else state.release == next_release,
        )
        for state in states
    ]


# --- what to do ---------------------------------------------------------------------------

# DKMS states whose own fix makes the pinned build a provider on that kernel
DKMS_FIXABLE = ("built", "not-built", "no-headers")


def running_kernel(kernels: list[KernelProvider], release: str | None) -> KernelProvider | None:
    return next((k for k in kernels if k.release == release), None)


def advice(
    kernels: list[KernelProvider],
    running: str | None,
    driver: str,
    backports: list[str],
) -> str | None:
    """What leads to VFs when the running kernel has no provider for `driver`; None when
    it has one. `backports` are the commands that install a kernel with its own xe
    (aptsources.backports_steps). Never a reboot or `vfs restore` where no driver could
    make VFs afterwards."""
    this = running_kernel(kernels, running)
    if this is not None and driver in this.drivers:
        return None
    if this is not None and this.provider is not None:
        other = this.drivers[0]
        return f"set driver={other} ('irisxe-sriov-ctl config set driver={other}'), then reboot"
    ready = serving(kernels, driver)
    if ready:
        nxt = [k for k in ready if k.boots_next]
        if nxt:
            return f"reboot: {nxt[0].release} boots next and has {nxt[0].provider}"
        names = ", ".join(f"{k.release} ({k.provider})" for k in ready)
        return f"boot a kernel that has a provider: {names} (choose it in the boot menu)"
    others = [k for k in kernels if k.provider is not None]
    if others:
        k = others[-1]
        other = k.drivers[0]
        return (
            f"set driver={other} ('irisxe-sriov-ctl config set driver={other}'): "
            f"{k.release} has {k.provider} for {', '.join(k.drivers)}; then boot it"
        )
    fixable = [k for k in kernels if k.state in DKMS_FIXABLE]
    if fixable:
        k = fixable[-1]
        return f"{k.detail} (kernel {k.release}), then reboot"
    steps = list(backports)
    if driver != "xe":
        steps.append("irisxe-sriov-ctl config set driver=xe")
    else:
        steps.append("irisxe-sriov-ctl apply")
    steps.append("reboot")
    return (
        "no installed kernel has a provider: install trixie-backports' kernel, whose own xe "
        "is an SR-IOV PF: " + "; ".join(steps)
    )


def read_all(
    paths: Paths, device: str | None, boot_path: BootPath | None, thorough: bool = True
) -> tuple[list[KernelProvider], str]:
    """Every installed kernel with its provider, and the evidence for the next boot."""
    from irisxe_sriov import compat, nextboot

    upcoming = nextboot.read(paths, boot_path)
    kernels = kernel_providers(
        paths, compat.kernel_states(paths), device, upcoming.release, thorough
    )
    return kernels, upcoming.evidence


def format_text(kernels: list[KernelProvider], next_evidence: str) -> str:
    """The `kernels` listing: one block per kernel, newest last."""
    lines = []
    for k in kernels:
        mark = "  (boots next)" if k.boots_next else ""
        provider = f"{k.provider}: {', '.join(k.drivers)}" if k.provider else "no provider"
        lines.append(f"{k.release}  {provider}{mark}")
        lines.append(f"    dkms:   {k.state}: {k.detail}")
        lines.append(f"    own xe: {k.kernel_xe}")
    if kernels:
        lines.append(f"next boot: {next_evidence}")
    return "\n".join(lines)


def for_status(
    paths: Paths, running: str | None, device: str | None, boot_path: BootPath | None
) -> dict[str, object]:
    """The `providers` part of `status --json`: the running kernel's and the next boot's.
    Reads only those two kernels, without opening xe.ko (status is the fast command)."""
    from irisxe_sriov import compat, nextboot

    upcoming = nextboot.read(paths, boot_path)

    def one(release: str | None) -> dict[str, object] | None:
        if release is None:
            return None
        found, texts = compat.read_headers(paths, release)
        state = compat.state_of(paths, compat.judge(release, found, texts))
        facts = read_xe_facts(paths, release, thorough=False)
        return judge(state, facts, device, release == upcoming.release).as_dict()

    return {
        "running": one(running),
        "next_boot": one(upcoming.release),
        "next_boot_evidence": upcoming.evidence,
    }
