"""One judgement for every reader (docs/notes.md, "Gather once, judge once"): every kind of
machine the fixtures know (tests/harness/machines.py) with no settings file and with settings for
each driver. For each, the verdict is pinned (role, driver in force, what the running
kernel does, what differs); and for all of them status, doctor, kernels and the kernel
hook must agree, no fix may be `vfs restore` or a bare reboot where nothing could make VFs
afterwards, and nothing of ours asks for a reboot into a kernel without a provider."""

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

import fakesys
from fakesys import FakeSystem
from irisxe_sriov import fixes
from irisxe_sriov.cli.commands import cli
from irisxe_sriov.report import doctor, status
from judged import judged
from machines import BACKPORTS, MACHINES, STOCK

SETTINGS = {None: None, "i915": 'DRIVER="i915"\n', "xe": 'DRIVER="xe"\n'}

# (machine, settings) -> (role, driver in force, running kernel offers it, the problems:
# status's pending ids, which doctor fails or warns with the same words and fix)
EXPECTED = {
    ("healthy_dkms_i915", None): ("host", "i915", True, []),  # adopted: i915, 3 VFs
    ("healthy_dkms_i915", "i915"): ("host", "i915", True, ["sriov.numvfs"]),  # 7 asked
    ("healthy_dkms_i915", "xe"): (
        "host",
        "xe",
        True,
        ["cmdline.parameters", "module.loaded", "module.other", "sriov.numvfs"],
    ),
    ("dkms_xe", None): ("host", "xe", True, []),
    ("dkms_xe", "i915"): (
        "host",
        "i915",
        True,
        ["cmdline.parameters", "module.loaded", "module.other", "sriov.numvfs"],
    ),
    ("dkms_xe", "xe"): ("host", "xe", True, ["sriov.numvfs"]),
    ("stock_i915", None): ("host", "i915", False, ["provider", "cmdline.parameters"]),
    ("stock_i915", "i915"): ("host", "i915", False, ["provider", "cmdline.parameters"]),
    ("stock_i915", "xe"): (
        "host",
        "xe",
        False,
        ["provider", "cmdline.parameters", "module.loaded", "module.other"],
    ),
    # the unlimited max_vfs of Debian 7.3's own xe permits 7: a working host passes
    ("kernel_xe", None): ("host", "xe", True, []),
    ("kernel_xe", "xe"): ("host", "xe", True, []),
    ("kernel_xe", "i915"): (
        "host",
        "i915",
        False,
        ["provider", "cmdline.parameters", "module.loaded", "module.other"],
    ),
    ("both_next_backports", None): (
        "host",
        "xe",  # the default is what the kernel that boots next offers
        False,
        ["provider", "cmdline.parameters", "module.loaded", "module.other"],
    ),
    ("both_next_backports", "i915"): ("host", "i915", False, ["provider", "cmdline.parameters"]),
    ("both_next_backports", "xe"): (
        "host",
        "xe",
        False,
        ["provider", "cmdline.parameters", "module.loaded", "module.other"],
    ),
    ("both_next_stock", None): (
        "host",
        "xe",  # 6.12.118 boots next and offers nothing: the newest kernel's driver
        False,
        ["provider", "cmdline.parameters", "module.loaded", "module.other"],
    ),
    ("both_next_stock", "i915"): ("host", "i915", False, ["provider", "cmdline.parameters"]),
    ("both_next_stock", "xe"): (
        "host",
        "xe",
        False,
        ["provider", "cmdline.parameters", "module.loaded", "module.other"],
    ),
    # no supported Intel GPU at all: one problem, nothing prescribed for a driver
    ("no_gpu", None): ("none", "i915", False, ["gpu.present"]),
    ("no_gpu", "i915"): ("none", "i915", False, ["gpu.present"]),
    ("no_gpu", "xe"): ("none", "xe", False, ["gpu.present"]),
    ("q35_guest", None): ("guest", "i915", True, []),
    ("q35_guest", "i915"): ("guest", "i915", True, []),
    ("q35_guest", "xe"): (
        "guest",
        "xe",
        None,  # the guest's kernel has DKMS: offers xe after a reboot; i915 runs now
        ["cmdline.parameters", "module.loaded", "module.other", "guest.0000:06:00.0"],
    ),
}


def machine(tmp_path: Path, name: str, setting: str | None) -> Path:
    root = tmp_path / "root"
    root.mkdir()
    MACHINES[name](FakeSystem(root))
    text = SETTINGS[setting]
    if text is not None:
        fakesys.write(root / "etc/default/irisxe-sriov", text)
    return root


def ctl(root: Path, *args: str):
    return CliRunner().invoke(cli, ["--root", str(root), *args])


