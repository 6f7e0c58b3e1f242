"""The pure half of the debconf helper: settings <-> answers. The debconf conversation
itself runs for real in the chroot tests (tests/test_package.py)."""

from irisxe_sriov import debconf_ui as ui
from irisxe_sriov import settings
from irisxe_sriov.settings import Settings


def test_answers_round_trip():
    current = Settings(driver="xe", num_vfs=4, bootloader="grub", vf_roles={2: "none", 4: "host"})
    answers = ui.answers_from(current)
    assert answers == {
        ui.Q_DRIVER: "xe",
        ui.Q_NUM_VFS: "4",
        ui.Q_BOOTLOADER: "grub",
        ui.Q_VF_UNBOUND: "2",
        ui.Q_VF_HOST: "4",
    }
    assert settings.build(ui.values_from(answers)) == current


def test_roles_above_the_count_and_double_roles_are_dropped():
    answers = {
        ui.Q_DRIVER: "i915",
        ui.Q_NUM_VFS: "3",
        ui.Q_BOOTLOADER: "auto",
        ui.Q_VF_UNBOUND: "1, 5",
        ui.Q_VF_HOST: "1, 2",
    }
    assert ui.values_from(answers)["vf_roles"] == "1:none 2:host"


def test_count_problem():
    assert ui.count_problem("3", None) is None
    assert ui.count_problem("9", None) == "9 is out of range: allowed 0-7"
    assert ui.count_problem("five", None) == "'five' is not a number: allowed 0-7"
    assert ui.count_problem("5", 4) == "5 is above the PF's sriov_totalvfs (4): allowed 0-4"


def test_multiselect_format():
    assert ui.multiselect([1, 3]) == "1, 3"
    assert ui.parse_multiselect("1, 3,4") == [1, 3, 4]
    assert ui.parse_multiselect("") == []


def test_main_names_every_problem_and_exits_with_its_status(monkeypatch, capsys):
    """The maintainer scripts' helper handles errors.Error as irisxe-sriov-ctl does: one
    line per problem, the problem's exit status, no traceback (issue 15, item 4)."""
    from pathlib import Path

    from irisxe_sriov import apply, host

    monkeypatch.setattr(ui, "connect", lambda: None)
    raised: list[Exception] = []

    def postinst(db, paths):
        raise raised[0]

    monkeypatch.setattr(ui, "postinst", postinst)
    for error, status, lines in (
        (settings.SettingsError("num_vfs: 9 is out of range", "driver: 'x'"), 2, 2),
        (apply.ApplyError("update-grub failed with exit status 1"), 1, 1),
        (host.UnreadableFile(Path("/etc/default/irisxe-sriov"), "is not a regular file"), 1, 1),
    ):
        raised[:] = [error]
        assert ui.main(["debconf_ui", "postinst"]) == status
        err = capsys.readouterr().err.splitlines()
        assert err == [f"irisxe-sriov: error: {line}" for line in error.lines()]
        assert len(err) == lines
    assert err == ["irisxe-sriov: error: /etc/default/irisxe-sriov is not a regular file"]
