"""The kernel hold on fake roots, for every boot path: a newer kernel without an SR-IOV
provider is installed (no DKMS build for it, no own xe), and the boot stays on the newest
kernel that has one until the newest has one again, by hand until `kernels release`;
an admin's own default is kept; kernel_hold=off never holds; the hooks never ask for a
reboot. The boot loaders themselves (GRUB's grub-mkconfig, systemd-boot, proxmox-boot-tool)
are the VM tier's (tests/vm/test_boot_vm.py); here they run as "would run"."""

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

import fakesys
from irisxe_sriov.cli.commands import cli
from test_providers import GRUB_CFG

OLD = "6.12.40-amd64"  # fake.healthy()'s kernel: the pinned DKMS build is installed
NEW = "6.12.119+deb13-amd64"  # the update: no headers, so no DKMS build, no own xe
MACHINE_ID = "5e1ec7ed0000400080000000000000a1"


def ctl(root: Path, *args: str):
    return CliRunner().invoke(cli, ["--root", str(root), *args])


def host_with_a_new_kernel(fake, boot: str) -> Path:
    fake.healthy(numvfs=2)
    root = fake.root
    fakesys.install_kernel(root, NEW, config=fakesys.NO_XE_CONFIG)
    if boot == "grub":
        text = GRUB_CFG % {"default": "0", "newest": NEW, "older": OLD}
        fakesys.write(root / "boot/grub/grub.cfg", text)
        fakesys.write(root / "boot/grub/grubenv", "# GRUB Environment Block\n")
    elif boot == "systemd-boot":
        (root / "boot/grub/grub.cfg").unlink()
        for release in (OLD, NEW):
            fakesys.write(
                root / f"boot/efi/loader/entries/{MACHINE_ID}-{release}.conf",
                f"title Debian\nversion {release}\nlinux /{MACHINE_ID}/{release}/linux\n",
            )
        fakesys.write(root / "etc/kernel/cmdline", "root=UUID=1 ro\n")
    else:
        fakesys.write(root / "etc/kernel/proxmox-boot-uuids", "1234-ABCD\n")
        fakesys.write(root / "etc/kernel/cmdline", "root=ZFS=rpool/ROOT/pve-1 boot=zfs\n")
    fakesys.write(root / "etc/default/irisxe-sriov", f'NUM_VFS="2"\nBOOTLOADER="{boot}"\n')
    return root


def kernels_json(root: Path) -> dict[str, dict]:
    return {k["release"]: k for k in json.loads(ctl(root, "kernels", "--json").output)["kernels"]}


GRUB_PATH = f"gnulinux-advanced-u1>gnulinux-{OLD}-advanced-u1"
HOLD_COMMAND = {
    "grub": "would run: update-grub",
    "systemd-boot": f"would run: bootctl set-default {MACHINE_ID}-{OLD}.conf",
    "proxmox": f"would run: proxmox-boot-tool kernel pin {OLD}",
}
RELEASE_COMMAND = {
    "grub": "would run: update-grub",
    "systemd-boot": "would run: bootctl set-default ''",
    "proxmox": "would run: proxmox-boot-tool kernel unpin",
}


