"""The kernel's own xe as SR-IOV provider, with Debian's real trixie-backports kernel.

The base (tests/harness/chroot.py BACKPORTS_BASE) is a Debian 13 with linux-image-amd64 from
trixie-backports (7.x, split into linux-base/-binary/-modules packages) installed by apt,
so `kernels` judges the real config, module tree and xe.ko. The VM test boots that kernel.
"""

import json
import re
from pathlib import Path

import pytest

from chroot import (
    Chroot,
    backports_tree,
    preseed,
)
from irisxe_sriov import pin
from irisxe_sriov.write.configure import TRIGGER_INITRAMFS


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


def test_stock_system_refuses_the_package_without_a_provider(chroot):
    """On stock trixie (no backports kernel, no driver package) apt names both ways."""
    done = chroot.run("apt-get install -y /root/debs/irisxe-sriov.deb", check=False)
    assert done.returncode != 0
    assert f"{pin.DRIVER_PACKAGE} (= {pin.DRIVER_VERSION})" in done.stdout
    assert "linux-image-amd64 (>= 6.18~)" in done.stdout


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
