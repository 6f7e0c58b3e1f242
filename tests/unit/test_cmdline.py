import pytest

from irisxe_sriov import cmdline
from irisxe_sriov.choices import Driver
from irisxe_sriov.cmdline import Edit
from irisxe_sriov.settings import Settings


def test_wanted_tokens_per_driver():
    assert cmdline.wanted_tokens(Settings(driver=Driver.I915), "a7a0") == [
        "intel_iommu=on",
        "i915.enable_guc=3",
        "i915.max_vfs=7",
        "module_blacklist=xe",
    ]
    assert cmdline.wanted_tokens(Settings(driver=Driver.XE), "a7a0") == [
        "intel_iommu=on",
        "xe.max_vfs=7",
        "xe.force_probe=a7a0",
        "module_blacklist=i915",
    ]


# Every supported id in pciids.h's order (tests/unit/test_pciids.py, FACTS), written out.
EVERY_ID = (
    "4680,4682,4688,468a,468b,4690,4692,4693,46a0,46a1,46a2,46a3,46a6,46a8,46aa,462a,4626,"
    "4628,46b0,46b1,46b2,46b3,46c0,46c1,46c2,46c3,46d0,46d1,46d2,46d3,46d4,a780,a781,a782,"
    "a783,a788,a789,a78a,a78b,a721,a7a1,a7a9,a7ac,a7ad,a720,a7a0,a7a8,a7aa,a7ab"
)