@pytest.mark.parametrize("boot", ["grub", "systemd-boot", "proxmox"])
def test_a_new_kernel_without_a_provider_is_held_back_and_released(fake, boot):
    root = host_with_a_new_kernel(fake, boot)
    held = ctl(root, "apply")
    assert held.exit_code == 0, held.output
    assert HOLD_COMMAND[boot] in held.output
    record = (root / "var/lib/irisxe-sriov/kernel-hold").read_text()
    assert f"release={OLD}\nkind=auto\nboot={boot}\n" in record
    assert f"reason=held: {NEW} has no SR-IOV provider for i915\n" in record
    dropin = root / "etc/default/grub.d/irisxe-sriov.cfg"
    if boot == "grub":
        assert f'GRUB_DEFAULT="{GRUB_PATH}"' in dropin.read_text()
    listing = kernels_json(root)
    assert (listing[OLD]["held"], listing[OLD]["boots_next"]) == (True, True)
    assert (listing[NEW]["held"], listing[NEW]["boots_next"]) == (False, False)
    status = json.loads(ctl(root, "status", "--json").output)
    assert status["hold"] == {
        "release": OLD,
        "kind": "auto",
        "reason": f"held: {NEW} has no SR-IOV provider for i915",
        "natural": NEW,
        "blocked": False,
    }
    text = ctl(root, "kernels").output
    assert f"next boot: {OLD} (held: {NEW} has no SR-IOV provider for i915; " in text
    findings = {f["id"]: f for f in json.loads(ctl(root, "doctor", "--json").output)["findings"]}
    assert findings["kernel.hold"]["level"] == "ok"
    # a second apply holds as it is: nothing to change
    assert ctl(root, "apply").output.strip() == "nothing to change"
    # by hand: released, the new kernel boots next
    released = ctl(root, "kernels", "release")
    assert released.exit_code == 0, released.output
    assert RELEASE_COMMAND[boot] in released.output
    assert not (root / "var/lib/irisxe-sriov/kernel-hold").exists()
    if boot == "grub":
        assert "GRUB_DEFAULT" not in dropin.read_text()
    # the boot loader's own default again: GRUB's and systemd-boot's files say the newest;
    # without a pin nothing here says what Proxmox VE boots
    assert kernels_json(root)[NEW]["boots_next"] is (None if boot == "proxmox" else True)
    # while kernel_hold=auto, status says the hold is due again (the next kernel hook or
    # apply takes it); kernel_hold=off keeps it released
    pending = json.loads(ctl(root, "status", "--json").output)["pending"]
    assert [p["id"] for p in pending if p["id"] == "kernel.hold"] == ["kernel.hold"]


def test_the_hold_goes_when_the_newest_kernel_has_a_provider(fake):
    """The DKMS build arrives for the new kernel (the compat layer learned its change, or
    its headers came): the next apply, or the kernel hook, releases the hold."""
    root = host_with_a_new_kernel(fake, "grub")
    assert ctl(root, "apply").exit_code == 0
    assert (root / "var/lib/irisxe-sriov/kernel-hold").exists()
    fakesys.write(root / f"lib/modules/{NEW}/updates/dkms/i915.ko.xz", b"")
    result = ctl(root, "kernels", "--notify", NEW)
    assert result.exit_code == 0, result.output
    assert f"irisxe-sriov: kernel {NEW}: SR-IOV by i915-sriov-dkms" in result.output
    assert not (root / "var/lib/irisxe-sriov/kernel-hold").exists()
    assert "GRUB_DEFAULT" not in (root / "etc/default/grub.d/irisxe-sriov.cfg").read_text()


def test_at_boot_a_hold_is_only_ever_released(fake):
    """The boot unit (irisxe-sriov-hold.service, `kernels --boot`): a hold whose reason
    stands stays, one whose reason is gone (dkms built the newest kernel's driver at this
    boot) is released; where none is in place, none is taken; it always exits 0."""
    root = host_with_a_new_kernel(fake, "grub")
    record = root / "var/lib/irisxe-sriov/kernel-hold"
    taken = ctl(root, "kernels", "--boot")  # a hold is due, but the boot never takes one
    assert (taken.exit_code, taken.output) == (0, "")
    assert not record.exists()
    assert ctl(root, "apply").exit_code == 0
    for marker in ("run/reboot-required", "run/reboot-required.pkgs"):
        (root / marker).unlink(missing_ok=True)
    kept = ctl(root, "kernels", "--boot")
    assert (kept.exit_code, kept.output) == (0, "")
    assert f"release={OLD}\n" in record.read_text()
    fakesys.write(root / f"lib/modules/{NEW}/updates/dkms/i915.ko.xz", b"")
    released = ctl(root, "kernels", "--boot")
    assert released.exit_code == 0, released.output
    assert not record.exists()
    assert "GRUB_DEFAULT" not in (root / "etc/default/grub.d/irisxe-sriov.cfg").read_text()
    assert not (root / "run/reboot-required").exists()  # the boot after this is as it was
    # a broken settings file: one warning line, exit 0, the hold left as it is
    assert ctl(root, "apply").exit_code == 0
    (root / "etc/default/irisxe-sriov").write_text('NUM_VFS="lots"\n')
    broken = ctl(root, "kernels", "--boot")
    assert broken.exit_code == 0
    assert broken.output.startswith("irisxe-sriov: warning: the kernel hold was not updated: ")
    assert broken.output.count("\n") == 1, broken.output


