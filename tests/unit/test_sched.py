"""Per-VF scheduling (src/irisxe_sriov/sched.py): the settings, the writes each provider
needs in its order, across disable/enable cycles, and what status and doctor read back.

The drivers are test doubles (tests/harness/driverdouble.py) that model the facts of
docs/notes.md, "Per-VF scheduling"; the reader, the judgement and the writer are the real
ones, on a fake root.
"""

from pathlib import Path

import pytest
from click.testing import CliRunner

from driverdouble import I915Double, XeDouble
from fakesys import PF, install_kernel
from irisxe_sriov import sched, settings
from irisxe_sriov.choices import Driver
from irisxe_sriov.cli.commands import cli
from irisxe_sriov.machine import reader
from irisxe_sriov.paths import Paths
from irisxe_sriov.process import Runner
from irisxe_sriov.report import contract, doctor, status
from irisxe_sriov.runtime import vfs
from irisxe_sriov.settings import Settings
from judged import judged
from test_contract import schema, validate

FAIR = sched.Scheduling(sched.Profile.FAIR)
PF_LIMITED = sched.Scheduling(sched.Profile.PF_LIMITED)
XE_RELEASE = "7.3.4+deb13-amd64"


def problems(**values):
    with pytest.raises(settings.SettingsError) as caught:
        settings.build(values)
    return caught.value.problems


# --- the settings ---------------------------------------------------------------------------


def test_profiles_are_the_published_values():
    assert FAIR.wanted(2) == {n: sched.Timing(16, 16000) for n in range(3)}
    assert PF_LIMITED.wanted(2) == {
        0: sched.Timing(20, 20000),
        1: sched.Timing(25, 500000),
        2: sched.Timing(25, 500000),
    }
    assert sched.Scheduling().wanted(7) is None  # default: nothing is written


def test_custom_values_by_function():
    found = settings.build(
        {
            "num_vfs": "3",
            "sched": "custom",
            "sched_exec_quantum_ms": "3:50, pf:10 vf:25",
            "sched_preempt_timeout_us": "pf:0 vf:100000000",
        }
    )
    assert found.scheduling.wanted(3) == {
        0: sched.Timing(10, 0),
        1: sched.Timing(25, 100000000),
        2: sched.Timing(25, 100000000),
        3: sched.Timing(50, 100000000),
    }
    # written back in one order, whatever order it was given in
    assert found.values()["sched_exec_quantum_ms"] == "pf:10 vf:25 3:50"


def test_bad_scheduling_values_are_refused_by_name():
    assert problems(sched="fast") == [
        "sched: 'fast' is not allowed: choose one of default, fair, pf-limited, custom"
    ]
    assert problems(sched_pf_priority="urgent") == [
        "sched_pf_priority: 'urgent' is not allowed: choose one of auto, low, normal, high"
    ]
    # above GuC's limits: xe would clamp the value without a word
    assert problems(
        sched_exec_quantum_ms="pf:100001", sched_preempt_timeout_us="vf:4294967295"
    ) == [
        "sched_exec_quantum_ms: 100001 for pf is above 100000, GuC's limit, which xe clamps "
        "it to: allowed 0-100000 (0: unlimited)",
        "sched_preempt_timeout_us: 4294967295 for vf is above 100000000, GuC's limit, which "
        "xe clamps it to: allowed 0-100000000 (0: unlimited)",
    ]
    assert problems(sched_exec_quantum_ms="gpu:5 8:1 pf:-1 pf:2 pf:3") == [
        "sched_exec_quantum_ms: function 'gpu' is not pf, vf (every VF) or a VF number 1-7",
        "sched_exec_quantum_ms: function '8' is not pf, vf (every VF) or a VF number 1-7",
        "sched_exec_quantum_ms: 'pf:-1' is not FUNCTION:VALUE, e.g. 'pf:10 vf:25'",
        "sched_exec_quantum_ms: pf is given twice: give each function once",
    ]
    assert problems(num_vfs="2", sched="custom", sched_exec_quantum_ms="pf:1 1:1") == [
        "sched_exec_quantum_ms: sched=custom needs a value for VF 2: give pf:VALUE and "
        "vf:VALUE (every VF) or N:VALUE per VF",
        "sched_preempt_timeout_us: sched=custom needs a value for PF, VF 1, VF 2: give "
        "pf:VALUE and vf:VALUE (every VF) or N:VALUE per VF",
    ]


