"""Configured vs running, as status, doctor and `vfs restore` each see it: they must
agree on every VF, above all on the host role, which follows the PF's driver
(settings.expected_driver). They take their verdicts from one judgement
(judgement.py), which the property tests below build from snapshots made directly, with no
fake root."""

import re
from collections.abc import Iterable
from pathlib import Path
from types import MappingProxyType

import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from fakesys import kernel_double
from irisxe_sriov.boot import bootloader, nextboot
from irisxe_sriov.choices import Driver, VfRole
from irisxe_sriov.cli.commands import cli
from irisxe_sriov.machine import reader, snapshot
from irisxe_sriov.machine.roles import GpuFunction, Observed
from irisxe_sriov.paths import Paths
from irisxe_sriov.process import Runner
from irisxe_sriov.report import doctor, judgement, status
from irisxe_sriov.report.differences import capped_count
from irisxe_sriov.runtime import vfs
from irisxe_sriov.settings import Settings
from judged import judged, settings_file_of

PF = "0000:00:02.0"


def seen(fake, settings):
    """(status's pending lines, doctor's findings by id, what restore logged) for one root."""
    verdicts = judged(fake.root, "status", settings=settings, strict=True)
    state = verdicts.host
    pending = [p["what"] for p in status.report(verdicts)["pending"]]
    findings = {f.id: f for f in doctor.diagnose(judged(fake.root, settings=settings))}
    (fake.sys / "bus/pci/drivers_probe").write_text("")
    for vf in state.vfs:  # overrides as restore leaves them: only the rebinding is of interest
        expected = settings.expected_driver(vf.number, state.pf.driver)
        (fake.device_dir(vf.address) / "driver_override").write_text(f"{expected or 'none'}\n")
    (fake.device_dir(PF) / "driver_override").write_text(f"{state.pf.driver}\n")
    lines: list[str] = []
    verdicts = judged(fake.root, "restore", settings=settings, strict=True)
    vfs.restore(
        Paths(fake.root),
        verdicts,
        Runner(False, lines.append),
        lines.append,
        force=True,
        sysfs=kernel_double(fake, lines.append),
    )
    return pending, findings, lines


@pytest.mark.parametrize("driver", ["i915", "xe"])
def test_a_host_vf_on_its_pfs_driver_is_as_configured_everywhere(fake, driver):
    fake.healthy(driver=driver, numvfs=2)
    fake.bind("0000:00:02.2", driver)
    settings = Settings(driver=driver, num_vfs=2, vf_roles={2: VfRole.HOST})
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
    settings = Settings(driver=Driver.XE, num_vfs=2, vf_roles={2: VfRole.HOST})
    pending, findings, lines = seen(fake, settings)
    assert not [line for line in pending if line.startswith("VF ")]
    assert findings["vf.2.driver"].level == "ok"
    assert lines == [f"VFs as configured: 2 on {PF}"]
    doc = status.report(judged(fake.root, "status", settings=settings, strict=True))
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
    settings = Settings(driver=Driver.XE, num_vfs=2, vf_roles={2: VfRole.HOST})
    pending, findings, lines = seen(fake, settings)
    shown = found or "no driver"
    assert pending == [f"VF 2 (0000:00:02.2) is on {shown}, its role host wants xe"]
    assert findings["vf.2.driver"].level == "fail"
    assert findings["vf.2.driver"].message == pending[0]
    assert "VF 2 (0000:00:02.2): bind to xe" in lines


# --- each rule once: examples of what used to diverge -------------------------------------


def both(fake, settings):
    """(status's pending items, doctor's findings by id) for one root."""
    items = status.report(judged(fake.root, "status", settings=settings, strict=True))["pending"]
    return items, {f.id: f for f in doctor.diagnose(judged(fake.root, settings=settings))}


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
        ("xe is loaded although i915 is configured", True)
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
    assert [p["what"] for p in items] == ["i915 is not loaded"]
    assert findings["module.loaded"].level == "fail"
    assert findings["pf.driver"].level == "ok"  # the module is what is missing


