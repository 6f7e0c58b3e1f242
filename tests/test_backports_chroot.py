"""The kernel's own xe as SR-IOV provider, with Debian's real trixie-backports kernel.

The base (tests/chroot.py BACKPORTS_BASE) is a Debian 13 with linux-image-amd64 from
trixie-backports (7.x, split into linux-base/-binary/-modules packages) installed by apt,
so `kernels` judges the real config, module tree and xe.ko. The VM test boots that kernel.
"""

import json
import re
from pathlib import Path
from typing import NamedTuple

import pytest

import vmpool
from chroot import (
    BACKPORTS_BASE,
    BACKPORTS_KERNEL_HOOK,
    BACKPORTS_SOURCE,
    Chroot,
    base_tree,
    preseed,
)
from irisxe_sriov import pin
from irisxe_sriov.write.configure import TRIGGER_INITRAMFS
from vm import GUEST_UNIT, Result, boot, make_image, quick_initramfs

XE_IDS = "a7a0"


def backports_tree() -> Path:
    return base_tree("backports", BACKPORTS_BASE, BACKPORTS_KERNEL_HOOK, (BACKPORTS_SOURCE,))


@pytest.fixture(scope="session")
def backports_base() -> Path:
    return backports_tree()


@pytest.fixture
def backports(backports_base, tmp_path, package):
    box = Chroot(backports_base, tmp_path)
    try:
        box.copy_in(package, "/root/debs/irisxe-sriov.deb")
        yield box
    finally:
        box.close()


def kernel_release(box: Chroot) -> str:
    return box.run("ls /usr/lib/modules").stdout.split()[-1]


def dpkg_installed(box: Chroot, package: str) -> bool:
    done = box.run(f"dpkg-query -W -f='${{db:Status-Abbrev}}' {package}", check=False)
    return done.stdout.strip() == "ii"


@pytest.mark.chroot
def test_backports_kernel_is_a_kernel_xe_provider_and_satisfies_the_dependency(backports):
    release = kernel_release(backports)
    assert re.match(r"[7-9]\.", release), release  # trixie-backports carries 7.x
    preseed(backports, {"num_vfs": "3", "bootloader": "none"})
    # the package alone: the backports kernel satisfies the dependency's second alternative
    done = backports.run("apt-get install -y /root/debs/irisxe-sriov.deb")
    assert "i915-sriov-dkms" not in done.stdout
    assert not dpkg_installed(backports, "dkms")
    assert not dpkg_installed(backports, "build-essential")
    # the driver question proposed what the kernel that boots next serves: xe
    assert 'DRIVER="xe"' in backports.read("/etc/default/irisxe-sriov")
    assert backports.run("irisxe-sriov-ctl kernels --notify " + release).stdout == (
        f"irisxe-sriov: kernel {release}: SR-IOV by kernel-xe (xe; configured driver xe)\n"
    )
    # i915 is refused where no installed kernel offers it (exit 1, nothing changed) ...
    refused = backports.run("irisxe-sriov-ctl config set driver=i915", check=False)
    assert refused.returncode == 1, refused.stdout
    assert f"no installed kernel offers i915 ({release} offers xe)" in refused.stdout
    assert 'DRIVER="xe"' in backports.read("/etc/default/irisxe-sriov")
    # ... and given with --force; an upgrade keeps an answer; dpkg-reconfigure proposes xe
    backports.run("irisxe-sriov-ctl config set --force driver=i915")
    assert 'DRIVER="i915"' in backports.read("/etc/default/irisxe-sriov")
    backports.run("dpkg-reconfigure -f noninteractive irisxe-sriov")
    assert 'DRIVER="xe"' in backports.read("/etc/default/irisxe-sriov")
    listing = json.loads(backports.run("irisxe-sriov-ctl kernels --json").stdout)["kernels"]
    assert [(k["release"], k["provider"], k["drivers"]) for k in listing] == [
        (release, "kernel-xe", ["xe"])
    ]
    assert listing[0]["kernel_xe"] == (
        f"xe {release} is an SR-IOV PF for Alder Lake and Raptor Lake (xe.max_vfs, xe.force_probe)"
    )
    assert listing[0]["state"] == "skipped"  # outside the pin's range: no headers asked for
    # what the kernel's own files say, read the way the tool reads them
    config = backports.read(f"/usr/lib/modules/{release}/config")
    assert "CONFIG_DRM_XE=m" in config and "CONFIG_PCI_IOV=y" in config
    assert "d0000A7A0" in backports.read(f"/usr/lib/modules/{release}/modules.alias")
    # the trigger a purge-refresh record activates is the one initramfs-tools waits on
    interests = backports.read("/var/lib/dpkg/info/initramfs-tools.triggers").split("\n")
    assert f"interest-await {TRIGGER_INITRAMFS[-1]}" in interests


@pytest.mark.chroot
def test_stock_system_refuses_the_package_without_a_provider(chroot):
    """On stock trixie (no backports kernel, no driver package) apt names both ways."""
    done = chroot.run("apt-get install -y /root/debs/irisxe-sriov.deb", check=False)
    assert done.returncode != 0
    assert f"{pin.DRIVER_PACKAGE} (= {pin.DRIVER_VERSION})" in done.stdout
    assert "linux-image-amd64 (>= 6.18~)" in done.stdout


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


@pytest.mark.vm
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


@pytest.mark.chroot
def test_the_real_xe_module_is_read_whole_and_damage_is_unknown(backports_base, tmp_path):
    """Debian's own 7.x xe.ko.xz, as trixie-backports ships it: its .modinfo has the
    max_vfs parameter ("[default=unlimited]") and claims the Alder Lake and Raptor Lake
    ids; the same module cut short (a damaged file, a full disk) is unknown, never "no
    max_vfs"."""
    from irisxe_sriov.machine import modinfo

    found = sorted(backports_base.glob("usr/lib/modules/*/kernel/drivers/gpu/drm/xe/xe.ko.xz"))
    assert found, "no xe.ko.xz in the backports base"
    facts = modinfo.scan(found[-1])
    assert facts.max_vfs is True
    assert {"4680", "4690", "4692", "46a6", "46a8", "46d0", "a720", "a780", "a7a0"} <= (
        facts.aliases
    )
    cut = tmp_path / "xe.ko.xz"
    cut.write_bytes(found[-1].read_bytes()[: 256 * 1024])  # a quarter MB of 11.6 decompressed
    assert modinfo.scan(cut).max_vfs is None
    (tmp_path / "empty.ko.xz").write_bytes(b"")
    assert modinfo.scan(tmp_path / "empty.ko.xz").max_vfs is None
