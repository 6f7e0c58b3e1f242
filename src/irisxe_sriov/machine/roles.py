"""What this machine is to the GPU: the host that owns the PF, a guest given a VF, or
neither. Detected from the hardware (docs/notes.md, "Hosts, guests and what sits at
00:02.x"), overridable with MACHINE_ROLE= in the settings. Pure: `decide` judges what
reader.read_observed found.

- host: a supported Intel GPU at the PF address, on bare metal (or, in a VM, one that
  has the SR-IOV capability: a PF passed through whole). Makes and binds VFs.
- guest: a virtual machine whose supported Intel GPU functions have no SR-IOV
  capability (VFs passed through: behind a q35 root port, e.g. 0000:06:00.0, or on an
  i440fx bus, e.g. 0000:00:05.0), or a virtual machine with no GPU yet. Needs the driver
  and its guest parameters only: no VF count, no bindings.
- none: a machine whose PF address holds something else (a root port, the Wi-Fi): no
  file of ours may bind or count VFs on it.
A machine with no device at the PF address and no GPU at all, on bare metal, is a host
whose GPU is not visible yet (an image built before the hardware exists).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, NamedTuple

from irisxe_sriov.choices import Role

if TYPE_CHECKING:  # a type only: the reader is machine/'s, never imported by a pure module
    from irisxe_sriov.machine import reader


class GpuFunction(NamedTuple):
    """A supported Intel GPU function anywhere on the PCI buses."""

    address: str
    device: str
    driver: str | None
    render_node: str | None
    sriov: bool  # has the SR-IOV capability (sriov_totalvfs): a PF
    is_vf: bool  # a VF of a PF this kernel sees (physfn link)


class Observed(NamedTuple):
    """What the machine shows about its role: the PF address, the GPUs, a hypervisor."""

    pf: reader.PciFunction  # whatever sits at the configured PF address
    pf_sriov: bool
    gpus: tuple[GpuFunction, ...]
    virtual: str | None  # how a virtual machine showed itself, None on bare metal
    pci_devices: int = 0  # PCI functions sysfs lists: 0 in a chroot or an image build


class Detected(NamedTuple):
    role: Role
    reason: str
    # VF counts and driverctl bindings may be written: a host whose PF address holds a
    # supported Intel GPU. Files that act blindly at boot are never written for anything
    # else (docs/notes.md, "Hosts, guests and what sits at 00:02.x").
    binds: bool = False
    # the GPU's device id for xe.force_probe: the PF's, or a guest's first GPU function
    device: str | None = None
    # a guest's GPU functions (VFs passed through), for status and doctor
    gpus: tuple[GpuFunction, ...] = ()


def describe(function: reader.PciFunction) -> str:
    ident = f"{function.vendor or '?'}:{function.device or '?'}"
    kind = f", class {function.pci_class}" if function.pci_class else ""
    return f"{function.address} ({ident}{kind})"


def decide(observed: Observed, configured: str = "auto") -> Detected:
    pf = observed.pf
    pf_is_gpu = pf.present and pf.platform is not None
    guest_gpus = [g for g in observed.gpus if not g.sriov and not g.is_vf]
    guest_device = guest_gpus[0].device if guest_gpus else None
    if configured != "auto":
        role = Role(configured)
        reason = "set in /etc/default/irisxe-sriov"
        if role == Role.HOST and pf.present and not pf_is_gpu:
            reason += f"; {describe(pf)} is not a supported Intel GPU: no VF bindings"
        return Detected(
            role,
            reason,
            binds=role == Role.HOST and pf_is_gpu,
            device=pf.device if role == Role.HOST and pf_is_gpu else guest_device,
            gpus=tuple(guest_gpus) if role == Role.GUEST else (),
        )
    if pf_is_gpu and (observed.virtual is None or observed.pf_sriov):
        where = "" if observed.virtual is None else f" in a virtual machine ({observed.virtual})"
        return Detected(
            Role.HOST, f"{describe(pf)} is a supported Intel GPU{where}", True, pf.device
        )
    if observed.virtual is not None and guest_gpus:
        listed = ", ".join(f"{g.address} ({g.device})" for g in guest_gpus)
        return Detected(
            Role.GUEST,
            f"a virtual machine ({observed.virtual}) with GPU functions without SR-IOV: {listed}",
            device=guest_device,
            gpus=tuple(guest_gpus),
        )
    if observed.virtual is not None:
        return Detected(
            Role.GUEST, f"a virtual machine ({observed.virtual}) with no GPU function yet"
        )
    if not pf.present:
        return Detected(
            Role.HOST,
            f"no device at {pf.address} yet: host settings without VF bindings until the "
            "GPU is there",
        )
    return Detected(
        Role.NONE,
        f"{describe(pf)} is not a supported Intel GPU: nothing is bound or counted there",
    )
