"""The kernel command line through real boot loaders: VMs that boot from their disk
(tests/harness/bootdisk.py) through GRUB on UEFI (Debian 13's OVMF), GRUB on BIOS (SeaBIOS) and
systemd-boot on UEFI, with the package installed from preseeded debconf answers and the
boot loader refreshed by the package itself.

Per boot loader, one disk and four states (the guest runs one boot's steps per boot):
1. /proc/cmdline holds every token the settings ask for and the admin's own; then
   `irisxe-sriov-ctl config set driver=xe`, and a second kernel package without an SR-IOV
   provider (Debian's cloud flavour: no xe, no headers, so no DKMS build); its hooks
   hold the boot on the first kernel (docs/notes.md, "The kernel hold");
2. the new value's tokens are what booted, on the first kernel, though the cloud one is
   newer; then `irisxe-sriov-ctl kernels release`;
3. the cloud kernel boots, with the tokens (systemd-boot: its new entry, written by its
   hooks, carries them); then `kernels hold` on the first kernel by hand, and
   `dpkg --purge irisxe-sriov`;
4. none of our tokens is left, the admin's are all there, and the boot is the boot
   loader's own again: the purge took the hold back (the cloud kernel boots).
The first kernel's provider is a test double: empty module files where dkms installs the
pinned build (PROVIDER_DOUBLE), as the stand-in driver package builds nothing.
For GRUB a cloud-image style /etc/default/grub.d/50-cloudimg-settings.cfg sets
GRUB_CMDLINE_LINUX_DEFAULT anew: our drop-in must sort after it. GRUB's disk boots on
both firmwares: in each state first through SeaBIOS (GRUB's core.img in the BIOS boot
partition; the guest stops in its initrd once it reported /proc/cmdline), then through
OVMF (GRUB's EFI image), which runs the step.

The disks and the VMs are the session's VM pool's (tests/harness/vmpool.py): the disks built one
after another, each scenario's boots started as soon as its disk is ready, one core each.
"""

import functools
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest

import vmpool
from bootdisk import (
    BIOS_EARLY,
    BOOT_BASE,
    DISK,
    ESP_FSTAB,
    ESP_TREE,
    FSTAB,
    MACHINE_ID,
    ROOT_UUID,
    SECOND_KERNEL_HOOK,
    Boot,
    Firmware,
    boot_all,
    drop_grub_probe_double,
    firmware_files,
    install_grub_modules,
    make_disk,
    prepare_guest,
    prepare_initramfs,
    run_with_esp,
    take_out,
    use_grub_probe_double,
)
from chroot import PIN, Chroot, base_tree, build_standin_driver, preseed, with_debs

I915 = ["intel_iommu=on", "i915.enable_guc=3", "i915.max_vfs=7"]
# Every supported id in pciids.h's order (tests/unit/test_pciids.py, FACTS), written out: built
# from pciids.PLATFORMS, the expected line would follow any change of the table.
ALL_IDS = (
    "4680,4682,4688,468a,468b,4690,4692,4693,46a0,46a1,46a2,46a3,46a6,46a8,46aa,462a,4626,"
    "4628,46b0,46b1,46b2,46b3,46c0,46c1,46c2,46c3,46d0,46d1,46d2,46d3,46d4,a780,a781,a782,"
    "a783,a788,a789,a78a,a78b,a721,a7a1,a7a9,a7ac,a7ad,a720,a7a0,a7a8,a7aa,a7ab"
)
XE = ["intel_iommu=on", "xe.max_vfs=7", f"xe.force_probe={ALL_IDS}"]

