"""Gather once: read what a command's depth needs of a root into one Snapshot (its types:
snapshot.py), through the readers of this package.
"""

from collections.abc import Callable, Mapping
from types import MappingProxyType

from irisxe_sriov import pin, settings
from irisxe_sriov.boot import bootloader
from irisxe_sriov.choices import BootPath
from irisxe_sriov.kernels import hold
from irisxe_sriov.machine import aptdpkg, bootfiles, kernelfiles, reader, users
from irisxe_sriov.machine.snapshot import (
    PARTS,
    Cluster,
    Depth,
    KernelFiles,
    Part,
    SettingsFile,
    Snapshot,
)
from irisxe_sriov.paths import PVE_PCI_MAPPINGS, Paths
from irisxe_sriov.runtime import pvecluster


def read_cluster(paths: Paths) -> Cluster:
    """/etc/pve/mapping/pci.cfg (pmxcfs: the same on every node) and the node's name, the
    host name up to its first dot (PVE::INotify::nodename)."""
    words = (reader.read_text(paths.hostname, 256) or "").split()
    node = words[0].split(".")[0] if words else None
    try:
        text = reader.read_optional(paths.at(PVE_PCI_MAPPINGS), 1 << 20)
    except reader.UnreadableFile as error:  # never mistaken for no mappings
        return Cluster(node, None, f"{paths.display(error.path)} {error.reason}")
    except OSError as error:
        shown = paths.display(paths.at(PVE_PCI_MAPPINGS))
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
    line (or debconf's answers) laid over the file; `bootctl` as bootfiles.read_evidence."""
    parts = PARTS[depth]
    file = read_settings_file(paths)
    raw = {**file.values, **(given or {})}
    pf_address = raw.get("pf", settings.DEFAULT_PF)
    # a malformed PF address is the settings' problem; the default is scanned meanwhile
    if not settings.PF_RE.fullmatch(pf_address):
        pf_address = settings.DEFAULT_PF
    state = reader.scan(paths, pf_address)
    evidence = bootfiles.read_evidence(paths, bootctl)
    boot_path = bootloader.resolve_with(configured_boot_path(raw), evidence).name
    upcoming = bootfiles.read_next_boot(paths, boot_path)
    installed = tuple(kernelfiles.installed_kernels(paths))
    make_log = kernelfiles.read_make_log(paths) if installed else ""
    kernels = {
        release: KernelFiles(
            release,
            kernelfiles.read_dkms(paths, release, make_log),
            kernelfiles.read_xe_facts(paths, release, thorough=Part.MODINFO in parts),
        )
        for release in installed
    }
    record = hold.parse_record(reader.read_text(paths.kernel_hold, 4096))
    snapshot = Snapshot(
        depth=depth,
        settings_file=file,
        given=MappingProxyType(dict(given or {})),
        host=state,
        observed=reader.read_observed(paths, state.pf),
        boot=evidence,
        next_boot=upcoming,
        installed=installed,
        kernels=MappingProxyType(kernels),
        hold_record=record,
        boot_defaults=bootfiles.read_defaults(paths, boot_path, record),
    )
    if Part.BOOT_FILES in parts:
        snapshot = snapshot._replace(boot_files=bootfiles.read_boot_files(paths, boot_path))
    if Part.PACKAGES in parts:
        version = aptdpkg.installed_version(paths, pin.DRIVER_PACKAGE)
        found = {} if version is None else {pin.DRIVER_PACKAGE: version}
        snapshot = snapshot._replace(packages=MappingProxyType(found))
    if Part.APT in parts:
        snapshot = snapshot._replace(apt=aptdpkg.read_apt_sources(paths))
    if Part.SECURE_BOOT in parts:
        snapshot = snapshot._replace(secure_boot=bootfiles.read_secure_boot(paths))
    if Part.RECORDS in parts:
        snapshot = snapshot._replace(
            drift=tuple(reader.drift(paths)),
            pending_refreshes=tuple(reader.pending_refreshes(paths)),
        )
    if Part.USAGE in parts:
        snapshot = snapshot._replace(usage=users.read_usage(paths, state.vfs))
    if Part.CLUSTER in parts:
        snapshot = snapshot._replace(cluster=read_cluster(paths))
    return snapshot
