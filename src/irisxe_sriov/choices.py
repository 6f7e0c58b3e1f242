"""Every closed set of values, each defined once. Pure.

Settings, the templates, the debconf choices, the CLI's choices, status and doctor all
take their values from here; as StrEnums the members are the strings the files and the
JSON output hold.
"""

from enum import StrEnum
from typing import Self


class Closed(StrEnum):
    """A closed set of strings."""

    @classmethod
    def values(cls) -> tuple[str, ...]:
        return tuple(member.value for member in cls)

    @classmethod
    def of(cls, text: str) -> Self | None:
        """The member spelt `text`, or None."""
        try:
            return cls(text)
        except ValueError:
            return None


class Driver(Closed):
    """The GPU driver that makes the VFs; the other one is blacklisted."""

    I915 = "i915"
    XE = "xe"

    @property
    def other(self) -> "Driver":
        return Driver.XE if self is Driver.I915 else Driver.I915


class BootPath(Closed):
    """Where the kernel command line is written (docs/notes.md, "Debian's boot paths");
    AUTO is a setting only: detection finds one of the others, or nothing."""

    AUTO = "auto"
    GRUB = "grub"
    SYSTEMD_BOOT = "systemd-boot"
    PROXMOX = "proxmox"
    NONE = "none"


class VfRole(Closed):
    """What a VF is for: a VM (vfio-pci), the host's own driver (containers), or unbound
    (Incus gputype=sriov and libvirt managed="yes" bind it themselves)."""

    VFIO = "vfio"
    HOST = "host"
    NONE = "none"


class Role(Closed):
    """What this machine is to the GPU, as detected from the hardware (roles.decide)."""

    HOST = "host"
    GUEST = "guest"
    NONE = "none"


class MachineRole(Closed):
    """The MACHINE_ROLE setting: a Role, or AUTO for what detection finds."""

    AUTO = "auto"
    HOST = Role.HOST.value
    GUEST = Role.GUEST.value
    NONE = Role.NONE.value


class KernelHold(Closed):
    """The KERNEL_HOLD setting: keep the boot on the newest kernel that has an SR-IOV
    provider when the one that would boot next has none (AUTO), or never (OFF: the newest
    kernel boots, security fixes first, VFs maybe not)."""

    AUTO = "auto"
    OFF = "off"


class HoldKind(Closed):
    """Who decided a kernel hold: the judgement (released when its reason is gone) or the
    admin with `kernels hold` (released by `kernels release`, when its kernel is removed, or
    by purge)."""

    AUTO = "auto"
    MANUAL = "manual"


class Provider(Closed):
    """What makes SR-IOV VFs on a kernel: the pinned DKMS build, or the kernel's own xe."""

    DKMS = "i915-sriov-dkms"
    KERNEL_XE = "kernel-xe"


class Target(Closed):
    """Where `snippet` and `attach` give a VF: VMs take vfio-pci or unbound VFs, containers
    a host-role VF's render node."""

    LIBVIRT = "libvirt"
    QEMU = "qemu"
    PROXMOX = "proxmox"
    INCUS = "incus"
    DOCKER = "docker"
    PODMAN = "podman"

    @property
    def is_vm(self) -> bool:
        return self not in (Target.DOCKER, Target.PODMAN)
