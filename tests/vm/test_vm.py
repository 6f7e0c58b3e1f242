"""VFs that hold at every boot and at runtime, in Debian 13 VMs (tests/harness/vm.py: QEMU TCG,
intel-iommu, an emulated NVMe SR-IOV PF at 00:02.0 standing in for the GPU).

The built .deb is installed in the image with the stand-in i915-sriov-dkms
(tests/harness/chroot.py); the only change to the package's files is nvme for i915 in its
udev rule (tests/harness/vm.py).
"""

import functools
from collections.abc import Callable
from pathlib import Path
from typing import NamedTuple

import pytest

import vmpool
from chroot import PIN, VM_BASE, Chroot, base_tree, build_standin_driver, install, with_debs
from vm import (
    NVME_AS_GPU,
    NVME_PF,
    Q35_GUEST,
    Result,
    boot,
    make_image,
    prepare_guest,
    quick_initramfs,
)

VF = "0000:00:02."


class Scenario(NamedTuple):
    answers: dict[str, str]  # debconf answers (bootloader none: QEMU's -kernel boots)
    append: str  # the guest's kernel command line: irisxe.vfs=, irisxe.steps=
    prepare: Callable[[Chroot], None] | None = None  # test-only changes to the image
    devices: tuple[str, ...] = NVME_PF
    late_pf: bool = False


class Image(NamedTuple):
    disk: Path
    kernel: Path
    initrd: Path


def build_image(vm_base: Path, scratch: Path, package: Path, scenario: Scenario) -> Image:
    scratch.mkdir()
    box = Chroot(vm_base, scratch)
    try:
        with_debs(box, package, build_standin_driver(scratch, PIN))
        quick_initramfs(box)
        install(box, {"bootloader": "none", **scenario.answers})
        if scenario.prepare is not None:
            scenario.prepare(box)
        else:
            prepare_guest(box, late_pf=scenario.late_pf)
        kernel, initrd = make_image(box, scratch / "image.raw")
    finally:
        box.close()
    return Image(scratch / "image.raw", kernel, initrd)


def build_scenario(base: Callable[[], Path], scratch: Path, package: Path, name: str) -> Image:
    return build_image(base(), scratch, package, SCENARIOS[name])


def run_scenario(scratch: Path, name: str, image: Image) -> Result:
    return run(scratch, image, SCENARIOS[name])


def run(scratch: Path, image: Image, scenario: Scenario) -> Result:
    log = scratch / "serial.log"
    result = boot(*image, scenario.append, log, devices=scenario.devices)
    assert "done" in result.lines, log.read_text(errors="replace")[-4000:]
    return result


# About how long each scenario's VM runs here, for the pool's order (tests/harness/vmpool.py).
SECONDS = {
    "boot_with_three_vfio_vfs_then_runtime_set_then_purge": 120,
    "q35_guest_root_ports_stay_on_pcieport": 80,
}


@vmpool.provider
def vm_jobs(session: pytest.Session, package: Path, scratch: Path) -> dict[str, vmpool.Job]:
    """Every selected scenario's VM: its image (an overlay and an ext4 image), then one
    boot."""
    names = vmpool.selected(session, __name__, SCENARIOS)
    if not names:
        return {}
    base = functools.cache(lambda: base_tree("vm", VM_BASE))
    return {
        f"vm:{name}": vmpool.Job(
            build=functools.partial(build_scenario, base, scratch / name, package, name),
            run=functools.partial(run_scenario, scratch / name, name),
            seconds=SECONDS.get(name, 40),
        )
        for name in names
    }


def result_of(pool: vmpool.Pool, name: str) -> Result:
    result = pool.result(f"vm:{name}")
    assert isinstance(result, Result)
    return result


def vfio(*functions: int) -> dict[str, str]:
    return {f"{VF}{n}": "vfio-pci" for n in functions}


def test_boot_with_three_vfio_vfs_then_runtime_set_then_purge(vm_pool):
    result = result_of(vm_pool, "boot_with_three_vfio_vfs_then_runtime_set_then_purge")
    assert result.numvfs["boot"] == "3"
    assert result.drivers["boot"] == vfio(1, 2, 3)
    assert result.value("enabled") == "enabled"
    # vfs set 4 at runtime: the new VF is bound per its role, no reboot
    assert result.value("set-exit") == "0"
    assert result.numvfs["set4"] == "4"
    assert result.drivers["set4"] == vfio(1, 2, 3, 4)
    # purge inside the VM leaves no override, rule or unit behind
    assert result.value("purge-exit") == "0"
    assert [line for line in result.lines if line.startswith("leftover")] == []


def test_pf_driver_binding_late(vm_pool):
    """The measured race (docs/notes.md, "VFs at boot and their bindings"): the PF driver
    binds after sysfsutils ran (once the restore unit waits for it: tests/harness/vm.py), so its
    write of sriov_numvfs fails. The restore unit waits for the bind, and a guest manager
    ordered after it (a stand-in for Proxmox VE's pve-guests, tests/harness/vm.py) finds the VFs
    made and bound when it starts its guests."""
    result = result_of(vm_pool, "pf_driver_binding_late")
    assert result.numvfs["boot"] == "3"
    assert result.drivers["boot"] == vfio(1, 2, 3)
    assert "journal PF 0000:00:02.0: create 3 VFs" in result.lines
    assert (
        "journal 0000:00:02.0 has no driver yet: waiting up to 60 s for it to bind"
    ) in result.lines
    assert result.numvfs["guests"] == "3", "\n".join(result.lines)
    assert result.drivers["guests"] == vfio(1, 2, 3)


