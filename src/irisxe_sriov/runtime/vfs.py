"""Runtime VF work: create the configured VFs and bind each one per its role, never
touching a VF someone uses (the Snapshot's Usage: guests, and processes holding its DRM
nodes open; machine/users.py reads it).

This module writes sysfs; apply.py writes files (attach runs virsh and qm,
machine/modinfo.py keeps a cache). `restore` is idempotent and safe to run at any time:
at boot (the unit), when the PF driver binds late (the udev rule; docs/notes.md, "VFs at
boot and their bindings"), and after `vfs set`.
"""

import errno
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from irisxe_sriov import errors, sched
from irisxe_sriov.choices import Role
from irisxe_sriov.machine import reader
from irisxe_sriov.machine.snapshot import Usage
from irisxe_sriov.paths import Paths
from irisxe_sriov.report.differences import capped_count
from irisxe_sriov.settings import VFIO_DRIVER, Settings

if TYPE_CHECKING:  # types only: the Runner is handed in, the verdicts are the caller's
    from irisxe_sriov.process import Runner
    from irisxe_sriov.report.judgement import Verdicts

# driver_override of a VF that must stay unbound: no driver has this name, so nothing binds
# it, not even vfio-pci after driverctl wrote the VFs' id into its new_id (docs/notes.md, "VFs at
# boot and their bindings");
# libvirt (managed="yes") and Incus write their own override when they take the VF.
UNBOUND = "none"

Log = Callable[[str], None]


class VfsError(errors.Failed):
    """A runtime VF change that cannot be made (the message says why and what to do): a
    state of the host or a failed sysfs write, exit 1."""


class WriteFailed(VfsError):
    """A sysfs write the kernel refused; `errno` says how (EINVAL, ERANGE, ESTALE ...)."""

    def __init__(self, message: str, number: int | None) -> None:
        super().__init__(message)
        self.errno = number


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
            self.store(path, value)
        except OSError as error:
            name = errno.errorcode.get(error.errno or 0)
            why = f"{error.strerror or error}" + (f" ({name})" if name else "")
            raise WriteFailed(f"{what} failed: {why} ({path})", error.errno) from error

    def store(self, path: Path, value: str) -> None:
        """The write itself: the kernel's side (tests hand in a double of it)."""
        # "driver/unbind" passes through the device's driver link: resolved in the root
        # too, or an absolute link would write to the host's sysfs (docs/notes.md, "Hostile
        # input").
        self.paths.inside(path).write_text(value + "\n")

    def device(self, address: str) -> Path:
        return self.paths.pci_device(address)

    def override(self, vf: reader.PciFunction, driver: str | None) -> None:
        """Say which driver may take `vf` (None: none may)."""
        override = driver or UNBOUND
        if vf.driver_override != override:
            self.write(
                self.device(vf.address) / "driver_override",
                override,
                f"VF {vf.number} ({vf.address}): driver_override {override}",
            )

    def rebind(self, vf: reader.PciFunction, driver: str | None) -> None:
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
                self.paths.pci_drivers_probe,
                vf.address,
                f"VF {vf.number} ({vf.address}): bind to {driver}",
            )


def wait_for_driver(paths: Paths, address: str, seconds: float, log: Log) -> bool:
    """At boot: poll until a driver binds the PF, at most `seconds`; whether one did.
    The guest managers are ordered after the boot unit (conf/systemd), so VMs that
    autostart find their VFs (docs/notes.md, "VFs at boot and their bindings")."""
    deadline = time.monotonic() + seconds
    log(f"{address} has no driver yet: waiting up to {seconds:g} s for it to bind")
    while time.monotonic() < deadline:
        if reader.link_name(paths.pci_device(address) / "driver") is not None:
            return True
        time.sleep(WAIT_STEP)
    return reader.link_name(paths.pci_device(address) / "driver") is not None


WAIT_STEP = 0.2  # seconds between two looks at the PF's driver link