@pytest.mark.parametrize(
    ("name", "value", "what", "finding"),
    [
        ("max_vfs", "1", "i915 runs with max_vfs=1, SR-IOV needs at least 2", "module.max_vfs"),
        ("enable_guc", "2", "i915 runs with enable_guc=2, SR-IOV needs 3", "guc.enabled"),
    ],
)
def test_a_module_parameter_differs_in_both(fake, name, value, what, finding):
    """A parameter that does not permit what is configured: one problem, worded once."""
    fake.healthy(numvfs=2)
    (fake.sys / "module/i915/parameters" / name).write_text(value + "\n")
    items, findings = both(fake, Settings(num_vfs=2))
    assert [p["what"] for p in items] == [what]
    assert findings[finding].level == "fail"
    assert findings[finding].message == what


def test_a_pf_on_vfio_pci_differs_in_both(fake):
    """Doctor's pf.not_vfio had no counterpart in status."""
    fake.healthy(numvfs=0)
    fake.bind(PF, "vfio-pci")
    items, findings = both(fake, Settings(num_vfs=0))
    assert [(p["id"], p["what"], p["fix"], p["reboot"]) for p in items] == [
        (
            "pf.driver",
            "the PF 0000:00:02.0 is on vfio-pci, i915 is configured",
            "driverctl unset-override 0000:00:02.0; reboot",
            True,
        )
    ]
    assert findings["pf.driver"].level == "fail" and findings["pf.not_vfio"].level == "fail"
    assert str(findings["pf.driver"].fix) == items[0]["fix"]


def test_a_pf_its_loaded_driver_did_not_take_differs_in_both(fake):
    fake.healthy(numvfs=0)
    (fake.device_dir(PF) / "driver").unlink()
    items, findings = both(fake, Settings(num_vfs=0))
    assert [p["what"] for p in items] == ["the PF 0000:00:02.0 is on no driver, i915 is configured"]
    assert findings["pf.driver"].level == "fail"
    assert "dmesg | grep -i i915" in str(findings["pf.driver"].fix)


# --- the property: any state, the same differences ----------------------------------------

DRIVER = st.sampled_from(["i915", "xe", "vfio-pci", None])
CMDLINES = [
    None,
    "ro",
    "ro intel_iommu=on i915.enable_guc=3 i915.max_vfs=7 module_blacklist=xe",
    "ro intel_iommu=on xe.max_vfs=7 xe.force_probe=a7a0 module_blacklist=i915",
]
GRUB_EVIDENCE = bootloader.Evidence(False, None, True, None)


def module(name: str, loaded: bool, guc: str | None, max_vfs: str | None) -> reader.KernelModule:
    values = {"enable_guc": guc, "max_vfs": max_vfs}
    parameters = {key: value for key, value in values.items() if value is not None}
    return reader.KernelModule(name, loaded, None, parameters if loaded else {})


@st.composite
def snapshots(draw: st.DrawFn) -> snapshot.Snapshot:
    """A host (or a guest) in any state the scan can return, and any settings, as the
    snapshot a command would gather: built directly, no fake root."""
    count = draw(st.integers(0, 7))
    numvfs = draw(st.integers(0, 7))
    pf_present = draw(st.booleans())
    pf = reader.PciFunction(
        PF,
        present=pf_present,
        vendor="8086" if pf_present else None,
        device="a7a0" if pf_present else None,
        pci_class="030000" if pf_present else None,
        driver=draw(DRIVER) if pf_present else None,
        sriov_totalvfs=draw(st.sampled_from([7, 3])) if pf_present else None,
        sriov_numvfs=draw(st.sampled_from([numvfs, None])) if pf_present else None,
    )
    vfs_found = tuple(
        reader.PciFunction(f"0000:00:02.{n}", present=True, driver=draw(DRIVER), number=n)
        for n in range(1, (numvfs if pf_present else 0) + 1)
    )
    parameter = st.sampled_from([None, "0", "2", "3", "7", "4294967295"])
    modules = {
        name: module(name, draw(st.booleans()), draw(parameter), draw(parameter))
        for name in ("i915", "xe")
    }
    modules["vfio_pci"] = reader.KernelModule("vfio_pci", True)
    state = reader.HostState(
        pf, vfs_found, modules, draw(st.sampled_from(CMDLINES)), "6.12.40-amd64", "debian",
        "13", True, True, True,
    )  # fmt: skip
    config = Settings(
        driver=draw(st.sampled_from(list(Driver))),
        num_vfs=count,
        vf_roles=draw(st.dictionaries(st.integers(1, count), st.sampled_from(list(VfRole))))
        if count
        else {},
    )
    virtual = draw(st.sampled_from([None, "DMI sys_vendor 'QEMU'"]))
    gpus: tuple[GpuFunction, ...] = ()
    if pf_present:
        gpus = (GpuFunction(PF, "a7a0", pf.driver, None, True, False),)
    if virtual is not None:  # a guest given VFs: no PF of its own
        state = state._replace(pf=reader.PciFunction(PF), vfs=())
        gpus = tuple(
            GpuFunction(f"0000:0{n}:00.0", "a7a0", draw(DRIVER), None, False, False)
            for n in range(draw(st.integers(0, 2)))
        )
    observed = Observed(state.pf, pf_present and virtual is None, gpus, virtual, 0)
    return snapshot.Snapshot(
        depth=snapshot.Depth.DOCTOR,
        settings_file=settings_file_of(config),
        given=MappingProxyType({}),
        host=state,
        observed=observed,
        boot=GRUB_EVIDENCE,
        next_boot=nextboot.NextBoot(None, "not known"),
        installed=(),
        kernels=MappingProxyType({}),
    )


