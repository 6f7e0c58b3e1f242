"""Gather once: everything a command needs to know about a root, as frozen data
(docs/notes.md, "Gather once, judge once"). Pure: the types only; gather.py reads a root into
them.

Each command reads at the depth it declares (`Depth`): every command reads every installed
kernel's files, `kernels` and the kernel hook also xe.ko's .modinfo, and PARTS says what
else each depth reads. Nothing here
judges: judgement.py does, from this data alone, so that every command's verdicts come
from the same facts and tests can build a Snapshot without a fake root.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from types import MappingProxyType
from typing import TYPE_CHECKING, NamedTuple

from irisxe_sriov.choices import Closed
from irisxe_sriov.kernels import hold

if TYPE_CHECKING:  # the types of the parts; their modules are imported by gather.py
    from irisxe_sriov.boot import bootcheck, bootloader, nextboot
    from irisxe_sriov.kernels import dkms, providers
    from irisxe_sriov.machine import aptsources, reader, roles, secureboot
    from irisxe_sriov.runtime import pvecluster


class Part(enum.Enum):
    """What can be read beyond what every command reads: the settings, the PCI functions,
    the boot path and every installed kernel's files (the defaults, the advice and the
    refusals turn on all of them, so every reader must see the same kernels)."""

    BOOT_FILES = "the files that carry the kernel parameters"
    MODINFO = "xe.ko's .modinfo wherever the verdict turns on it"
    PACKAGES = "dpkg's status of the driver package"
    APT = "apt's sources (for the backports commands)"
    SECURE_BOOT = "the Secure Boot state and the dkms key"
    RECORDS = "what apply recorded: local edits, pending refreshes"
    USAGE = "who uses the VFs: guests and processes"
    CLUSTER = "Proxmox VE's cluster mappings and this node's name"


class Depth(Closed):
    """How deep a command reads (PARTS says what each depth reads)."""

    STATUS = "status"
    DOCTOR = "doctor"
    KERNELS = "kernels"
    HOOK = "hook"  # the kernel postinst/postrm hook
    DEBCONF = "debconf"  # the config script: defaults and notes
    CHANGE = "change"  # config set, apply, vfs set/roles, attach
    RESTORE = "restore"  # vfs restore and the boot unit


PARTS: Mapping[Depth, frozenset[Part]] = MappingProxyType(
    {
        # status reads what doctor's verdicts on the same problems read (apt for the
        # backports commands), so that both give the same fixes
        Depth.STATUS: frozenset(
            {Part.BOOT_FILES, Part.APT, Part.RECORDS, Part.USAGE, Part.CLUSTER}
        ),
        Depth.DOCTOR: frozenset(
            {Part.BOOT_FILES, Part.PACKAGES, Part.APT, Part.SECURE_BOOT, Part.RECORDS}
        ),
        Depth.KERNELS: frozenset({Part.MODINFO}),
        Depth.HOOK: frozenset({Part.MODINFO}),
        Depth.DEBCONF: frozenset({Part.APT}),
        Depth.CHANGE: frozenset({Part.USAGE, Part.CLUSTER}),
        Depth.RESTORE: frozenset({Part.USAGE}),
    }
)


class SettingsFile(NamedTuple):
    """/etc/default/irisxe-sriov as found."""

    text: str | None  # None: there is no such file
    values: Mapping[str, str]  # setting name -> raw value, of its KEY="value" lines
    problems: tuple[str, ...]  # why the file cannot be used as it is (unreadable, bad lines)


class KernelFiles(NamedTuple):
    """What one installed kernel's files say about its SR-IOV providers."""

    release: str
    dkms: dkms.DkmsFiles
    xe: providers.XeFacts


class Snapshot(NamedTuple):
    """One root as one command saw it. Fields of parts this depth does not read are None."""

    depth: Depth
    settings_file: SettingsFile
    given: Mapping[str, str]  # values given with the command (config set, debconf answers)
    host: reader.HostState
    observed: roles.Observed
    boot: bootloader.Evidence
    next_boot: nextboot.NextBoot
    installed: tuple[str, ...]  # every installed kernel's release, oldest first
    kernels: Mapping[str, KernelFiles]  # every installed kernel's, by release
    hold_record: hold.Record | None = None  # our kernel hold, as recorded
    boot_defaults: hold.Defaults = hold.Defaults(None, None, MappingProxyType({}))
    boot_files: bootcheck.BootFiles | None = None
    packages: Mapping[str, str] | None = None  # installed version by package name
    apt: aptsources.AptSources | None = None
    secure_boot: secureboot.SecureBoot | None = None
    drift: tuple[tuple[str, str], ...] | None = None
    pending_refreshes: tuple[str, ...] | None = None
    usage: Usage | None = None
    cluster: Cluster | None = None

    @property
    def raw_settings(self) -> dict[str, str]:
        """The file's values with the given ones laid over them."""
        return {**self.settings_file.values, **self.given}

    def reads(self, part: Part) -> bool:
        return part in PARTS[self.depth]


class Cluster(NamedTuple):
    """This machine as a Proxmox VE node: its name (None where /etc/hostname has none)
    and the cluster's PCI mappings (None without /etc/pve/mapping/pci.cfg: no Proxmox VE,
    or no mapping made yet, and where it cannot be read: `problem` says why)."""

    node: str | None
    config: pvecluster.Config | None
    problem: str | None = None


class User(NamedTuple):
    pid: int
    name: str  # the guest's name when known, else the process's command (and container)

    def __str__(self) -> str:
        return self.name


class Usage(NamedTuple):
    """Who uses VFs, read once: open VFIO groups, running libvirt domains, and processes
    holding a VF's DRM nodes open."""

    vfio: Mapping[int, list[User]]
    libvirt: Mapping[str, list[str]]
    drm: Mapping[int, list[User]] = MappingProxyType({})

    def users_of(self, vf: reader.PciFunction) -> list[str]:
        """Who uses this VF: guests (open VFIO groups, libvirt's live domains) and
        processes holding its DRM nodes open (a container's render node)."""
        group = [] if vf.iommu_group is None else self.vfio.get(vf.iommu_group, [])
        names = [user.name for user in group]
        for name in self.libvirt.get(vf.address, []):
            if name not in names:
                names.append(name)
        for minor in vf.drm_minors:
            for user in self.drm.get(minor, []):
                if user.name not in names:
                    names.append(user.name)
        return names
