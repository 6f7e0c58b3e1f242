"""Property-based tests (hypothesis, Debian's python3-hypothesis) for hostile input
(docs/notes.md, "Hostile input"): the settings parser, `config set` values and the kernel
command line editor. Example counts stay modest so that the fast tier stays fast."""

from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from irisxe_sriov import cmdline
from irisxe_sriov import settings as config
from irisxe_sriov.choices import BootPath, Driver, VfRole
from irisxe_sriov.cli.commands import cli

FAST = settings(max_examples=150, deadline=None)
SLOW = settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)

# Text with what hostile input brings: control characters, separators str.splitlines()
# knows and sh does not, non-ASCII digits, quotes and shell metacharacters.
NASTY = st.text(
    alphabet=st.sampled_from(
        list("0123456789abcdefxi:, .-=\"'$`\\\n\r\t\x00\x0b\x0c\x1c\x1b\x85²٣\u2028é")
    ),
    max_size=30,
)


# --- the settings parser ------------------------------------------------------------------

VALID = st.fixed_dictionaries(
    {},
    optional={
        "driver": st.sampled_from(Driver.values()),
        "num_vfs": st.integers(0, 7).map(str),
        "bootloader": st.sampled_from(BootPath.values()),
        "pf": st.sampled_from(["0000:00:02.0", "0000:01:00.0"]),
    },
)


@FAST
@given(VALID, st.dictionaries(st.integers(1, 7), st.sampled_from(VfRole.values())))
def test_valid_settings_round_trip_through_the_file(values, roles):
    count = int(values.get("num_vfs", "7"))
    values = {
        **values,
        "vf_roles": config.format_roles({n: r for n, r in roles.items() if n <= count}),
    }
    built = config.build(values)
    text = config.update_text("# mine\n", built.values())
    assert config.parse(text, "f") == built
    assert config.build(built.values()) == built


@FAST
@given(st.text(max_size=300) | NASTY)
def test_the_parser_takes_any_text_without_crashing(text):
    try:
        config.parse(text, "f")
    except config.SettingsError as error:
        assert 1 <= len(error.problems) <= config.MAX_PROBLEMS + 1
        assert all("\n" not in p and len(p) < 300 for p in error.problems)


@FAST
@given(st.sampled_from(list(config.KEYS)), NASTY | st.text(max_size=80))
def test_a_value_either_fails_or_survives_the_file(name, value):
    """The rule that would have caught NUM_VFS="3\\n": whatever build() accepts, the file
    written from it parses back to the same settings."""
    try:
        built = config.build(config.parse_assignments([f"{name}={value}"]))
    except config.SettingsError as error:
        assert all("\n" not in p and len(p) < 300 for p in error.problems)
        return
    text = config.update_text("", {name: value})
    assert config.parse(text, "f") == built


# --- config set through the CLI -----------------------------------------------------------


@pytest.fixture
def machine(fake):
    fake.healthy(numvfs=3)
    assert (
        CliRunner().invoke(cli, ["--root", str(fake.root), "config", "set", "num_vfs=3"]).exit_code
        == 0
    )
    return fake


@SLOW
@given(name=st.sampled_from(list(config.KEYS)), value=NASTY)
def test_config_set_bad_input_changes_nothing(machine, snapshot, name, value):
    root: Path = machine.root
    before = snapshot(root)
    result = CliRunner().invoke(cli, ["--root", str(root), "config", "set", f"{name}={value}"])
    assert "Traceback" not in result.output
    if result.exit_code == 2:
        assert snapshot(root) == before
        assert all(
            line.startswith("irisxe-sriov-ctl: error: ") for line in result.output.splitlines()
        )
    else:
        assert result.exit_code == 0, result.output
    # whatever happened, the file still parses and says what was asked where it was taken
    shown = CliRunner().invoke(cli, ["--root", str(root), "config", "show"])
    assert shown.exit_code == 0, shown.output


# --- the kernel command line token editor -------------------------------------------------

OURS = ["intel_iommu", "i915.enable_guc", "i915.max_vfs", "xe.max_vfs", "xe.force_probe"]
TOKEN = st.one_of(
    st.builds(
        lambda key, value: f"{key}={value}",
        st.sampled_from([*OURS, "root", "quiet"]),
        st.sampled_from(["on", "off", "2", "7", "3", "a7a0", ""]),
    ),
    st.builds(
        lambda members: "module_blacklist=" + ",".join(members),
        st.lists(st.sampled_from(["xe", "i915", "snd", ""]), max_size=3),
    ),
    st.sampled_from(["ro", "quiet", '"a b"', 'x="y z"', "i915.max_vfs", '"open', "=v"]),
)
SEPARATOR = st.sampled_from([" ", "  ", "\t", " \t ", "\n"])


@st.composite
def lines(draw):
    tokens = draw(st.lists(TOKEN, max_size=8))
    text = "".join(draw(SEPARATOR) + t for t in tokens)
    return (
        draw(st.sampled_from(["", " "])) + text.lstrip() + draw(st.sampled_from(["", "\n", " \n"]))
    )


WANTED = st.sampled_from(
    [
        ["intel_iommu=on", "i915.enable_guc=3", "i915.max_vfs=7", "module_blacklist=xe"],
        ["intel_iommu=on", "xe.max_vfs=7", "xe.force_probe=a7a0", "module_blacklist=i915"],
    ]
)


@FAST
@given(lines(), WANTED)
def test_the_effective_value_is_the_configured_one(line, wanted):
    result = cmdline.apply(line, wanted)
    assert cmdline.missing_from(result.line, wanted) == []
    driver = "i915" if "i915.max_vfs=7" in wanted else "xe"
    for token in cmdline.split(result.line):
        if cmdline.key_of(token) == "module_blacklist":  # every occurrence, not only the last
            assert driver not in token.partition("=")[2].split(",")


@FAST
@given(lines(), WANTED)
def test_undo_gives_the_admins_line_back_byte_for_byte(line, wanted):
    result = cmdline.apply(line, wanted)
    record = cmdline.parse_record(cmdline.format_record(result.edits))
    assert record == result.edits
    assert cmdline.undo(result.line, record) == line


@FAST
@given(lines(), WANTED, WANTED)
def test_reapplying_is_stable_and_switching_leaves_no_trace(line, first, second):
    once = cmdline.apply(line, first)
    again = cmdline.undo_then_apply(once.line, once.edits, first)
    assert again.line == once.line
    switched = cmdline.undo_then_apply(once.line, once.edits, second)
    assert cmdline.missing_from(switched.line, second) == []
    assert cmdline.undo(switched.line, switched.edits) == line