def test_config_set_refuses_bad_values_and_writes_nothing(fake):
    fake.healthy(numvfs=2)
    I915Double(fake, print)
    settings_file = fake.root / "etc/default/irisxe-sriov"
    result = CliRunner().invoke(
        cli, ["--root", str(fake.root), "config", "set", "sched_preempt_timeout_us=pf:1e9"]
    )
    assert result.exit_code == 2
    assert result.output == (
        "irisxe-sriov-ctl: error: sched_preempt_timeout_us: 'pf:1e9' is not FUNCTION:VALUE, "
        "e.g. 'pf:10 vf:25'\n"
    )
    assert not settings_file.exists()


# --- the order of the writes ----------------------------------------------------------------


def observed(interface, values, gts=("gt0",), auto=None, priority=None):
    directory = "drm/card0/prelim_iov" if interface == sched.Interface.PRELIM_IOV else "sriov_admin"
    return sched.Observed(
        interface,
        directory,
        gts if interface == sched.Interface.PRELIM_IOV else (),
        auto,
        tuple(
            sched.FunctionTiming(n, q, t, priority if n == 0 else None)
            for n, (q, t) in enumerate(values)
        ),
    )


def test_prelim_iov_writes_per_function_and_gt_only_what_differs():
    found = observed(sched.Interface.PRELIM_IOV, [(0, 0), (16, 0), (16, 16000)], ("gt0", "gt1"))
    assert sched.writes(found, FAIR, (0, 1, 2)) == [
        sched.Write("drm/card0/prelim_iov/pf/gt0/exec_quantum_ms", "16"),
        sched.Write("drm/card0/prelim_iov/pf/gt1/exec_quantum_ms", "16"),
        sched.Write("drm/card0/prelim_iov/pf/gt0/preempt_timeout_us", "16000"),
        sched.Write("drm/card0/prelim_iov/pf/gt1/preempt_timeout_us", "16000"),
        sched.Write("drm/card0/prelim_iov/vf1/gt0/preempt_timeout_us", "16000"),
        sched.Write("drm/card0/prelim_iov/vf1/gt1/preempt_timeout_us", "16000"),
    ]
    # a VF that does not exist is not written (GuC's answer for it is not known)
    assert sched.writes(found, FAIR, (0, 1, 2)) == sched.writes(found, FAIR, (0, 1, 2))
    assert not any("vf3" in w.attribute for w in sched.writes(found, FAIR, (0, 1, 2)))


def test_sriov_admin_uses_the_bulk_profile_where_one_value_serves_all():
    found = observed(sched.Interface.SRIOV_ADMIN, [(0, 0), (0, 0)], priority=sched.Priority.LOW)
    assert sched.writes(found, FAIR, (0, 1)) == [
        sched.Write("sriov_admin/.bulk_profile/exec_quantum_ms", "16"),
        sched.Write("sriov_admin/.bulk_profile/preempt_timeout_us", "16000"),
    ]
    high = PF_LIMITED._replace(pf_priority=sched.Priority.HIGH)
    assert sched.writes(found, high, (0, 1)) == [
        sched.Write("sriov_admin/pf/profile/exec_quantum_ms", "20"),
        sched.Write("sriov_admin/vf1/profile/exec_quantum_ms", "25"),
        sched.Write("sriov_admin/pf/profile/preempt_timeout_us", "20000"),
        sched.Write("sriov_admin/vf1/profile/preempt_timeout_us", "500000"),
        sched.Write("sriov_admin/pf/profile/sched_priority", "high"),
    ]
    holding = observed(sched.Interface.SRIOV_ADMIN, [(16, 16000), (16, 16000)])
    assert sched.writes(holding, FAIR, (0, 1)) == []