def test_without_etc_sysfs_conf(vm_pool):
    """Without /etc/sysfs.conf sysfsutils' unit does not run at all."""
    result = result_of(vm_pool, "without_etc_sysfs_conf")
    assert result.numvfs["boot"] == "3"
    assert result.drivers["boot"] == vfio(1, 2, 3)


def test_mixed_roles_and_a_scheduling_profile_not_applied(vm_pool):
    """sched=fair on the NVMe stand-in, which has neither prelim_iov nor sriov_admin:
    the boot unit says it is not applied and makes and binds the VFs all the same."""
    result = result_of(vm_pool, "mixed_roles_and_a_scheduling_profile_not_applied")
    assert result.numvfs["boot"] == "3"
    assert result.drivers["boot"] == {**vfio(1, 2), f"{VF}3": ""}
    assert (
        "journal not applied: unsupported on this provider: sched=fair: nvme offers neither "
        "prelim_iov (the DKMS i915) nor sriov_admin (the kernel's xe)"
    ) in result.lines, "\n".join(result.lines)


GUEST_ROOT_PORTS = r"""#!/bin/sh
out=/dev/ttyS0
udevadm settle
for function in 0 1 2 3 4 5 6 7; do
	device=/sys/bus/pci/devices/0000:00:02.$function
	driver=$(readlink "$device/driver" 2>/dev/null)
	id="$(cat $device/vendor):$(cat $device/device)"
	echo "IRISXE port 0000:00:02.$function $id ${driver##*/}" > $out
done
echo "IRISXE overrides $(ls /etc/driverctl.d | tr '\n' ' ')" > $out
echo "IRISXE files $(ls /etc/sysfs.d /etc/udev/rules.d 2>/dev/null | grep -c irisxe)" > $out
role=$(irisxe-sriov-ctl status --json | python3 -c \
	'import json, sys; print(json.load(sys.stdin)["machine"]["role"])')
echo "IRISXE role $role" > $out
echo "IRISXE restore $(systemctl is-failed irisxe-sriov-restore.service)" > $out
echo "IRISXE done" > $out
systemctl poweroff --force
"""


def test_q35_guest_root_ports_stay_on_pcieport(vm_pool):
    """Installed in a q35 guest (root ports at 00:02.0-00:02.7, a device behind the first
    standing in for the VF): the image is built without the hardware, then boots twice
    (the package's postinst already ran; apply runs again in the guest): no override,
    VF count or rule touches the root ports, and the role is guest."""
    result = result_of(vm_pool, "q35_guest_root_ports_stay_on_pcieport")
    log = "\n".join(result.lines)
    ports = [line for line in result.lines if line.startswith("port ")]
    assert ports == [f"port 0000:00:02.{n} 0x1b36:0x000c pcieport" for n in range(8)], log
    assert result.value("overrides") in ("", None)
    assert result.value("files") == "0"
    assert result.value("role") == "guest"
    assert result.value("restore") != "failed"


def without_sysfs_conf(box: Chroot) -> None:
    prepare_guest(box)
    box.path("/etc/sysfs.conf").unlink()


def prepare_q35_guest(box: Chroot) -> None:
    """The guest's own check: apply again in the guest, then report the root ports."""
    pciids = box.path("/usr/lib/python3/dist-packages/irisxe_sriov/pciids.py")
    pciids.write_text(pciids.read_text() + NVME_AS_GPU)
    box.write("/usr/local/sbin/irisxe-vm-check", GUEST_ROOT_PORTS)
    box.path("/usr/local/sbin/irisxe-vm-check").chmod(0o755)
    box.write(
        "/etc/systemd/system/irisxe-vm-check.service",
        "[Unit]\nAfter=multi-user.target\n[Service]\nType=oneshot\n"
        "ExecStartPre=/usr/bin/irisxe-sriov-ctl apply\n"
        "ExecStart=/usr/local/sbin/irisxe-vm-check\n[Install]\nWantedBy=multi-user.target\n",
    )
    box.run("systemctl enable irisxe-vm-check.service 2>&1")
    box.write("/etc/hostname", "irisxe-guest\n")


# test name without "test_" -> its VM
SCENARIOS = {
    "boot_with_three_vfio_vfs_then_runtime_set_then_purge": Scenario(
        {"num_vfs": "3"}, "irisxe.vfs=3 irisxe.steps=set4,purge"
    ),
    "pf_driver_binding_late": Scenario(
        {"num_vfs": "3"}, "irisxe.vfs=3 modprobe.blacklist=nvme", late_pf=True
    ),
    "without_etc_sysfs_conf": Scenario(
        {"num_vfs": "3"},
        "irisxe.vfs=3",
        prepare=without_sysfs_conf,
    ),
    "mixed_roles_and_a_scheduling_profile_not_applied": Scenario(
        {"num_vfs": "3", "vf_unbound": "3", "sched": "fair"}, "irisxe.vfs=3"
    ),
    # the image is built without the hardware (the postinst already ran), then boots in
    # a q35 guest; apply runs again there
    "q35_guest_root_ports_stay_on_pcieport": Scenario(
        {"num_vfs": "7"}, "", prepare=prepare_q35_guest, devices=Q35_GUEST
    ),
}
