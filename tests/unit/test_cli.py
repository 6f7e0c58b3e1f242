"""Every command and every exit status through click's CliRunner, on fake roots."""

import json

import pytest
from click.testing import CliRunner

from irisxe_sriov import __version__
from irisxe_sriov.cli.commands import cli


def run(root, *args, env=None):
    return CliRunner().invoke(cli, ["--root", str(root), *args], env=env)


@pytest.fixture
def host(fake):
    fake.healthy(numvfs=3)
    return fake


def test_each_error_class_has_the_status_of_its_kind():
    """Bad input exits 2 and a state or a failed operation 1, wherever it is raised; an
    Unavailable is an AttachError (callers may catch it as one) but a state (the man page,
    EXIT STATUS: `snippet` with no free VF is exit 1)."""
    from irisxe_sriov import errors, settings
    from irisxe_sriov.machine import reader
    from irisxe_sriov.runtime import attach, vfs
    from irisxe_sriov.write import apply

    expected = {
        settings.SettingsError: errors.ExitStatus.BAD_INPUT,
        attach.AttachError: errors.ExitStatus.BAD_INPUT,
        attach.Unavailable: errors.ExitStatus.FAILED,
        apply.ApplyError: errors.ExitStatus.FAILED,
        vfs.VfsError: errors.ExitStatus.FAILED,
        reader.UnreadableFile: errors.ExitStatus.FAILED,
    }
    for kind, status in expected.items():
        assert issubclass(kind, errors.Error) and kind.status == status, kind
    assert issubclass(attach.Unavailable, attach.AttachError)
    assert int(errors.ExitStatus.INTERRUPTED) == 130  # 128 + SIGINT, as a shell reports Ctrl-C
    problems = errors.BadInput("num_vfs: 9 is out of range", "driver: 'x' is not allowed")
    assert problems.lines() == ["num_vfs: 9 is out of range", "driver: 'x' is not allowed"]


def test_help_and_version():
    result = CliRunner().invoke(cli, ["--help"])
    assert result.exit_code == 0
    for command in ("status", "doctor", "config", "apply"):
        assert command in result.output
    assert "IRISXE_SRIOV_ROOT" in result.output
    version = CliRunner().invoke(cli, ["--version"])
    # the one version (tests/unit/test_packaging.py: the same in debian/changelog and pyproject)
    assert version.exit_code == 0 and version.output == f"irisxe-sriov-ctl, version {__version__}\n"


def test_status_json_contract(host):
    result = run(host.root, "status", "--json")
    assert result.exit_code == 0, result.output
    doc = json.loads(result.output)
    pf = doc["pf"]
    assert (pf["address"], pf["device"], pf["platform"], pf["driver"]) == (
        "0000:00:02.0",
        "a7a0",
        "RPL-P",
        "i915",
    )
    assert (pf["sriov_totalvfs"], pf["sriov_numvfs"]) == (7, 3)
    assert [(v["address"], v["driver"], v["role"]) for v in doc["vfs"]][:3] == [
        ("0000:00:02.1", "vfio-pci", "vfio"),
        ("0000:00:02.2", "vfio-pci", "vfio"),
        ("0000:00:02.3", "vfio-pci", "vfio"),
    ]
    # no settings file: the working set-up found (i915, 3 VFs on vfio-pci) is what the
    # defaults are, as debconf would propose them (judgement.default_values)
    assert (doc["settings"]["driver"], doc["settings"]["num_vfs"]) == ("i915", 3)
    assert doc["settings"]["file_exists"] is False
    assert doc["reboot_pending"] is False
    assert doc["pending"] == []
    settings = host.root / "etc/default/irisxe-sriov"
    settings.parent.mkdir(parents=True, exist_ok=True)
    settings.write_text('NUM_VFS="7"\n')
    doc = json.loads(run(host.root, "status", "--json").output)
    assert doc["reboot_pending"] is False  # 3 VFs vs 7 configured needs no reboot
    assert doc["pending"][0]["what"] == "3 VFs exist, 7 configured"
    assert doc["pending"][0]["steps"] == [
        {"text": "irisxe-sriov-ctl vfs restore", "argv": ["irisxe-sriov-ctl", "vfs", "restore"]}
    ]


def test_status_text_and_unbound_pf(fake):
    fake.add_gpu(driver=None, totalvfs=None)
    result = run(fake.root, "status")
    assert result.exit_code == 0
    assert "driver no driver" in result.output and "SR-IOV: unknown of unknown" in result.output
    doc = json.loads(run(fake.root, "status", "--json").output)
    assert doc["pf"]["driver"] is None and doc["pf"]["sriov_totalvfs"] is None


def test_root_from_environment(host):
    result = CliRunner().invoke(cli, ["config", "show"], env={"IRISXE_SRIOV_ROOT": str(host.root)})
    assert result.exit_code == 0
    assert "does not exist: these are the defaults" in result.output


