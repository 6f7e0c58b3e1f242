"""Every Debian 13 boot path on fixture roots: what apply writes, where status finds the
parameters lost, and apply -> undo round trips that give the admin's bytes back."""

import json

import pytest
from click.testing import CliRunner

from irisxe_sriov.boot import bootcheck
from irisxe_sriov.choices import BootPath
from irisxe_sriov.cli.commands import cli
from irisxe_sriov.machine import bootfiles
from irisxe_sriov.paths import LOADER_INFO_EFIVAR, Paths
from test_postrm_undo import sh_undo

I915 = ["intel_iommu=on", "i915.enable_guc=3", "i915.max_vfs=7", "module_blacklist=xe"]


def ctl(root, *args):
    result = CliRunner().invoke(cli, ["--root", str(root), *args])
    assert result.exit_code in (0, 1), result.output
    return result


def status(root):
    return json.loads(ctl(root, "status", "--json").output)


def write(fake, host_path, text):
    target = fake.root / host_path.lstrip("/")
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(text)


def booted_with(fake, extra=""):
    fake.set_cmdline(f"BOOT_IMAGE=/vmlinuz root=/dev/vda1 ro quiet {extra}".strip())


# --- GRUB --------------------------------------------------------------------------------


@pytest.fixture
def grub_host(fake):
    fake.healthy(numvfs=2)
    booted_with(fake)  # booted before irisxe-sriov: no parameters yet
    write(
        fake,
        "/etc/default/grub.d/50-cloudimg-settings.cfg",
        'GRUB_CMDLINE_LINUX_DEFAULT="console=ttyS0"\n',
    )  # sorts before ours: harmless
    return fake


def test_grub_chain_names_each_missing_link(grub_host):
    root = grub_host.root
    doc = status(root)
    assert doc["kernel"]["not_applied"] == "/etc/default/grub.d/irisxe-sriov.cfg"
    assert doc["pending"][0]["fix"] == "irisxe-sriov-ctl apply; reboot"
    output = ctl(root, "config", "set", "num_vfs=2").output
    assert "would run: update-grub" in output  # under a fake root: printed, not run
    doc = status(root)
    assert doc["kernel"]["not_applied"] == "/boot/grub/grub.cfg"
    assert doc["pending"][0]["fix"] == "update-grub; reboot"
    write(
        grub_host,
        "/boot/grub/grub.cfg",
        "menuentry 'Debian' {\n\tlinux /vmlinuz root=/dev/vda1 ro console=ttyS0 "
        + " ".join(I915)
        + "\n}\n",
    )
    doc = status(root)
    assert doc["kernel"]["not_applied"] is None
    assert doc["pending"][0]["fix"] == "reboot"
    booted_with(grub_host, " ".join(I915))
    assert status(root)["pending"] == []


def test_a_later_grub_dropin_that_overrides_is_named(grub_host):
    ctl(grub_host.root, "apply")
    write(grub_host, "/etc/default/grub.d/zz-local.cfg", 'GRUB_CMDLINE_LINUX_DEFAULT="quiet"\n')
    doc = status(grub_host.root)
    assert doc["kernel"]["not_applied"] == "/etc/default/grub.d/zz-local.cfg"
    findings = json.loads(ctl(grub_host.root, "doctor", "--json").output)["findings"]
    cmdline = next(f for f in findings if f["id"] == "cmdline.parameters")
    assert "zz-local.cfg sorts after" in cmdline["message"]
    assert "rename it to sort before irisxe-sriov.cfg" in cmdline["fix"]
    write(
        grub_host,
        "/etc/default/grub.d/zz-local.cfg",
        'GRUB_CMDLINE_LINUX_DEFAULT="$GRUB_CMDLINE_LINUX_DEFAULT quiet"\n',
    )
    assert status(grub_host.root)["kernel"]["not_applied"] == "/boot/grub/grub.cfg"


# --- systemd-boot and Proxmox -------------------------------------------------------------


def efivar(text: str) -> bytes:
    return b"\x06\x00\x00\x00" + (text + "\x00").encode("utf-16-le")


@pytest.fixture
def sdboot_host(fake):
    fake.healthy(numvfs=2)
    (fake.root / "boot/grub/grub.cfg").unlink()
    booted_with(fake)
    write(fake, "/sys/firmware/efi/efivars/" + LOADER_INFO_EFIVAR, "")
    (fake.root / "sys/firmware/efi/efivars" / LOADER_INFO_EFIVAR).write_bytes(
        efivar("systemd-boot 257.9-1~deb13u1")
    )
    return fake


ADMIN_LINE = "root=UUID=0a1b  ro quiet i915.max_vfs=2 module_blacklist=foo\n"


def test_systemd_boot_edit_status_and_round_trip(sdboot_host, tmp_path):
    root = sdboot_host.root
    write(sdboot_host, "/etc/kernel/cmdline", ADMIN_LINE)
    output = ctl(root, "apply").output
    assert "would run: update-initramfs -u -k all" in output
    line = (root / "etc/kernel/cmdline").read_text()
    assert line == (
        "root=UUID=0a1b  ro quiet i915.max_vfs=7 module_blacklist=foo,xe "
        "intel_iommu=on i915.enable_guc=3\n"
    )
    entry = "/boot/efi/loader/entries/0123-6.12.48-amd64.conf"
    write(sdboot_host, entry, "title Debian\noptions root=UUID=0a1b ro quiet\n")
    assert status(root)["kernel"]["not_applied"] == entry
    write(sdboot_host, entry, f"title Debian\noptions {line}")
    assert status(root)["pending"][0]["fix"] == "reboot"
    record = (root / "var/lib/irisxe-sriov/kernel-cmdline").read_text()
    # purge's sh undo gives the same bytes
    undone = sh_undo(tmp_path, line, record)
    assert undone == ADMIN_LINE
    # and leaving the boot path through the tool gives the same bytes back
    ctl(root, "config", "set", "bootloader=grub")
    assert (root / "etc/kernel/cmdline").read_text() == ADMIN_LINE
    assert not (root / "var/lib/irisxe-sriov/kernel-cmdline").exists()


