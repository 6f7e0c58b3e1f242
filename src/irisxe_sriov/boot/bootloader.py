"""Which boot path carries the kernel command line, and how each one is refreshed.

Detection order (docs/notes.md, "Debian's boot paths"): Proxmox's proxmox-boot-uuids first (it also
has a
systemd-boot or GRUB underneath, but proxmox-boot-tool owns the entries), then the
systemd-boot LoaderInfo efivar, then GRUB's generated grub.cfg.
"""

from collections.abc import Callable
from pathlib import Path
from typing import NamedTuple

from irisxe_sriov.choices import BootPath
from irisxe_sriov.machine import reader
from irisxe_sriov.paths import Paths
from irisxe_sriov.write.plan import PROXMOX_REFRESH, UPDATE_GRUB, UPDATE_INITRAMFS


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


def bootctl_probe(paths: Paths) -> Callable[[], int | None]:
    """`bootctl is-installed` on the running system; under another root it never runs."""

    def run() -> int | None:
        if not paths.is_host:
            return None
        from irisxe_sriov.process import Runner  # the process gateway: real system only

        return Runner(live=True).probe(["bootctl", "is-installed", "--quiet"])

    return run


EFIVAR_LIMIT = 4096  # an efivar is a few bytes; efivarfs files are regular


def read_efivar_text(path: Path) -> str | None:
    """A text EFI variable (LoaderInfo, LoaderEntryDefault); None when absent or no
    regular file of sensible size (reader.read_bytes: never a hang)."""
    try:
        return decode_loader_info(reader.read_bytes(path, EFIVAR_LIMIT))
    except (OSError, reader.UnreadableFile):
        return None


def read_evidence(paths: Paths, bootctl: Callable[[], int | None] | None = None) -> Evidence:
    """`bootctl` gives the exit status of `bootctl is-installed` (None: not run); tests
    hand in a recorder, the default asks the real bootctl on the real system only. It
    runs only where the files leave the answer open (no Proxmox, no systemd-boot
    LoaderInfo)."""
    loader_info = read_efivar_text(paths.loader_info_efivar)
    proxmox = paths.proxmox_boot_uuids.exists()
    status = None
    if not proxmox and not (loader_info or "").startswith("systemd-boot"):
        status = (bootctl or bootctl_probe(paths))()
    return Evidence(
        proxmox_uuids=proxmox,
        loader_info=loader_info,
        grub_cfg=paths.grub_cfg.exists(),
        bootctl_installed=None if status is None else status == 0,
    )


def detect(paths: Paths, bootctl: Callable[[], int | None] | None = None) -> Detection:
    return read_evidence(paths, bootctl).decide()


def resolve_with(configured: BootPath, evidence: Evidence) -> Detection:
    """The boot path to write for: the configured one, or what the evidence says for auto.
    Pure."""
    if configured != BootPath.AUTO:
        return Detection(configured, "set in /etc/default/irisxe-sriov")
    return evidence.decide()


def resolve(
    configured: BootPath, paths: Paths, bootctl: Callable[[], int | None] | None = None
) -> Detection:
    """resolve_with, reading the evidence only where it is needed (configured auto)."""
    if configured != BootPath.AUTO:
        return Detection(configured, "set in /etc/default/irisxe-sriov")
    return detect(paths, bootctl)


def refresh_command(name: BootPath | None, paths: Paths) -> list[str] | None:
    """The command that makes a changed command line reach the boot entries."""
    if name == BootPath.GRUB:
        # update-grub on a system whose grub.cfg was never generated fails (docs/notes.md, "Debian's
        # boot paths").
        return list(UPDATE_GRUB) if paths.grub_cfg.exists() else None
    if name == BootPath.SYSTEMD_BOOT:
        # Re-runs systemd-boot's kernel-install hook for every kernel in /boot (docs/notes.md,
        # "Debian's boot paths").
        return list(UPDATE_INITRAMFS)
    if name == BootPath.PROXMOX:
        return list(PROXMOX_REFRESH)
    return None
