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