def test_missing_kernel_cmdline_is_made_from_proc_cmdline(sdboot_host):
    ctl(sdboot_host.root, "apply")
    assert (sdboot_host.root / "etc/kernel/cmdline").read_text() == (
        "root=/dev/vda1 ro quiet " + " ".join(I915) + "\n"
    )


def test_proxmox_edits_only_the_first_line(fake):
    fake.healthy(numvfs=2)
    booted_with(fake)
    write(fake, "/etc/kernel/proxmox-boot-uuids", "1234-ABCD\n")
    write(fake, "/etc/kernel/cmdline", "root=ZFS=rpool/ROOT/pve-1 boot=zfs\nsecond line\n")
    output = ctl(fake.root, "apply").output
    assert "would run: proxmox-boot-tool refresh" in output
    assert (fake.root / "etc/kernel/cmdline").read_text() == (
        "root=ZFS=rpool/ROOT/pve-1 boot=zfs " + " ".join(I915) + "\nsecond line\n"
    )
    assert status(fake.root)["pending"][0]["fix"] == "proxmox-boot-tool refresh; reboot"
    ctl(fake.root, "config", "set", "bootloader=none")
    assert (fake.root / "etc/kernel/cmdline").read_text() == (
        "root=ZFS=rpool/ROOT/pve-1 boot=zfs\nsecond line\n"
    )


# --- none --------------------------------------------------------------------------------


def test_none_writes_nothing_and_says_what_to_add(fake):
    fake.healthy(numvfs=2)
    booted_with(fake)
    output = ctl(fake.root, "config", "set", "bootloader=none").output
    assert (
        "note: kernel parameters not written (bootloader=none): add intel_iommu=on "
        "i915.enable_guc=3 i915.max_vfs=7 module_blacklist=xe yourself: for GRUB to "
        "GRUB_CMDLINE_LINUX_DEFAULT in /etc/default/grub, then update-grub"
    ) in output
    assert not (fake.root / "etc/default/grub.d/irisxe-sriov.cfg").exists()
    doc = status(fake.root)
    assert doc["pending"][0]["what"].endswith(
        "nothing writes the kernel parameters (bootloader=none)"
    )


# --- purge --------------------------------------------------------------------------------

PURGE_REFRESH = "var/lib/irisxe-sriov/purge-refresh"


def test_purge_refresh_is_the_refresh_of_the_boot_path_written(sdboot_host):
    """What the postrm replays after taking our lines away (docs/notes.md, "Purge"): the
    refresh each boot path needs, decided when the lines were written, and initramfs-tools'
    trigger for our modprobe.d options unless that refresh rebuilds every initrd."""
    fake, root = sdboot_host, sdboot_host.root
    trigger = "dpkg-trigger --no-await update-initramfs\n"
    ctl(root, "apply")
    assert (root / PURGE_REFRESH).read_text() == "update-initramfs -u -k all\n"
    write(fake, "/etc/kernel/proxmox-boot-uuids", "1234-ABCD\n")
    ctl(root, "config", "set", "bootloader=proxmox")
    assert (root / PURGE_REFRESH).read_text() == "proxmox-boot-tool refresh\n" + trigger
    # GRUB with no grub.cfg: update-grub would fail; only the initrds need refreshing
    ctl(root, "config", "set", "bootloader=grub")
    assert (root / PURGE_REFRESH).read_text() == trigger
    fake.grub()
    ctl(root, "apply")
    assert (root / PURGE_REFRESH).read_text() == "update-grub\n" + trigger
    ctl(root, "config", "set", "bootloader=none")
    assert (root / PURGE_REFRESH).read_text() == trigger
    assert f"/{PURGE_REFRESH}" in (root / "var/lib/irisxe-sriov/managed").read_text()


# --- detection ---------------------------------------------------------------------------


def test_bootctl_is_asked_only_through_the_probe(fake):
    paths = Paths(fake.root)
    calls = []

    def bootctl_recorder():  # stands in for `bootctl is-installed` (no ESP here)
        calls.append("bootctl is-installed --quiet")
        return 0

    found = bootfiles.detect(paths, bootctl_recorder)
    assert found.name == "systemd-boot" and "bootctl is-installed" in found.evidence
    assert calls == ["bootctl is-installed --quiet"]
    fake.grub()
    found = bootfiles.detect(paths, bootctl_recorder)
    assert found.name == "grub" and "nothing says it booted" in found.evidence
    # the default probe never runs a command under a fake root
    assert bootfiles.bootctl_probe(paths)() is None


def test_locate_pure_cases():
    files = bootcheck.BootFiles(BootPath.SYSTEMD_BOOT, None, (), None, None, ())
    assert bootcheck.locate(files, I915).file == "/etc/kernel/cmdline"
    assert bootcheck.overrides('export GRUB_CMDLINE_LINUX_DEFAULT="x"')
    assert not bootcheck.overrides('GRUB_CMDLINE_LINUX_DEFAULT="${GRUB_CMDLINE_LINUX_DEFAULT} x"')
