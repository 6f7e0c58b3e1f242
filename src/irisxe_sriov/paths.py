"""Every host path, resolved under a root directory.

Nothing else in the package spells "/etc", "/sys", "/proc", "/boot" or "/run": tests and
`--root` work on a fake root, and the real host is just root "/".
"""

from pathlib import Path

PACKAGE = "irisxe-sriov"
# systemd-boot's loader identity (facts.md: 4, boot loader identity on UEFI).
LOADER_INFO_EFIVAR = "LoaderInfo-4a67b082-0a4c-41cf-b6c7-440b29bb8c4f"


class Paths:
    """Host paths under `root`. `display()` gives the spelling a person sees on the host."""

    def __init__(self, root: str | Path = "/") -> None:
        self.root = Path(root)

    @property
    def is_host(self) -> bool:
        """True when the root is the running system, so host commands may run."""
        return self.root.resolve() == Path("/")

    def at(self, host_path: str) -> Path:
        return self.root / host_path.lstrip("/")

    def display(self, path: Path) -> str:
        """The host spelling of a path under the root ("/etc/...")."""
        relative = path.relative_to(self.root).as_posix()
        return "/" if relative == "." else "/" + relative

    # --- settings and state -----------------------------------------------------------
    @property
    def settings(self) -> Path:
        return self.at("/etc/default/irisxe-sriov")

    @property
    def state_dir(self) -> Path:
        return self.at("/var/lib/irisxe-sriov")

    @property
    def manifest(self) -> Path:
        """Files (and directories, ending in "/") that apply created; purge removes them."""
        return self.state_dir / "managed"

    @property
    def cmdline_record(self) -> Path:
        """Kernel command line tokens this package added or replaced (facts.md: 4)."""
        return self.state_dir / "kernel-cmdline"

    @property
    def lock(self) -> Path:
        return self.state_dir / "lock"

    @property
    def reboot_required(self) -> Path:
        return self.at("/run/reboot-required")

    @property
    def reboot_required_pkgs(self) -> Path:
        return self.at("/run/reboot-required.pkgs")

    def ucf_cache(self, host_path: str) -> Path:
        """ucf's copy of the version last handed to it (its three-way merge base)."""
        return self.at("/var/lib/ucf/cache") / host_path.replace("/", ":")

    # --- files this package renders ---------------------------------------------------
    @property
    def grub_dropin(self) -> Path:
        # Sorts after cloud images' 50-cloudimg-settings.cfg (facts.md: 4, GRUB).
        return self.at("/etc/default/grub.d/irisxe-sriov.cfg")

    @property
    def modprobe_conf(self) -> Path:
        return self.at("/etc/modprobe.d/irisxe-sriov.conf")

    @property
    def sysfs_dropin(self) -> Path:
        return self.at("/etc/sysfs.d/irisxe-sriov.conf")

    @property
    def udev_rule(self) -> Path:
        return self.at("/etc/udev/rules.d/70-irisxe-sriov.rules")

    @property
    def driverctl_dir(self) -> Path:
        return self.at("/etc/driverctl.d")

    def driverctl_override(self, address: str) -> Path:
        return self.driverctl_dir / f"pci-{address}"

    # --- boot loaders -----------------------------------------------------------------
    @property
    def kernel_cmdline(self) -> Path:
        return self.at("/etc/kernel/cmdline")

    @property
    def proxmox_boot_uuids(self) -> Path:
        return self.at("/etc/kernel/proxmox-boot-uuids")

    @property
    def grub_cfg(self) -> Path:
        return self.at("/boot/grub/grub.cfg")

    @property
    def loader_info_efivar(self) -> Path:
        return self.at("/sys/firmware/efi/efivars") / LOADER_INFO_EFIVAR

    # --- read-only host state ---------------------------------------------------------
    def pci_device(self, address: str) -> Path:
        return self.at("/sys/bus/pci/devices") / address

    def module(self, name: str) -> Path:
        return self.at("/sys/module") / name

    @property
    def iommu_class(self) -> Path:
        return self.at("/sys/class/iommu")

    @property
    def proc_cmdline(self) -> Path:
        return self.at("/proc/cmdline")

    @property
    def kernel_release(self) -> Path:
        return self.at("/proc/sys/kernel/osrelease")

    @property
    def os_release(self) -> tuple[Path, Path]:
        return self.at("/etc/os-release"), self.at("/usr/lib/os-release")

    @property
    def sysfs_conf(self) -> Path:
        # sysfsutils' unit has ConditionPathExists on it (facts.md: 5).
        return self.at("/etc/sysfs.conf")

    @property
    def driverctl_bin(self) -> Path:
        return self.at("/usr/sbin/driverctl")

    @property
    def dpkg_status(self) -> Path:
        return self.at("/var/lib/dpkg/status")
