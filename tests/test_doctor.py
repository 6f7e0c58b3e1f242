from irisxe_sriov import bootcheck, bootloader, doctor, host, providers, secureboot
from irisxe_sriov.paths import Paths
from irisxe_sriov.settings import Settings

GRUB = bootloader.Detection("grub", "/boot/grub/grub.cfg exists")
GOOD = doctor.Evidence((), "2025.12.10", True)
APPLIED = bootcheck.Verdict(None, "the boot configuration has the parameters", "reboot")


def findings(fake, settings=None, evidence=GOOD, boot=GRUB):
    """Doctor's findings with the kernels and Secure Boot state read from the fake root."""
    settings = settings or Settings(num_vfs=3)
    paths = Paths(fake.root)
    state = host.scan(paths, settings.pf)
    kernels, _ = providers.read_all(paths, state.pf.device, boot.name)
    evidence = evidence._replace(kernels=tuple(kernels), secure_boot=secureboot.read(paths))
    return {f.id: f for f in doctor.diagnose(state, settings, boot, evidence, APPLIED)}


def test_healthy_host_passes_every_check(fake):
    fake.healthy(numvfs=3)
    result = findings(fake)
    assert {f.level for f in result.values()} == {"ok"}, [
        f for f in result.values() if f.level != "ok"
    ]
    assert result["guc.enabled"].level == "ok"
    assert not doctor.failed(list(result.values()))
    assert len(result) >= 20


def test_each_trap_fails_with_a_fix(fake):
    fake.add_gpu(numvfs=2, totalvfs=0, vf_drivers=["i915", None], driver="vfio-pci")
    fake.load_module("i915", version=None, parameters={"enable_guc": "2", "max_vfs": "0"})
    fake.load_module("xe")
    fake.set_cmdline("root=/dev/sda1 ro")
    fake.set_kernel("6.19.1-amd64")
    fake.set_os("debian", "12")
    (fake.root / "sys/class").mkdir(parents=True)
    result = findings(
        fake,
        Settings(num_vfs=3, vf_roles={2: "none"}),
        doctor.Evidence(("line 2: bad",), None, False),
        bootloader.Detection(None, "nothing"),
    )
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


def test_unsupported_gpu_and_missing_gpu(fake):
    fake.add_gpu(device="9a49")  # Tiger Lake
    assert findings(fake)["gpu.present"].level == "fail"
    assert "not a supported Intel GPU" in findings(fake)["gpu.present"].message


def test_wrong_driver_package_version(fake):
    fake.healthy()
    result = findings(fake, evidence=doctor.Evidence((), "2026.05.06", False))
    assert result["driver.package"].level == "fail"
    assert "2026.05.06 is installed, the pin is i915-sriov-dkms 2025.12.10" in (
        result["driver.package"].message
    )
