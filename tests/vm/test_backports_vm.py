"""Debian's real trixie-backports kernel booted in a VM with the package configured for
xe: the kernel's own xe is the SR-IOV provider (tests/package/test_backports_chroot.py
judges the same kernel's files in a chroot).
"""

import json
from pathlib import Path
from typing import NamedTuple

import pytest

import vmpool
from chroot import Chroot, backports_tree, preseed
from vm import GUEST_UNIT, Result, boot, make_image, quick_initramfs

XE_IDS = "a7a0"


GUEST_REPORT = r"""#!/bin/sh
out=/dev/ttyS0
echo "IRISXE cmdline $(cat /proc/cmdline)" > $out
modprobe xe > $out 2>&1
echo "IRISXE xe-loaded $([ -d /sys/module/xe ] && echo yes || echo no)" > $out
echo "IRISXE xe-max_vfs $(cat /sys/module/xe/parameters/max_vfs 2>&1)" > $out
echo "IRISXE xe-force_probe $(cat /sys/module/xe/parameters/force_probe 2>&1)" > $out
echo "IRISXE xe-version $(cat /sys/module/xe/version 2>/dev/null || echo none)" > $out
modprobe i915 > /tmp/i915.log 2>&1
echo "IRISXE i915-modprobe-exit $?" > $out
echo "IRISXE i915-modprobe $(head -c 200 /tmp/i915.log)" > $out
echo "IRISXE i915-loaded $([ -d /sys/module/i915 ] && echo yes || echo no)" > $out
echo "IRISXE kernels $(irisxe-sriov-ctl kernels --json | tr -d '\n ')" > $out
echo "IRISXE done" > $out
systemctl poweroff --force
"""


class XeImage(NamedTuple):
    disk: Path
    kernel: Path
    initrd: Path
    cmdline: str  # what the package wrote to /etc/kernel/cmdline


def build_xe_image(base: Path, scratch: Path, package: Path) -> XeImage:
    """The backports kernel's image with the package installed for xe, systemd-boot's
    boot path (its /etc/kernel/cmdline is what QEMU hands the kernel, as a boot loader
    would)."""
    scratch.mkdir()
    box = Chroot(base, scratch)
    try:
        box.copy_in(package, "/root/debs/irisxe-sriov.deb")
        preseed(box, {"driver": "xe", "num_vfs": "3", "bootloader": "systemd-boot"})
        box.write("/etc/kernel/cmdline", "root=/dev/vda rw console=ttyS0\n")
        quick_initramfs(box)  # the install's update-initramfs -u -k all builds them
        box.run("apt-get install -y /root/debs/irisxe-sriov.deb")
        cmdline = box.read("/etc/kernel/cmdline").strip()
        box.write("/usr/local/sbin/irisxe-vm-check", GUEST_REPORT)
        box.path("/usr/local/sbin/irisxe-vm-check").chmod(0o755)
        box.write("/etc/systemd/system/irisxe-vm-check.service", GUEST_UNIT)
        box.run("systemctl enable irisxe-vm-check.service 2>&1")
        box.write("/etc/hostname", "irisxe-vm\n")
        kernel, initrd = make_image(box, scratch / "image.raw")
    finally:
        box.close()
    return XeImage(scratch / "image.raw", kernel, initrd, cmdline)


def boot_xe_image(image: XeImage, scratch: Path) -> tuple[str, Result]:
    log = scratch / "serial.log"
    result = boot(image.disk, image.kernel, image.initrd, image.cmdline, log)
    assert "done" in result.lines, log.read_text(errors="replace")[-4000:]
    return image.cmdline, result


XE_BOOT = "backports_kernel_boots_with_xe_parameters_and_i915_blocked"


@vmpool.provider
def backports_jobs(session: pytest.Session, package: Path, scratch: Path) -> dict[str, vmpool.Job]:
    """The backports VM is one of the session's VM pool's jobs (tests/vmpool.py): it runs
    on a core the other VMs leave free instead of after them all."""
    if not vmpool.selected(session, __name__, {XE_BOOT: None}):
        return {}
    return {
        f"backports:{XE_BOOT}": vmpool.Job(
            build=lambda: build_xe_image(backports_tree(), scratch / "backports", package),
            run=lambda image: boot_xe_image(image, scratch / "backports"),
            seconds=50,  # about how long its VM runs here
        )
    }


def test_backports_kernel_boots_with_xe_parameters_and_i915_blocked(vm_pool):
    """Boot the real backports kernel with the package configured for xe: the kernel's own
    xe (no GPU needed to load it) runs with max_vfs and force_probe from the settings, and
    i915 cannot load."""
    cmdline, result = vm_pool.result(f"backports:{XE_BOOT}")
    assert isinstance(result, Result)
    assert "xe.max_vfs=7" in cmdline and "module_blacklist=i915" in cmdline
    assert result.value("xe-loaded") == "yes"
    assert result.value("xe-max_vfs") == "7"
    assert result.value("xe-force_probe") is not None
    assert XE_IDS in (result.value("xe-force_probe") or "").split(",")
    assert result.value("xe-version") == "none"  # the kernel's own xe, not a DKMS build
    assert result.value("i915-loaded") == "no"
    assert result.value("i915-modprobe-exit") != "0"
    kernels = json.loads(result.value("kernels") or "{}").get("kernels")
    assert [k["provider"] for k in kernels] == ["kernel-xe"]