def test_rearm_only_where_a_vf_write_turned_auto_provisioning_off():
    assert sched.rearm(observed(sched.Interface.PRELIM_IOV, [(0, 0)], auto=True)) is None
    assert sched.rearm(observed(sched.Interface.PRELIM_IOV, [(0, 0)], auto=False)) == (
        sched.Write("drm/card0/prelim_iov/pf/auto_provisioning", "1")
    )
    assert sched.rearm(observed(sched.Interface.SRIOV_ADMIN, [(0, 0)])) is None


# --- the doubles: the facts they model ------------------------------------------------------


def test_the_i915_double_springs_the_auto_provisioning_trap(fake):
    """What the rearm step is for: a VF write turns auto_provisioning off, the VFs' values
    go at disable, and the next enable without a rearm brings empty configurations."""
    fake.add_gpu(numvfs=0)
    driver = I915Double(fake, print)
    root = Paths(fake.root)
    device = root.pci_device(PF)
    driver.write(device / "sriov_numvfs", "2", "enable")
    driver.write(device / "drm/card0/prelim_iov/vf1/gt0/exec_quantum_ms", "25", "quantum")
    assert (device / "drm/card0/prelim_iov/pf/auto_provisioning").read_text() == "0\n"
    with pytest.raises(vfs.WriteFailed) as caught:  # configurations are in place
        driver.write(device / "drm/card0/prelim_iov/pf/auto_provisioning", "1", "rearm")
    assert caught.value.errno == 116 and "(ESTALE)" in str(caught.value)
    driver.write(device / "sriov_numvfs", "0", "disable")
    assert (device / "drm/card0/prelim_iov/vf1/gt0/exec_quantum_ms").read_text() == "0\n"
    driver.write(device / "sriov_numvfs", "2", "enable")
    assert driver.empty_enabled == [1, 2]
    with pytest.raises(vfs.WriteFailed, match=r"Numerical result out of range \(ERANGE\)"):
        driver.write(device / "drm/card0/prelim_iov/pf/gt0/exec_quantum_ms", "4294967296", "x")


def test_the_xe_double_sets_its_own_defaults_only_while_untouched(fake):
    fake.add_gpu(driver="xe", numvfs=0)
    driver = XeDouble(fake, print)
    device = Paths(fake.root).pci_device(PF)
    profile = device / "sriov_admin/vf1/profile"
    driver.write(device / "sriov_numvfs", "2", "enable")
    assert (profile / "exec_quantum_ms").read_text() == "16\n"
    assert (device / "sriov_admin/pf/profile/sched_priority").read_text() == "[low] normal high\n"
    driver.write(device / "sriov_numvfs", "0", "disable")
    assert (profile / "exec_quantum_ms").read_text() == "0\n"
    driver.write(device / "sriov_admin/vf3/profile/preempt_timeout_us", "7", "a value")
    driver.write(device / "sriov_numvfs", "2", "enable")  # written before: no defaults
    assert (profile / "exec_quantum_ms").read_text() == "0\n"
    with pytest.raises(vfs.WriteFailed, match=r"Permission denied \(EACCES\)"):
        driver.write(profile / "sched_priority", "normal", "a VF's priority")
    with pytest.raises(vfs.WriteFailed, match=r"\(EINVAL\)"):
        driver.write(device / "sriov_admin/pf/profile/sched_priority", "urgent", "x")


# --- restore: every VF enable, on either provider --------------------------------------------


def restore(fake, current, driver):
    lines: list[str] = []
    verdicts = judged(fake.root, "restore", settings=current, strict=True)
    driver.log = lines.append
    vfs.restore(Paths(fake.root), verdicts, Runner(False, lines.append), lines.append, True, driver)
    return lines


def timings(fake):
    """What the reader finds, by function: (quantum, timeout)."""
    state = reader.scan(Paths(fake.root), PF)
    return {f.number: (f.exec_quantum_ms, f.preempt_timeout_us) for f in state.scheduling.functions}


def i915_host(fake):
    fake.healthy(numvfs=0)
    (fake.sys / "bus/pci/drivers_probe").write_text("")
    (fake.sys / "bus/pci/drivers/vfio-pci").mkdir(parents=True, exist_ok=True)
    return I915Double(fake, print)


