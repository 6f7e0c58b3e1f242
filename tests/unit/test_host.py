from irisxe_sriov import pin
from irisxe_sriov.machine import reader
from irisxe_sriov.paths import Paths


def test_scan_of_a_healthy_host(fake):
    fake.healthy(numvfs=3)
    state = reader.scan(Paths(fake.root), "0000:00:02.0")
    pf = state.pf
    assert pf.present and pf.vendor == "8086" and pf.device == "a7a0"
    assert pf.platform == "RPL-P"
    assert pf.driver == "i915" and pf.driver_override is None
    assert (pf.sriov_totalvfs, pf.sriov_numvfs, pf.sriov_drivers_autoprobe) == (7, 3, False)
    assert pf.render_node == "renderD128" and pf.iommu_group == 10
    assert [(vf.number, vf.address, vf.driver) for vf in state.vfs] == [
        (1, "0000:00:02.1", "vfio-pci"),
        (2, "0000:00:02.2", "vfio-pci"),
        (3, "0000:00:02.3", "vfio-pci"),
    ]
    assert [vf.iommu_group for vf in state.vfs] == [11, 12, 13]
    assert state.modules["i915"].loaded and state.modules["i915"].version == pin.MODULE_VERSION
    assert state.modules["i915"].parameters == {"enable_guc": "3", "max_vfs": "7"}
    assert not state.modules["xe"].loaded
    assert (state.cmdline or "").startswith("BOOT_IMAGE=/vmlinuz")
    assert state.kernel_release == "6.12.40-amd64"
    assert (state.os_id, state.os_version_id) == ("debian", "13")
    assert state.iommu is True and state.sysfs_conf_present and state.driverctl_present


def test_vfs_are_ordered_by_number_past_nine_links(fake):
    fake.add_gpu(numvfs=7, vf_drivers=[None, "i915", None, None, None, None, "vfio-pci"])
    state = reader.scan(Paths(fake.root), "0000:00:02.0")
    assert [vf.number for vf in state.vfs] == [1, 2, 3, 4, 5, 6, 7]
    assert state.vfs[1].render_node == "renderD130" and state.vfs[0].render_node is None
    assert state.vfs[0].driver is None and state.vfs[6].driver == "vfio-pci"


def test_empty_root_is_all_unknown(tmp_path):
    state = reader.scan(Paths(tmp_path), "0000:00:02.0")
    assert not state.pf.present and state.pf.device is None and state.pf.platform is None
    assert state.vfs == ()
    assert state.cmdline is None and state.kernel_release is None and state.os_id is None
    assert state.iommu is None
    assert not any(module.loaded for module in state.modules.values())


def test_stock_driver_without_sriov_and_unreadable_attributes(fake):
    fake.add_gpu(totalvfs=None, driver="i915")
    fake.load_module("i915", version=None)
    device = fake.device_dir("0000:00:02.0")
    (device / "vendor").unlink()
    (device / "vendor").mkdir()  # reading a directory fails like an unreadable attribute
    (device / "driver_override").write_text("garbage that is not a hex id\n")
    (device / "device").write_text("not-hex\n")
    (fake.sys / "class").mkdir(parents=True)
    state = reader.scan(Paths(fake.root), "0000:00:02.0")
    assert state.pf.present and state.pf.vendor is None and state.pf.device is None
    assert state.pf.sriov_totalvfs is None and state.pf.sriov_numvfs is None
    assert state.pf.sriov_drivers_autoprobe is None
    assert state.modules["i915"].loaded and state.modules["i915"].version is None
    assert state.iommu is False  # /sys/class exists but no IOMMU registered


def test_a_virtfn_link_that_names_no_device_is_no_vf(fake):
    """A virtfnN link whose target is gone (the kernel removing VFs), or that names no PCI
    address, is no VF. This test used to take virtfn5 -> ../nowhere for a VF 6 at address
    "nowhere" without a driver: status listed it present, attach offered it, and restore
    wrote a driver_override for it (tests/unit/test_vfs.py, tests/unit/test_attach.py)."""
    fake.add_gpu(numvfs=1)
    device = fake.device_dir("0000:00:02.0")
    (device / "virtfn5").symlink_to("../0000:00:02.6")  # an address, but no device there
    (device / "virtfn4").symlink_to("../nowhere")
    (device / "virtfn3").symlink_to("..")  # /sys/bus/pci/devices/.. exists: no device
    (device / "virtfnX").symlink_to("../0000:00:02.1")
    (device / "virtfn-2").symlink_to("../0000:00:02.1")
    state = reader.scan(Paths(fake.root), "0000:00:02.0")
    assert [(vf.number, vf.address, vf.present) for vf in state.vfs] == [(1, "0000:00:02.1", True)]


def test_parsers():
    assert reader.parse_hex_id("0xA7A0\n") == "a7a0"
    assert reader.parse_hex_id("0x8086") == "8086"
    assert reader.parse_hex_id("zz") is None
    assert (
        reader.parse_override("(null)\n") is None
        and reader.parse_override("vfio-pci\n") == "vfio-pci"
    )
    assert reader.parse_int(" 7\n") == 7 and reader.parse_int("x") is None
    assert reader.parse_os_release('ID=debian\nVERSION_ID="13"\n# c\n') == {
        "ID": "debian",
        "VERSION_ID": "13",
    }