# The admin's GRUB settings: a blacklist of their own in GRUB_CMDLINE_LINUX, and a cloud
# image's drop-in that sets GRUB_CMDLINE_LINUX_DEFAULT anew (dropping "quiet").
GRUB_DEFAULT = (
    "GRUB_DEFAULT=0\nGRUB_TIMEOUT=0\nGRUB_DISTRIBUTOR=Debian\nGRUB_TERMINAL=console\n"
    'GRUB_CMDLINE_LINUX_DEFAULT="quiet"\n'
    'GRUB_CMDLINE_LINUX="console=ttyS0 admin.linux=1 module_blacklist=floppy"\n'
)
CLOUDIMG = 'GRUB_CMDLINE_LINUX_DEFAULT="console=ttyS0 cloud.default=1"\n'
GRUB_ADMIN = ["console=ttyS0", "admin.linux=1", "console=ttyS0", "cloud.default=1"]
# The admin's /etc/kernel/cmdline for systemd-boot.
KERNEL_CMDLINE = f"root=UUID={ROOT_UUID} rw console=ttyS0 admin.keep=1 module_blacklist=floppy\n"
SDBOOT_ADMIN = ["rw", "console=ttyS0", "admin.keep=1"]

# The steps of each state's boot (bootdisk.BOOT_CHECK; FIRST: the image's own kernel).
FIRST = "{first}"
STEPS = ["set:driver=xe kernel", "release", f"hold:{FIRST} purge", "early"]
# name -> the boot loader
SCENARIOS = {"grub": "grub", "systemd-boot": "systemd-boot"}
# Test double of the pinned DKMS build on the first kernel: the files dkms installs, empty
# (kernelfiles.read_dkms takes them for an installed build). Nothing loads them: the VMs have
# no Intel GPU, and the command line blacklists i915 or xe.
PROVIDER_DOUBLE = ("updates/dkms/i915.ko.xz", "updates/dkms/xe.ko.xz")


def boot_plan(name: str) -> list[tuple[int, Firmware]]:
    """(boot number, firmware) of each boot: GRUB's disk boots each state through BIOS
    first (it stops early, so the next boot has its number), then through UEFI."""
    loader = SCENARIOS[name]
    numbers = range(1, len(STEPS) + 1)
    if loader == "grub":
        return [(n, firmware) for n in numbers for firmware in ("bios", "uefi")]
    return [(n, "uefi") for n in numbers]


def tokens(cmdline: str | None) -> Counter[str]:
    """The tokens of a command line but those the boot loader or kernel-install add by
    themselves (BOOT_IMAGE=, initrd=, systemd.machine_id=), GRUB's "ro", and the root
    (root=/dev/vda3 from the chroot's grub-probe double, root=UUID=... from the real
    one)."""
    assert cmdline is not None
    kept = [
        t
        for t in cmdline.split()
        if not t.startswith(("BOOT_IMAGE=", "initrd=", "root=", "systemd.machine_id="))
        and t != "ro"
    ]
    assert any(t.startswith("root=") for t in cmdline.split()), cmdline
    return Counter(kept)


def build_later(
    name: str, base: Callable[[], Path], scratch: Path, package: Path
) -> tuple[Path, tuple[Path, Path]]:
    return build(name, base(), scratch, package)


def boot_built(name: str, scratch: Path, built: tuple[Path, tuple[Path, Path]]) -> list[Boot]:
    return boot_all(built[0], boot_plan(name), scratch, built[1])


