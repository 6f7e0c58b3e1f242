"""Read-only scan of a root into a frozen HostState.

Every attribute that is missing or unreadable becomes None ("unknown"), never an exception:
a half-populated sysfs (no driver bound, stock driver without SR-IOV, a container) is the
normal case this tool is run in.
"""

import os
import re
import stat
from collections.abc import Callable, Mapping
from pathlib import Path
from types import MappingProxyType
from typing import BinaryIO, NamedTuple

from irisxe_sriov import errors, pciids, pin, sched
from irisxe_sriov.machine import roles
from irisxe_sriov.paths import ETC, Paths

# Module parameters worth showing; reading every i915 parameter costs time for nothing.
INTERESTING_PARAMETERS = ("enable_guc", "max_vfs", "force_probe")
# A PCI function's address as sysfs spells it (domain:bus:slot.function, lowercase hex).
PCI_ADDRESS_RE = re.compile(r"[0-9a-f]{4}:[0-9a-f]{2}:[0-9a-f]{2}\.[0-7]")
WATCHED_MODULES = ("i915", "xe", "vfio_pci")


class PciFunction(NamedTuple):
    """A PF (number 0) or a VF (number N: VF N as people count them; virtfn0 is VF 1).

    NamedTuple rather than a dataclass: it is three times cheaper to create at import,
    and `status` start-up is measured (make bench).
    """

    address: str
    present: bool = False
    vendor: str | None = None
    device: str | None = None
    pci_class: str | None = None  # six hex digits, "030000" for a VGA controller
    driver: str | None = None
    driver_override: str | None = None
    iommu_group: int | None = None
    render_node: str | None = None
    number: int = 0
    drm_minors: tuple[int, ...] = ()  # its DRM nodes' minors (cardN: N, renderDN: N)
    # SR-IOV attributes of a PF; None for VFs and where unknown
    sriov_totalvfs: int | None = None
    sriov_numvfs: int | None = None
    sriov_drivers_autoprobe: bool | None = None

    @property
    def platform(self) -> str | None:
        return pciids.platform_of(self.vendor, self.device)


class KernelModule(NamedTuple):
    name: str
    loaded: bool
    version: str | None = None
    parameters: Mapping[str, str] = MappingProxyType({})


class HostState(NamedTuple):
    pf: PciFunction
    vfs: tuple[PciFunction, ...]
    modules: dict[str, KernelModule]
    cmdline: str | None
    kernel_release: str | None
    os_id: str | None
    os_version_id: str | None
    iommu: bool | None
    sysfs_conf_present: bool
    driverctl_present: bool
    scheduling: sched.Observed = sched.Observed()  # the PF's and its VFs' GPU time share

    @property
    def pf_on_dkms(self) -> bool:
        """The PF's driver is the pinned DKMS build (by the loaded module's version)."""
        module = self.modules.get(self.pf.driver or "")
        return module is not None and module.version == pin.MODULE_VERSION


# --- pure parsing -------------------------------------------------------------------------


def parse_hex_id(text: str | None) -> str | None:
    """'0xA7A0\\n' -> 'a7a0'."""
    if text is None:
        return None
    match = re.fullmatch(r"(?:0x)?([0-9a-fA-F]{4})", text.strip())
    return match.group(1).lower() if match else None


def parse_int(text: str | None) -> int | None:
    """ASCII digits only: int() would also take '٣' or 4000 digits (docs/notes.md,
    "Hostile input")."""
    if text is None:
        return None
    value = text.strip()
    return int(value) if re.fullmatch(r"-?[0-9]{1,9}", value) else None


def parse_count(text: str | None) -> int | None:
    """A count the kernel reports (sriov_totalvfs, sriov_numvfs): never negative; anything
    else is unknown."""
    value = parse_int(text)
    return value if value is None or value >= 0 else None


def parse_class(text: str | None) -> str | None:
    """'0x030000\\n' -> '030000'."""
    if text is None:
        return None
    match = re.fullmatch(r"(?:0x)?([0-9a-fA-F]{6})", text.strip())
    return match.group(1).lower() if match else None


def parse_override(text: str | None) -> str | None:
    """driver_override reads '(null)' when unset."""
    if text is None:
        return None
    value = text.strip()
    return None if value in ("", "(null)") else value


def parse_os_release(text: str) -> dict[str, str]:
    values: dict[str, str] = {}
    for line in text.splitlines():
        key, sep, value = line.partition("=")
        if sep and key.strip() and not key.startswith("#"):
            values[key.strip()] = value.strip().strip("\"'")
    return values


# --- reading ------------------------------------------------------------------------------


