"""VFs that hold at every boot and at runtime, in Debian 13 VMs (tests/vm.py: QEMU TCG,
intel-iommu, an emulated NVMe SR-IOV PF at 00:02.0 standing in for the GPU).

The built .deb is installed in the image with the stand-in i915-sriov-dkms (tests/chroot.py);
the only change to the package's files is nvme for i915 in its udev rule (tests/vm.py).
"""

from pathlib import Path

import pytest

from chroot import PIN, VM_BASE, Chroot, base_tree, build_standin_driver, install, with_debs
from vm import boot, make_image, prepare_guest

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
    """The measured race (facts.md section 5): the PF driver binds seconds after sysfsutils
    ran, so its write of sriov_numvfs fails; the udev rule on bind restores the VFs."""
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
