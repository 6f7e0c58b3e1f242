"""The pure half of the debconf helper: settings <-> answers. The debconf conversation
itself runs for real in the chroot tests (tests/package/test_package.py)."""

import errno
from pathlib import Path

import pytest

from irisxe_sriov import sched, settings
from irisxe_sriov.choices import BootPath, Driver, KernelHold, MachineRole, VfRole
from irisxe_sriov.cli import debconf_ui as ui
from irisxe_sriov.paths import Paths
from irisxe_sriov.process import Runner
from irisxe_sriov.settings import Settings
from irisxe_sriov.write import apply

SOURCE = Path(__file__).resolve().parents[2]


# settings that answer every question with something other than its default
EXAMPLE = Settings(
    driver=Driver.XE,
    num_vfs=4,
    bootloader=BootPath.GRUB,
    vf_roles={2: VfRole.NONE, 4: VfRole.HOST},
    kernel_hold=KernelHold.OFF,
    scheduling=sched.Scheduling(sched.Profile.PF_LIMITED, pf_priority=sched.Priority.HIGH),
)


def test_answers_round_trip():
    current = EXAMPLE
    answers = ui.answers_from(current)
    assert answers == {
        ui.Q_DRIVER: "xe",
        ui.Q_NUM_VFS: "4",
        ui.Q_BOOTLOADER: "grub",
        ui.Q_VF_UNBOUND: "2",
        ui.Q_VF_HOST: "4",
        ui.Q_KERNEL_HOLD: "off",
        ui.Q_SCHED: "pf-limited",
        ui.Q_SCHED_PF_PRIORITY: "high",
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
    line per problem, the problem's exit status, no traceback (docs/notes.md, "One error, one exit
    status")."""
    from irisxe_sriov.machine import reader

    monkeypatch.setattr(ui, "connect", lambda: None)
    raised: list[Exception] = []

    def postinst(db, paths):
        raise raised[0]

    monkeypatch.setattr(ui, "postinst", postinst)
    for error, status, lines in (
        (settings.SettingsError("num_vfs: 9 is out of range", "driver: 'x'"), 2, 2),
        (apply.ApplyError("update-grub failed with exit status 1"), 1, 1),
        (reader.UnreadableFile(Path("/etc/default/irisxe-sriov"), "is not a regular file"), 1, 1),
    ):
        raised[:] = [error]
        assert ui.main(["debconf_ui", "postinst"]) == status
        err = capsys.readouterr().err.splitlines()
        assert err == [f"irisxe-sriov: error: {line}" for line in error.lines()]
        assert len(err) == lines
    assert err == ["irisxe-sriov: error: /etc/default/irisxe-sriov is not a regular file"]


# --- the postinst's plan: inside dpkg the initramfs is rebuilt by initramfs-tools' trigger --

UPDATE_INITRAMFS = ("update-initramfs", "-u", "-k", "all")
TRIGGER = ("dpkg-trigger", "--no-await", "update-initramfs")


class Answers:
    """debconf's answers as postinst_plan asks them (GET), "" for a question not answered,
    as debconf replies. A test double of the frontend for these unit tests; the templates
    and the maintainer scripts meet the real debconf in tests/unit/test_debconf_templates.py
    and the chroot tier."""

    def __init__(self, values: dict[str, str]) -> None:
        self.values = values

    def get(self, question: str) -> str:
        return self.values.get(question, "")


def answers(**changes: str) -> Answers:
    """The defaults, but 3 VFs, and `changes` by question name (driver=, num_vfs=, ...)."""
    return Answers(
        {
            ui.Q_DRIVER: "i915",
            ui.Q_NUM_VFS: "3",
            ui.Q_BOOTLOADER: "auto",
            ui.Q_VF_UNBOUND: "",
            ui.Q_VF_HOST: "",
            **{getattr(ui, f"Q_{name.upper()}"): value for name, value in changes.items()},
        }
    )


@pytest.mark.parametrize(
    ("environment", "initramfs"),
    [
        ({}, UPDATE_INITRAMFS),  # the helper run by hand
        ({"DPKG_MAINTSCRIPT_PACKAGE": "irisxe-sriov"}, TRIGGER),  # dpkg configuring us
        # dpkg-reconfigure sets DPKG_MAINTSCRIPT_PACKAGE too, but runs outside dpkg: a
        # trigger would wait for the next dpkg run
        (
            {"DPKG_MAINTSCRIPT_PACKAGE": "irisxe-sriov", "DEBCONF_RECONFIGURE": "1"},
            UPDATE_INITRAMFS,
        ),
    ],
)
def test_a_changed_modprobe_file_rebuilds_the_initramfs_once_per_dpkg_run(
    fake, monkeypatch, environment, initramfs
):
    fake.healthy(numvfs=3)
    for name in ("DPKG_MAINTSCRIPT_PACKAGE", "DEBCONF_RECONFIGURE"):
        monkeypatch.delenv(name, raising=False)
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    first = ui.postinst_plan(answers(), Paths(fake.root))
    assert "/etc/modprobe.d/irisxe-sriov.conf" in {c.path for c in first.pending}
    assert first.commands == (("update-grub",), initramfs)


def test_no_initramfs_rebuild_when_modprobe_d_stays(fake, monkeypatch):
    """Only a change of the modprobe.d file (copied into every initrd) needs one: a new
    VF count changes the bindings alone."""
    fake.healthy(numvfs=3)
    monkeypatch.setenv("DPKG_MAINTSCRIPT_PACKAGE", "irisxe-sriov")
    monkeypatch.delenv("DEBCONF_RECONFIGURE", raising=False)
    paths = Paths(fake.root)
    said: list[str] = []
    apply.execute(
        ui.postinst_plan(answers(), paths), paths, Runner(False, said.append), said.append
    )
    assert "would run: dpkg-trigger --no-await update-initramfs" in said
    fewer = ui.postinst_plan(answers(num_vfs="2"), paths)
    assert {c.path for c in fewer.pending} == {
        "/etc/default/irisxe-sriov",
        "/etc/driverctl.d/pci-0000:00:02.3",
        "/etc/sysfs.d/irisxe-sriov.conf",
    }
    assert fewer.commands == ()
    switched = ui.postinst_plan(answers(driver="xe"), paths)
    assert TRIGGER in switched.commands and UPDATE_INITRAMFS not in switched.commands


def test_the_package_activates_the_trigger_only_through_its_record():
    """No triggers file of its own: one would activate initramfs-tools' trigger on every
    purge, where systemd-boot's recorded refresh has rebuilt every initrd already
    (docs/notes.md, "Purge"). That the trigger is the one initramfs-tools waits on, the
    chroot test of the backports kernel reads from Debian 13's own file
    (tests/package/test_backports_chroot.py)."""
    assert not (SOURCE / "debian/irisxe-sriov.triggers").exists()


def test_preseed_is_every_answer_and_names_what_debconf_does_not_ask():
    current = EXAMPLE
    lines = ui.preseed(current).splitlines()
    assert lines == [
        "irisxe-sriov irisxe-sriov/driver select xe",
        "irisxe-sriov irisxe-sriov/num_vfs select 4",
        "irisxe-sriov irisxe-sriov/bootloader select grub",
        "irisxe-sriov irisxe-sriov/kernel_hold select off",
        "irisxe-sriov irisxe-sriov/sched select pf-limited",
        "irisxe-sriov irisxe-sriov/sched_pf_priority select high",
        "irisxe-sriov irisxe-sriov/vf_unbound multiselect 2",
        "irisxe-sriov irisxe-sriov/vf_host multiselect 4",
    ]
    # read back as debconf would hand the answers to the postinst: the same settings
    answers = {line.split(" ", 3)[1]: line.split(" ", 3)[3] for line in lines}
    assert settings.build(ui.values_from(answers)) == current
    # every question of the templates that answers_from answers has its type there
    templates = (SOURCE / "debian/irisxe-sriov.templates").read_text()
    for question, kind in ui.QUESTION_TYPES.items():
        assert f"Template: {question}\nType: {kind}\n" in templates, question
    moved = current._replace(pf="0000:00:03.0", machine_role=MachineRole.HOST)
    assert ui.preseed(moved).splitlines()[-2:] == [
        "# pf=0000:00:03.0 is no debconf question: after the installation, "
        "irisxe-sriov-ctl config set pf=0000:00:03.0",
        "# machine_role=host is no debconf question: after the installation, "
        "irisxe-sriov-ctl config set machine_role=host",
    ]
    custom = current._replace(
        scheduling=settings.build(
            {
                "sched": "custom",
                "sched_exec_quantum_ms": "pf:5 vf:10",
                "sched_preempt_timeout_us": "pf:0 vf:9000",
            }
        ).scheduling
    )
    lines = ui.preseed(custom).splitlines()
    # custom's values are no question: preseeded as default, the command to set them said
    assert "irisxe-sriov irisxe-sriov/sched select default" in lines
    assert lines[-1] == (
        "# sched=custom sched_exec_quantum_ms='pf:5 vf:10' sched_preempt_timeout_us='pf:0 "
        "vf:9000' is no debconf question: after the installation, irisxe-sriov-ctl config "
        "set sched=custom sched_exec_quantum_ms='pf:5 vf:10' sched_preempt_timeout_us='pf:0 "
        "vf:9000'"
    )


def test_a_larger_count_than_custom_values_cover_gives_up_custom_with_a_note(capsys):
    file = {
        "num_vfs": "2",
        "sched": "custom",
        "sched_exec_quantum_ms": "pf:10 1:20 2:20",
        "sched_preempt_timeout_us": "pf:0 vf:0",
    }
    answered = {"num_vfs": "3", "sched": "custom"}
    assert ui.custom_kept(answered, file) == {"num_vfs": "3", "sched": "default"}
    assert capsys.readouterr().err == (
        "irisxe-sriov: note: sched_exec_quantum_ms: sched=custom needs a value for VF 3: give "
        "pf:VALUE and vf:VALUE (every VF) or N:VALUE per VF; sched=default until then\n"
    )
    covered = {"num_vfs": "2", "sched": "custom"}
    assert ui.custom_kept(covered, file) == covered


def test_any_failure_of_the_helper_is_one_line_and_a_status(monkeypatch, capsys):
    """An OSError (a full disk, a vanished file) ends the maintainer script the way
    irisxe-sriov-ctl ends: the problem named on one line, exit 1, no traceback."""

    def full_disk(db, paths):
        raise OSError(errno.ENOSPC, "No space left on device", "/etc/default/irisxe-sriov")

    monkeypatch.setattr(ui, "connect", lambda: Answers({}))
    monkeypatch.setattr(ui, "postinst", full_disk)
    monkeypatch.delenv("IRISXE_SRIOV_DEBUG", raising=False)
    assert ui.main(["debconf_ui", "postinst"]) == 1
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("irisxe-sriov: error: "), lines
    assert "/etc/default/irisxe-sriov" in lines[0] and "No space left" in lines[0], lines
