import pytest

from irisxe_sriov import cmdline
from irisxe_sriov.cmdline import Edit
from irisxe_sriov.settings import Settings


def test_wanted_tokens_per_driver():
    assert cmdline.wanted_tokens(Settings(driver="i915"), "a7a0") == [
        "intel_iommu=on",
        "i915.enable_guc=3",
        "i915.max_vfs=7",
        "module_blacklist=xe",
    ]
    assert cmdline.wanted_tokens(Settings(driver="xe"), "a7a0") == [
        "intel_iommu=on",
        "xe.max_vfs=7",
        "xe.force_probe=a7a0",
        "module_blacklist=i915",
    ]


def test_xe_without_a_visible_gpu_probes_every_supported_id():
    probe = cmdline.wanted_tokens(Settings(driver="xe"), None)[2]
    ids = probe.removeprefix("xe.force_probe=").split(",")
    assert len(ids) == 49 and "a7a0" in ids and "4680" in ids


def test_missing_from_reads_blacklist_members():
    wanted = cmdline.wanted_tokens(Settings(), "a7a0")
    line = "ro intel_iommu=on i915.enable_guc=3 i915.max_vfs=7 module_blacklist=foo,xe"
    assert cmdline.missing_from(line, wanted) == []
    assert cmdline.missing_from("ro i915.max_vfs=2", wanted) == [
        "intel_iommu=on",
        "i915.enable_guc=3",
        "i915.max_vfs=7",
        "module_blacklist=xe",
    ]


WANT = ["intel_iommu=on", "i915.enable_guc=3", "i915.max_vfs=7", "module_blacklist=xe"]


@pytest.mark.parametrize(
    "line",
    [
        "root=UUID=1 ro quiet\n",
        "root=UUID=1  ro   quiet i915.max_vfs=2 module_blacklist=foo,i915\n",
        "",
        "root=/dev/sda1 ro intel_iommu=on module_blacklist=xe",
        'root=/dev/sda1 acpi_osi="Windows 2020" quiet\n',
    ],
)
def test_apply_then_undo_gives_the_line_back_byte_for_byte(line):
    result = cmdline.apply(line, WANT)
    assert cmdline.missing_from(result.line, WANT) == []
    assert cmdline.undo(result.line, result.edits) == line
    record = cmdline.parse_record(cmdline.format_record(result.edits))
    assert record == result.edits


def test_apply_replaces_conflicts_in_place_and_merges_blacklist():
    result = cmdline.apply("ro i915.max_vfs=2 module_blacklist=foo,i915 quiet\n", WANT)
    assert result.line == (
        "ro i915.max_vfs=7 module_blacklist=foo,xe quiet intel_iommu=on i915.enable_guc=3\n"
    )
    assert result.edits == (
        Edit(None, "intel_iommu=on"),
        Edit(None, "i915.enable_guc=3"),
        Edit("i915.max_vfs=2", "i915.max_vfs=7"),
        Edit("module_blacklist=foo,i915", "module_blacklist=foo,xe"),
    )


def test_reapply_after_switching_driver_leaves_no_stale_token():
    first = cmdline.apply("root=/dev/sda1 ro\n", WANT)
    xe = ["intel_iommu=on", "xe.max_vfs=7", "xe.force_probe=a7a0", "module_blacklist=i915"]
    second = cmdline.undo_then_apply(first.line, first.edits, xe)
    assert second.line == (
        "root=/dev/sda1 ro intel_iommu=on xe.max_vfs=7 xe.force_probe=a7a0 module_blacklist=i915\n"
    )
    assert cmdline.undo(second.line, second.edits) == "root=/dev/sda1 ro\n"


def test_undo_leaves_tokens_the_admin_changed_after_us():
    result = cmdline.apply("ro\n", WANT)
    edited_later = result.line.replace("i915.max_vfs=7", "i915.max_vfs=4") + ""
    assert cmdline.undo(edited_later, result.edits) == "ro i915.max_vfs=4\n"


def test_split_keeps_quoted_values():
    assert cmdline.split('a "b c" d="e f" g') == ["a", '"b c"', 'd="e f"', "g"]
