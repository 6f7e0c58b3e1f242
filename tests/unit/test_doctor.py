from irisxe_sriov import pin
from irisxe_sriov.report import doctor
from irisxe_sriov.settings import Settings
from judged import judged

# every check of a healthy host, in the order doctor gives them: a check added, renamed
# or dropped shows here
HEALTHY_IDS = [
    "settings.valid",
    "os.debian13",
    "machine.role",
    "gpu.present",
    "iommu.enabled",
    "provider",
    "kernel.6.12.40-amd64",
    "kernel.hold",
    "secureboot.key",
    "driver.package",
    "module.loaded",
    "module.other",
    "guc.enabled",
    "module.max_vfs",
    "cmdline.parameters",
    "sriov.totalvfs",
    "sriov.numvfs",
    "vf.1.driver",
    "vf.2.driver",
    "vf.3.driver",
    "pf.driver",
    "pf.not_vfio",
    "sched.profile",
    "sysfsutils.conf",
    "driverctl.installed",
    "bootloader.found",
    "files.local_edits",
    "boot.refresh",
]


def findings(fake, settings=None, **replace):
    """Doctor's findings for `settings` on the fake root (what it reads there: kernels,
    Secure Boot, dpkg), with parts of the snapshot replaced where a test says so."""
    settings = settings or Settings(num_vfs=3)
    verdicts = judged(fake.root, settings=settings, **replace)
    return {f.id: f for f in doctor.diagnose(verdicts)}


def test_healthy_host_passes_every_check(fake):
    fake.healthy(numvfs=3)
    result = findings(fake)
    assert {f.level for f in result.values()} == {"ok"}, [
        f for f in result.values() if f.level != "ok"
    ]
    assert result["guc.enabled"].level == "ok"
    assert not doctor.failed(list(result.values()))
    assert list(result) == HEALTHY_IDS


def test_each_trap_fails_with_a_fix(fake):
    fake.add_gpu(numvfs=2, totalvfs=0, vf_drivers=["i915", None], driver="vfio-pci")
    fake.load_module("i915", version=None, parameters={"enable_guc": "2", "max_vfs": "0"})
    fake.load_module("xe")
    fake.set_cmdline("root=/dev/sda1 ro")
    fake.set_kernel("6.19.1-amd64")
    fake.set_os("debian", "12")
    (fake.root / "sys/class").mkdir(parents=True)
    from irisxe_sriov.boot import bootloader
    from irisxe_sriov.machine import snapshot

    # a settings file with a bad line; the values given stand in (as debconf's do)
    broken = snapshot.SettingsFile('NUM_VFS="3"\nx\n', {}, ("line 2: bad",))
    result = {
        f.id: f
        for f in doctor.diagnose(
            judged(
                fake.root,
                settings_file=broken,
                given={"num_vfs": "3", "vf_roles": "2:none"},
                boot=bootloader.Evidence(False, None, False, None),
            )
        )
    }
    failing = {i for i, f in result.items() if f.level == "fail"}
    assert failing == {
        "settings.valid",
        "iommu.enabled",
        "driver.package",
        "module.other",
        "guc.enabled",
        "cmdline.parameters",
        "sriov.totalvfs",
        "sriov.numvfs",
        "vf.1.driver",
        "pf.driver",  # on vfio-pci, i915 configured
        "pf.not_vfio",
        "module.max_vfs",  # 0: status lists it too (differences.PARAMETERS)
        "sysfsutils.conf",
        "driverctl.installed",
        "bootloader.found",
    }
    assert result["os.debian13"].level == "warn"
    # the driver runs, but without max_vfs (its parameter reads 0): no VF can be made
    assert result["sriov.totalvfs"].message == "sriov_totalvfs is 0: max_vfs did not apply"
    assert result["sriov.numvfs"].message == "2 VFs exist, 3 configured"
    assert result["vf.2.driver"].level == "ok"  # role none, left unbound
    assert result["vf.3.driver"].level == "skip"
    assert all(result[i].fix for i in failing)
    assert result["provider"].level == "skip"  # 6.19.1 is not installed in this root
    assert result["module.loaded"].level == "ok"
    text = doctor.format_text(list(result.values()))
    assert "[FAIL] pf.not_vfio" in text and "fix: driverctl unset-override 0000:00:02.0" in text
    # the settings file's problem is named, and the defaults stood in for it
    assert result["settings.valid"].message == "line 2: bad"


def test_unsupported_gpu_and_missing_gpu(fake):
    fake.add_gpu(device="9a49")  # Tiger Lake
    assert findings(fake)["gpu.present"].level == "fail"
    assert "not a supported Intel GPU" in findings(fake)["gpu.present"].message


def test_wrong_driver_package_version(fake):
    fake.healthy()
    result = findings(fake, packages={"i915-sriov-dkms": "2026.05.06"})
    assert result["driver.package"].level == "fail"
    assert f"2026.05.06 is installed, the pin is {pin.DRIVER_PACKAGE} {pin.DRIVER_VERSION}" in (
        result["driver.package"].message
    )
