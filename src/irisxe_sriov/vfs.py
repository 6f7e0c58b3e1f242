"""Runtime VF work: create the configured VFs and bind each one per its role.

With apply.py, the only module that changes the system (modinfo.py keeps no more than a
cache); this one writes sysfs. `restore`
is idempotent and safe to run at any time: at boot (the unit), when the PF driver binds
late (the udev rule; docs/notes.md, "VFs at boot and their bindings"), and after `vfs set`.
"""

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

from irisxe_sriov import errors, host
from irisxe_sriov.attach import libvirt_addresses
from irisxe_sriov.choices import Role
from irisxe_sriov.paths import Paths
from irisxe_sriov.roles import Detected
from irisxe_sriov.settings import VFIO_DRIVER, Settings

if TYPE_CHECKING:  # status imports this module for in_use(); it must not pay for subprocess
    from irisxe_sriov.process import Runner

# driver_override of a VF that must stay unbound: no driver has this name, so nothing binds
# it, not even vfio-pci after driverctl wrote the VFs' id into its new_id (docs/notes.md, "VFs at
# boot and their bindings");
# libvirt (managed="yes") and Incus write their own override when they take the VF.
UNBOUND = "none"

Log = Callable[[str], None]


class VfsError(errors.Failed):
    """A runtime VF change that cannot be made (the message says why and what to do): a
    state of the host or a failed sysfs write, exit 1."""


class User(NamedTuple):
    pid: int
    name: str  # the guest's name when known, else the process's command


# --- who uses a VF ------------------------------------------------------------------------


def qemu_name(cmdline: list[str]) -> str | None:
    """The guest name of a QEMU command line (-name guest=NAME,... or -name NAME)."""
    for position, argument in enumerate(cmdline[:-1]):
        if argument == "-name":
            value = cmdline[position + 1]
            for part in value.split(","):
                if part.startswith("guest="):
                    return part.removeprefix("guest=")
            return value.split(",")[0]
    return None


def vfio_users(paths: Paths) -> dict[int, list[User]]:
    """IOMMU group -> processes holding /dev/vfio/<group> open: the guests using VFs.
    One pass over /proc, and none at all when no VFIO group device exists."""
    if not any(paths.at("/dev/vfio").glob("[0-9]*")):
        return {}
    users: dict[int, list[User]] = {}
    for process in sorted(paths.at("/proc").glob("[0-9]*"), key=lambda p: int(p.name)):
        try:
            targets = {str(fd.readlink()) for fd in (process / "fd").iterdir()}
        except OSError:
            continue
        groups = [
            int(t.rsplit("/", 1)[1])
            for t in targets
            if t.startswith("/dev/vfio/") and t.rsplit("/", 1)[1].isdigit()
        ]
        if groups:
            raw = host.read_text(process / "cmdline") or ""
            argv = [a for a in raw.split("\0") if a]
            user = User(int(process.name), qemu_name(argv) or " ".join(argv[:1]) or "?")
            for group in groups:
                users.setdefault(group, []).append(user)
    return users


def libvirt_users(paths: Paths) -> dict[str, list[str]]:
    """PCI address -> running libvirt domains whose live XML names it (one read each)."""
    users: dict[str, list[str]] = {}
    for status in sorted(paths.at("/run/libvirt/qemu").glob("*.xml")):
        for address in libvirt_addresses(host.read_text(status) or ""):
            users.setdefault(address, []).append(status.stem)
    return users


class Usage(NamedTuple):
    """Who uses VFs, read once: open VFIO groups and running libvirt domains."""

    vfio: dict[int, list[User]]
    libvirt: dict[str, list[str]]


def usage(paths: Paths) -> Usage:
    return Usage(vfio_users(paths), libvirt_users(paths))


def in_use(paths: Paths, vf: host.PciFunction, known: Usage | None = None) -> list[str]:
    """Who uses this VF: guest names from open VFIO groups and libvirt's live domains."""
    known = usage(paths) if known is None else known
    group = [] if vf.iommu_group is None else known.vfio.get(vf.iommu_group, [])
    names = [user.name for user in group]
    for name in known.libvirt.get(vf.address, []):
        if name not in names:
            names.append(name)
    return names


# --- sysfs writes -------------------------------------------------------------------------


class Sysfs:
    """Writes sysfs attributes under the root, logging each action (one line each, for the
    journal when run from the unit)."""

    def __init__(self, paths: Paths, log: Log) -> None:
        self.paths = paths
        self.log = log

    def write(self, path: Path, value: str, what: str) -> None:
        self.log(what)
        try:
            # "driver/unbind" passes through the device's driver link: resolved in the root
            # too, or an absolute link would write to the host's sysfs (issue 11, item 6).
            self.paths.inside(path).write_text(value + "\n")
        except OSError as error:
            raise VfsError(f"{what} failed: {error.strerror or error} ({path})") from error

    def device(self, address: str) -> Path:
        return self.paths.pci_device(address)

    def override(self, vf: host.PciFunction, driver: str | None) -> None:
        """Say which driver may take `vf` (None: none may)."""
        override = driver or UNBOUND
        if vf.driver_override != override:
            self.write(
                self.device(vf.address) / "driver_override",
                override,
                f"VF {vf.number} ({vf.address}): driver_override {override}",
            )

    def rebind(self, vf: host.PciFunction, driver: str | None) -> None:
        """Move `vf` to `driver` (None: leave it unbound); its override is already set."""
        directory = self.device(vf.address)
        if vf.driver is not None and vf.driver != driver:
            self.write(
                directory / "driver" / "unbind",
                vf.address,
                f"VF {vf.number} ({vf.address}): unbind from {vf.driver}",
            )
        if driver is not None and vf.driver != driver:
            self.write(
                self.paths.at("/sys/bus/pci/drivers_probe"),
                vf.address,
                f"VF {vf.number} ({vf.address}): bind to {driver}",
            )