def build(name: str, base: Path, scratch: Path, package: Path) -> tuple[Path, tuple[Path, Path]]:
    """The scenario's disk, and OVMF with its private variable store."""
    loader = SCENARIOS[name]
    scratch.mkdir(parents=True, exist_ok=True)
    (scratch / "image").mkdir()
    (scratch / "tools").mkdir()
    image = Chroot(base, scratch / "image")
    tools = Chroot(base, scratch / "tools")
    try:
        with_debs(image, package, build_standin_driver(scratch, PIN))
        image.write("/etc/machine-id", MACHINE_ID + "\n")
        image.write("/etc/fstab", FSTAB + (ESP_FSTAB if loader == "systemd-boot" else ""))
        # as an admin could have written it first: this machine is the GPU's host (a VM
        # without a GPU would otherwise be detected as a guest, whose tokens differ)
        image.write("/etc/default/irisxe-sriov", 'MACHINE_ROLE="host"\n')
        if loader == "grub":
            image.write("/etc/default/grub", GRUB_DEFAULT)
            image.write("/etc/default/grub.d/50-cloudimg-settings.cfg", CLOUDIMG)
            image.write(BIOS_EARLY, "")
            install_grub_modules(image)
            use_grub_probe_double(image)
            image.run("update-grub 2>&1")  # the system as it was before the package
        else:
            image.write("/etc/kernel/cmdline", KERNEL_CMDLINE)
            run_with_esp(image, "bootctl install --esp-path=/efi --no-variables 2>&1")
        prepare_initramfs(image)
        first = first_kernel(image)
        for module in PROVIDER_DOUBLE:
            image.write(f"/usr/lib/modules/{first}/{module}", "")
        preseed(image, {"driver": "i915", "num_vfs": "2", "bootloader": "auto"})
        install = (
            f"apt-get install -y /root/debs/i915-sriov-dkms_{PIN}_amd64.deb "
            "/root/debs/irisxe-sriov.deb 2>&1"
        )
        if loader == "grub":
            output = image.run(install).stdout
            assert "running: update-grub" in output, output
            drop_grub_probe_double(image)
        else:
            output = run_with_esp(image, install)
            assert "update-initramfs -u -k all" in output, output
            assert list(image.path(f"{ESP_TREE}/loader/entries").glob("*.conf")), output
        prepare_guest(image, [step.replace(FIRST, first) for step in STEPS])
        make_disk(image, tools, loader)
    finally:
        image.close()
        tools.close()
    disk = take_out(tools, DISK, scratch / "disk.img")
    return disk, firmware_files(base, scratch)


def first_kernel(box: Chroot) -> str:
    """The image's one kernel (the second comes in the guest, from /root/kernels)."""
    (release,) = [p.name for p in box.path("/usr/lib/modules").iterdir()]
    return release


# test name without "test_" (as vmpool.selected gives it) -> scenario
TESTS = {
    "grub_on_uefi": "grub",
    "grub_on_bios": "grub",
    "systemd_boot_on_uefi": "systemd-boot",
}


# About how long each scenario's boots take here, for the pool's order (tests/harness/vmpool.py).
SECONDS = {"grub": 780, "systemd-boot": 700}


@vmpool.provider
def boot_jobs(session: pytest.Session, package: Path, scratch: Path) -> dict[str, vmpool.Job]:
    """Every selected scenario's disk, then its boots one after another."""
    wanted = list(dict.fromkeys(TESTS[name] for name in vmpool.selected(session, __name__, TESTS)))
    if not wanted:
        return {}
    base = functools.cache(lambda: base_tree("bootvm", BOOT_BASE, SECOND_KERNEL_HOOK))
    return {
        f"boot:{name}": vmpool.Job(
            build=functools.partial(build_later, name, base, scratch / name, package),
            run=functools.partial(boot_built, name, scratch / name),
            seconds=SECONDS[name],
        )
        for name in wanted
    }


def boots_of(pool: vmpool.Pool, name: str) -> list[Boot]:
    boots = pool.result(f"boot:{name}")
    assert isinstance(boots, list)
    for boot in boots:
        assert boot.value("done") is not None, boot.log.read_text(errors="replace")[-6000:]
    assert [(boot.firmware) for boot in boots] == [f for _, f in boot_plan(name)]
    return boots


def exited_zero(boot: Boot, action: str) -> None:
    status = boot.value(f"{action}-exit")
    assert status is not None and status.split()[0] == "0", "\n".join(boot.lines)


def held_on_the_first(boot: Boot) -> None:
    """The kernel step's hook said where the next boot lands, and no reboot notice."""
    logged = "\n".join(boot.values("log"))
    first = boot.value("kernel") or ""
    assert "has no SR-IOV provider for xe: the boot stays on " + first in logged, logged