def test_i915_every_enable_rearms_then_writes_after_it(fake):
    driver = i915_host(fake)
    restore(fake, Settings(num_vfs=2, scheduling=FAIR), driver)
    anchor = "drm/card0/prelim_iov"
    assert driver.events == [
        ("sriov_numvfs", "2"),
        (f"{anchor}/pf/gt0/exec_quantum_ms", "16"),
        (f"{anchor}/pf/gt0/preempt_timeout_us", "16000"),
        (f"{anchor}/vf1/gt0/exec_quantum_ms", "16"),
        (f"{anchor}/vf1/gt0/preempt_timeout_us", "16000"),
        (f"{anchor}/vf2/gt0/exec_quantum_ms", "16"),
        (f"{anchor}/vf2/gt0/preempt_timeout_us", "16000"),
    ]
    assert timings(fake) == dict.fromkeys(range(3), (16, 16000))
    for count in (3, 1, 2):  # disable/enable cycles
        driver.events.clear()
        restore(fake, Settings(num_vfs=count, scheduling=FAIR), driver)
        assert driver.events[:3] == [
            ("sriov_numvfs", "0"),
            (f"{anchor}/pf/auto_provisioning", "1"),
            ("sriov_numvfs", str(count)),
        ]
        # the PF kept its values across the disable; the new VFs get theirs
        assert {path for path, _ in driver.events[3:]} == {
            f"{anchor}/vf{n}/gt0/{a}"
            for n in range(1, count + 1)
            for a in ("exec_quantum_ms", "preempt_timeout_us")
        }
        assert timings(fake) == dict.fromkeys(range(count + 1), (16, 16000))
    assert driver.empty_enabled == []  # never the trap
    driver.events.clear()
    assert restore(fake, Settings(num_vfs=2, scheduling=FAIR), driver)[-1].startswith("VFs as")
    assert driver.events == []  # idempotent: nothing differs, nothing written


def test_xe_writes_after_enable_and_again_after_every_reenable(fake):
    fake.healthy(driver="xe", numvfs=0)
    (fake.sys / "module/xe/version").unlink()  # the kernel's own xe
    install_kernel(fake.root, XE_RELEASE, usr=True)
    fake.set_kernel(XE_RELEASE)
    (fake.sys / "bus/pci/drivers_probe").write_text("")
    (fake.sys / "bus/pci/drivers/vfio-pci").mkdir(parents=True, exist_ok=True)
    driver = XeDouble(fake, print)
    limited = PF_LIMITED._replace(pf_priority=sched.Priority.HIGH)
    restore(fake, Settings(driver=Driver.XE, num_vfs=2, scheduling=limited), driver)
    assert driver.events == [
        ("sriov_numvfs", "2"),
        ("sriov_admin/pf/profile/exec_quantum_ms", "20"),
        ("sriov_admin/vf1/profile/exec_quantum_ms", "25"),
        ("sriov_admin/vf2/profile/exec_quantum_ms", "25"),
        ("sriov_admin/pf/profile/preempt_timeout_us", "20000"),
        ("sriov_admin/vf1/profile/preempt_timeout_us", "500000"),
        ("sriov_admin/vf2/profile/preempt_timeout_us", "500000"),
        ("sriov_admin/pf/profile/sched_priority", "high"),
    ]
    assert timings(fake) == {0: (20, 20000), 1: (25, 500000), 2: (25, 500000)}
    driver.events.clear()
    restore(fake, Settings(driver=Driver.XE, num_vfs=3, scheduling=FAIR), driver)
    # the disable reset every function, the enable gave them xe's own 16 ms/16000 us,
    # which is fair: nothing to write but the priority, which the disable kept
    assert driver.events == [("sriov_numvfs", "0"), ("sriov_numvfs", "3")]
    assert timings(fake) == dict.fromkeys(range(4), (16, 16000))
    driver.events.clear()
    same = sched.Scheduling(
        sched.Profile.CUSTOM,
        sched.PerFunction({"pf": 10, "vf": 10}),
        sched.PerFunction({"pf": 10000, "vf": 10000}),
    )
    restore(fake, Settings(driver=Driver.XE, num_vfs=2, scheduling=same), driver)
    # one value serves all: the bulk profile, after the enable
    assert driver.events == [
        ("sriov_numvfs", "0"),
        ("sriov_numvfs", "2"),
        ("sriov_admin/.bulk_profile/exec_quantum_ms", "10"),
        ("sriov_admin/.bulk_profile/preempt_timeout_us", "10000"),
    ]
    assert timings(fake) == dict.fromkeys(range(3), (10, 10000))
    driver.events.clear()
    restore(fake, Settings(driver=Driver.XE, num_vfs=3, scheduling=FAIR), driver)
    verdicts = judged(
        fake.root, "status", settings=Settings(driver=Driver.XE, num_vfs=3, scheduling=FAIR)
    )
    assert verdicts.problem("sched.profile") is None
    document = status.report(verdicts)["scheduling"]
    assert document["interface"] == "sriov_admin" and document["not_applied"] is None
    assert [
        (f["function"], f["exec_quantum_ms"], f["priority"]) for f in document["functions"]
    ] == [
        ("pf", 16, "high"),
        ("1", 16, "low"),  # a VF's reads low or normal; not written
        ("2", 16, "low"),
        ("3", 16, "low"),
    ]


