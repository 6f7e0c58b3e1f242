"""Host, guest or none, from the hardware of fake roots laid out as the real machines are:
libvirt's q35 puts pcie-root-ports (1b36:000c, class 0604) at 00:02.0-00:02.7 and the VF
behind one of them (0000:06:00.0); i440fx puts QEMU's VGA (1234:1111) at 00:02.0 and the VF
on bus 0 (00:05.0). Inside a guest a VF has no SR-IOV capability and no physfn. The GPU
functions are test doubles (tests/harness/fakesys.py)."""

from irisxe_sriov.machine import reader, roles
from irisxe_sriov.paths import Paths

PF = "0000:00:02.0"


def q35_guest(fake, vf: str | None = "0000:06:00.0") -> None:
    for function in range(8):
        fake.add_function(f"0000:00:02.{function}", vendor="1b36", device="000c", driver="pcieport")
        (fake.device_dir(f"0000:00:02.{function}") / "class").write_text("0x060400\n")
    if vf:
        fake.add_function(vf, device="a7a0", driver="i915", render="renderD128")
    fake.virtual("QEMU")


def i440fx_guest(fake) -> None:
    fake.add_function(PF, vendor="1234", device="1111", driver="bochs-drm")
    fake.add_function("0000:00:05.0", device="46a6", driver="xe", render="renderD128")
    fake.virtual("QEMU")


def detect(fake, configured: str = "auto") -> roles.Detected:
    paths = Paths(fake.root)
    return roles.decide(reader.read_observed(paths, reader.read_pf(paths, PF)), configured)


def test_q35_guest_with_a_vf_behind_a_root_port(fake):
    q35_guest(fake)
    found = detect(fake)
    assert found._replace(gpus=()) == roles.Detected(
        roles.Role.GUEST,
        "a virtual machine (DMI sys_vendor 'QEMU') with GPU functions without SR-IOV: "
        "0000:06:00.0 (a7a0)",
        binds=False,
        device="a7a0",
    )
    gpu = reader.gpu_functions(Paths(fake.root))
    assert [(g.address, g.driver, g.render_node) for g in gpu] == [
        ("0000:06:00.0", "i915", "renderD128")
    ]


def test_i440fx_guest_with_the_vf_on_bus_0(fake):
    i440fx_guest(fake)
    assert detect(fake).role is roles.Role.GUEST


def test_a_vm_without_its_vf_yet_is_a_guest(fake):
    q35_guest(fake, vf=None)
    assert detect(fake) == roles.Detected(
        roles.Role.GUEST, "a virtual machine (DMI sys_vendor 'QEMU') with no GPU function yet"
    )


def test_the_hypervisor_cpu_flag_tells_a_vm(fake):
    q35_guest(fake)
    (fake.root / "sys/class/dmi/id/sys_vendor").write_text("Dell Inc.\n")
    (fake.root / "proc").mkdir(exist_ok=True)
    (fake.root / "proc/cpuinfo").write_text("processor\t: 0\nflags\t\t: fpu vme hypervisor sse\n")
    assert detect(fake).reason.startswith("a virtual machine (the hypervisor CPU flag)")


def test_a_host(fake):
    fake.add_gpu()
    assert detect(fake) == roles.Detected(
        roles.Role.HOST,
        "0000:00:02.0 (8086:a7a0, class 030000) is a supported Intel GPU",
        binds=True,
        device="a7a0",
    )


def test_a_whole_pf_passed_to_a_vm_is_a_host(fake):
    fake.add_gpu()
    fake.virtual("QEMU")
    assert detect(fake).role is roles.Role.HOST


def test_an_image_without_hardware_is_a_host_whose_gpu_is_not_there_yet(fake):
    assert detect(fake) == roles.Detected(
        roles.Role.HOST,
        "no device at 0000:00:02.0 yet: host settings without VF bindings until the GPU is there",
    )