def test_doctor_exit_status(host, fake):
    run(host.root, "config", "set", "num_vfs=3")
    result = run(host.root, "doctor")
    assert result.exit_code == 0, result.output
    assert result.output.startswith("no problems: ")
    assert "[OK  ] gpu.present" in run(host.root, "doctor", "--verbose").output
    findings = json.loads(run(host.root, "doctor", "--json").output)["findings"]
    assert all(set(f) == {"id", "level", "message", "fix", "steps"} for f in findings)
    assert {f["level"] for f in findings} == {"ok"}
    (host.root / "sys/module/i915/version").write_text("6.12.40\n")
    failing = run(host.root, "doctor", "--json")
    assert failing.exit_code == 1
    document = json.loads(failing.output)
    assert [f["id"] for f in document["findings"] if f["level"] == "fail"] == ["provider"]
    assert document["summary"]["fail"] == 1 and document["schema_version"] == "1.1"


def test_doctor_reports_a_broken_settings_file_as_a_finding(host):
    (host.root / "etc/default").mkdir(parents=True, exist_ok=True)
    (host.root / "etc/default/irisxe-sriov").write_text("NUM_VFS=3\n")
    result = run(host.root, "doctor", "--json")
    assert result.exit_code == 1
    first = json.loads(result.output)["findings"][0]
    assert first["id"] == "settings.valid" and first["level"] == "fail"
    assert (
        "/etc/default/irisxe-sriov:1: 'NUM_VFS=3' is not a KEY=\"value\" line" in first["message"]
    )


def test_config_set_apply_then_nothing_to_change(host, snapshot):
    result = run(host.root, "config", "set", "num_vfs=3", "vf_roles=3:none")
    assert result.exit_code == 0, result.output
    assert "created /etc/default/irisxe-sriov" in result.output
    assert "would run: update-grub" in result.output
    assert "would run: update-initramfs -u -k all" in result.output
    settings_text = (host.root / "etc/default/irisxe-sriov").read_text()
    assert 'NUM_VFS="3"' in settings_text and 'VF_ROLES="3:none"' in settings_text
    assert sorted(p.name for p in (host.root / "etc/driverctl.d").iterdir()) == [
        "pci-0000:00:02.1",
        "pci-0000:00:02.2",
    ]
    shown = json.loads(run(host.root, "config", "show", "--json").output)
    assert shown == {
        "schema_version": "1.1",
        "driver": "i915",
        "num_vfs": 3,
        "bootloader": "auto",
        "vf_roles": {"1": "vfio", "2": "vfio", "3": "none"},
        "pf": "0000:00:02.0",
        "machine_role": "auto",
        "kernel_hold": "auto",
        "sched": "default",
        "sched_exec_quantum_ms": {},
        "sched_preempt_timeout_us": {},
        "sched_pf_priority": "auto",
        "file_exists": True,
    }
    before = snapshot(host.root)
    again = run(host.root, "apply")
    assert again.exit_code == 0 and again.output == "nothing to change\n"
    same = run(host.root, "config", "set", "num_vfs=3")
    assert same.exit_code == 0 and same.output == "nothing to change\n"
    assert snapshot(host.root) == before


def test_config_set_keeps_the_admins_comments(host):
    settings_file = host.root / "etc/default/irisxe-sriov"
    settings_file.parent.mkdir(parents=True, exist_ok=True)
    settings_file.write_text('# my note\nDRIVER="i915"\nNUM_VFS="2"\n')
    assert run(host.root, "config", "set", "driver=xe").exit_code == 0
    assert settings_file.read_text() == '# my note\nDRIVER="xe"\nNUM_VFS="2"\n'
    modprobe = (host.root / "etc/modprobe.d/irisxe-sriov.conf").read_text()
    assert "options xe max_vfs=7 force_probe=a7a0" in modprobe and "blacklist i915" in modprobe


def test_dry_run_changes_nothing(host, snapshot):
    before = snapshot(host.root)
    result = run(host.root, "config", "set", "--dry-run", "num_vfs=2", "driver=xe")
    assert result.exit_code == 0
    assert "+++ /etc/modprobe.d/irisxe-sriov.conf (planned)" in result.output
    assert "+options xe max_vfs=7 force_probe=a7a0" in result.output
    assert "would run: update-initramfs -u -k all" in result.output
    assert "a reboot would be needed" in result.output
    assert run(host.root, "apply", "-n").exit_code == 0
    assert snapshot(host.root) == before


BAD_INPUT = [
    (["config", "set", "num_vfs=-1"], "num_vfs: -1 is out of range: allowed 0-7"),
    (["config", "set", "num_vfs=8"], "num_vfs: 8 is out of range: allowed 0-7"),
    (["config", "set", "num_vfs=seven"], "num_vfs: 'seven' is not a number: allowed 0-7"),
    (["config", "set", "driver=nouveau"], "driver: 'nouveau' is not allowed: choose i915 or xe"),
    (["config", "set", "pf=0000:00:02"], "pf: '0000:00:02' is not a PF address"),
    (["config", "set", "colour=blue"], "unknown key 'colour': known keys are driver, num_vfs"),
    (
        ["config", "set", "num_vfs=2", "vf_roles=3:none"],
        "vf_roles: VF 3 has role 'none' but num_vfs is 2: VF numbers allowed: 1-2",
    ),
    (["config", "set", "--dry-run", "num_vfs=9"], "num_vfs: 9 is out of range: allowed 0-7"),
]