CASES = sorted(EXPECTED, key=lambda case: (case[0], str(case[1])))


@pytest.mark.parametrize(("name", "setting"), CASES)
def test_every_reader_takes_the_same_verdict(tmp_path, name, setting):
    root = machine(tmp_path, name, setting)
    role, driver, offers, problems = EXPECTED[name, setting]
    verdicts = judged(root, "doctor")
    assert (verdicts.machine.role, verdicts.settings.driver) == (role, driver)
    if offers is not None:
        assert verdicts.running.offers is offers
    # status: exactly these problems, in this order
    document = json.loads(ctl(root, "status", "--json").output)
    assert [p["id"] for p in document["pending"]] == problems
    # doctor: each of them fails (or warns) with status's words and fix
    findings = {f["id"]: f for f in json.loads(ctl(root, "doctor", "--json").output)["findings"]}
    for item in document["pending"]:
        finding = findings[item["id"]]
        assert finding["level"] in ("fail", "warn"), finding
        assert (finding["message"], finding["fix"]) == (item["what"], item["fix"])
        assert finding["steps"] == item["steps"]
    # and no finding doctor derives from a problem fails where status has none
    backed = {p.id for p in verdicts.problems}
    assert backed == set(problems)
    # kernels: the same providers as doctor's and status's (read to another depth)
    listing = {
        k["release"]: k for k in json.loads(ctl(root, "kernels", "--json").output)["kernels"]
    }
    assert {r: (k["provider"], k["boots_next"]) for r, k in listing.items()} == {
        k.release: (None if k.provider is None else str(k.provider), k.boots_next)
        for k in verdicts.kernels
    }
    running = document["providers"]["running"]
    if running is not None:
        assert running["provider"] == listing[running["release"]]["provider"]


@pytest.mark.parametrize(("name", "setting"), CASES)
def test_no_fix_leads_nowhere(tmp_path, name, setting):
    """Where the running kernel cannot make VFs of the driver, no fix is `vfs restore`,
    a bare reboot into the same nothing, or apply-and-reboot of a driver it lacks."""
    root = machine(tmp_path, name, setting)
    verdicts = judged(root, "doctor")
    if verdicts.running.offers is not False:
        return
    for problem in verdicts.problems:
        assert "vfs restore" not in str(problem.fix), problem
    provider = verdicts.problem("provider")
    if provider is not None:
        assert provider.fix, provider  # a way out, as commands or manual steps
        assert provider.fix != fixes.APPLY_AND_REBOOT


@pytest.mark.parametrize(("name", "setting"), CASES)
def test_the_kernel_hook_never_asks_for_a_reboot(tmp_path, name, setting):
    """`kernels --notify` warns for a kernel without a provider of the driver and says
    which provider a served one has; it leaves no reboot notice either way (the kernel
    hold decides where the next boot lands)."""
    root = machine(tmp_path, name, setting)
    verdicts = judged(root, "hook")
    for kernel in verdicts.kernels:
        result = ctl(root, "kernels", "--notify", kernel.release)
        assert result.exit_code == 0
        warned = "warning" in result.output
        assert warned is (verdicts.settings.driver not in kernel.drivers), result.output
        assert not (root / "run/reboot-required").exists()


@pytest.mark.parametrize("name", sorted(MACHINES))
def test_without_a_settings_file_the_cli_proposes_what_debconf_does(tmp_path, name):
    """The defaults are one fact (judgement.default_values): `config show` without a
    file, what `config set` writes for the keys not given, and debconf's first answers
    (its config script seeds them from the same verdicts) agree."""
    root = machine(tmp_path, name, None)
    shown = json.loads(ctl(root, "config", "show", "--json").output)
    proposed = judged(root, "debconf").settings
    assert (shown["driver"], shown["num_vfs"], shown["vf_roles"]) == (
        proposed.driver,
        proposed.num_vfs,
        {str(index): str(role) for index, role in proposed.roles()},
    )
    if name == "q35_guest" or name == "no_gpu":
        return
    written = ctl(root, "config", "set", "bootloader=grub", "--force")
    assert written.exit_code == 0, written.output
    text = (root / "etc/default/irisxe-sriov").read_text()
    assert f'DRIVER="{proposed.driver}"' in text
    assert f'NUM_VFS="{proposed.num_vfs}"' in text