def test_a_refused_write_names_attribute_and_errno_and_the_vfs_still_bind(fake):
    driver = i915_host(fake)
    driver.refusing["drm/card0/prelim_iov/vf1/gt0/exec_quantum_ms"] = 71  # EPROTO: GuC
    with pytest.raises(vfs.VfsError) as caught:
        restore(fake, Settings(num_vfs=2, scheduling=FAIR), driver)
    assert caught.value.problems == [
        f"PF {PF}: drm/card0/prelim_iov/vf1/gt0/exec_quantum_ms 16 failed: Protocol error "
        f"(EPROTO) ({fake.device_dir(PF)}/drm/card0/prelim_iov/vf1/gt0/exec_quantum_ms)"
    ]
    for number in (1, 2):
        override = fake.device_dir(f"0000:00:02.{number}") / "driver_override"
        assert override.read_text() == "vfio-pci\n"


def test_dkms_xe_reports_not_applied_and_still_makes_the_vfs(fake):
    fake.healthy(driver="xe", numvfs=0)  # the DKMS xe: debugfs only, no sysfs ABI
    (fake.sys / "bus/pci/drivers_probe").write_text("")
    (fake.sys / "bus/pci/drivers/vfio-pci").mkdir(parents=True, exist_ok=True)
    from fakesys import kernel_double

    lines: list[str] = []
    current = Settings(driver=Driver.XE, num_vfs=2, scheduling=FAIR)
    verdicts = judged(fake.root, "restore", settings=current, strict=True)
    double = kernel_double(fake, lines.append)
    vfs.restore(Paths(fake.root), verdicts, Runner(False, lines.append), lines.append, True, double)
    assert (
        "not applied: unsupported on this provider: sched=fair: the DKMS xe offers "
        "scheduling through debugfs only, which is not written"
    ) in lines
    assert lines[-1] == f"VFs as configured: 2 on {PF}"
    found = {f.id: f for f in doctor.diagnose(judged(fake.root, "doctor", settings=current))}
    assert found["sched.profile"].level == "warn"
    assert found["sched.profile"].message.startswith("not applied: unsupported on this provider")


def test_doctor_fails_where_values_differ_with_the_restoring_command(fake):
    driver = i915_host(fake)
    restore(fake, Settings(num_vfs=2, scheduling=FAIR), driver)
    current = Settings(num_vfs=2, scheduling=PF_LIMITED)
    found = {f.id: f for f in doctor.diagnose(judged(fake.root, "doctor", settings=current))}
    assert found["sched.profile"].level == "fail"
    assert found["sched.profile"].message == (
        "GPU scheduling is not as sched=pf-limited asks: PF has 16 ms/16000 us, 20 ms/20000 us "
        "wanted; VF 1 has 16 ms/16000 us, 25 ms/500000 us wanted; VF 2 has 16 ms/16000 us, "
        "25 ms/500000 us wanted"
    )
    assert str(found["sched.profile"].fix) == "irisxe-sriov-ctl vfs restore"
    same = {
        f.id: f
        for f in doctor.diagnose(
            judged(fake.root, "doctor", settings=Settings(num_vfs=2, scheduling=FAIR))
        )
    }
    assert same["sched.profile"].level == "ok"


