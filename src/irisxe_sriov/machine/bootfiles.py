"""What the boot files and the firmware say: the evidence for the boot path, the files
that carry the kernel parameters, which kernel boots next, the boot defaults beside our
kernel hold, and Secure Boot. Every read is bounded (reader.py); bootctl and mokutil run
through the process gateway, on the real system only. What the files mean is decided by
the pure modules of boot/ and kernels/hold.py.
"""

from collections.abc import Callable, Mapping
from pathlib import Path
from types import MappingProxyType
from typing import NamedTuple

from irisxe_sriov.boot import bootcheck, bootloader, nextboot
from irisxe_sriov.choices import BootPath
from irisxe_sriov.kernels import hold
from irisxe_sriov.machine import reader, secureboot
from irisxe_sriov.paths import DKMS_KEY, ESP_MOUNTS, LOADER_ENTRY_DEFAULT_EFIVAR, Paths
from irisxe_sriov.write.plan import PROXMOX_REFRESH, UPDATE_GRUB, UPDATE_INITRAMFS


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
        return bootloader.decode_loader_info(reader.read_bytes(path, EFIVAR_LIMIT))
    except (OSError, reader.UnreadableFile):
        return None


def read_evidence(
    paths: Paths, bootctl: Callable[[], int | None] | None = None
) -> bootloader.Evidence:
    """`bootctl` gives the exit status of `bootctl is-installed` (None: not run); tests
    hand in a recorder, the default asks the real bootctl on the real system only. It
    runs only where the files leave the answer open (no Proxmox, no systemd-boot
    LoaderInfo)."""
    loader_info = read_efivar_text(paths.loader_info_efivar)
    proxmox = paths.proxmox_boot_uuids.exists()
    status = None
    if not proxmox and not (loader_info or "").startswith("systemd-boot"):
        status = (bootctl or bootctl_probe(paths))()
    return bootloader.Evidence(
        proxmox_uuids=proxmox,
        loader_info=loader_info,
        grub_cfg=paths.grub_cfg.exists(),
        bootctl_installed=None if status is None else status == 0,
    )


def detect(paths: Paths, bootctl: Callable[[], int | None] | None = None) -> bootloader.Detection:
    return read_evidence(paths, bootctl).decide()


def resolve(
    configured: BootPath, paths: Paths, bootctl: Callable[[], int | None] | None = None
) -> bootloader.Detection:
    """resolve_with, reading the evidence only where it is needed (configured auto)."""
    if configured != BootPath.AUTO:
        return bootloader.Detection(configured, "set in /etc/default/irisxe-sriov")
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


def read_boot_files(paths: Paths, boot_path: BootPath | None) -> bootcheck.BootFiles:
    later: list[tuple[str, str]] = []
    directory = paths.grub_dropin.parent
    if boot_path == BootPath.GRUB and directory.is_dir():
        for path in sorted(directory.glob("*.cfg")):
            text = reader.read_text(path)
            if path.name > paths.grub_dropin.name and text is not None:
                later.append((paths.display(path), text))
    entries: list[tuple[str, str]] = []
    if boot_path == BootPath.SYSTEMD_BOOT:
        for mount in ESP_MOUNTS:
            for path in sorted(paths.at(mount).glob("loader/entries/*.conf")):
                text = reader.read_text(path)
                if text is not None:
                    entries.append((paths.display(path), text))
    return bootcheck.BootFiles(
        boot_path=boot_path,
        dropin=reader.read_text(paths.grub_dropin) if boot_path == BootPath.GRUB else None,
        later_dropins=tuple(later),
        grub_cfg=reader.read_text(paths.grub_cfg) if boot_path == BootPath.GRUB else None,
        kernel_cmdline=reader.read_text(paths.kernel_cmdline),
        entries=tuple(entries),
    )


class Loader(NamedTuple):
    """systemd-boot's files: its entries and what says which is the default."""

    entries: Mapping[str, str]  # entry file name without .conf -> text
    conf: str | None  # loader.conf
    efivar_default: str | None  # the LoaderEntryDefault EFI variable (bootctl set-default)

    @property
    def conf_default(self) -> str | None:
        for line in (self.conf or "").splitlines():
            words = line.split(None, 1)
            if len(words) == 2 and words[0] == "default":
                return words[1].strip()
        return None


def read_loader(paths: Paths) -> Loader | None:
    """The ESP's loader files (where Debian mounts an ESP or XBOOTLDR), None when none."""
    for esp in ESP_MOUNTS:
        directory = paths.at(esp) / "loader"
        if not (directory / "entries").is_dir():
            continue
        entries = {
            p.name.removesuffix(".conf"): reader.read_text(p) or ""
            for p in (directory / "entries").glob("*.conf")
        }
        efivar = paths.efivar(LOADER_ENTRY_DEFAULT_EFIVAR)
        return Loader(
            MappingProxyType(entries),
            reader.read_text(directory / "loader.conf"),
            read_efivar_text(efivar),
        )
    return None