def test_a_working_set_up_is_adopted(tmp_path):
    """No settings file, VFs at work: the driver, the count and the bindings found are
    the defaults, so a first apply changes nothing that runs."""
    root = machine(tmp_path, "healthy_dkms_i915", None)
    fake = FakeSystem(root)
    fake.bind("0000:00:02.2", "i915")  # VF 2 on the host driver: role host
    (fake.device_dir("0000:00:02.3") / "driver").unlink()  # VF 3 unbound: role none
    current = judged(root, "change").settings
    assert (current.driver, current.num_vfs) == ("i915", 3)
    assert current.values()["vf_roles"] == "2:host 3:none"
    assert [p["id"] for p in json.loads(ctl(root, "status", "--json").output)["pending"]] == []


def test_a_driver_the_next_kernel_cannot_serve_is_refused(tmp_path):
    """The backports host: its kernels offer xe only. `config set driver=i915` would
    boot into no VF at all: refused (exit 1), nothing written, --force writes it."""
    root = machine(tmp_path, "both_next_backports", None)
    fakesys.write(root / "etc/default/irisxe-sriov", 'DRIVER="xe"\n')
    before = (root / "etc/default/irisxe-sriov").read_text()
    refused = ctl(root, "config", "set", "driver=i915")
    assert refused.exit_code == 1
    assert refused.output == (
        f"irisxe-sriov-ctl: error: driver=i915: the kernel that boots next, {BACKPORTS}, has "
        "kernel-xe, which offers xe only, so no VF would be made after the next boot; set "
        "driver=xe, or use --force\n"
    )
    assert (root / "etc/default/irisxe-sriov").read_text() == before
    assert not (root / "etc/default/grub.d/irisxe-sriov.cfg").exists()
    dry = ctl(root, "config", "set", "driver=i915", "--dry-run")
    assert dry.exit_code == 0 and "note: refused without --force: driver=i915" in dry.output
    forced = ctl(root, "config", "set", "driver=i915", "--force")
    assert forced.exit_code == 0, forced.output
    assert 'DRIVER="i915"' in (root / "etc/default/irisxe-sriov").read_text()


def test_with_the_next_boot_unknown_every_kernel_is_asked(tmp_path):
    """The backports host of the report: its own xe makes 7 VFs, and no boot loader file
    says what boots next. driver=i915, which no installed kernel offers, is refused."""
    root = machine(tmp_path, "kernel_xe", None)
    assert judged(root, "change").next_kernel is None
    refused = ctl(root, "config", "set", "driver=i915")
    assert refused.exit_code == 1
    assert refused.output == (
        "irisxe-sriov-ctl: error: driver=i915: no installed kernel offers i915 "
        f"({BACKPORTS} offers xe), so no VF would be made after the next boot; set "
        "driver=xe, or use --force\n"
    )
    assert not (root / "etc/default/irisxe-sriov").exists()
    # the count alone changes nothing the next boot loads: no refusal
    assert ctl(root, "config", "set", "num_vfs=5").exit_code == 0
    assert 'DRIVER="xe"' in (root / "etc/default/irisxe-sriov").read_text()


def test_the_running_kernel_without_a_provider_gets_no_restore(tmp_path):
    """Stock 6.12.118, nothing makes VFs: status offers the way to a provider, not `vfs
    restore`, and `vfs restore` fails naming why (exit 1), writing nothing."""
    root = machine(tmp_path, "stock_i915", "i915")
    document = json.loads(ctl(root, "status", "--json").output)
    assert "vfs restore" not in json.dumps(document["pending"])
    before = (FakeSystem(root).device_dir("0000:00:02.0") / "sriov_numvfs").read_text()
    result = ctl(root, "vfs", "restore")
    assert result.exit_code == 1
    assert result.output.startswith(
        f"irisxe-sriov-ctl: error: no VF can be made: no SR-IOV provider on {STOCK}: DKMS "
        "no-package, own xe: "
    )
    assert "VFs as configured" not in result.output
    after = (FakeSystem(root).device_dir("0000:00:02.0") / "sriov_numvfs").read_text()
    assert after == before


def test_no_gpu_is_one_failure_and_nothing_prescribed(tmp_path):
    root = machine(tmp_path, "no_gpu", None)
    findings = {f.id: f for f in doctor.diagnose(judged(root))}
    failing = [i for i, f in findings.items() if f.level == "fail"]
    assert failing == ["gpu.present"]
    assert findings["gpu.present"].message.startswith(
        "0000:00:02.0 (1022:1480) is not a supported Intel GPU, and no other PCI function is one"
    )
    assert not findings["gpu.present"].fix
    # no DKMS package, headers or backports kernel for a machine that cannot use them
    assert all(not f.fix for f in findings.values())
    assert {findings[i].level for i in ("provider", "driver.package", "sriov.numvfs")} == {"skip"}
    text = status.format_text(status.report(judged(root, "status", strict=True)))
    assert "not a supported Intel GPU" in text