def test_the_kernel_hook_holds_and_never_asks_for_a_reboot(fake):
    root = host_with_a_new_kernel(fake, "grub")
    (root / f"lib/modules/{NEW}").rename(root / "new-kernel")  # not yet installed
    (root / f"boot/vmlinuz-{NEW}").unlink()
    assert ctl(root, "apply").exit_code == 0
    (root / "run/reboot-required").unlink()
    (root / "run/reboot-required.pkgs").unlink()
    assert not (root / "var/lib/irisxe-sriov/kernel-hold").exists()
    (root / "new-kernel").rename(root / f"lib/modules/{NEW}")  # the kernel package unpacks
    fakesys.write(root / f"boot/vmlinuz-{NEW}", "")
    hooked = ctl(root, "kernels", "--notify", NEW)
    assert hooked.exit_code == 0
    assert hooked.output.startswith(
        f"irisxe-sriov: kernel {NEW} has no SR-IOV provider for i915: the boot stays on {OLD}, "
        "which has (held; 'irisxe-sriov-ctl kernels release' releases it)\n"
    )
    assert (root / "var/lib/irisxe-sriov/kernel-hold").exists()
    assert not (root / "run/reboot-required").exists()
    # removing the new kernel again: the hook releases (nothing to hold back from)
    (root / f"boot/vmlinuz-{NEW}").unlink()
    import shutil

    shutil.rmtree(root / f"lib/modules/{NEW}")
    removed = ctl(root, "kernels", "--removed", NEW)
    assert removed.exit_code == 0, removed.output
    assert not (root / "var/lib/irisxe-sriov/kernel-hold").exists()
    assert not (root / "run/reboot-required").exists()


@pytest.mark.parametrize("boot", ["grub", "systemd-boot"])
def test_the_hook_holds_before_the_boot_loaders_own_hook_ran(fake, boot):
    """In a kernel's postinst.d ours (zz-irisxe-sriov) runs before zz-update-grub and
    zz-systemd-boot: grub.cfg and the loader entries still know the old kernel alone, and
    say it boots next. Once their hooks ran the new one would: it is held back all the
    same, on the old kernel's entry, which is there already."""
    root = host_with_a_new_kernel(fake, boot)
    if boot == "grub":
        text = GRUB_CFG % {"default": "0", "newest": OLD, "older": "6.12.30-amd64"}
        fakesys.write(root / "boot/grub/grub.cfg", text)
    else:
        (root / f"boot/efi/loader/entries/{MACHINE_ID}-{NEW}.conf").unlink()
    hooked = ctl(root, "kernels", "--notify", NEW)
    assert hooked.exit_code == 0, hooked.output
    assert f"the boot stays on {OLD}" in hooked.output
    record = (root / "var/lib/irisxe-sriov/kernel-hold").read_text()
    target = GRUB_PATH if boot == "grub" else f"{MACHINE_ID}-{OLD}.conf"
    assert f"release={OLD}\n" in record and f"target={target}\n" in record


@pytest.mark.parametrize(
    ("boot", "own_default", "named"),
    [
        ("grub", ("etc/default/grub", 'GRUB_DEFAULT="saved"\n'), "GRUB_DEFAULT=saved"),
        ("proxmox", ("etc/kernel/proxmox-boot-pin", f"{NEW}\n"), f"the Proxmox VE pin '{NEW}'"),
        (
            "systemd-boot",
            ("boot/efi/loader/loader.conf", f"default {MACHINE_ID}-{NEW}.conf\n"),
            f"loader.conf's default '{MACHINE_ID}-{NEW}.conf'",
        ),
    ],
)
def test_an_admins_own_default_is_kept_and_said(fake, boot, own_default, named):
    root = host_with_a_new_kernel(fake, boot)
    fakesys.write(root / own_default[0], own_default[1])
    refused = ctl(root, "apply")  # the admin's default boots the new kernel: no VF there
    assert refused.exit_code == 1 and "has no SR-IOV provider" in refused.output
    result = ctl(root, "apply", "--force")
    assert result.exit_code == 0, result.output
    assert not (root / "var/lib/irisxe-sriov/kernel-hold").exists()
    findings = {f["id"]: f for f in json.loads(ctl(root, "doctor", "--json").output)["findings"]}
    assert findings["kernel.hold"]["level"] == "warn"
    assert named in findings["kernel.hold"]["message"]
    assert json.loads(ctl(root, "status", "--json").output)["hold"]["blocked"] is True