def restore(
    paths: Paths,
    verdicts: "Verdicts",
    runner: "Runner",
    log: Log,
    force: bool = False,
    sysfs: Sysfs | None = None,
) -> None:
    """Make the running VFs what the settings say. Idempotent. Only on a host, and only
    for a PF that is a supported Intel GPU (judgement's machine): the boot unit runs this
    on every machine the package is installed on. Fails (VfsError, exit 1) when the
    running kernel cannot make VFs, and names each VF that was not made. `sysfs`: the
    writer (tests hand in one that plays the kernel's part on a fake root)."""
    current = verdicts.settings
    machine = verdicts.machine
    pf = verdicts.host.pf
    if machine.role != Role.HOST:
        log(f"this machine is a {machine.role} ({machine.reason}): no VFs to make")
        return
    if not pf.present:
        log(f"no PCI device at {current.pf}: nothing to restore")
        return
    if pf.platform is None:
        raise VfsError(
            f"{current.pf} ({pf.vendor or '?'}:{pf.device or '?'}) is not a supported Intel "
            "GPU: its VFs are not ours to make or bind"
        )
    if pf.driver is None:
        log(f"{current.pf} has no driver yet: the udev rule runs this again when it binds")
        return
    running = verdicts.running
    if running.makes_vfs is False:
        problem = verdicts.problem("provider")
        why = problem.what if problem else f"{pf.driver} on {running.release} makes no VFs"
        fix = problem.fix if problem and problem.fix else None
        raise VfsError(f"no VF can be made: {why}" + (f"; fix: {fix}" if fix else ""))
    if pf.sriov_totalvfs is None:
        raise VfsError(f"{current.pf} ({pf.driver}) offers no SR-IOV: is the pinned driver loaded?")
    wanted = capped_count(current, pf.sriov_totalvfs)
    if wanted < current.num_vfs:
        log(
            f"num_vfs {current.num_vfs} is above the {pf.sriov_totalvfs} VFs {pf.address} "
            f"offers: making {wanted}"
        )
    if current.num_vfs and pf.sriov_totalvfs == 0:
        raise VfsError(
            f"{pf.address} offers 0 VFs (sriov_totalvfs): {pf.driver}.max_vfs did not apply; "
            "run 'irisxe-sriov-ctl apply', then reboot"
        )
    known = verdicts.snapshot.usage or Usage({}, {})
    sysfs = sysfs or Sysfs(paths, log)
    directory = sysfs.device(pf.address)
    # The PF keeps its driver even if vfio-pci learns the VFs' id (it is the PF's too).
    if pf.driver_override != pf.driver:
        sysfs.write(
            directory / "driver_override",
            pf.driver,
            f"PF {pf.address}: driver_override {pf.driver}",
        )
    autoprobe = all(role == "host" for _, role in current.roles())
    if pf.sriov_drivers_autoprobe != autoprobe:
        sysfs.write(
            directory / "sriov_drivers_autoprobe",
            str(int(autoprobe)),
            f"PF {pf.address}: sriov_drivers_autoprobe {int(autoprobe)}",
        )
    state = verdicts.host
    if pf.sriov_numvfs != wanted:
        if pf.sriov_numvfs:
            refuse_if_in_use(state.vfs, known, force, f"change the VF count to {wanted}")
            sysfs.write(directory / "sriov_numvfs", "0", f"PF {pf.address}: remove the VFs")
        if wanted:
            rearm_auto_provisioning(state, sysfs, log)
            sysfs.write(
                directory / "sriov_numvfs", str(wanted), f"PF {pf.address}: create {wanted} VFs"
            )
        state = reader.scan(paths, current.pf)
    # the time share before the bindings, so that no guest starts on the driver's own; a
    # write the kernel refuses does not keep the VFs from their drivers (reported after)
    refused = schedule(state, current, wanted, sysfs, log)
    try:
        bind_all(paths, current, wanted, state, sysfs, runner, log, force, known)
    except VfsError as error:
        raise VfsError(*error.problems, *refused) from error
    if refused:
        raise VfsError(*refused)


def schedule_running(
    paths: Paths, verdicts: "Verdicts", log: Log, dry_run: bool = False, sysfs: Sysfs | None = None
) -> None:
    """`config set sched=...`: the settings' time share now, the VF count untouched;
    only on a host whose PF is a supported Intel GPU on its driver (else the next
    `vfs restore` applies it). `dry_run`: say what would be written."""
    current = verdicts.settings
    pf = verdicts.host.pf
    if verdicts.machine.role != Role.HOST:
        log(f"scheduling: this machine is a {verdicts.machine.role}: it has no PF to schedule")
        return
    if pf.platform is None:
        log(f"scheduling: {pf.address} is no supported Intel GPU: nothing is written")
        return
    if pf.driver is None:
        log(f"scheduling: {pf.address} has no driver yet: the boot unit applies it once it has")
        return
    count = capped_count(current, pf.sriov_totalvfs)
    if dry_run:
        numbers = (0, *(vf.number for vf in verdicts.host.vfs if vf.number <= count))
        for write in sched.writes(verdicts.host.scheduling, current.scheduling, numbers):
            log(f"would write {write.value} to {pf.address}/{write.attribute}")
        return
    refused = schedule(verdicts.host, current, count, sysfs or Sysfs(paths, log), log)
    if refused:
        raise VfsError(*refused)