# Every read is bounded: a FIFO, /dev/zero or a 50 MB file in place of a small text file
# must give an error, not a hang or an exhausted memory (docs/notes.md, "Hostile input").
MAX_READ = 4 * 1024 * 1024


class UnreadableFile(errors.Failed):
    """A file that exists but is no text file we can use; `reason` says why. A state of the
    host, not bad input (exit 1): the message names the file as the person spells it, the
    host path under --root, not the path inside it."""

    def __init__(self, path: Path, reason: str) -> None:
        super().__init__(f"{path}: {reason}")
        self.path = path
        self.reason = reason

    def lines(self, shown: Callable[[str], str] | None = None) -> list[str]:
        where = shown(str(self.path)) if shown is not None else str(self.path)
        return [f"{where} {self.reason}"]


def open_regular(path: Path) -> BinaryIO:
    """A regular file opened for reading, nothing else: O_NONBLOCK, so that opening a FIFO
    does not wait for a writer; fstat then refuses it (and devices, directories) before
    anything is read. The one way this package opens a file to read it."""
    descriptor = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC)
    try:
        if not stat.S_ISREG(os.fstat(descriptor).st_mode):
            raise UnreadableFile(path, "is not a regular file")
        return os.fdopen(descriptor, "rb")
    except BaseException:
        os.close(descriptor)
        raise


def read_bytes(path: Path, limit: int = MAX_READ) -> bytes:
    """At most `limit` bytes of a regular file (open_regular); a larger one is refused."""
    with open_regular(path) as stream:
        descriptor = stream.fileno()
        chunks: list[bytes] = []
        size = 0
        while chunk := os.read(descriptor, min(1 << 16, limit + 1 - size)):
            chunks.append(chunk)
            size += len(chunk)
            if size > limit:
                raise UnreadableFile(path, f"is larger than {limit} bytes")
        return b"".join(chunks)


def read_text(path: Path, limit: int = MAX_READ) -> str | None:
    """Lenient: None for anything missing, unreadable, special or too large."""
    try:
        return read_bytes(path, limit).decode("utf-8", errors="replace")
    except (OSError, UnreadableFile):
        return None


def decode(path: Path, data: bytes) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise UnreadableFile(
            path, f"is not UTF-8 text (byte 0x{data[error.start]:02x} at offset {error.start})"
        ) from None


def read_optional(path: Path, limit: int = MAX_READ) -> str | None:
    """A file's text, None only when it does not exist: unlike read_text, an unreadable
    file is an error (UnreadableFile or OSError), so a plan never mistakes it for an absent
    one and overwrites it."""
    try:
        data = read_bytes(path, limit)
    except FileNotFoundError:
        return None
    return decode(path, data)


def link_name(path: Path) -> str | None:
    """Last component of a symlink's target (driver, iommu_group), None if absent."""
    try:
        return path.readlink().name
    except OSError:
        return None


DRM_NODE_RE = re.compile(r"(?:card|renderD)([0-9]{1,4})")


def drm_nodes(device_dir: Path) -> list[str]:
    """The names of the device's DRM nodes (card1, renderD129), from its drm directory."""
    try:
        return sorted(entry.name for entry in (device_dir / "drm").iterdir())
    except OSError:
        return []


def render_node(device_dir: Path) -> str | None:
    nodes = [name for name in drm_nodes(device_dir) if name.startswith("renderD")]
    return nodes[0] if nodes else None


def drm_minor(name: str) -> int | None:
    """The minor of a DRM node by its name: the kernel names cardN and renderDN after
    their minor (drivers/gpu/drm/drm_drv.c, drm_minor_alloc)."""
    match = DRM_NODE_RE.fullmatch(name)
    return int(match.group(1)) if match else None


def read_function(device_dir: Path, address: str, number: int) -> PciFunction:
    nodes = drm_nodes(device_dir)
    renders = [name for name in nodes if name.startswith("renderD")]
    minors = tuple(m for m in (drm_minor(name) for name in nodes) if m is not None)
    return PciFunction(
        address=address,
        present=device_dir.exists(),
        vendor=parse_hex_id(read_text(device_dir / "vendor")),
        device=parse_hex_id(read_text(device_dir / "device")),
        pci_class=parse_class(read_text(device_dir / "class")),
        driver=link_name(device_dir / "driver"),
        driver_override=parse_override(read_text(device_dir / "driver_override")),
        iommu_group=parse_int(link_name(device_dir / "iommu_group")),
        render_node=renders[0] if renders else None,
        number=number,
        drm_minors=minors,
    )


