"""Boot paths through the installed package in Debian 13 chroots.

GRUB: the real update-grub / grub-mkconfig of trixie's grub2-common generate grub.cfg; only
grub-probe is replaced by a test double, because the chroot has no block device under /.
Proxmox VE: proxmox-boot-tool cannot run here; a recorder of its command line stands in.
"""

from pathlib import Path

import pytest

from chroot import PACKAGE_BASE, Chroot, base_tree, install, with_debs

GRUB_PROBE_DOUBLE = """#!/bin/sh
# test double for grub-probe: the chroot has no block device under /
target=
for argument in "$@"; do
\tcase "$argument" in --target=*) target=${argument#--target=} ;; esac
done
case "$target" in
\tdevice) echo /dev/vda1 ;;
\tdisk) echo /dev/vda ;;
\tfs) echo ext2 ;;
\tfs_uuid) echo 0a1b2c3d-0000-4000-8000-000000000001 ;;
\tpartmap) echo gpt ;;
\tdrive) echo '(hd0,gpt1)' ;;
\tcompatibility_hint) echo hd0,gpt1 ;;
esac
"""
RECORDER = """#!/bin/sh
# recorder standing in for {name}: logs its command line
echo "{name} $*" >> /root/{name}.log
"""
I915 = "intel_iommu=on i915.enable_guc=3 i915.max_vfs=7"


@pytest.fixture(scope="session")
def grub_base() -> Path:
    return base_tree("grub", (*PACKAGE_BASE, "grub2-common"))


@pytest.fixture
def grub_chroot(grub_base, tmp_path, package, standin):
    box = with_debs(Chroot(grub_base, tmp_path), package, standin)
    try:
        box.write("/usr/sbin/grub-probe", GRUB_PROBE_DOUBLE)
        box.path("/usr/sbin/grub-probe").chmod(0o755)
        box.path("/boot/grub").mkdir(parents=True)
        for name in ("vmlinuz", "initrd.img"):
            box.write(f"/boot/{name}-6.12.48-amd64", "")
        box.write(
            "/etc/default/grub",
            "GRUB_DEFAULT=0\nGRUB_TIMEOUT=5\n"
            'GRUB_CMDLINE_LINUX_DEFAULT="quiet i915.max_vfs=2"\n'
            'GRUB_CMDLINE_LINUX="module_blacklist=foo"\n',
        )
        box.write(
            "/etc/default/grub.d/50-cloudimg-settings.cfg",
            'GRUB_CMDLINE_LINUX_DEFAULT="$GRUB_CMDLINE_LINUX_DEFAULT console=ttyS0"\n',
        )
        box.run("update-grub 2>&1")
        yield box
    finally:
        box.close()


def linux_lines(box: Chroot) -> list[str]:
    return [
        line.split(None, 2)[2]
        for line in box.read("/boot/grub/grub.cfg").splitlines()
        if line.strip().startswith("linux\t") or line.strip().startswith("linux ")
    ]


def test_grub_mkconfig_puts_the_parameters_on_every_linux_line(grub_chroot):
    before = linux_lines(grub_chroot)
    assert before[0] == "root=/dev/vda1 ro module_blacklist=foo quiet i915.max_vfs=2 console=ttyS0"
    output = install(grub_chroot, {"driver": "i915", "num_vfs": "2"})  # bootloader auto
    assert "irisxe-sriov: running: update-grub" in output
    normal, advanced, recovery = linux_lines(grub_chroot)
    # ours appended after the admin's (the kernel goes by the last value), the blacklist
    # in force with xe added
    assert (
        normal
        == advanced
        == (
            "root=/dev/vda1 ro module_blacklist=foo quiet i915.max_vfs=2 console=ttyS0 "
            + I915
            + " module_blacklist=foo,xe"
        )
    )
    # recovery entries carry only GRUB_CMDLINE_LINUX (after Debian's "single
    # dis_ucode_ldr"), which stays the admin's: none of ours
    assert recovery.startswith("root=/dev/vda1 ro single ")
    assert recovery.endswith(" module_blacklist=foo") and "i915." not in recovery
    grub_chroot.run("apt-get purge -y irisxe-sriov")
    assert linux_lines(grub_chroot) == before
    assert not grub_chroot.path("/etc/default/grub.d/irisxe-sriov.cfg").exists()


def test_proxmox_refresh_at_install_and_purge(chroot):
    chroot.write("/usr/sbin/proxmox-boot-tool", RECORDER.format(name="proxmox-boot-tool"))
    chroot.path("/usr/sbin/proxmox-boot-tool").chmod(0o755)
    chroot.write("/etc/kernel/proxmox-boot-uuids", "1234-ABCD\n")
    admin = "root=ZFS=rpool/ROOT/pve-1 boot=zfs i915.max_vfs=2\n"
    chroot.write("/etc/kernel/cmdline", admin)
    install(chroot, {"num_vfs": "2"})
    assert chroot.read("/etc/kernel/cmdline") == (
        "root=ZFS=rpool/ROOT/pve-1 boot=zfs i915.max_vfs=7 intel_iommu=on "
        "i915.enable_guc=3 module_blacklist=xe\n"
    )
    assert chroot.read("/root/proxmox-boot-tool.log") == "proxmox-boot-tool refresh\n"
    chroot.run("dpkg-reconfigure irisxe-sriov")  # nothing changed: no refresh
    assert chroot.read("/root/proxmox-boot-tool.log") == "proxmox-boot-tool refresh\n"
    chroot.run("apt-get purge -y irisxe-sriov")
    assert chroot.read("/etc/kernel/cmdline") == admin
    assert chroot.read("/root/proxmox-boot-tool.log") == (
        "proxmox-boot-tool refresh\nproxmox-boot-tool refresh\n"
    )