def test_xe_without_a_visible_gpu_probes_every_supported_id():
    # no GPU, or one this package does not know (Tiger Lake): every supported id
    for device in (None, "9a49"):
        assert cmdline.wanted_tokens(Settings(driver=Driver.XE), device) == [
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
    assert cmdline.wanted_tokens(Settings(driver=Driver.XE), "46a6", "guest") == [
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


def test_effective_values_are_the_last_occurrences():
    assert cmdline.effective_value("ro quiet", "intel_iommu") is None  # absent
    assert cmdline.effective_value("ro quiet", "quiet") == ""  # a bare key
    assert cmdline.effective_value(None, "ro") is None
    # every key once, in the order of its last occurrence, with that value
    assert list(cmdline.effective("a=1 b c=3 a=2 b=x").items()) == [
        ("c", "3"),
        ("a", "2"),
        ("b", "x"),
    ]
    assert cmdline.effective(None) == {}


def test_added_tokens_go_at_the_end_or_before_an_unterminated_quote():
    # a quoted value that is closed is a token like any other: ours follow it
    balanced = cmdline.apply('root=/dev/sda1 acpi_osi="Windows 2020" quiet\n', WANT)
    assert balanced.line == (
        'root=/dev/sda1 acpi_osi="Windows 2020" quiet intel_iommu=on i915.enable_guc=3 '
        "i915.max_vfs=7 module_blacklist=xe\n"
    )
    # an open quote runs to the end of the line (the kernel's next_arg): ours go before it
    open_quote = cmdline.apply('ro acpi_osi="Windows\n', WANT)
    assert open_quote.line == (
        'ro intel_iommu=on i915.enable_guc=3 i915.max_vfs=7 module_blacklist=xe acpi_osi="Windows\n'
    )


def test_a_replaced_open_quote_is_recorded_where_it_moves():
    """The blacklist merged into an admin's unterminated module_blacklist="foo stays the
    open quote, and a token added after it goes before it: the record must follow the
    replaced token to its new place, or undo would put the admin's value elsewhere."""
    result = cmdline.apply('ro module_blacklist="foo\n', ["module_blacklist=xe", "intel_iommu=on"])
    assert result.line == 'ro intel_iommu=on module_blacklist="foo,xe\n'
    assert result.edits == (
        Edit('module_blacklist="foo', 'module_blacklist="foo,xe'),
        Edit(None, "intel_iommu=on"),
    )
    assert cmdline.undo(result.line, result.edits) == 'ro module_blacklist="foo\n'


def test_undo_with_fewer_duplicates_than_were_normalised():
    """Both i915.max_vfs= were ours to set; the admin removed one since. Each replaced
    token goes back at its occurrence, or at the last one when there are fewer."""
    result = cmdline.apply("i915.max_vfs=1 quiet i915.max_vfs=2\n", ["i915.max_vfs=7"])
    assert result.edits == (
        Edit("i915.max_vfs=1", "i915.max_vfs=7", 0),
        Edit("i915.max_vfs=2", "i915.max_vfs=7", 1),
    )
    edited = "quiet i915.max_vfs=7\n"
    assert cmdline.undo(edited, result.edits) == "quiet i915.max_vfs=2\n"


@pytest.mark.parametrize(
    ("line", "after"),
    [
        ("ro intel_iommu=on,sm_on\n", "ro intel_iommu=on,sm_on\n"),  # has on: untouched
        ("ro intel_iommu=sm_on\n", "ro intel_iommu=sm_on,on\n"),
        ("ro intel_iommu=off,sm_on\n", "ro intel_iommu=sm_on,on\n"),
        (
            "ro intel_iommu=igfx_off intel_iommu=off\n",
            "ro intel_iommu=igfx_off,on intel_iommu=on\n",
        ),
    ],
)
def test_intel_iommu_is_an_option_list(line, after):
    """intel_iommu takes a comma list of options (on, off, sm_on, igfx_off, ...; every
    occurrence counts): ours is `on`, the admin's others stay, `off` goes; undo gives the
    line back, and the running line judged by its options."""
    result = cmdline.apply(line, ["intel_iommu=on"])
    assert result.line == after
    assert cmdline.undo(result.line, result.edits) == line
    assert cmdline.missing_from(result.line, ["intel_iommu=on"]) == []
    assert cmdline.missing_from(line, ["intel_iommu=on"]) == (
        [] if "on," in line.replace("igfx_off", "") else ["intel_iommu=on"]
    )


@pytest.mark.parametrize(
    ("running", "missing"),
    [
        ("intel_iommu=on,sm_on", []),
        ("intel_iommu=sm_on", ["intel_iommu=on"]),
        ("intel_iommu=on intel_iommu=sm_on", []),  # each occurrence counts: on stays said
        ("intel_iommu=on intel_iommu=off", ["intel_iommu=on"]),
        ("intel_iommu=off,on", []),
        ("intel_iommu=on,off", ["intel_iommu=on"]),
    ],
)
def test_the_iommu_in_force_is_the_last_on_or_off_said(running, missing):
    assert cmdline.missing_from(running, ["intel_iommu=on"]) == missing


COMMENTED = "# my boot line, kept by hand\nroot=UUID=1 ro\n  # quiet intel_iommu=on\nquiet\n"


def test_comment_lines_are_not_the_boot_line():
    """kernel-install (systemd 257) drops lines that begin with # before it joins the
    rest: a token inside one never reaches the kernel. Ours go on the last line that is
    no comment; a parameter in a comment is no parameter; undo leaves the comments."""
    assert cmdline.split(COMMENTED) == ["root=UUID=1", "ro", "quiet"]
    assert cmdline.missing_from(COMMENTED, ["intel_iommu=on"]) == ["intel_iommu=on"]
    result = cmdline.apply(COMMENTED, ["intel_iommu=on", "module_blacklist=xe"])
    assert result.line == (
        "# my boot line, kept by hand\nroot=UUID=1 ro\n  # quiet intel_iommu=on\n"
        "quiet intel_iommu=on module_blacklist=xe\n"
    )
    assert cmdline.undo(result.line, result.edits) == COMMENTED
    only_comments = "# nothing here yet\n"
    result = cmdline.apply(only_comments, ["intel_iommu=on"])
    assert result.line == "# nothing here yet\nintel_iommu=on\n"
    assert cmdline.undo(result.line, result.edits) == only_comments


def test_undo_sed_edits_every_line_unless_told_first_line_only():
    script = (
        "/^[[:space:]]*#/b\n"  # comment lines: kernel-install drops them, we leave them
        "t e0c\n:e0c\n"
        "s/^\\(.*\\)[[:space:]]a=1\\([[:space:]]\\|$\\)/\\1\\2/\nt e0\n"
        "s/^\\([[:space:]]*\\)a=1\\([[:space:]]\\+\\|$\\)/\\1/\nt e0\n"
        ":e0\n"
    )
    assert cmdline.undo_sed((Edit(None, "a=1"),)) == script
    assert cmdline.undo_sed((Edit(None, "a=1"),), first_line_only=True) == f"1{{\n{script}}}\n"
