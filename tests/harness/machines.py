"""The kinds of machine the judgement must be right on, as fake roots laid out the way the
real ones are (tests/harness/fakesys.py: the GPU is a test double): installed kernels with their
module files, dpkg's status, live sysfs. tests/unit/test_judgement.py judges each with every
kind of settings file."""

import shutil
from pathlib import Path

import fakesys
from fakesys import FakeSystem, install_kernel
from irisxe_sriov import pin

STOCK = "6.12.118+deb13-amd64"
BACKPORTS = "7.3.4+deb13-amd64"
# grub-mkconfig's menu for two kernels (tests/unit/test_providers.py)
from test_providers import GRUB_CFG  # noqa: E402


def grub_cfg(root: Path, newest: str, older: str, default: str = "0") -> None:
    text = GRUB_CFG % {"default": default, "newest": newest, "older": older}
    fakesys.write(root / "boot/grub/grub.cfg", text)
    fakesys.write(root / "boot/grub/grubenv", "# GRUB Environment Block\n")


def healthy_dkms_i915(f: FakeSystem) -> None:
    """The pinned DKMS i915 loaded, 3 VFs on vfio-pci."""
    f.healthy(numvfs=3)


def dkms_xe(f: FakeSystem) -> None:
    """The pinned DKMS build's xe loaded, 3 VFs."""
    f.healthy(driver="xe", numvfs=3)


def debian_on_stock(f: FakeSystem) -> None:
    """Debian 13 on its stock 6.12.118, booted without our parameters, tools installed."""
    f.enable_iommu()
    f.set_os()
    f.install_tools()
    f.grub()
    f.set_kernel(STOCK)
    install_kernel(f.root, STOCK)
    f.set_cmdline("BOOT_IMAGE=/vmlinuz root=/dev/sda1 ro quiet")


def stock_i915(f: FakeSystem) -> None:
    """Debian's 6.12.118 with its stock i915 and no SR-IOV provider (no DKMS package)."""
    f.add_gpu(driver="i915", numvfs=0)
    f.load_module("i915", version=None, parameters={"enable_guc": "-1"})
    debian_on_stock(f)


def kernel_xe(f: FakeSystem) -> None:
    """trixie-backports' 7.3.4 with its own xe as PF: 7 VFs, max_vfs at its unlimited
    default (4294967295, U32_MAX), no DKMS package."""
    f.healthy(driver="xe", numvfs=7)
    (f.root / "sys/module/xe/version").unlink()
    (f.root / "sys/module/xe/parameters/max_vfs").write_text("4294967295\n")
    f.set_kernel(BACKPORTS)
    (f.root / "var/lib/dpkg/status").write_text("")
    shutil.rmtree(f.root / "lib/modules/6.12.40-amd64")  # healthy()'s DKMS kernel: not here
    shutil.rmtree(f.root / "usr/src")  # nor the pinned driver's source
    install_kernel(f.root, BACKPORTS, usr=True)


def both_next_backports(f: FakeSystem) -> None:
    """Running the stock kernel; the backports kernel installed and booting next."""
    stock_i915(f)
    install_kernel(f.root, BACKPORTS, usr=True)
    grub_cfg(f.root, BACKPORTS, STOCK, "0")


def both_next_stock(f: FakeSystem) -> None:
    """The same, with GRUB_DEFAULT keeping the stock kernel."""
    stock_i915(f)
    install_kernel(f.root, BACKPORTS, usr=True)
    grub_cfg(f.root, BACKPORTS, STOCK, "1>2")


def no_gpu(f: FakeSystem) -> None:
    """Bare metal without any supported Intel GPU: a root port at 00:02.0, Wi-Fi."""
    f.add_function("0000:00:02.0", vendor="1022", device="1480", driver="pcieport")
    (f.device_dir("0000:00:02.0") / "class").write_text("0x060400\n")
    f.add_function("0000:00:14.3", vendor="8086", device="51f0", driver="iwlwifi")
    debian_on_stock(f)


def q35_guest(f: FakeSystem) -> None:
    """A libvirt q35 guest given a VF (behind a root port), the DKMS i915 loaded."""
    from test_roles import q35_guest as lay_out

    lay_out(f)
    f.load_module("i915", parameters={"enable_guc": "3"})
    f.set_os()
    f.install_tools()
    f.grub()
    f.set_kernel(STOCK)
    install_kernel(f.root, STOCK, dkms=True)
    f.install_package(pin.DRIVER_PACKAGE, pin.DRIVER_VERSION)
    f.set_cmdline(
        "BOOT_IMAGE=/vmlinuz root=/dev/sda1 ro quiet i915.enable_guc=3 module_blacklist=xe"
    )


MACHINES = {
    "healthy_dkms_i915": healthy_dkms_i915,
    "dkms_xe": dkms_xe,
    "stock_i915": stock_i915,
    "kernel_xe": kernel_xe,
    "both_next_backports": both_next_backports,
    "both_next_stock": both_next_stock,
    "no_gpu": no_gpu,
    "q35_guest": q35_guest,
}


def root_of(name: str, parent: Path) -> Path:
    """A fake root under `parent` laid out as machine `name`."""
    root = parent / "root"
    root.mkdir()
    MACHINES[name](FakeSystem(root))
    return root