def test_off_never_holds_and_no_provider_anywhere_is_a_warning(fake):
    root = host_with_a_new_kernel(fake, "grub")
    assert ctl(root, "config", "set", "kernel_hold=off").exit_code == 0
    assert not (root / "var/lib/irisxe-sriov/kernel-hold").exists()
    findings = {f["id"]: f for f in json.loads(ctl(root, "doctor", "--json").output)["findings"]}
    assert findings["kernel.hold"]["level"] == "warn"
    assert findings["kernel.hold"]["message"] == (
        f"kernel_hold=off: {NEW} has no SR-IOV provider for i915, and it boots next"
    )
    hooked = ctl(root, "kernels", "--notify", NEW)
    assert "no reboot is requested for it" in hooked.output
    assert not (root / "run/reboot-required").exists()
    # both kernels without a provider: nothing to hold on, and said so
    assert ctl(root, "config", "set", "kernel_hold=auto").exit_code == 0
    for name in (root / f"lib/modules/{OLD}/updates/dkms").iterdir():
        name.unlink()
    doctor = {f["id"]: f for f in json.loads(ctl(root, "doctor", "--json").output)["findings"]}
    # (kernel_hold=auto held on the old kernel meanwhile: the hold has no reason left)
    assert doctor["kernel.hold"]["message"] == (
        f"the hold on {OLD} should be released: {NEW} has no SR-IOV provider for i915, nor "
        "has any installed kernel: nothing to hold on"
    )


def test_a_hold_by_hand_stays_until_released(fake):
    root = host_with_a_new_kernel(fake, "grub")
    fakesys.write(root / f"lib/modules/{NEW}/updates/dkms/i915.ko.xz", b"")  # both serve
    refused = ctl(root, "kernels", "hold", "6.1.0-nope")
    assert refused.exit_code == 2 and "'6.1.0-nope' is no installed kernel" in refused.output
    assert ctl(root, "apply").exit_code == 0  # both serve: no hold
    for marker in ("run/reboot-required", "run/reboot-required.pkgs"):
        (root / marker).unlink(missing_ok=True)
    held = ctl(root, "kernels", "hold", OLD)
    assert held.exit_code == 0, held.output
    # the next boot lands elsewhere, but nothing the running system uses changed
    assert "reboot needed" not in held.output
    assert not (root / "run/reboot-required").exists()
    assert "kind=manual" in (root / "var/lib/irisxe-sriov/kernel-hold").read_text()
    assert ctl(root, "apply").output.strip() == "nothing to change"  # auto keeps it
    assert kernels_json(root)[OLD]["held"] is True
    assert ctl(root, "kernels", "release").exit_code == 0
    assert not (root / "var/lib/irisxe-sriov/kernel-hold").exists()
    (root / f"lib/modules/{NEW}/updates/dkms/i915.ko.xz").unlink()
    without = ctl(root, "kernels", "hold", NEW)
    assert without.exit_code == 2
    assert f"{NEW} has no SR-IOV provider for i915: hold on one that has: {OLD}" in without.output


def test_purge_releases_a_hold_outside_grub(fake):
    """Purge replays what apply recorded: for systemd-boot and Proxmox VE the release
    command is in the purge record (GRUB's hold goes with the drop-in)."""
    for boot, command in (
        ("systemd-boot", "bootctl set-default ''"),
        ("proxmox", "proxmox-boot-tool kernel unpin"),
    ):
        root = host_with_a_new_kernel(fake, boot)
        assert ctl(root, "apply").exit_code == 0
        assert command in (root / "var/lib/irisxe-sriov/purge-refresh").read_text().splitlines()
        managed = (root / "var/lib/irisxe-sriov/managed").read_text().splitlines()
        assert "/var/lib/irisxe-sriov/kernel-hold" in managed
        import shutil

        shutil.rmtree(root)
        root.mkdir()
