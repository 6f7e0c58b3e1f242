"""Configured vs running, as status, doctor and `vfs restore` each see it (issue 15,
item 2): they must agree on every VF, above all on the host role, which follows the PF's
driver (settings.expected_driver)."""

import pytest
from click.testing import CliRunner

from irisxe_sriov import bootcheck, bootloader, doctor, host, status, vfs
from irisxe_sriov.cli import cli
from irisxe_sriov.paths import Paths
from irisxe_sriov.process import Runner
from irisxe_sriov.settings import Settings

PF = "0000:00:02.0"
GRUB = bootloader.Detection("grub", "/boot/grub/grub.cfg exists")
APPLIED = bootcheck.Verdict(None, "the boot configuration has the parameters", "reboot")
GOOD = doctor.Evidence((), "2025.12.10", True)


def seen(fake, settings):
    """(status's pending lines, doctor's findings by id, what restore logged) for one root."""
    paths = Paths(fake.root)
    state = host.scan(paths, settings.pf)
    pending = [p["what"] for p in status.report(state, settings, GRUB, APPLIED)["pending"]]
    findings = {f.id: f for f in doctor.diagnose(state, settings, GRUB, GOOD, APPLIED)}
    (fake.sys / "bus/pci/drivers_probe").write_text("")
    for vf in state.vfs:  # overrides as restore leaves them: only the rebinding is of interest
        expected = settings.expected_driver(vf.number, state.pf.driver)
        (fake.device_dir(vf.address) / "driver_override").write_text(f"{expected or 'none'}\n")
    (fake.device_dir(PF) / "driver_override").write_text(f"{state.pf.driver}\n")
    lines: list[str] = []
    vfs.restore(paths, settings, Runner(False, lines.append), lines.append, force=True)
    return pending, findings, lines


@pytest.mark.parametrize("driver", ["i915", "xe"])
def test_a_host_vf_on_its_pfs_driver_is_as_configured_everywhere(fake, driver):
    fake.healthy(driver=driver, numvfs=2)
    fake.bind("0000:00:02.2", driver)
    settings = Settings(driver=driver, num_vfs=2, vf_roles={2: "host"})
    pending, findings, lines = seen(fake, settings)
    assert pending == []
    assert findings["vf.2.driver"].level == "ok"
    assert findings["vf.2.driver"].message == (
        f"VF 2 (0000:00:02.2) is on {driver} as its role host asks"
    )
    assert lines == [f"VFs as configured: 2 on {PF}"]


def test_a_host_vf_follows_the_pf_while_the_driver_switch_waits_for_a_reboot(fake):
    """The divergence: xe configured, the PF still on i915 until the reboot. restore keeps
    the host VF on i915 (a VF is driven by its PF's driver); status and doctor used to
    compare it with the configured xe, so they reported a difference that `vfs restore`,
    the fix they named, never removed."""
    fake.healthy(driver="i915", numvfs=2)
    fake.bind("0000:00:02.2", "i915")
    settings = Settings(driver="xe", num_vfs=2, vf_roles={2: "host"})
    pending, findings, lines = seen(fake, settings)
    assert not [line for line in pending if line.startswith("VF ")]
    assert findings["vf.2.driver"].level == "ok"
    assert lines == [f"VFs as configured: 2 on {PF}"]
    doc = status.report(host.scan(Paths(fake.root), PF), settings, GRUB, APPLIED)
    assert doc["vfs"][1]["expected_driver"] == "i915"
    (fake.root / "etc/default").mkdir(parents=True, exist_ok=True)
    (fake.root / "etc/default/irisxe-sriov").write_text(
        'DRIVER="xe"\nNUM_VFS="2"\nVF_ROLES="2:host"\n'
    )
    shown = CliRunner().invoke(cli, ["--root", str(fake.root), "vfs", "roles"])
    assert shown.output.splitlines()[2] == "2   0000:00:02.2  host  i915      i915"


@pytest.mark.parametrize("found", [None, "vfio-pci"])
def test_a_host_vf_off_its_pfs_driver_differs_everywhere(fake, found):
    fake.healthy(driver="xe", numvfs=2)
    if found is None:
        (fake.device_dir("0000:00:02.2") / "driver").unlink()
    settings = Settings(driver="xe", num_vfs=2, vf_roles={2: "host"})
    pending, findings, lines = seen(fake, settings)
    shown = found or "no driver"
    assert pending == [f"VF 2 (0000:00:02.2) is on {shown}, its role host wants xe"]
    assert findings["vf.2.driver"].level == "fail"
    assert findings["vf.2.driver"].message == pending[0]
    assert "VF 2 (0000:00:02.2): bind to xe" in lines