def test_something_else_at_the_pf_address_on_bare_metal(fake):
    fake.add_function(PF, vendor="8086", device="51f0", driver="iwlwifi")  # Wi-Fi
    (fake.device_dir(PF) / "class").write_text("0x028000\n")
    assert detect(fake) == roles.Detected(
        roles.Role.NONE,
        "0000:00:02.0 (8086:51f0, class 028000) is not a supported Intel GPU: nothing is "
        "bound or counted there",
    )


def test_the_setting_overrides_detection(fake):
    q35_guest(fake)
    assert detect(fake, "none") == roles.Detected(
        roles.Role.NONE, "set in /etc/default/irisxe-sriov", device="a7a0"
    )
    # a forced host role never binds what is not a supported GPU
    forced = detect(fake, "host")
    assert (forced.role, forced.binds) == (roles.Role.HOST, False)
    assert forced.reason == (
        "set in /etc/default/irisxe-sriov; 0000:00:02.0 (1b36:000c, class 060400) is not a "
        "supported Intel GPU: no VF bindings"
    )


# --- what each role writes, and what it never writes ------------------------------------

import json  # noqa: E402

from click.testing import CliRunner  # noqa: E402

from irisxe_sriov.cli.commands import cli  # noqa: E402

BINDING_FILES = ("etc/driverctl.d", "etc/sysfs.d", "etc/udev/rules.d/70-irisxe-sriov.rules")


def ctl(fake, *args):
    return CliRunner().invoke(cli, ["--root", str(fake.root), *args])


def written(fake) -> set[str]:
    return {
        str(p.relative_to(fake.root))
        for p in (fake.root / "etc").rglob("*")
        if p.is_file() and p.name != "os-release"
    }


def test_guest_gets_driver_and_parameters_only(fake):
    q35_guest(fake)
    fake.grub()
    result = ctl(fake, "config", "set", "driver=i915")
    assert result.exit_code == 0, result.output
    assert written(fake) == {
        "etc/default/irisxe-sriov",
        "etc/default/grub.d/irisxe-sriov.cfg",
        "etc/modprobe.d/irisxe-sriov.conf",
    }
    modprobe = (fake.root / "etc/modprobe.d/irisxe-sriov.conf").read_text()
    assert "options i915 enable_guc=3\n" in modprobe and "max_vfs" not in modprobe
    dropin = (fake.root / "etc/default/grub.d/irisxe-sriov.cfg").read_text()
    # what it appends: the guest's parameters, no IOMMU and no max_vfs
    (appended,) = [line for line in dropin.splitlines() if line.startswith("GRUB_CMDLINE")]
    assert appended.endswith('}i915.enable_guc=3 module_blacklist=$irisxe_sriov_list"')
    assert "intel_iommu" not in appended and "max_vfs" not in dropin
    # the root ports at 00:02.x are nobody's business of ours
    for name in BINDING_FILES:
        assert not (fake.root / name).exists()


def test_guest_xe_probes_the_vfs_device_id(fake):
    i440fx_guest(fake)
    fake.grub()
    assert ctl(fake, "config", "set", "driver=xe").exit_code == 0
    modprobe = (fake.root / "etc/modprobe.d/irisxe-sriov.conf").read_text()
    assert "options xe force_probe=46a6\n" in modprobe
    dropin = (fake.root / "etc/default/grub.d/irisxe-sriov.cfg").read_text()
    assert "}xe.force_probe=46a6 module_blacklist=$irisxe_sriov_list" in dropin