def read_pf(paths: Paths, address: str) -> PciFunction:
    device_dir = paths.pci_device(address)
    if not device_dir.exists():
        return PciFunction(address=address)
    autoprobe = parse_int(read_text(device_dir / "sriov_drivers_autoprobe"))
    return read_function(device_dir, address, 0)._replace(
        sriov_totalvfs=parse_count(read_text(device_dir / "sriov_totalvfs")),
        sriov_numvfs=parse_count(read_text(device_dir / "sriov_numvfs")),
        sriov_drivers_autoprobe=None if autoprobe is None else autoprobe == 1,
    )


def read_vfs(paths: Paths, pf_address: str) -> tuple[PciFunction, ...]:
    """The VFs that exist: from the PF's virtfnN links, whose targets give the addresses.

    A link that names no PCI device (its target gone, as while the kernel removes VFs, or
    no PCI address at all) is no VF. Listed, it would read as a VF without a driver:
    status would report it present, attach would offer it, and restore would write its
    driver_override under a path that is no device."""
    device_dir = paths.pci_device(pf_address)
    try:
        links = [entry for entry in device_dir.iterdir() if entry.name.startswith("virtfn")]
    except OSError:
        return ()
    vfs = []
    for link in links:
        number = parse_int(link.name.removeprefix("virtfn"))
        address = link_name(link) or ""
        if number is None or number < 0 or not PCI_ADDRESS_RE.fullmatch(address):
            continue
        vf = read_function(paths.pci_device(address), address, number + 1)
        if vf.present:
            vfs.append(vf)
    return tuple(sorted(vfs, key=lambda vf: vf.number))


GT_RE = re.compile(r"gt[0-9]{1,2}")


def read_scheduling(paths: Paths, pf: PciFunction) -> sched.Observed:
    """The PF's scheduling interface and the values of the PF and of each VF that exists
    (docs/notes.md, "Per-VF scheduling"): the kernel's xe's sriov_admin/, else the DKMS
    i915's prelim_iov/ under the PF's DRM card. Nothing where neither exists."""
    device_dir = paths.pci_device(pf.address)
    numbers = range((pf.sriov_numvfs or 0) + 1)
    admin = device_dir / sched.Interface.SRIOV_ADMIN
    if admin.is_dir():
        functions = []
        for number in numbers:
            profile = admin / sched.directory_name(number) / "profile"
            functions.append(
                sched.FunctionTiming(
                    number,
                    parse_u32(read_text(profile / "exec_quantum_ms", 64)),
                    parse_u32(read_text(profile / "preempt_timeout_us", 64)),
                    sched.parse_priority(read_text(profile / "sched_priority", 64)),
                )
            )
        return sched.Observed(sched.Interface.SRIOV_ADMIN, admin.name, (), None, tuple(functions))
    for card in (name for name in drm_nodes(device_dir) if name.startswith("card")):
        base = device_dir / "drm" / card / sched.Interface.PRELIM_IOV
        try:
            gts = tuple(sorted(e.name for e in (base / "pf").iterdir() if GT_RE.fullmatch(e.name)))
        except OSError:
            continue
        auto = parse_int(read_text(base / "pf" / "auto_provisioning", 64))
        functions = []
        for number in numbers:
            function = base / sched.directory_name(number)
            values = [
                {parse_u32(read_text(function / gt / attribute, 64)) for gt in gts}
                for attribute in sched.ATTRIBUTES
            ]
            # one value where every GT agrees; None where they differ (or none is read)
            quantum, timeout = (found.pop() if len(found) == 1 else None for found in values)
            functions.append(sched.FunctionTiming(number, quantum, timeout))
        return sched.Observed(
            sched.Interface.PRELIM_IOV,
            f"drm/{card}/{base.name}",
            gts,
            None if auto is None else auto == 1,
            tuple(functions),
        )
    return sched.Observed()


def parse_u32(text: str | None) -> int | None:
    """A u32 as sysfs prints it (%u): up to 4294967295."""
    value = None if text is None else text.strip()
    if value is None or not re.fullmatch(r"[0-9]{1,10}", value) or int(value) > 0xFFFFFFFF:
        return None
    return int(value)


def read_module(paths: Paths, name: str) -> KernelModule:
    module_dir = paths.module(name)
    if not module_dir.is_dir():
        return KernelModule(name=name, loaded=False)
    parameters = {}
    for parameter in INTERESTING_PARAMETERS:
        value = read_text(module_dir / "parameters" / parameter)
        if value is not None:
            parameters[parameter] = value.strip()
    version = read_text(module_dir / "version")
    return KernelModule(
        name=name,
        loaded=True,
        version=None if version is None else version.strip(),
        parameters=parameters,
    )