def check_grub(boots: list[Boot], firmware: Firmware) -> None:
    """The boots through one firmware: one in each state (installed, xe and held,
    released, purged)."""
    first, second, third, fourth = [boot for boot in boots if boot.firmware == firmware]
    for boot in (first, second, third, fourth):
        assert boot.value("early-firmware") == firmware, boot.lines
    uefi = [boot for boot in boots if boot.firmware == "uefi"]
    original = first.value("kernel") or ""
    assert not original.endswith("-cloud-amd64"), original
    # installed: every token the settings ask for, after the cloud image's drop-in too
    assert tokens(first.value("cmdline")) == Counter(
        [*GRUB_ADMIN, "module_blacklist=floppy", "module_blacklist=floppy,xe", *I915]
    ), first.value("cmdline")
    exited_zero(uefi[0], "set:driver=xe")
    exited_zero(uefi[0], "kernel")
    held_on_the_first(uefi[0])
    # config set driver=xe: update-grub in the guest (the real grub-probe); the cloud
    # kernel is newer, and GRUB boots the first one: the hold
    xe = Counter([*GRUB_ADMIN, "module_blacklist=floppy", "module_blacklist=floppy,i915", *XE])
    assert (second.value("kernel"), tokens(second.value("cmdline"))) == (original, xe)
    exited_zero(uefi[1], "release")
    # released: GRUB's own default, the newest kernel, with every token
    assert (third.value("kernel") or "").endswith("-cloud-amd64"), third.value("kernel")
    assert tokens(third.value("cmdline")) == xe, third.value("cmdline")
    exited_zero(uefi[2], f"hold:{original}")
    exited_zero(uefi[2], "purge")
    # purged: none of ours left, the admin's blacklist member and tokens intact, and the
    # hold by hand taken back with the drop-in: the newest kernel boots
    assert (fourth.value("kernel") or "").endswith("-cloud-amd64"), fourth.value("kernel")
    assert tokens(fourth.value("cmdline")) == Counter([*GRUB_ADMIN, "module_blacklist=floppy"]), (
        fourth.value("cmdline")
    )


def test_grub_on_uefi(vm_pool):
    check_grub(boots_of(vm_pool, "grub"), "uefi")


def test_grub_on_bios(vm_pool):
    check_grub(boots_of(vm_pool, "grub"), "bios")


def entries(boot: Boot, key: str) -> dict[str, Counter[str]]:
    """Loader entries the guest listed: kernel version -> the tokens of their options."""
    found = {}
    for line in boot.values(key):
        version, _, options = line.partition(" ")
        found[version] = tokens(options)
    return found


def test_systemd_boot_on_uefi(vm_pool):
    first, second, third, fourth = boots_of(vm_pool, "systemd-boot")
    assert (first.value("firmware") or "").startswith("uefi systemd-boot"), first.value("firmware")
    kernel = first.value("kernel") or ""
    installed = Counter([*SDBOOT_ADMIN, "module_blacklist=floppy,xe", *I915])
    assert tokens(first.value("cmdline")) == installed, first.value("cmdline")
    assert entries(first, "entry") == {kernel: installed}
    exited_zero(first, "set:driver=xe")
    exited_zero(first, "kernel")
    held_on_the_first(first)
    # config set: /etc/kernel/cmdline edited and the entry refreshed; the second kernel
    # package's new entry, written by its hooks, carries the tokens too
    xe = Counter([*SDBOOT_ADMIN, "module_blacklist=floppy,i915", *XE])
    after = entries(first, "after")
    assert len(after) == 2 and all(value == xe for value in after.values()), after
    # the cloud kernel's entry is the newest, and the first kernel boots: the hold
    # (bootctl set-default, the LoaderEntryDefault EFI variable)
    assert (second.value("kernel"), tokens(second.value("cmdline"))) == (kernel, xe)
    exited_zero(second, "release")
    # released: the newest entry boots, with the tokens
    assert (third.value("kernel") or "").endswith("-cloud-amd64"), third.value("kernel")
    assert tokens(third.value("cmdline")) == xe, third.value("cmdline")
    exited_zero(third, f"hold:{kernel}")
    exited_zero(third, "purge")
    # purged: our tokens gone from /etc/kernel/cmdline, from every entry, from what boots,
    # and the hold by hand taken back (bootctl set-default ''): the newest entry boots
    admin = Counter([*SDBOOT_ADMIN, "module_blacklist=floppy"])
    assert list(entries(third, "after").values()) == [admin, admin]
    assert (fourth.value("kernel") or "").endswith("-cloud-amd64"), fourth.value("kernel")
    assert tokens(fourth.value("cmdline")) == admin, fourth.value("cmdline")
