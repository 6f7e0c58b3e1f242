"""The postrm's restore of /etc/kernel/cmdline replays what Python wrote down: the purge
text while the line is as apply wrote it, and the sed script of cmdline.undo_sed for a line
edited since, which must give back the same bytes as the Python undo (cmdline.undo)."""

import subprocess
from pathlib import Path

import pytest

from irisxe_sriov import cmdline

POSTRM = Path(__file__).resolve().parents[2] / "debian" / "irisxe-sriov.postrm"
WANT_I915 = ["intel_iommu=on", "i915.enable_guc=3", "i915.max_vfs=7", "module_blacklist=xe"]
WANT_XE = ["intel_iommu=on", "xe.max_vfs=7", "xe.force_probe=a7a0", "module_blacklist=i915"]
# The admin's edit after apply wrote the line: a token of their own at the end.
LATER = " admin.later=1"


def restore_function() -> str:
    text = POSTRM.read_text()
    return text[text.index("restore_cmdline() {") : text.index("# replay_refresh:")]


def sh_restore(tmp_path: Path, written: str, edits: tuple[cmdline.Edit, ...], now: str) -> str:
    """Run the postrm's restore_cmdline on a state apply left for `written` (made with
    `edits`) while /etc/kernel/cmdline holds `now`; the line it leaves."""
    state = tmp_path / "state"
    state.mkdir(exist_ok=True)
    (state / "kernel-cmdline.written").write_text(written)
    (state / "kernel-cmdline.purge").write_text(cmdline.undo(written, edits))
    (state / "kernel-cmdline.undo.sed").write_text(cmdline.undo_sed(edits))
    line = tmp_path / "cmdline"
    line.write_text(now)
    (tmp_path / "restore.sh").write_text(restore_function())
    subprocess.run(
        [
            "sh",
            "-euc",
            f"state={state}; kernel_cmdline={line}; . {tmp_path}/restore.sh; restore_cmdline",
        ],
        check=True,
    )
    return line.read_text()


def sh_undo(tmp_path: Path, line: str, record: str) -> str:
    """What the sed script of `record` makes of `line` (GNU sed, as the postrm runs it)."""
    script = tmp_path / "undo.sed"
    script.write_text(cmdline.undo_sed(cmdline.parse_record(record)))
    return subprocess.run(
        ["sed", "-f", str(script)], input=line, capture_output=True, text=True, check=True
    ).stdout


LINES = [
    ("root=UUID=1 ro quiet\n", WANT_I915),
    ("root=UUID=1  ro   quiet i915.max_vfs=2 module_blacklist=foo,i915\n", WANT_I915),
    ("root=/dev/sda1 ro intel_iommu=on module_blacklist=xe\n", WANT_I915),
    ('root=/dev/sda1 acpi_osi="Windows 2020" quiet\n', WANT_XE),
    ("root=ZFS=rpool/ROOT/pve-1 boot=zfs xe.max_vfs=2\n", WANT_XE),
    ("quiet\tsplash xe.force_probe=46a6 i915.enable_guc=0\n", WANT_I915 + WANT_XE[1:3]),
    # the kernel uses the last occurrence: every one is ours to set, and to give back
    ("root=/dev/vda1 intel_iommu=off quiet intel_iommu=off i915.max_vfs=2\n", WANT_I915),
    ("i915.max_vfs=2 root=/dev/vda1\n", WANT_I915),  # ours first on the line
    # two different values normalised to one: each goes back at its own occurrence
    ("i915.max_vfs=2 quiet i915.max_vfs=3\n", WANT_I915),
    ("\n", WANT_XE),  # an empty line
]


@pytest.mark.parametrize(("line", "wanted"), LINES)
def test_sed_undo_matches_python_undo(tmp_path, line, wanted):
    result = cmdline.apply(line, wanted)
    assert result.line != line
    record = cmdline.format_record(result.edits)
    assert sh_undo(tmp_path, result.line, record) == cmdline.undo(result.line, result.edits)
    assert cmdline.undo(result.line, result.edits) == line


@pytest.mark.parametrize(("line", "wanted"), LINES)
def test_postrm_restores_the_line_as_written_and_as_edited_since(tmp_path, line, wanted):
    result = cmdline.apply(line, wanted)
    # as written: the purge text, byte for byte
    assert sh_restore(tmp_path, result.line, result.edits, result.line) == line
    # edited since: the sed script takes back what is still ours, as the Python undo does
    edited = result.line.rstrip("\n") + LATER + "\n"
    expected = cmdline.undo(edited, result.edits)
    assert LATER.strip() in expected
    assert sh_restore(tmp_path, result.line, result.edits, edited) == expected
    # and a purge run again after that finds nothing left to undo
    assert sh_restore(tmp_path, result.line, result.edits, expected) == expected


def test_sed_undo_after_a_driver_switch(tmp_path):
    first = cmdline.apply("root=/dev/vda1 ro i915.max_vfs=2\n", WANT_I915)
    second = cmdline.undo_then_apply(first.line, first.edits, WANT_XE)
    record = cmdline.format_record(second.edits)
    assert sh_undo(tmp_path, second.line, record) == "root=/dev/vda1 ro i915.max_vfs=2\n"


def test_sed_undo_of_the_first_line_only(tmp_path):
    """Proxmox VE reads the first line: the rest is the admin's, whatever it holds."""
    result = cmdline.apply("root=ZFS=rpool boot=zfs\n", WANT_I915)
    text = result.line + "intel_iommu=on second line\n"
    script = tmp_path / "undo.sed"
    script.write_text(cmdline.undo_sed(result.edits, first_line_only=True))
    undone = subprocess.run(
        ["sed", "-f", str(script)], input=text, capture_output=True, text=True, check=True
    ).stdout
    assert undone == "root=ZFS=rpool boot=zfs\nintel_iommu=on second line\n"


def test_no_edits_no_script():
    assert cmdline.undo_sed(()) == ""


def test_sed_undo_with_fewer_duplicates_than_were_normalised(tmp_path):
    """Three i915.max_vfs= normalised, one removed by the admin since: as the Python
    undo, the sed script puts a value back at its occurrence, or at the last one."""
    line = "i915.max_vfs=1 a i915.max_vfs=2 b i915.max_vfs=3\n"
    result = cmdline.apply(line, WANT_I915)
    assert [edit.occurrence for edit in result.edits if edit.before][:3] == [0, 1, 2]
    edited = result.line.replace("i915.max_vfs=7 a ", "a ", 1)
    record = cmdline.format_record(result.edits)
    expected = cmdline.undo(edited, result.edits)
    assert expected.startswith("a i915.max_vfs=2 b i915.max_vfs=3")
    assert sh_undo(tmp_path, edited, record) == expected
