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


# Every supported id in pciids.h's order (tests/test_pciids.py, FACTS), written out.
EVERY_ID = (
    "4680,4682,4688,468a,468b,4690,4692,4693,46a0,46a1,46a2,46a3,46a6,46a8,46aa,462a,4626,"
    "4628,46b0,46b1,46b2,46b3,46c0,46c1,46c2,46c3,46d0,46d1,46d2,46d3,46d4,a780,a781,a782,"
    "a783,a788,a789,a78a,a78b,a721,a7a1,a7a9,a7ac,a7ad,a720,a7a0,a7a8,a7aa,a7ab"
)


def test_xe_without_a_visible_gpu_probes_every_supported_id():
    # no GPU, or one this package does not know (Tiger Lake): every supported id
    for device in (None, "9a49"):
        assert cmdline.wanted_tokens(Settings(driver="xe"), device) == [
            "intel_iommu=on",
            "xe.max_vfs=7",
            f"xe.force_probe={EVERY_ID}",
            "module_blacklist=i915",
        ]


def test_guest_and_none_roles_want_less():
    assert cmdline.wanted_tokens(Settings(), "a7a0", "guest") == [
        "i915.enable_guc=3",
        "module_blacklist=xe",
    ]
    assert cmdline.wanted_tokens(Settings(driver="xe"), "46a6", "guest") == [
        "xe.force_probe=46a6",
        "module_blacklist=i915",
    ]
    assert cmdline.wanted_tokens(Settings(), "a7a0", "none") == []


WANT = ["intel_iommu=on", "i915.enable_guc=3", "i915.max_vfs=7", "module_blacklist=xe"]


def test_missing_from_reads_blacklist_members():
    line = "ro intel_iommu=on i915.enable_guc=3 i915.max_vfs=7 module_blacklist=foo,xe"
    assert cmdline.missing_from(line, WANT) == []
    assert cmdline.missing_from("ro i915.max_vfs=2", WANT) == WANT


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