def restore(
    paths: Paths,
    settings: Settings,
    runner: "Runner",
    log: Log,
    force: bool = False,
    machine: Detected | None = None,
) -> None:
    """Make the running VFs what the settings say. Idempotent. Only on a host, and only
    for a PF that is a supported Intel GPU (`machine`, roles.decide; None: judged from
    the scan): the boot unit runs this on every machine the package is installed on."""
    state = host.scan(paths, settings.pf)
    pf = state.pf
    if machine is not None and machine.role != Role.HOST:
        log(f"this machine is a {machine.role} ({machine.reason}): no VFs to make")
        return
    if not pf.present:
        log(f"no PCI device at {settings.pf}: nothing to restore")
        return
    if pf.platform is None:
        raise VfsError(
            f"{settings.pf} ({pf.vendor or '?'}:{pf.device or '?'}) is not a supported Intel "
            "GPU: its VFs are not ours to make or bind"
        )
    if pf.driver is None:
        log(f"{settings.pf} has no driver yet: the udev rule runs this again when it binds")
        return
    if pf.sriov_totalvfs is None:
        raise VfsError(
            f"{settings.pf} ({pf.driver}) offers no SR-IOV: is the pinned driver loaded?"
        )
    sysfs = Sysfs(paths, log)
    directory = sysfs.device(pf.address)
    # The PF keeps its driver even if vfio-pci learns the VFs' id (it is the PF's too).
    if pf.driver_override != pf.driver:
        sysfs.write(
            directory / "driver_override",
            pf.driver,
            f"PF {pf.address}: driver_override {pf.driver}",
        )
    autoprobe = all(role == "host" for _, role in settings.roles())
    if pf.sriov_drivers_autoprobe != autoprobe:
        sysfs.write(
            directory / "sriov_drivers_autoprobe",
            str(int(autoprobe)),
            f"PF {pf.address}: sriov_drivers_autoprobe {int(autoprobe)}",
        )
    if pf.sriov_numvfs != settings.num_vfs:
        if settings.num_vfs > pf.sriov_totalvfs:
            raise VfsError(
                f"num_vfs {settings.num_vfs} is above sriov_totalvfs "
                f"{pf.sriov_totalvfs} of {pf.address}: allowed 0-{pf.sriov_totalvfs}"
            )
        if pf.sriov_numvfs:
            refuse_if_in_use(paths, state.vfs, force, f"change the VF count to {settings.num_vfs}")
            sysfs.write(directory / "sriov_numvfs", "0", f"PF {pf.address}: remove the VFs")
        if settings.num_vfs:
            sysfs.write(
                directory / "sriov_numvfs",
                str(settings.num_vfs),
                f"PF {pf.address}: create {settings.num_vfs} VFs",
            )
        state = host.scan(paths, settings.pf)
    bind_all(paths, settings, state, sysfs, runner, log, force)


def bind_all(
    paths: Paths,
    settings: Settings,
    state: host.HostState,
    sysfs: Sysfs,
    runner: "Runner",
    log: Log,
    force: bool,
) -> None:
    vfs = {vf.number: vf for vf in state.vfs}
    wanted = {
        n: settings.expected_driver(n, state.pf.driver) for n in range(1, settings.num_vfs + 1)
    }
    if VFIO_DRIVER in wanted.values() and not paths.at("/sys/bus/pci/drivers/vfio-pci").is_dir():
        runner.run(["modprobe", VFIO_DRIVER])
    present = [(vfs[n], driver) for n, driver in wanted.items() if n in vfs]
    for number in sorted(set(wanted) - set(vfs)):
        log(f"VF {number} is missing after creating VFs")
    moving = [vf for vf, driver in present if vf.driver is not None and vf.driver != driver]
    refuse_if_in_use(paths, moving, force, "rebind it")
    # Overrides first, for every VF, before anything probes (see UNBOUND).
    for vf, driver in present:
        sysfs.override(vf, driver)
    for vf, driver in present:
        sysfs.rebind(vf, driver)
    log(f"VFs as configured: {settings.num_vfs} on {state.pf.address}")


def refuse_if_in_use(
    paths: Paths,
    vfs: tuple[host.PciFunction, ...] | list[host.PciFunction],
    force: bool,
    action: str,
) -> None:
    if force or not vfs:
        return
    known = usage(paths)
    for vf in vfs:
        users = in_use(paths, vf, known)
        if users:
            raise VfsError(
                f"VF {vf.number} ({vf.address}) is in use by {', '.join(users)}: "
                f"will not {action}; stop the guest first, or use --force"
            )
