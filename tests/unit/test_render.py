"""Rendered files against golden copies in tests/unit/golden/<case>/ (the host paths below it).

The test only compares. After an intended change, `make golden` rewrites the copies (this
file run as a program); review the diff before committing it.
"""

import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

import pytest

from irisxe_sriov.choices import BootPath, Driver, VfRole
from irisxe_sriov.paths import Paths
from irisxe_sriov.settings import Settings
from irisxe_sriov.write import render

GOLDEN = Path(__file__).parent / "golden"
# render.dkms_override() below GOLDEN, at the path the package installs it
DKMS_OVERRIDE = "dkms/usr/share/irisxe-sriov/dkms/i915-sriov-dkms.conf"

CASES: dict[str, dict[str, Any]] = {
    "i915-grub-4vfs": {
        "settings": Settings(driver=Driver.I915, num_vfs=4, vf_roles={4: VfRole.NONE}),
        "boot_path": "grub",
        "kernel_cmdline": None,
        "cmdline_record": None,
    },
    "xe-systemd-boot-2vfs": {
        "settings": Settings(driver=Driver.XE, num_vfs=2, bootloader=BootPath.SYSTEMD_BOOT),
        "boot_path": "systemd-boot",
        "kernel_cmdline": "root=UUID=abcd ro quiet i915.max_vfs=2 module_blacklist=foo,xe\n",
        "cmdline_record": None,
    },
    "i915-proxmox-all-host": {
        "settings": Settings(
            driver=Driver.I915, num_vfs=2, vf_roles={1: VfRole.HOST, 2: VfRole.HOST}
        ),
        "boot_path": "proxmox",
        "kernel_cmdline": "root=ZFS=rpool/ROOT/pve-1 boot=zfs\n# second line is ignored\n",
        "cmdline_record": None,
    },
    "i915-none-0vfs": {
        "settings": Settings(num_vfs=0, bootloader=BootPath.NONE),
        "boot_path": "none",
        "kernel_cmdline": None,
        "cmdline_record": None,
    },
    # an image built before the GPU exists: no device id, no VF count or bindings
    "xe-grub-image": {
        "settings": Settings(driver=Driver.XE, num_vfs=3, vf_roles={3: VfRole.NONE}),
        "boot_path": "grub",
        "kernel_cmdline": None,
        "cmdline_record": None,
        "device": None,
        "binds": False,
    },
    # a virtual machine given a VF: the guest's driver options and parameters only
    "i915-grub-guest": {
        "settings": Settings(driver=Driver.I915),
        "boot_path": "grub",
        "kernel_cmdline": None,
        "cmdline_record": None,
        "role": "guest",
        "binds": False,
    },
    "xe-proxmox-guest": {
        "settings": Settings(driver=Driver.XE),
        "boot_path": "proxmox",
        "kernel_cmdline": "root=ZFS=rpool/ROOT/pve-1 boot=zfs intel_iommu=off\n",
        "cmdline_record": None,
        "device": "46a6",
        "role": "guest",
        "binds": False,
    },
    # something else at the PF address: nothing at all
    "i915-grub-role-none": {
        "settings": Settings(),
        "boot_path": "grub",
        "kernel_cmdline": None,
        "cmdline_record": None,
        "role": "none",
        "binds": False,
    },
}


def rendered_files(case: dict, tmp_path: Path) -> dict[str, str]:
    # role and binds only where the case gives them: the host cases use render's defaults
    machine = {key: case[key] for key in ("role", "binds") if key in case}
    result = render.render(
        case["settings"],
        Paths(tmp_path),
        device=case.get("device", "a7a0"),
        boot_path=case["boot_path"],
        kernel_cmdline=case["kernel_cmdline"],
        proc_cmdline="BOOT_IMAGE=/vmlinuz ro",
        cmdline_record=case["cmdline_record"],
        **machine,
    )
    return {**result.owned, **result.edited}


@pytest.mark.parametrize("name", sorted(CASES))
def test_golden(name, tmp_path):
    files = rendered_files(CASES[name], tmp_path)
    directory = GOLDEN / name
    expected = {
        "/" + str(p.relative_to(directory)): p.read_text()
        for p in sorted(directory.rglob("*"))
        if p.is_file()
    }
    assert files == expected


