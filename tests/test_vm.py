"""VFs that hold at every boot and at runtime, in Debian 13 VMs (tests/vm.py: QEMU TCG,
intel-iommu, an emulated NVMe SR-IOV PF at 00:02.0 standing in for the GPU).

The built .deb is installed in the image with the stand-in i915-sriov-dkms (tests/chroot.py);
the only change to the package's files is nvme for i915 in its udev rule (tests/vm.py).
"""

from pathlib import Path

import pytest

from chroot import PIN, VM_BASE, Chroot, base_tree, build_standin_driver, install, with_debs
from vm import NVME_AS_GPU, Q35_GUEST, boot, make_image, prepare_guest

pytestmark = pytest.mark.vm

VF = "0000:00:02."


@pytest.fixture(scope="session")
def vm_base() -> Path:
    return base_tree("vm", VM_BASE)


def run_vm(vm_base, tmp_path, package, answers, append, late_pf=False, before_image=None):
    box = Chroot(vm_base, tmp_path)
    try:
        with_debs(box, package, build_standin_driver(tmp_path, PIN))
        install(box, {"bootloader": "none", **answers})
        prepare_guest(box, late_pf=late_pf)
        if before_image:
            before_image(box)
        kernel, initrd = make_image(box, tmp_path / "image.raw")
    finally:
        box.close()
    result = boot(tmp_path / "image.raw", kernel, initrd, append, tmp_path / "serial.log")
    assert result.value("done") is not None or "done" in result.lines, (
        tmp_path / "serial.log"
    ).read_text(errors="replace")[-4000:]
    return result


def vfio(*functions: int) -> dict[str, str]:
    return {f"{VF}{n}": "vfio-pci" for n in functions}


def test_boot_with_three_vfio_vfs_then_runtime_set_then_purge(vm_base, tmp_path, package):
    result = run_vm(
        vm_base, tmp_path, package, {"num_vfs": "3"}, "irisxe.vfs=3 irisxe.steps=set4,purge"
    )
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


def test_pf_driver_binding_late(vm_base, tmp_path, package):
    """The measured race (docs/notes.md, "VFs at boot and their bindings"): the PF driver
    binds seconds after sysfsutils ran, so its write of sriov_numvfs fails; the udev rule
    on bind restores the VFs."""
    result = run_vm(
        vm_base,
        tmp_path,
        package,
        {"num_vfs": "3"},
        "irisxe.vfs=3 modprobe.blacklist=nvme",
        late_pf=True,
    )
    assert result.numvfs["boot"] == "3"
    assert result.drivers["boot"] == vfio(1, 2, 3)
    assert "journal PF 0000:00:02.0: create 3 VFs" in result.lines


def test_without_etc_sysfs_conf(vm_base, tmp_path, package):
    """Without /etc/sysfs.conf sysfsutils' unit does not run at all."""
    result = run_vm(
        vm_base,
        tmp_path,
        package,
        {"num_vfs": "3"},
        "irisxe.vfs=3",
        before_image=lambda box: box.path("/etc/sysfs.conf").unlink(),
    )
    assert result.numvfs["boot"] == "3"
    assert result.drivers["boot"] == vfio(1, 2, 3)


def test_mixed_roles(vm_base, tmp_path, package):
    result = run_vm(vm_base, tmp_path, package, {"num_vfs": "3", "vf_unbound": "3"}, "irisxe.vfs=3")
    assert result.numvfs["boot"] == "3"
    assert result.drivers["boot"] == {**vfio(1, 2), f"{VF}3": ""}


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


def test_q35_guest_root_ports_stay_on_pcieport(vm_base, tmp_path, package):
    """Installed in a q35 guest (root ports at 00:02.0-00:02.7, a device behind the first
    standing in for the VF): the image is built without the hardware, then boots twice
    (the package's postinst already ran; apply runs again in the guest): no override,
    VF count or rule touches the root ports, and the role is guest."""
    box = Chroot(vm_base, tmp_path)
    try:
        with_debs(box, package, build_standin_driver(tmp_path, PIN))
        install(box, {"bootloader": "none", "num_vfs": "7"})
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
        kernel, initrd = make_image(box, tmp_path / "image.raw")
    finally:
        box.close()
    result = boot(
        tmp_path / "image.raw", kernel, initrd, "", tmp_path / "serial.log", devices=Q35_GUEST
    )
    log = (tmp_path / "serial.log").read_text(errors="replace")
    assert "done" in result.lines, log[-4000:]
    ports = [line for line in result.lines if line.startswith("port ")]
    assert ports == [f"port 0000:00:02.{n} 0x1b36:0x000c pcieport" for n in range(8)], log[-3000:]
    assert result.value("overrides") in ("", None)
    assert result.value("files") == "0"
    assert result.value("role") == "guest"
    assert result.value("restore") != "failed"
