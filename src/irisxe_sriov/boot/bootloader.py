"""Which boot path carries the kernel command line, decided from the evidence
machine/bootfiles.py reads (which also names the command that refreshes each path).

Detection order (docs/notes.md, "Debian's boot paths"): Proxmox's proxmox-boot-uuids
first (it also has a systemd-boot or GRUB underneath, but proxmox-boot-tool owns the
entries), then the systemd-boot LoaderInfo efivar, then GRUB's generated grub.cfg.
Pure: machine/bootfiles.py reads the evidence (and asks bootctl).
"""

from typing import NamedTuple

from irisxe_sriov.choices import BootPath


class Detection(NamedTuple):
    name: BootPath | None  # None: nothing found; never AUTO
    evidence: str


def decode_loader_info(raw: bytes) -> str | None:
    """efivarfs content: 4 bytes of attributes, then UTF-16LE text."""
    if len(raw) <= 4:
        return None
    return raw[4:].decode("utf-16-le", errors="replace").rstrip("\x00").strip() or None


def decide(
    proxmox_uuids: bool, loader_info: str | None, grub_cfg: bool, bootctl_installed: bool | None
) -> Detection:
    """The boot path from the evidence, strongest first: what booted this system (the
    LoaderInfo efivar) beats what is installed (grub.cfg, `bootctl is-installed`)."""
    if proxmox_uuids:
        return Detection(BootPath.PROXMOX, "/etc/kernel/proxmox-boot-uuids exists")
    if loader_info is not None and loader_info.startswith("systemd-boot"):
        return Detection(BootPath.SYSTEMD_BOOT, f"the LoaderInfo efivar reads {loader_info!r}")
    if grub_cfg:
        reason = "/boot/grub/grub.cfg exists"
        if loader_info is not None:
            reason += f" and the LoaderInfo efivar reads {loader_info!r}"
        elif bootctl_installed:
            reason += " (bootctl is-installed also finds systemd-boot, but nothing says it booted)"
        return Detection(BootPath.GRUB, reason)
    if bootctl_installed:
        return Detection(BootPath.SYSTEMD_BOOT, "bootctl is-installed finds systemd-boot")
    return Detection(
        None,
        "no /etc/kernel/proxmox-boot-uuids, no systemd-boot LoaderInfo efivar, no "
        "/boot/grub/grub.cfg and no systemd-boot that bootctl finds",
    )


class Evidence(NamedTuple):
    """What the root shows about its boot path (decide judges it)."""

    proxmox_uuids: bool
    loader_info: str | None
    grub_cfg: bool
    bootctl_installed: bool | None  # None: not asked (another root, no bootctl)

    def decide(self) -> Detection:
        return decide(self.proxmox_uuids, self.loader_info, self.grub_cfg, self.bootctl_installed)


def resolve_with(configured: BootPath, evidence: Evidence) -> Detection:
    """The boot path to write for: the configured one, or what the evidence says for auto.
    Pure."""
    if configured != BootPath.AUTO:
        return Detection(configured, "set in /etc/default/irisxe-sriov")
    return evidence.decide()