def test_guest_status_and_doctor(fake):
    q35_guest(fake)
    fake.load_module("i915", parameters={"enable_guc": "3"})
    fake.set_cmdline("root=/dev/vda1 ro i915.enable_guc=3 module_blacklist=xe")
    fake.grub()
    ctl(fake, "config", "set", "driver=i915")
    status = json.loads(ctl(fake, "status", "--json").output)
    assert status["machine"]["role"] == "guest" and status["vfs"] == []
    assert status["gpus"] == [
        {"address": "0000:06:00.0", "device": "a7a0", "driver": "i915", "render_node": "renderD128"}
    ]
    assert status["pending"] == []
    text = ctl(fake, "status").output
    assert "GPU 0000:06:00.0  8086:a7a0  driver i915  render node renderD128" in text
    findings = {f["id"]: f for f in json.loads(ctl(fake, "doctor", "--json").output)["findings"]}
    for host_only in ("sriov.numvfs", "pf.not_vfio", "driverctl.installed", "iommu.enabled"):
        assert host_only not in findings
    assert findings["guest.0000:06:00.0"]["level"] == "ok"
    assert (
        "vainfo --display drm --device /dev/dri/renderD128"
        in (findings["guest.0000:06:00.0.render"]["message"])
    )
    assert findings["cmdline.parameters"]["level"] == "ok"
    assert findings["guc.enabled"]["level"] == "ok"


def test_an_image_without_hardware_binds_nothing_blindly(fake):
    fake.grub()
    assert ctl(fake, "config", "set", "num_vfs=3").exit_code == 0
    files = written(fake)
    assert "etc/udev/rules.d/70-irisxe-sriov.rules" in files  # fires only for the GPU driver
    assert not any(f.startswith(("etc/driverctl.d", "etc/sysfs.d")) for f in files)


def test_switching_host_to_guest_takes_the_bindings_away(fake):
    fake.healthy(numvfs=3)
    assert ctl(fake, "config", "set", "num_vfs=3").exit_code == 0
    assert (fake.root / "etc/driverctl.d/pci-0000:00:02.1").exists()
    assert ctl(fake, "config", "set", "machine_role=guest").exit_code == 0
    assert not (fake.root / "etc/driverctl.d/pci-0000:00:02.1").exists()
    assert not (fake.root / "etc/sysfs.d/irisxe-sriov.conf").exists()
    assert not (fake.root / "etc/udev/rules.d/70-irisxe-sriov.rules").exists()
    assert ctl(fake, "config", "set", "machine_role=none").exit_code == 0
    assert written(fake) == {"etc/default/irisxe-sriov", "etc/sysfs.conf"}
    assert ctl(fake, "config", "set", "machine_role=auto").exit_code == 0
    assert (fake.root / "etc/driverctl.d/pci-0000:00:02.1").exists()


def test_something_else_at_the_pf_address_gets_nothing(fake):
    fake.add_function(PF, vendor="8086", device="51f0", driver="iwlwifi")
    (fake.device_dir(PF) / "class").write_text("0x028000\n")
    fake.grub()
    assert ctl(fake, "apply").exit_code == 0
    assert written(fake) == {"etc/default/irisxe-sriov"}
    findings = {f["id"]: f for f in json.loads(ctl(fake, "doctor", "--json").output)["findings"]}
    assert findings["machine.role"]["message"].startswith("none: 0000:00:02.0 (8086:51f0")


def test_systemd_boot_apply_twice_writes_nothing_the_second_time(fake, snapshot):
    """The purge replay files are generated files like the record (paths.GENERATED):
    listed in the manifest, so a second apply has nothing to change."""
    fake.healthy(numvfs=3)
    (fake.root / "etc/kernel").mkdir(parents=True)
    (fake.root / "etc/kernel/cmdline").write_text("root=UUID=1 ro quiet\n")
    assert ctl(fake, "config", "set", "bootloader=systemd-boot", "num_vfs=3").exit_code == 0
    managed = (fake.root / "var/lib/irisxe-sriov/managed").read_text().splitlines()
    assert "/var/lib/irisxe-sriov/kernel-cmdline.purge" in managed
    assert "/var/lib/irisxe-sriov/kernel-cmdline.written" in managed
    before = snapshot(fake.root)
    again = ctl(fake, "apply")
    assert again.exit_code == 0 and again.output == "nothing to change\n"
    assert snapshot(fake.root) == before