def rearm_auto_provisioning(state: reader.HostState, sysfs: Sysfs, log: Log) -> None:
    """Before VFs are enabled on the DKMS i915 (sched.rearm). ESTALE: configurations
    provisioned by hand are in place, which the enable then uses."""
    write = sched.rearm(state.scheduling)
    if write is None:
        return
    try:
        sysfs.write(
            sysfs.device(state.pf.address) / write.attribute,
            write.value,
            f"PF {state.pf.address}: {write.attribute} {write.value}",
        )
    except WriteFailed as error:
        if error.errno != errno.ESTALE:
            # an enable now would bring VFs with empty configurations (docs/notes.md,
            # "Per-VF scheduling"): none is made, and the message says so
            raise VfsError(
                f"{error}; the VFs were removed before it and are not made again: "
                "'irisxe-sriov-ctl vfs restore' tries again"
            ) from error
        log(
            f"PF {state.pf.address}: auto_provisioning stays off: the VFs' configurations "
            "were provisioned by hand (ESTALE), and the enable uses them"
        )


def schedule(
    state: reader.HostState, current: Settings, count: int, sysfs: Sysfs, log: Log
) -> list[str]:
    """Give the PF and each VF that exists (up to `count`) the settings' time share, in
    the order its provider needs (sched.writes); returns the writes the kernel refused,
    one line each naming the attribute and the errno. Settings the provider cannot apply
    are logged as not applied."""
    wanted = current.scheduling
    pf = state.pf
    for reason in sched.not_applied(state.scheduling, wanted, pf.driver, state.pf_on_dkms):
        log(f"not applied: unsupported on this provider: {reason}")
    numbers = (0, *(vf.number for vf in state.vfs if vf.number <= count))
    refused = []
    for write in sched.writes(state.scheduling, wanted, numbers):
        try:
            sysfs.write(
                sysfs.device(pf.address) / write.attribute,
                write.value,
                f"PF {pf.address}: {write.attribute} {write.value}",
            )
        except WriteFailed as error:
            refused.append(str(error))
    return refused


def bind_all(
    paths: Paths,
    current: Settings,
    count: int,
    state: reader.HostState,
    sysfs: Sysfs,
    runner: "Runner",
    log: Log,
    force: bool,
    known: Usage,
) -> None:
    vfs = {vf.number: vf for vf in state.vfs}
    wanted = {n: current.expected_driver(n, state.pf.driver) for n in range(1, count + 1)}
    if VFIO_DRIVER in wanted.values() and not paths.pci_driver(VFIO_DRIVER).is_dir():
        runner.run(["modprobe", VFIO_DRIVER])
    present = [(vfs[n], driver) for n, driver in wanted.items() if n in vfs]
    moving = [vf for vf, driver in present if vf.driver is not None and vf.driver != driver]
    refuse_if_in_use(moving, known, force, "rebind it")
    # Overrides first, for every VF, before anything probes (see UNBOUND).
    for vf, driver in present:
        sysfs.override(vf, driver)
    for vf, driver in present:
        sysfs.rebind(vf, driver)
    missing = sorted(set(wanted) - set(vfs))
    if missing:
        raise VfsError(
            *(
                f"VF {n} ({current.vf_address(n)}) was not created: {state.pf.address} has "
                f"{len(vfs)} of {count} VFs; see 'irisxe-sriov-ctl doctor'"
                for n in missing
            )
        )
    log(f"VFs as configured: {count} on {state.pf.address}")


def refuse_if_in_use(
    vfs: tuple[reader.PciFunction, ...] | list[reader.PciFunction],
    known: Usage,
    force: bool,
    action: str,
) -> None:
    """Refuse (VfsError) to touch a VF that a guest or a process uses, unless `force`."""
    if force:
        return
    for vf in vfs:
        users = known.users_of(vf)
        if users:
            raise VfsError(
                f"VF {vf.number} ({vf.address}) is in use by {', '.join(users)}: "
                f"will not {action}; stop the guest or process first, or use --force"
            )
