"""The sh undo of kernel command line edits in debian/irisxe-sriov.postrm gives back the
same bytes as the Python undo (irisxe_sriov.cmdline.undo) on the same record."""

import subprocess
from pathlib import Path

import pytest

from irisxe_sriov import cmdline

POSTRM = Path(__file__).resolve().parent.parent / "debian" / "irisxe-sriov.postrm"
WANT_I915 = ["intel_iommu=on", "i915.enable_guc=3", "i915.max_vfs=7", "module_blacklist=xe"]
WANT_XE = ["intel_iommu=on", "xe.max_vfs=7", "xe.force_probe=a7a0", "module_blacklist=i915"]


def functions() -> str:
    """The postrm's helper functions, without its case statement."""
    text = POSTRM.read_text()
    return text[text.index("sed_escape() {") : text.index("purge_files() {")]


def sh_undo(tmp_path: Path, line: str, record: str) -> str:
    (tmp_path / "functions.sh").write_text(functions())
    (tmp_path / "record").write_text(record)
    (tmp_path / "cmdline").write_text(line)
    done = subprocess.run(
        [
            "sh",
            "-c",
            f"state={tmp_path}; . {tmp_path}/functions.sh; "
            f"undo_cmdline {tmp_path}/record {tmp_path}/cmdline",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout


@pytest.mark.parametrize(
    ("line", "wanted"),
    [
        ("root=UUID=1 ro quiet\n", WANT_I915),
        ("root=UUID=1  ro   quiet i915.max_vfs=2 module_blacklist=foo,i915\n", WANT_I915),
        ("root=/dev/sda1 ro intel_iommu=on module_blacklist=xe\n", WANT_I915),
        ('root=/dev/sda1 acpi_osi="Windows 2020" quiet\n', WANT_XE),
        ("root=ZFS=rpool/ROOT/pve-1 boot=zfs xe.max_vfs=2\n", WANT_XE),
        ("quiet\tsplash xe.force_probe=46a6 i915.enable_guc=0\n", WANT_I915 + WANT_XE[1:3]),
    ],
)
def test_sh_undo_matches_python_undo(tmp_path, line, wanted):
    result = cmdline.apply(line, wanted)
    assert result.line != line
    record = cmdline.format_record(result.edits)
    assert sh_undo(tmp_path, result.line, record) == cmdline.undo(result.line, result.edits) == line


def test_sh_undo_after_a_driver_switch(tmp_path):
    first = cmdline.apply("root=/dev/vda1 ro i915.max_vfs=2\n", WANT_I915)
    second = cmdline.undo_then_apply(first.line, first.edits, WANT_XE)
    record = cmdline.format_record(second.edits)
    assert sh_undo(tmp_path, second.line, record) == "root=/dev/vda1 ro i915.max_vfs=2\n"