def test_config_set_applies_at_once_without_touching_the_vf_count(fake):
    """The CLI's own writer on the fake root (plain files): the values land, and
    sriov_numvfs is not written."""
    driver = i915_host(fake)
    restore(fake, Settings(num_vfs=2), driver)
    numvfs = fake.device_dir(PF) / "sriov_numvfs"
    numvfs.write_text("2\n")
    before = numvfs.stat().st_mtime_ns
    root = ["--root", str(fake.root)]
    dry = CliRunner().invoke(cli, [*root, "config", "set", "--dry-run", "sched=pf-limited"])
    assert dry.exit_code == 0, dry.output
    assert f"would write 20 to {PF}/drm/card0/prelim_iov/pf/gt0/exec_quantum_ms" in dry.output
    assert timings(fake)[0] == (0, 0)
    result = CliRunner().invoke(cli, [*root, "config", "set", "sched=pf-limited", "num_vfs=2"])
    assert result.exit_code == 0, result.output
    assert timings(fake) == {0: (20, 20000), 1: (25, 500000), 2: (25, 500000)}
    assert numvfs.stat().st_mtime_ns == before
    text = CliRunner().invoke(cli, [*root, "status", "--json"]).output
    shown = validate(contract.Document.STATUS, text)  # the installed schema holds it
    assert shown["settings"]["sched"] == "pf-limited"
    assert [f["expected_preempt_timeout_us"] for f in shown["scheduling"]["functions"]] == [
        20000,
        500000,
        500000,
    ]
    text = CliRunner().invoke(cli, [*root, "status"]).output
    assert "scheduling: sched=pf-limited through prelim_iov" in text
    assert "   VF 2      25 / 500000" in text


def test_restore_keeps_configurations_provisioned_by_hand(fake):
    """auto_provisioning off with configurations an admin provisioned: the rearm's
    ESTALE is logged, not an error, and the enable uses them."""
    driver = i915_host(fake)
    restore(fake, Settings(num_vfs=2), driver)
    driver.auto_provisioning, driver.auto_mode = False, False  # provisioned by hand
    driver.sync()
    lines = restore(fake, Settings(num_vfs=2, scheduling=FAIR), driver)  # no re-enable
    assert not any("auto_provisioning" in line for line in lines)
    lines = restore(fake, Settings(num_vfs=3, scheduling=FAIR), driver)
    assert (
        f"PF {PF}: auto_provisioning stays off: the VFs' configurations were provisioned by "
        "hand (ESTALE), and the enable uses them"
    ) in lines
    assert lines[-1] == f"VFs as configured: 3 on {PF}"
    assert driver.empty_enabled == [3]  # the one VF the admin had not provisioned


def test_a_failed_rearm_makes_no_vfs_with_empty_configurations(fake):
    driver = i915_host(fake)
    restore(fake, Settings(num_vfs=2, scheduling=FAIR), driver)
    driver.refusing["drm/card0/prelim_iov/pf/auto_provisioning"] = 5  # EIO
    with pytest.raises(vfs.VfsError, match=r"\(EIO\).*were removed before it and are not made"):
        restore(fake, Settings(num_vfs=3, scheduling=FAIR), driver)
    assert driver.numvfs == 0 and driver.empty_enabled == []


def test_config_set_writes_nothing_where_no_gpu_driver_runs_the_pf(fake):
    fake.add_gpu(driver=None, numvfs=0)
    I915Double(fake, print)
    result = CliRunner().invoke(cli, ["--root", str(fake.root), "config", "set", "sched=fair"])
    assert result.exit_code == 0, result.output
    assert f"scheduling: {PF} has no driver yet: the boot unit applies it once it has" in (
        result.output
    )
    assert timings(fake) == {0: (0, 0)}


