"""A fake root with the real sysfs layout, for tests (a test double for the Intel GPU).

Devices live under sys/devices/pci0000:00/; sys/bus/pci/devices/* are relative symlinks to
them, as are `driver`, `iommu_group`, `virtfnN` and `physfn`, exactly as the kernel lays
them out. Nothing here touches this machine's own /sys.
"""

import base64
import lzma
import os
import random
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from irisxe_sriov import pin

if TYPE_CHECKING:
    from irisxe_sriov.runtime.vfs import Sysfs

PF = "0000:00:02.0"
DKMS_VERSION = pin.MODULE_VERSION


def write(path: Path, text: str | bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text)
    return path


def code(size: int) -> bytes:
    """Stand-in machine code: compresses about as badly as a real module's .text."""
    noise = random.Random(size).randbytes(size * 3 // 4 + 3)
    return base64.b64encode(noise)[:size]


def symlink(link: Path, target: Path) -> None:
    """A relative symlink, as sysfs has them."""
    link.parent.mkdir(parents=True, exist_ok=True)
    if link.is_symlink():
        link.unlink()
    link.symlink_to(os.path.relpath(target, link.parent))


class FakeSystem:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.sys = root / "sys"
        self.next_group = 10

    def device_dir(self, address: str) -> Path:
        return self.sys / "devices" / "pci0000:00" / address

    def add_function(
        self,
        address: str,
        vendor: str = "8086",
        device: str = "a7a0",
        driver: str | None = None,
        render: str | None = None,
        override: str | None = None,
    ) -> Path:
        directory = self.device_dir(address)
        write(directory / "vendor", f"0x{vendor}\n")
        write(directory / "device", f"0x{device}\n")
        write(directory / "class", "0x030000\n")
        write(directory / "driver_override", f"{override or '(null)'}\n")
        symlink(self.sys / "bus" / "pci" / "devices" / address, directory)
        group = self.sys / "kernel" / "iommu_groups" / str(self.next_group)
        symlink(group / "devices" / address, directory)
        symlink(directory / "iommu_group", group)
        self.next_group += 1
        if driver:
            self.bind(address, driver)
        if render:
            (directory / "drm" / render).mkdir(parents=True)
            (directory / "drm" / f"card{int(render.removeprefix('renderD')) - 128}").mkdir()
        return directory

    def bind(self, address: str, driver: str) -> None:
        driver_dir = self.sys / "bus" / "pci" / "drivers" / driver
        driver_dir.mkdir(parents=True, exist_ok=True)
        directory = self.device_dir(address)
        symlink(directory / "driver", driver_dir)
        symlink(driver_dir / address, directory)

    def add_gpu(
        self,
        device: str = "a7a0",
        driver: str | None = "i915",
        totalvfs: int | None = 7,
        numvfs: int = 0,
        vf_drivers: list[str | None] | None = None,
        autoprobe: int = 0,
        vendor: str = "8086",
    ) -> None:
        pf = self.add_function(PF, vendor=vendor, device=device, driver=driver, render="renderD128")
        if totalvfs is not None:
            write(pf / "sriov_totalvfs", f"{totalvfs}\n")
            write(pf / "sriov_numvfs", f"{numvfs}\n")
            write(pf / "sriov_drivers_autoprobe", f"{autoprobe}\n")
        drivers = vf_drivers if vf_drivers is not None else [None] * numvfs
        for number in range(numvfs):
            address = f"{PF[:-1]}{number + 1}"
            driver_name = drivers[number]
            vf = self.add_function(
                address,
                vendor=vendor,
                device=device,
                driver=driver_name,
                render=f"renderD{129 + number}" if driver_name in ("i915", "xe") else None,
            )
            symlink(pf / f"virtfn{number}", vf)
            symlink(vf / "physfn", pf)

    def set_vfs(self, count: int, device: str = "a7a0", vendor: str = "8086") -> None:
        """What the kernel does on a write of sriov_numvfs: the old VFs go, `count` new
        ones appear, unbound (autoprobe off), each with its virtfn and physfn links."""
        pf = self.device_dir(PF)
        for link in sorted(pf.glob("virtfn*")):
            vf = link.resolve()
            address = vf.name
            for entry in (
                self.sys / "bus/pci/devices" / address,
                *(self.sys / "bus/pci/drivers").glob(f"*/{address}"),
            ):
                entry.unlink(missing_ok=True)
            shutil.rmtree(vf)  # links inside are removed, never followed
            link.unlink()
        for number in range(count):
            address = f"{PF[:-1]}{number + 1}"
            vf = self.add_function(address, vendor=vendor, device=device)
            symlink(pf / f"virtfn{number}", vf)
            symlink(vf / "physfn", pf)

    def load_module(
        self,
        name: str,
        version: str | None = DKMS_VERSION,
        parameters: dict[str, str] | None = None,
    ) -> None:
        module = self.sys / "module" / name
        (module / "parameters").mkdir(parents=True, exist_ok=True)
        if version is not None:
            write(module / "version", f"{version}\n")
        for key, value in (parameters or {}).items():
            write(module / "parameters" / key, f"{value}\n")

    def enable_iommu(self) -> None:
        target = self.sys / "devices" / "virtual" / "iommu" / "dmar0"
        target.mkdir(parents=True, exist_ok=True)
        symlink(self.sys / "class" / "iommu" / "dmar0", target)

    def set_cmdline(self, text: str) -> None:
        write(self.root / "proc" / "cmdline", text + "\n")

    def set_kernel(self, release: str) -> None:
        write(self.root / "proc" / "sys" / "kernel" / "osrelease", release + "\n")

    def set_os(self, os_id: str = "debian", version: str = "13") -> None:
        write(
            self.root / "etc" / "os-release",
            f'PRETTY_NAME="Debian GNU/Linux {version}"\nID={os_id}\nVERSION_ID="{version}"\n',
        )

    def install_tools(self) -> None:
        write(self.root / "etc" / "sysfs.conf", "# sysfsutils\n")
        write(self.root / "usr" / "sbin" / "driverctl", "#!/bin/sh\n")
        (self.root / "etc" / "driverctl.d").mkdir(parents=True, exist_ok=True)

    def install_package(self, name: str, version: str) -> None:
        status = self.root / "var" / "lib" / "dpkg" / "status"
        old = status.read_text() if status.exists() else ""
        write(
            status,
            old + f"Package: {name}\nStatus: install ok installed\n"
            f"Architecture: amd64\nVersion: {version}\n\n",
        )

    def grub(self) -> None:
        write(self.root / "boot" / "grub" / "grub.cfg", "# grub.cfg\n")
        (self.root / "etc" / "default" / "grub.d").mkdir(parents=True, exist_ok=True)

    def virtual(self, vendor: str = "QEMU") -> None:
        """What a virtual machine shows in DMI (libvirt/QEMU: sys_vendor QEMU)."""
        write(self.sys / "class" / "dmi" / "id" / "sys_vendor", vendor + "\n")

    def install_dkms_kernel(self, release: str) -> None:
        """A kernel with the pinned DKMS modules installed in its updates/ tree."""
        modules = self.root / "lib" / "modules" / release
        (modules / "kernel").mkdir(parents=True, exist_ok=True)
        write(modules / "updates" / "dkms" / "i915.ko.xz", "")
        write(modules / "updates" / "dkms" / "xe.ko.xz", "")

    def secure_boot(self, enabled: bool) -> None:
        """The SecureBoot efivar: 4 bytes of attributes, then 1 (on) or 0 (off)."""
        var = self.sys / "firmware/efi/efivars/SecureBoot-8be4df61-93ca-11d2-aa0d-00e098032b8c"
        var.parent.mkdir(parents=True, exist_ok=True)
        var.write_bytes(b"\x06\x00\x00\x00" + bytes([enabled]))

    def healthy(self, driver: str = "i915", numvfs: int = 3) -> None:
        """A host where everything is as the defaults + num_vfs=numvfs ask."""
        device = "a7a0"
        self.add_gpu(device=device, driver=driver, numvfs=numvfs, vf_drivers=["vfio-pci"] * numvfs)
        if driver == "i915":
            self.load_module("i915", parameters={"enable_guc": "3", "max_vfs": "7"})
            self.set_cmdline(
                "BOOT_IMAGE=/vmlinuz root=/dev/sda1 ro quiet intel_iommu=on "
                "i915.enable_guc=3 i915.max_vfs=7 module_blacklist=xe"
            )
        else:
            self.load_module("xe", parameters={"max_vfs": "7", "force_probe": device})
            self.set_cmdline(
                "BOOT_IMAGE=/vmlinuz root=/dev/sda1 ro quiet intel_iommu=on "
                f"xe.max_vfs=7 xe.force_probe={device} module_blacklist=i915"
            )
        self.load_module("vfio_pci", version=None)
        self.enable_iommu()
        self.set_kernel("6.12.40-amd64")
        self.install_dkms_kernel("6.12.40-amd64")
        self.secure_boot(False)
        self.set_os()
        self.install_tools()
        self.install_package(pin.DRIVER_PACKAGE, pin.DRIVER_VERSION)
        install_dkms_source(self.root)
        self.grub()


def install_dkms_source(root: Path) -> None:
    """The pinned driver's source where its package puts it for dkms."""
    source = root / f"usr/src/{pin.DRIVER_PACKAGE}-{pin.DRIVER_VERSION}"
    write(source / "dkms.conf", f'PACKAGE_NAME="{pin.DRIVER_PACKAGE}"\n')


# --- installed kernels (a Debian kernel package's files) ----------------------------

MAX_VFS_PARM = (
    b"parm=max_vfs:Limit number of Virtual Functions (VFs) that could be managed. "
    b"(0=no VFs; N=allow up to N VFs [default=unlimited])\x00parmtype=max_vfs:uint\x00"
)
# a kernel's config as Debian ships it, reduced to the lines that matter here
XE_CONFIG = 'CONFIG_PCI_IOV=y\nCONFIG_DRM_XE=m\nCONFIG_DRM_XE_FORCE_PROBE=""\n'
NO_XE_CONFIG = "CONFIG_PCI_IOV=y\n# CONFIG_DRM_XE is not set\n"


def install_kernel(
    root: Path,
    release: str,
    *,
    config: str = XE_CONFIG,
    ids: tuple[str, ...] = ("a7a0", "4680", "46d0"),
    max_vfs: bool = True,
    alias_index: bool = True,
    usr: bool = False,
    dkms: bool = False,
    padding: int = 4096,
) -> None:
    """A kernel as its Debian package installs it (after depmod, when alias_index): 6.12
    style with /boot/config-<release>, or 7.x style (`usr`) with the config in
    /usr/lib/modules/<release>/. Its xe.ko.xz carries the .modinfo strings of Debian's
    7.3.4 xe.ko (PCI aliases, the max_vfs parameter) after `padding` bytes of code."""
    modules = root / ("usr/lib/modules" if usr else "lib/modules") / release
    write(modules / "config" if usr else root / "boot" / f"config-{release}", config)
    write(root / "boot" / f"vmlinuz-{release}", "")
    if "CONFIG_DRM_XE=m" in config:
        modinfo = b"".join(
            b"alias=pci:v00008086d0000%ssv*sd*bc*sc*i*\x00" % i.upper().encode() for i in ids
        )
        # kbuild ends .modinfo with vermagic=: a reader that meets it has read it all
        vermagic = b"vermagic=%s SMP preempt mod_unload modversions \x00" % release.encode()
        body = b"\x7fELF" + code(padding) + modinfo + (MAX_VFS_PARM if max_vfs else b"") + vermagic
        write(modules / "kernel/drivers/gpu/drm/xe/xe.ko.xz", lzma.compress(body))
        if alias_index:
            write(
                modules / "modules.alias",
                "".join(f"alias pci:v00008086d0000{i.upper()}sv*sd*bc*sc*i* xe\n" for i in ids)
                + "alias pci:v00008086d00009A49sv*sd*bc03sc*i* i915\n",
            )
    else:
        (modules / "kernel").mkdir(parents=True, exist_ok=True)
    if dkms:
        write(root / "lib/modules" / release / "updates/dkms/i915.ko.xz", b"")
        write(root / "lib/modules" / release / "updates/dkms/xe.ko.xz", b"")


def kernel_double(fake: FakeSystem, log: Callable[[str], None]) -> "Sysfs":
    """A test double of the kernel's side of sysfs writes (the Intel GPU cannot exist
    here): vfs.Sysfs's writer, which after writing a PF's sriov_numvfs lays out the VFs
    as the kernel would (FakeSystem.set_vfs). Bindings stay files, as in the fake root."""
    from irisxe_sriov.paths import Paths
    from irisxe_sriov.runtime import vfs

    class Double(vfs.Sysfs):
        def store(self, path: Path, value: str) -> None:
            super().store(path, value)
            if path.name == "sriov_numvfs":
                fake.set_vfs(int(value))

    return Double(Paths(fake.root), log)