@pytest.mark.parametrize(("args", "message"), BAD_INPUT)
def test_bad_input_exit_2_and_nothing_changes(host, snapshot, args, message):
    run(host.root, "config", "set", "num_vfs=3")
    before = snapshot(host.root)
    result = run(host.root, *args)
    assert result.exit_code == 2
    assert result.output.startswith(f"irisxe-sriov-ctl: error: {message}")
    assert len(result.output.splitlines()) == 1
    assert snapshot(host.root) == before


def test_num_vfs_above_totalvfs_is_bad_input(fake, snapshot):
    fake.add_gpu(totalvfs=4)
    before = snapshot(fake.root)
    result = run(fake.root, "config", "set", "num_vfs=5")
    assert result.exit_code == 2
    assert result.output == (
        "irisxe-sriov-ctl: error: num_vfs: 5 is above the PF's sriov_totalvfs (4): allowed 0-4\n"
    )
    assert snapshot(fake.root) == before


@pytest.mark.parametrize(
    "command", [["apply"], ["status"], ["config", "show"], ["config", "set", "num_vfs=1"]]
)
def test_malformed_settings_file_is_bad_input(host, snapshot, command):
    settings_file = host.root / "etc/default/irisxe-sriov"
    settings_file.parent.mkdir(parents=True, exist_ok=True)
    settings_file.write_text('DRIVER="i915"\nthis is not a setting\n')
    before = snapshot(host.root)
    result = run(host.root, *command)
    assert result.exit_code == 2
    assert result.output == (
        "irisxe-sriov-ctl: error: /etc/default/irisxe-sriov:2: "
        "'this is not a setting' is not a KEY=\"value\" line\n"
    )
    assert snapshot(host.root) == before


def test_missing_root_is_bad_input(tmp_path):
    result = CliRunner().invoke(cli, ["--root", str(tmp_path / "missing"), "status"])
    assert result.exit_code == 2
    assert f"Directory '{tmp_path / 'missing'}' does not exist" in result.output


def test_failed_write_is_exit_1(host):
    (host.root / "etc/modprobe.d").write_text("a file where a directory belongs\n")
    result = run(host.root, "apply")
    assert result.exit_code == 1
    assert result.output.splitlines()[-1].startswith("irisxe-sriov-ctl: error: ")
    assert "modprobe.d" in result.output


def test_config_set_requires_an_assignment(host):
    result = run(host.root, "config", "set")
    assert result.exit_code == 2 and "Missing argument 'KEY=VALUE...'" in result.output


def test_kernels_lists_states_and_notifies(fake):
    modules = fake.root / "lib/modules"
    (modules / "6.12.40-amd64/kernel").mkdir(parents=True)
    (modules / "6.12.40-amd64/updates/dkms").mkdir(parents=True)
    (modules / "6.12.40-amd64/updates/dkms/i915.ko.xz").write_text("")
    (modules / "6.19.1-amd64/kernel").mkdir(parents=True)
    listing = json.loads(run(fake.root, "kernels", "--json").output)["kernels"]
    # 6.19 is outside the pin's range: no headers would make it buildable, so none are
    # asked for
    assert [(k["release"], k["state"]) for k in listing] == [
        ("6.12.40-amd64", "installed"),
        ("6.19.1-amd64", "skipped"),
    ]
    text = run(fake.root, "kernels").output
    assert (
        "6.19.1-amd64  no provider\n"
        "    dkms:   skipped: outside the pin's range 6.12 to 6.18\n"
        "    own xe: no kernel config found\n"
    ) in text
    assert "linux-headers" not in text
    quiet = run(fake.root, "kernels", "--notify", "6.12.40-amd64")
    assert quiet.exit_code == 0
    assert quiet.output == (
        "irisxe-sriov: kernel 6.12.40-amd64: SR-IOV by i915-sriov-dkms "
        "(i915, xe; configured driver i915)\n"
    )
    assert not (fake.root / "run/reboot-required").exists()
    warned = run(fake.root, "kernels", "--notify", "6.19.1-amd64")
    assert warned.exit_code == 0
    assert warned.output.startswith(
        "irisxe-sriov: warning: kernel 6.19.1-amd64 would boot without an SR-IOV driver for "
        "i915 (no provider: DKMS skipped:"
    )
    assert not (fake.root / "run/reboot-required.pkgs").exists()


def test_doctor_advises_which_kernel_to_boot(host):
    (host.root / "lib/modules/6.19.1-amd64/kernel").mkdir(parents=True)
    (host.root / "proc/sys/kernel/osrelease").write_text("6.19.1-amd64\n")  # no provider
    (host.root / "sys/module/i915/version").unlink()  # running the stock module
    findings = {
        f["id"]: f for f in json.loads(run(host.root, "doctor", "--json").output)["findings"]
    }
    assert findings["kernel.6.12.40-amd64"]["level"] == "ok"
    assert findings["provider"]["level"] == "fail"
    assert findings["provider"]["fix"] == "reboot and choose 6.12.40-amd64 in the boot menu"
