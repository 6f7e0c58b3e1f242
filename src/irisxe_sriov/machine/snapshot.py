"""Gather once: everything a command needs to know about a root, read in one pass into
frozen data (design.md, "Gather once, judge once").

Each command reads at the depth it declares (`Depth`): `status` the running and the next
kernel, `kernels` every kernel and its xe.ko, `doctor` what its checks need. Every read
is bounded and goes through reader.py (no FIFO, device or giant file hangs a command),
and nothing here judges: judgement.py does, from this data alone, so that every command's
verdicts come from the same facts and tests can build a Snapshot without a fake root.
"""

import enum
from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import NamedTuple

from irisxe_sriov import pin, settings
from irisxe_sriov.boot import bootcheck, bootloader, nextboot
from irisxe_sriov.choices import BootPath, Closed
from irisxe_sriov.kernels import dkms, hold, providers
from irisxe_sriov.machine import aptsources, packages, reader, roles, secureboot
from irisxe_sriov.paths import Paths
from irisxe_sriov.runtime import pvecluster
from irisxe_sriov.runtime.vfs import Usage, usage


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
    cluster: "Cluster | None" = None

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


def read_cluster(paths: Paths) -> Cluster:
    """/etc/pve/mapping/pci.cfg (pmxcfs: the same on every node) and the node's name, the
    host name up to its first dot (PVE::INotify::nodename)."""
    words = (reader.read_text(paths.at("/etc/hostname"), 256) or "").split()
    node = words[0].split(".")[0] if words else None
    try:
        text = reader.read_optional(paths.at(pvecluster.CONFIG), 1 << 20)
    except reader.UnreadableFile as error:  # never mistaken for no mappings
        return Cluster(node, None, f"{paths.display(error.path)} {error.reason}")
    except OSError as error:
        shown = paths.display(paths.at(pvecluster.CONFIG))
        return Cluster(node, None, f"{shown}: {error.strerror or error}")
    return Cluster(node, None if text is None else pvecluster.parse(text))


def read_settings_file(paths: Paths) -> SettingsFile:
    source = paths.display(paths.settings)
    try:
        text = reader.read_optional(paths.settings, settings.MAX_FILE_SIZE)
    except reader.UnreadableFile as error:
        return SettingsFile(None, {}, (f"{source} {error.reason}",))
    except OSError as error:
        return SettingsFile(None, {}, (f"{source}: {error.strerror or error}",))
    if text is None:
        return SettingsFile(None, {}, ())
    try:
        return SettingsFile(text, settings.parse_lines(text, source), ())
    except settings.SettingsError as error:
        return SettingsFile(text, {}, tuple(error.problems))


def configured_boot_path(raw: Mapping[str, str]) -> BootPath:
    return BootPath.of(raw.get("bootloader", BootPath.AUTO)) or BootPath.AUTO


def gather(
    paths: Paths,
    depth: Depth,
    given: Mapping[str, str] | None = None,
    bootctl: Callable[[], int | None] | None = None,
) -> Snapshot:
    """Read what `depth` needs of the root, once. `given`: setting values of the command
    line (or debconf's answers) laid over the file; `bootctl` as bootloader.read_evidence."""
    parts = PARTS[depth]
    file = read_settings_file(paths)
    raw = {**file.values, **(given or {})}
    pf_address = raw.get("pf", settings.DEFAULT_PF)
    # a malformed PF address is the settings' problem; the default is scanned meanwhile
    if not settings.PF_RE.fullmatch(pf_address):
        pf_address = settings.DEFAULT_PF
    state = reader.scan(paths, pf_address)
    evidence = bootloader.read_evidence(paths, bootctl)
    boot_path = bootloader.resolve_with(configured_boot_path(raw), evidence).name
    upcoming = nextboot.read(paths, boot_path)
    installed = tuple(dkms.installed_kernels(paths))
    make_log = dkms.read_make_log(paths) if installed else ""
    kernels = {
        release: KernelFiles(
            release,
            dkms.read_dkms(paths, release, make_log),
            providers.read_xe_facts(paths, release, thorough=Part.MODINFO in parts),
        )
        for release in installed
    }
    record = hold.parse_record(reader.read_text(paths.kernel_hold, 4096))
    snapshot = Snapshot(
        depth=depth,
        settings_file=file,
        given=MappingProxyType(dict(given or {})),
        host=state,
        observed=roles.read(paths, state.pf),
        boot=evidence,
        next_boot=upcoming,
        installed=installed,
        kernels=MappingProxyType(kernels),
        hold_record=record,
        boot_defaults=hold.read_defaults(paths, boot_path, record),
    )
    if Part.BOOT_FILES in parts:
        snapshot = snapshot._replace(boot_files=bootcheck.read(paths, boot_path))
    if Part.PACKAGES in parts:
        version = packages.installed_version(paths, pin.DRIVER_PACKAGE)
        found = {} if version is None else {pin.DRIVER_PACKAGE: version}
        snapshot = snapshot._replace(packages=MappingProxyType(found))
    if Part.APT in parts:
        snapshot = snapshot._replace(apt=aptsources.read(paths))
    if Part.SECURE_BOOT in parts:
        snapshot = snapshot._replace(secure_boot=secureboot.read(paths))
    if Part.RECORDS in parts:
        snapshot = snapshot._replace(
            drift=tuple(reader.drift(paths)),
            pending_refreshes=tuple(reader.pending_refreshes(paths)),
        )
    if Part.USAGE in parts:
        snapshot = snapshot._replace(usage=usage(paths, state.vfs))
    if Part.CLUSTER in parts:
        snapshot = snapshot._replace(cluster=read_cluster(paths))
    return snapshot