class Recording(vfs.Sysfs):
    """bind_all's sysfs, writing nothing: which VFs it would unbind or bind."""

    def __init__(self) -> None:
        super().__init__(Paths("/nonexistent"), lambda line: None)
        self.moved: set[int] = set()

    def write(self, path: Path, value: str, what: str) -> None:
        if what.startswith("VF ") and (": unbind from " in what or ": bind to " in what):
            self.moved.add(int(what.split()[1]))


def vf_numbers(lines: Iterable[str]) -> set[int]:
    """The VFs that status's pending items name ("VF 2 (0000:00:02.2) is on ...")."""
    return {int(line.split()[1]) for line in lines if re.match(r"VF \d+ \(", line)}


PROPERTY = settings(max_examples=200, deadline=None)


@PROPERTY
@given(snapshots())
def test_status_doctor_and_restore_name_the_same_vfs(gathered):
    verdicts = judgement.judge(gathered)
    items = status.report(verdicts)["pending"]
    findings = doctor.diagnose(verdicts)
    in_status = vf_numbers(p["what"] for p in items)
    in_doctor = {
        int(f.id.split(".")[1])
        for f in findings
        if re.fullmatch(r"vf\.\d+\.driver", f.id) and f.level == "fail"
    }
    assert in_status == in_doctor
    state, config = verdicts.host, verdicts.settings
    if verdicts.machine.role == "host" and state.pf.present:  # restore binds only on a host
        sysfs = Recording()
        count = capped_count(config, state.pf.sriov_totalvfs)
        try:
            vfs.bind_all(
                Paths("/nonexistent"), config, count, state, sysfs, Runner(False), sysfs.log,
                True, snapshot.Usage({}, {}),
            )  # fmt: skip
        except vfs.VfsError as missing:  # fewer VFs than asked: named, one line each
            assert all("was not created" in line for line in missing.problems)
        assert sysfs.moved == in_status


@PROPERTY
@given(snapshots())
def test_every_problem_is_one_status_item_and_the_same_finding(gathered):
    """Each problem judgement found is one pending item of status and the finding of the
    same id in doctor, failing (or warning) with the same words and fix; and no finding
    that renders a problem fails without one (the boot file checks aside)."""
    verdicts = judgement.judge(gathered)
    items = status.report(verdicts)["pending"]
    assert [p["id"] for p in items] == [p.id for p in verdicts.problems]
    findings = {f.id: f for f in doctor.diagnose(verdicts)}
    for problem in verdicts.problems:
        finding = findings[problem.id]
        assert (finding.level, finding.message, finding.fix) == (
            problem.level,
            problem.what,
            problem.fix,
        )
    backed = {p.id for p in verdicts.problems}
    for finding in findings.values():
        if finding.level == "fail" and renders(finding.id):
            assert finding.id in backed, finding


def renders(id: str) -> bool:
    """Whether doctor's finding `id` shows a problem of judgement's (judgement.finding_id)."""
    fixed = {"cmdline.parameters", "module.loaded", "module.other", "module.max_vfs"}
    fixed |= {"pf.driver", "sriov.numvfs", "provider"}
    guest = id.startswith("guest.") and not id.endswith(".render")  # a render node: doctor's
    return id in fixed or guest or re.fullmatch(r"vf\.\d+\.driver", id) is not None