def read_next_boot(paths: Paths, boot_path: BootPath | None) -> nextboot.NextBoot:
    """The next kernel for the boot path that carries the command line."""
    if boot_path == BootPath.GRUB:
        return nextboot.grub_next(reader.read_text(paths.grub_cfg), reader.read_text(paths.grubenv))
    if boot_path == BootPath.SYSTEMD_BOOT:
        loader = read_loader(paths)
        if loader is None:
            where = ", ".join(ESP_MOUNTS)
            return nextboot.NextBoot(None, f"no systemd-boot loader/entries found in {where}")
        return nextboot.systemd_boot_next(loader.entries, loader.conf, loader.efivar_default)
    if boot_path == BootPath.PROXMOX:
        pin = (reader.read_text(paths.proxmox_boot_pin, 4096) or "").strip()
        if pin:
            return nextboot.NextBoot(pin, f"Proxmox VE: the kernel pin {pin!r}")
    return nextboot.NextBoot(None, f"not known for boot path {boot_path or 'none found'}")


def read_defaults(paths: Paths, boot: BootPath | None, ours: hold.Record | None) -> hold.Defaults:
    """What the boot path says; an admin default equal to our own hold is no admin's."""
    mine = ours.target if ours is not None else None
    if boot == BootPath.GRUB:
        files = [paths.grub_defaults]
        directory = paths.grub_dropin.parent
        if directory.is_dir():
            files += [p for p in sorted(directory.glob("*.cfg")) if p != paths.grub_dropin]
        texts = [reader.read_text(path) or "" for path in files]
        value = hold.grub_default(texts)
        admin = None if value in (None, "0", mine) else f"GRUB_DEFAULT={value}"
        generated = reader.read_text(paths.grub_cfg) or ""
        if admin is None:
            # what grub.cfg was last made with, where the files say nothing
            made = nextboot.grub_default(generated)
            if made not in (None, "0", mine):
                admin = f"grub.cfg's default {made!r}"
        menu = nextboot.parse_menu(generated)
        return hold.Defaults(boot, admin, MappingProxyType(hold.grub_targets(menu)))
    if boot == BootPath.SYSTEMD_BOOT:
        loader = read_loader(paths)
        admin = None
        if loader is not None:
            if loader.efivar_default and loader.efivar_default != mine:
                admin = f"the LoaderEntryDefault EFI variable {loader.efivar_default!r}"
            elif loader.conf_default and loader.conf_default != mine:
                admin = f"loader.conf's default {loader.conf_default!r}"
        entries = loader.entries if loader is not None else {}
        return hold.Defaults(boot, admin, MappingProxyType(hold.entry_targets(entries)))
    if boot == BootPath.PROXMOX:
        pin = (reader.read_text(paths.proxmox_boot_pin, 4096) or "").strip()
        admin = f"the Proxmox VE pin {pin!r}" if pin and pin != mine else None
        return hold.Defaults(boot, admin, MappingProxyType({}))
    return hold.Defaults(boot, None, MappingProxyType({}))


def read_secure_boot(paths: Paths) -> secureboot.SecureBoot:
    """The Secure Boot state and whether the dkms key is enrolled. mokutil runs only on
    the real system (through process.Runner, the one process gateway)."""
    try:
        efivar = paths.efivar(secureboot.SECURE_BOOT_EFIVAR)
        enabled = secureboot.parse_secure_boot(reader.read_bytes(efivar, 64))
    except (OSError, reader.UnreadableFile):
        enabled = None
    key_present = paths.at(DKMS_KEY).is_file()
    if not enabled or not key_present:
        return secureboot.SecureBoot(enabled, key_present, secureboot.Enrolment.UNKNOWN)
    if not paths.is_host:
        return secureboot.SecureBoot(
            enabled, key_present, secureboot.Enrolment.UNKNOWN, "cannot be checked under --root"
        )
    import shutil

    if shutil.which("mokutil") is None:
        return secureboot.SecureBoot(
            enabled,
            key_present,
            secureboot.Enrolment.UNKNOWN,
            "mokutil is not installed: apt install mokutil",
        )
    from irisxe_sriov.process import Runner  # the process gateway, real system only

    status, output = Runner(live=True).capture(["mokutil", "--test-key", DKMS_KEY], quiet=True)
    enrolment = secureboot.parse_test_key(output)
    why = (
        "" if enrolment != secureboot.Enrolment.UNKNOWN else f"mokutil said: {output.strip()[:200]}"
    )
    return secureboot.SecureBoot(enabled, key_present, enrolment, why or f"mokutil exited {status}")
