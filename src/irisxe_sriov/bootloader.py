"""Which boot path carries the kernel command line, and how each one is refreshed.

Detection order follows facts.md: 4: Proxmox's proxmox-boot-uuids first (it also has a
systemd-boot or GRUB underneath, but proxmox-boot-tool owns the entries), then the
systemd-boot LoaderInfo efivar, then GRUB's generated grub.cfg.
"""

from typing import NamedTuple

from irisxe_sriov.paths import Paths

GRUB = "grub"
SYSTEMD_BOOT = "systemd-boot"
PROXMOX = "proxmox"
NONE = "none"


class Detection(NamedTuple):
    name: str | None  # None: nothing found
    evidence: str


def decode_loader_info(raw: bytes) -> str | None:
    """efivarfs content: 4 bytes of attributes, then UTF-16LE text."""
    if len(raw) <= 4:
        return None
    return raw[4:].decode("utf-16-le", errors="replace").rstrip("\x00").strip() or None


def decide(proxmox_uuids: bool, loader_info: str | None, grub_cfg: bool) -> Detection:
    if proxmox_uuids:
        return Detection(PROXMOX, "/etc/kernel/proxmox-boot-uuids exists")
    if loader_info is not None and loader_info.startswith("systemd-boot"):
        return Detection(SYSTEMD_BOOT, f"the LoaderInfo efivar reads {loader_info!r}")
    if grub_cfg:
        reason = "/boot/grub/grub.cfg exists"
        if loader_info is not None:
            reason += f" and the LoaderInfo efivar reads {loader_info!r}"
        return Detection(GRUB, reason)
    return Detection(
        None,
        "no /etc/kernel/proxmox-boot-uuids, no systemd-boot LoaderInfo efivar and no "
        "/boot/grub/grub.cfg",
    )


def detect(paths: Paths) -> Detection:
    try:
        loader_info = decode_loader_info(paths.loader_info_efivar.read_bytes())
    except OSError:
        loader_info = None
    return decide(paths.proxmox_boot_uuids.exists(), loader_info, paths.grub_cfg.exists())


def resolve(configured: str, paths: Paths) -> Detection:
    """The boot path to write for: the configured one, or what detection found for auto."""
    if configured != "auto":
        return Detection(configured, "set in /etc/default/irisxe-sriov")
    return detect(paths)


def refresh_command(name: str | None, paths: Paths) -> list[str] | None:
    """The command that makes a changed command line reach the boot entries."""
    if name == GRUB:
        # update-grub on a system whose grub.cfg was never generated fails (facts.md: 4).
        return ["update-grub"] if paths.grub_cfg.exists() else None
    if name == SYSTEMD_BOOT:
        # Re-runs systemd-boot's kernel-install hook for every kernel in /boot (facts.md: 4).
        return ["update-initramfs", "-u", "-k", "all"]
    if name == PROXMOX:
        return ["proxmox-boot-tool", "refresh"]
    return None
