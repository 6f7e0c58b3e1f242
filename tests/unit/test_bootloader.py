from irisxe_sriov.boot import bootloader
from irisxe_sriov.choices import BootPath
from irisxe_sriov.machine import bootfiles
from irisxe_sriov.paths import LOADER_INFO_EFIVAR, Paths


def efivar(text: str) -> bytes:
    return b"\x06\x00\x00\x00" + (text + "\x00").encode("utf-16-le")


def test_decode_loader_info():
    assert bootloader.decode_loader_info(efivar("systemd-boot 257.9-1~deb13u1")) == (
        "systemd-boot 257.9-1~deb13u1"
    )
    assert bootloader.decode_loader_info(b"\x06\x00") is None


def test_detection_order(fake):
    paths = Paths(fake.root)
    assert bootfiles.detect(paths).name is None
    assert "no /etc/kernel/proxmox-boot-uuids" in bootfiles.detect(paths).evidence
    fake.grub()
    assert bootfiles.detect(paths).name == "grub"
    var = fake.root / "sys/firmware/efi/efivars" / LOADER_INFO_EFIVAR
    var.parent.mkdir(parents=True)
    var.write_bytes(efivar("GRUB 2.12-9"))
    found = bootfiles.detect(paths)
    assert found.name == "grub" and "GRUB 2.12-9" in found.evidence
    var.write_bytes(efivar("systemd-boot 257"))
    assert bootfiles.detect(paths).name == "systemd-boot"
    (fake.root / "etc/kernel").mkdir(parents=True)
    (fake.root / "etc/kernel/proxmox-boot-uuids").write_text("1234-ABCD\n")
    assert bootfiles.detect(paths).name == "proxmox"


def test_resolve_and_refresh(fake):
    paths = Paths(fake.root)
    assert bootfiles.resolve(BootPath.SYSTEMD_BOOT, paths).name == "systemd-boot"
    assert bootfiles.refresh_command(BootPath.GRUB, paths) is None  # no grub.cfg to regenerate
    fake.grub()
    assert bootfiles.refresh_command(BootPath.GRUB, paths) == ["update-grub"]
    assert bootfiles.refresh_command(BootPath.SYSTEMD_BOOT, paths) == [
        "update-initramfs",
        "-u",
        "-k",
        "all",
    ]
    assert bootfiles.refresh_command(BootPath.PROXMOX, paths) == ["proxmox-boot-tool", "refresh"]
    assert bootfiles.refresh_command(BootPath.NONE, paths) is None