def test_systemd_boot_record_undoes_exactly_our_edits(tmp_path):
    case = CASES["xe-systemd-boot-2vfs"]
    first = render.render(
        case["settings"],
        Paths(tmp_path),
        device="a7a0",
        boot_path=BootPath.SYSTEMD_BOOT,
        kernel_cmdline=case["kernel_cmdline"],
        proc_cmdline=None,
        cmdline_record=None,
    )
    line = first.edited["/etc/kernel/cmdline"]
    record = first.owned["/var/lib/irisxe-sriov/kernel-cmdline"]
    again = render.render(
        case["settings"],
        Paths(tmp_path),
        device="a7a0",
        boot_path=BootPath.SYSTEMD_BOOT,
        kernel_cmdline=line,
        proc_cmdline=None,
        cmdline_record=record,
    )
    assert again.edited["/etc/kernel/cmdline"] == line  # idempotent
    assert again.owned["/var/lib/irisxe-sriov/kernel-cmdline"] == record
    back = render.render(
        case["settings"],
        Paths(tmp_path),
        device="a7a0",
        boot_path=BootPath.GRUB,
        kernel_cmdline=line,
        proc_cmdline=None,
        cmdline_record=record,
    )
    assert back.edited["/etc/kernel/cmdline"] == case["kernel_cmdline"]


def test_missing_kernel_cmdline_starts_from_proc_cmdline(tmp_path):
    result = render.render(
        Settings(),
        Paths(tmp_path),
        device="a7a0",
        boot_path=BootPath.SYSTEMD_BOOT,
        kernel_cmdline=None,
        proc_cmdline="BOOT_IMAGE=/boot/vmlinuz-6.12 root=/dev/vda1 ro initrd=\\initrd.img quiet",
        cmdline_record=None,
    )
    assert result.edited["/etc/kernel/cmdline"] == (
        "root=/dev/vda1 ro quiet intel_iommu=on i915.enable_guc=3 i915.max_vfs=7 "
        "module_blacklist=xe\n"
    )


def kernel_cmdline_files(tmp_path, boot_path, kernel_cmdline, proc_cmdline=None, record=None):
    return render.render(
        Settings(),
        Paths(tmp_path),
        device="a7a0",
        boot_path=boot_path,
        kernel_cmdline=kernel_cmdline,
        proc_cmdline=proc_cmdline,
        cmdline_record=record,
    )


def test_no_command_line_anywhere_gives_ours_alone(tmp_path):
    """No /etc/kernel/cmdline and no /proc/cmdline (an image being built): the line is
    our parameters, nothing invented before them."""
    result = kernel_cmdline_files(tmp_path, "systemd-boot", None)
    assert result.edited == {
        "/etc/kernel/cmdline": "intel_iommu=on i915.enable_guc=3 i915.max_vfs=7 "
        "module_blacklist=xe\n"
    }


def test_proxmox_purge_text_keeps_the_second_line_whatever_it_holds(tmp_path):
    """Proxmox VE reads the first line only: the rest is the admin's, even a token like
    ours in it, and purge gives back both lines as they were."""
    admin = "root=ZFS=rpool boot=zfs\nintel_iommu=on second line\n"
    result = kernel_cmdline_files(tmp_path, "proxmox", admin)
    assert result.edited["/etc/kernel/cmdline"] == (
        "root=ZFS=rpool boot=zfs intel_iommu=on i915.enable_guc=3 i915.max_vfs=7 "
        "module_blacklist=xe\nintel_iommu=on second line\n"
    )
    assert result.owned["/var/lib/irisxe-sriov/kernel-cmdline.purge"] == admin
    assert result.owned["/var/lib/irisxe-sriov/kernel-cmdline.undo.sed"].startswith("1{\n")


def test_an_admins_kernel_cmdline_we_never_edited_is_left_alone(tmp_path):
    """On GRUB an /etc/kernel/cmdline without our record is none of ours to edit back."""
    assert kernel_cmdline_files(tmp_path, "grub", "root=/dev/sda1 ro\n").edited == {}


def test_dkms_override(tmp_path):
    """The override dkms sources for i915-sriov-dkms (its behaviour in bash is
    tests/unit/test_compat.py's): the golden copy, compared."""
    assert render.dkms_override() == (GOLDEN / DKMS_OVERRIDE).read_text()


def test_fresh_settings_file_parses_back(tmp_path):
    from irisxe_sriov import settings

    wanted = Settings(driver=Driver.XE, num_vfs=3, vf_roles={3: VfRole.NONE})
    text = render.settings_file(wanted)
    assert settings.parse(text, "x") == wanted
    assert text.startswith("# /etc/default/irisxe-sriov")


def update_golden() -> None:
    """Rewrite tests/unit/golden/ from what render gives now (make golden)."""
    with tempfile.TemporaryDirectory() as scratch:
        for name, case in sorted(CASES.items()):
            directory = GOLDEN / name
            shutil.rmtree(directory, ignore_errors=True)
            for host_path, text in rendered_files(case, Path(scratch)).items():
                target = directory / host_path.lstrip("/")
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_text(text)
            print(f"wrote {directory}", file=sys.stderr)
    override = GOLDEN / DKMS_OVERRIDE
    shutil.rmtree(GOLDEN / "dkms", ignore_errors=True)
    override.parent.mkdir(parents=True)
    override.write_text(render.dkms_override())
    print(f"wrote {override}", file=sys.stderr)


if __name__ == "__main__":
    update_golden()
