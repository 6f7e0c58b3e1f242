"""The GRUB drop-in as grub-mkconfig uses it: sourced by sh after /etc/default/grub."""

import subprocess

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from irisxe_sriov import cmdline
from irisxe_sriov.choices import BootPath
from irisxe_sriov.paths import Paths
from irisxe_sriov.settings import Settings
from irisxe_sriov.write import render


def dropin(tmp_path, driver="i915") -> str:
    rendered = render.render(
        Settings(driver=driver),
        Paths(tmp_path),
        device="a7a0",
        boot_path=BootPath.GRUB,
        kernel_cmdline=None,
        proc_cmdline=None,
        cmdline_record=None,
    )
    return rendered.owned["/etc/default/grub.d/irisxe-sriov.cfg"]


def source(tmp_path, text: str, linux: str, default: str) -> tuple[str, str, str]:
    script = tmp_path / "irisxe-sriov.cfg"
    script.write_text(text)
    (tmp_path / "glob-bait").write_text("")  # a token like foo=* must not expand to files
    done = subprocess.run(
        [
            "sh",
            "-c",
            f'cd {tmp_path}; GRUB_CMDLINE_LINUX="$1"; GRUB_CMDLINE_LINUX_DEFAULT="$2"; '
            f'. {script}; printf "%s|%s|%s|%s" "$GRUB_CMDLINE_LINUX" "$GRUB_CMDLINE_LINUX_DEFAULT" '
            '"$-" "$(set | grep -c ^irisxe_sriov)"',
            "sh",
            linux,
            default,
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    linux_out, default_out, flags, leftovers = done.stdout.split("|")
    assert "f" not in flags and leftovers == "0"  # globbing back on, no variables left
    return linux_out, default_out, flags


I915 = "intel_iommu=on i915.enable_guc=3 i915.max_vfs=7"


@pytest.mark.parametrize(
    ("linux", "default", "want_default"),
    [
        ("", "", f"{I915} module_blacklist=xe"),
        ("", "quiet", f"quiet {I915} module_blacklist=xe"),
        # the admin's max_vfs stays, ours is said last; their blacklist in
        # GRUB_CMDLINE_LINUX stays there (recovery entries keep it) and ours is its members
        # plus the other driver
        (
            "module_blacklist=foo",
            "i915.max_vfs=2",
            f"i915.max_vfs=2 {I915} module_blacklist=foo,xe",
        ),
        # a blacklist of the driver we now use loses that member, keeps the others
        (
            "root=/dev/vda1",
            "quiet module_blacklist=i915,bar",
            f"quiet module_blacklist=i915,bar {I915} module_blacklist=bar,xe",
        ),
        # the last list is the one in force: an earlier one's members are not ours to keep
        (
            "module_blacklist=foo",
            "module_blacklist=bar",
            f"module_blacklist=bar {I915} module_blacklist=bar,xe",
        ),
        ("", "foo=* xe.force_probe=*", f"foo=* xe.force_probe=* {I915} module_blacklist=xe"),
        # intel_iommu's options are taken in turn: the admin's stay, our on is said last
        ("intel_iommu=off,igfx_off", "", f"{I915} module_blacklist=xe"),
    ],
)
def test_sourced_dropin_appends(tmp_path, linux, default, want_default):
    """The admin's variables are kept as they are; ours is appended to the default's."""
    assert source(tmp_path, dropin(tmp_path), linux, default)[:2] == (linux, want_default)


def test_xe_dropin(tmp_path):
    linux, default, _ = source(tmp_path, dropin(tmp_path, "xe"), "", "quiet module_blacklist=xe")
    assert linux == ""
    assert default == (
        "quiet module_blacklist=xe intel_iommu=on xe.max_vfs=7 xe.force_probe=a7a0 "
        "module_blacklist=i915"
    )


def test_dropin_is_shellcheck_clean(tmp_path):
    script = tmp_path / "irisxe-sriov.cfg"
    script.write_text(dropin(tmp_path))
    done = subprocess.run(
        ["shellcheck", "-s", "sh", "-e", "SC2034", str(script)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stdout


# --- the drop-in and cmdline.py decide alike (the one is sh, the other Python) ------------

ADMIN_TOKENS = ["quiet", "ro", "splash", "foo=1", "i915.max_vfs=2", "xe.max_vfs=3"]
MEMBER_TOKENS = [
    "module_blacklist=xe",
    "module_blacklist=i915",
    "module_blacklist=snd,xe",
    "module_blacklist=nouveau",
    "intel_iommu=off",
    "intel_iommu=on",
    "intel_iommu=sm_on",
    "intel_iommu=igfx_off,off",
    "intel_iommu=on,sm_off",
]


def in_force(line: str) -> tuple[frozenset[str], frozenset[str], str | None, list[str]]:
    """What the kernel goes by: the blacklist in force, intel_iommu's options (less on/off),
    whether the IOMMU is on, and the tokens of keys that are no concern of ours."""
    blacklist = frozenset(cmdline.members_in_force(line, "module_blacklist"))
    options = cmdline.members_in_force(line, "intel_iommu")
    said = [m for m in options if m in ("on", "off")]
    others = [
        t
        for t in cmdline.split(line)
        if cmdline.key_of(t) not in (*cmdline.MANAGED_KEYS, "module_blacklist")
    ]
    return blacklist, frozenset(options) - {"on", "off"}, said[-1] if said else None, sorted(others)


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.sampled_from(ADMIN_TOKENS + MEMBER_TOKENS), max_size=5),
    st.lists(st.sampled_from(ADMIN_TOKENS + MEMBER_TOKENS), max_size=5),
    st.sampled_from(["i915", "xe"]),
)
def test_the_dropin_and_cmdline_py_agree(tmp_path_factory, linux, default, driver):
    """For any admin line, what the kernel goes by after the GRUB drop-in is sourced (sh)
    is what it goes by after cmdline.apply edits /etc/kernel/cmdline (Python): the same
    parameters of ours, blacklist, intel_iommu options and admin tokens."""
    tmp_path = tmp_path_factory.mktemp("dropin")
    wanted = cmdline.wanted_tokens(Settings(driver=driver), "a7a0")
    by_grub = " ".join(
        source(tmp_path, dropin(tmp_path, driver), " ".join(linux), " ".join(default))[:2]
    )
    by_python = cmdline.apply(" ".join([*linux, *default]), wanted).line
    assert cmdline.missing_from(by_grub, wanted) == []
    assert cmdline.missing_from(by_python, wanted) == []
    assert in_force(by_grub) == in_force(by_python), (by_grub, by_python)