# --- each rule once: examples of what used to diverge -------------------------------------


def both(fake, settings):
    """(status's pending items, doctor's findings by id) for one root."""
    state = host.scan(Paths(fake.root), settings.pf)
    items = status.report(state, settings, GRUB, APPLIED)["pending"]
    return items, {f.id: f for f in doctor.diagnose(state, settings, GRUB, GOOD, APPLIED)}


def test_a_pf_without_sr_iov_has_no_vfs_only_when_some_are_configured(fake):
    """Status skipped an unreadable sriov_numvfs, doctor failed it even for num_vfs=0."""
    fake.healthy(numvfs=0)
    for name in ("sriov_numvfs", "sriov_totalvfs", "sriov_drivers_autoprobe"):
        (fake.device_dir(PF) / name).unlink()
    items, findings = both(fake, Settings(num_vfs=0))
    assert items == [] and findings["sriov.numvfs"].level == "ok"
    items, findings = both(fake, Settings(num_vfs=3))
    assert [p["what"] for p in items] == ["no VFs exist, 3 configured"]
    assert findings["sriov.numvfs"].message == "no VFs exist, 3 configured"


def test_the_other_driver_loaded_beside_the_configured_one_differs_in_both(fake):
    """Status named the other driver only when the configured one was not loaded."""
    fake.healthy(numvfs=2)
    fake.load_module("xe")
    items, findings = both(fake, Settings(num_vfs=2))
    assert [(p["what"], p["reboot"]) for p in items] == [
        ("xe is loaded beside i915, which is configured", True)
    ]
    assert findings["module.other"].level == "fail" and findings["module.loaded"].level == "ok"


def test_no_gpu_driver_loaded_differs_in_both(fake):
    """Doctor failed module.loaded; status said nothing."""
    fake.healthy(numvfs=0)
    (fake.sys / "module/i915/parameters/max_vfs").unlink()
    (fake.sys / "module/i915/parameters/enable_guc").unlink()
    (fake.sys / "module/i915/version").unlink()
    (fake.sys / "module/i915/parameters").rmdir()
    (fake.sys / "module/i915").rmdir()
    (fake.device_dir(PF) / "driver").unlink()
    items, findings = both(fake, Settings(num_vfs=0))
    assert [p["what"] for p in items] == ["i915 is configured and not loaded"]
    assert findings["module.loaded"].level == "fail"
    assert findings["pf.driver"].level == "ok"  # the module is what is missing


@pytest.mark.parametrize(
    ("name", "value", "what", "finding"),
    [
        ("max_vfs", "2", "i915 runs with max_vfs=2, configured 7", "module.max_vfs"),
        ("enable_guc", "2", "i915 runs with enable_guc=2, configured 3", "guc.enabled"),
    ],
)
def test_a_module_parameter_differs_in_both(fake, name, value, what, finding):
    """max_vfs was status's alone, enable_guc doctor's alone."""
    fake.healthy(numvfs=2)
    (fake.sys / "module/i915/parameters" / name).write_text(value + "\n")
    items, findings = both(fake, Settings(num_vfs=2))
    assert [p["what"] for p in items] == [what]
    assert findings[finding].level == "fail"
    assert findings[finding].message == f"i915.{name} is {value}, SR-IOV needs {what[-1]}"


def test_a_pf_on_vfio_pci_differs_in_both(fake):
    """Doctor's pf.not_vfio had no counterpart in status."""
    fake.healthy(numvfs=0)
    fake.bind(PF, "vfio-pci")
    items, findings = both(fake, Settings(num_vfs=0))
    assert items == [
        {
            "what": "the PF 0000:00:02.0 is on vfio-pci, i915 is configured",
            "fix": "driverctl unset-override 0000:00:02.0; reboot",
            "reboot": True,
        }
    ]
    assert findings["pf.driver"].level == "fail" and findings["pf.not_vfio"].level == "fail"
    assert findings["pf.driver"].fix == items[0]["fix"]


def test_a_pf_its_loaded_driver_did_not_take_differs_in_both(fake):
    fake.healthy(numvfs=0)
    (fake.device_dir(PF) / "driver").unlink()
    items, findings = both(fake, Settings(num_vfs=0))
    assert [p["what"] for p in items] == ["the PF 0000:00:02.0 is on no driver, i915 is configured"]
    assert findings["pf.driver"].level == "fail"
    assert "dmesg | grep -i i915" in findings["pf.driver"].fix