def test_the_schemas_take_the_limits_the_settings_take():
    for name in ("config", "status"):
        document = schema(contract.Document(name))
        found = document if name == "config" else document["$defs"]["settings"]
        properties = found["properties"]
        for key, limit in (
            ("sched_exec_quantum_ms", sched.MAX_EXEC_QUANTUM_MS),
            ("sched_preempt_timeout_us", sched.MAX_PREEMPT_TIMEOUT_US),
        ):
            [pattern] = properties[key]["patternProperties"].values()
            assert pattern["maximum"] == limit, (name, key)
        assert properties["sched"]["enum"] == list(sched.Profile.values())
        assert properties["sched_pf_priority"]["enum"] == list(sched.Priority.values())


def test_values_a_profile_does_not_use_are_kept_and_said(fake):
    """Per-function values with a profile other than custom stay in the file (for a later
    sched=custom) and config set says they are unused, instead of ignoring them silently."""
    i915_host(fake)
    root = ["--root", str(fake.root)]
    result = CliRunner().invoke(
        cli, [*root, "config", "set", "sched=fair", "sched_exec_quantum_ms=pf:10,vf:20"]
    )
    assert result.exit_code == 0, result.output
    assert (
        "note: sched_exec_quantum_ms is used only with sched=custom (sched=fair)" in result.output
    )
    assert (
        'SCHED_EXEC_QUANTUM_MS="pf:10 vf:20"'
        in (fake.root / "etc/default/irisxe-sriov").read_text()
    )
    custom = CliRunner().invoke(cli, [*root, "config", "set", "--dry-run", "sched=default"])
    assert "used only with sched=custom (sched=default)" in custom.output


def test_the_documents_say_the_profiles_values():
    """The profiles' values are sched.PROFILES' (settings.j2 renders them from there); the
    man page, the guide's table and the debconf question say them in words: they must
    say the same."""
    source = Path(__file__).resolve().parents[2]
    fair = sched.PROFILES[sched.Profile.FAIR][1]
    host, vf = sched.PROFILES[sched.Profile.PF_LIMITED]
    man = " ".join((source / "docs/irisxe-sriov-ctl.8").read_text().split())
    assert (
        f"every function a {fair.exec_quantum_ms} ms execution quantum and a "
        f"{fair.preempt_timeout_us} \\(mcs preemption timeout" in man
    )
    assert (
        f"the PF {host.exec_quantum_ms} ms / {host.preempt_timeout_us} \\(mcs, each VF "
        f"{vf.exec_quantum_ms} ms / {vf.preempt_timeout_us} \\(mcs" in man
    )
    guide = (source / "docs/guide.md").read_text()
    both = f"{fair.exec_quantum_ms} ms / {fair.preempt_timeout_us} µs"
    assert f"| `fair` | {both} | {both} |" in guide
    assert (
        f"| `pf-limited` | {host.exec_quantum_ms} ms / {host.preempt_timeout_us} µs | "
        f"{vf.exec_quantum_ms} ms / {vf.preempt_timeout_us} µs |" in guide
    )
    question = " ".join((source / "debian/irisxe-sriov.templates").read_text().split())
    assert f"at most {fair.exec_quantum_ms} ms at a time" in question
    assert (
        f"limited to {host.exec_quantum_ms} ms at a time, each VF gets "
        f"{vf.exec_quantum_ms} ms" in question
    )


def test_the_settings_in_words_are_one_spelling():
    """status (from the JSON document's strings) and doctor (from the settings) word the
    settings through sched.in_words: the PF's priority only where one is set."""
    assert sched.in_words("fair", "auto") == "sched=fair"
    assert sched.in_words("pf-limited", "high") == "sched=pf-limited sched_pf_priority=high"
    low = sched.Scheduling(sched.Profile.FAIR, pf_priority=sched.Priority.LOW)
    assert low.describe() == "sched=fair sched_pf_priority=low"