def read_iommu(paths: Paths) -> bool | None:
    """True when the kernel registered an IOMMU (dmar0 ...), None when sysfs is absent."""
    try:
        return any(paths.iommu_class.iterdir())
    except FileNotFoundError:
        return False if paths.sys_class.is_dir() else None
    except OSError:
        return None


def scan(paths: Paths, pf_address: str) -> HostState:
    os_release: dict[str, str] = {}
    for candidate in paths.os_release:
        text = read_text(candidate)
        if text is not None:
            os_release = parse_os_release(text)
            break
    cmdline = read_text(paths.proc_cmdline)
    release = read_text(paths.kernel_release)
    pf = read_pf(paths, pf_address)
    return HostState(
        pf=pf,
        vfs=read_vfs(paths, pf_address),
        modules={name: read_module(paths, name) for name in WATCHED_MODULES},
        cmdline=None if cmdline is None else cmdline.strip(),
        kernel_release=None if release is None else release.strip(),
        os_id=os_release.get("ID"),
        os_version_id=os_release.get("VERSION_ID"),
        iommu=read_iommu(paths),
        sysfs_conf_present=paths.sysfs_conf.exists(),
        driverctl_present=paths.driverctl_bin.exists(),
        scheduling=read_scheduling(paths, pf) if pf.present else sched.Observed(),
    )


# --- what apply recorded, for status and doctor -------------------------------------------


def pending_refreshes(paths: Paths) -> list[str]:
    """Boot refresh commands (update-grub, ...) that failed or were cut off; the next
    apply runs them. One shell-quoted command each."""
    import shlex

    from irisxe_sriov.write import plan

    return [shlex.join(c) for c in plan.parse_known(read_text(paths.pending_refresh))]


def drift(paths: Paths) -> list[tuple[str, str]]:
    """(path, "edited" | "removed") for every generated file an admin changed since apply
    wrote it; apply keeps such edits (the new version is FILE.ucf-dist beside it)."""
    from irisxe_sriov.write import plan

    names = [n for n in plan.parse_manifest(read_text(paths.manifest)) if n.startswith(ETC)]
    written = {name: read_text(paths.written_copy(name)) for name in names}
    on_disk = {name: read_text(paths.at(name)) for name in names}
    return [(found.path, found.state) for found in plan.drift(on_disk, written)]


# --- what the machine is to the GPU (roles.decide judges it) -----------------------------

HYPERVISOR_VENDORS = ("QEMU", "innotek GmbH", "VMware, Inc.", "Xen", "Microsoft Corporation")


def virtual_machine(paths: Paths) -> str | None:
    """How a virtual machine shows itself: DMI's vendor or product (KVM, QEMU, ...) or
    the hypervisor CPU flag. systemd-detect-virt reads the same sources."""
    dmi = paths.dmi
    for name in ("sys_vendor", "product_name"):
        value = (read_text(dmi / name, 4096) or "").strip()
        if value in HYPERVISOR_VENDORS or value == "KVM" or value.startswith("Standard PC ("):
            return f"DMI {name} {value!r}"
    cpuinfo = read_text(paths.cpuinfo, 1 << 20) or ""
    for line in cpuinfo.splitlines():
        if line.startswith("flags") and " hypervisor" in f" {line.partition(':')[2]} ":
            return "the hypervisor CPU flag"
    return None


def pci_entries(paths: Paths) -> list[Path]:
    try:
        return sorted(paths.pci_devices.iterdir())
    except OSError:
        return []


def gpu_functions(paths: Paths, entries: list[Path] | None = None) -> tuple[roles.GpuFunction, ...]:
    """Every supported Intel GPU function on the PCI buses."""
    entries = pci_entries(paths) if entries is None else entries
    found = []
    for link in entries:
        entry = paths.pci_device(link.name)  # absolute links resolve in the root
        vendor = parse_hex_id(read_text(entry / "vendor", 64))
        device = parse_hex_id(read_text(entry / "device", 64))
        if pciids.platform_of(vendor, device) is None or device is None:
            continue
        found.append(
            roles.GpuFunction(
                address=link.name,
                device=device,
                driver=link_name(entry / "driver"),
                render_node=render_node(entry),
                sriov=(entry / "sriov_totalvfs").exists(),
                is_vf=(entry / "physfn").exists(),
            )
        )
    return tuple(found)


def read_observed(paths: Paths, pf: PciFunction) -> roles.Observed:
    pf_dir: Path = paths.pci_device(pf.address)
    entries = pci_entries(paths)
    return roles.Observed(
        pf=pf,
        pf_sriov=pf.present and (pf_dir / "sriov_totalvfs").exists(),
        gpus=gpu_functions(paths, entries),
        virtual=virtual_machine(paths),
        pci_devices=len(entries),
    )
