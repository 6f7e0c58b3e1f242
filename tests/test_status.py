from irisxe_sriov import bootcheck, bootloader, host, status
from irisxe_sriov.paths import Paths
from irisxe_sriov.settings import Settings

GRUB = bootloader.Detection("grub", "/boot/grub/grub.cfg exists")
APPLIED = bootcheck.Verdict(None, "the boot configuration has the parameters", "reboot")


def report(fake, settings):
    state = host.scan(Paths(fake.root), settings.pf)
    return status.report(state, settings, GRUB, APPLIED)


def test_healthy_host_has_nothing_pending(fake):
    fake.healthy(numvfs=3)
    doc = report(fake, Settings(num_vfs=3))
    assert doc["pending"] == [] and doc["reboot_pending"] is False
    assert doc["pf"]["device"] == "a7a0" and doc["pf"]["platform"] == "RPL-P"
    assert doc["pf"]["driver"] == "i915" and doc["module"]["dkms"] is True
    assert [(v["address"], v["driver"], v["role"]) for v in doc["vfs"]] == [
        ("0000:00:02.1", "vfio-pci", "vfio"),
        ("0000:00:02.2", "vfio-pci", "vfio"),
        ("0000:00:02.3", "vfio-pci", "vfio"),
    ]
    assert doc["settings"]["num_vfs"] == 3 and doc["kernel"]["missing_parameters"] == []
    text = status.format_text(doc)
    assert "RPL-P" in text and "pinned DKMS build" in text and "running as configured" in text


def test_switch_to_xe_pends_a_reboot(fake):
    fake.healthy(numvfs=3)
    doc = report(fake, Settings(driver="xe", num_vfs=3))
    assert doc["reboot_pending"] is True
    # The whole list: the kernel side only. The vfio VFs stay on vfio-pci whichever driver
    # the PF has, so none of them may be listed (a VF line reads "VF N (...) is on ...").
    assert [(p["what"], p["reboot"]) for p in doc["pending"]] == [
        (
            "the running kernel command line lacks xe.max_vfs=7 xe.force_probe=a7a0 "
            "module_blacklist=i915: the boot configuration has the parameters",
            True,
        ),
        ("i915 is loaded, xe is configured", True),
    ]


def test_a_driver_running_with_another_max_vfs_pends_a_reboot(fake):
    """The module parameter the running driver got (a max_vfs=2 of an admin's own
    modprobe.d file, say) is not the 7 this package configures: only a reboot with our
    parameters gives the VFs we count on."""
    fake.healthy(numvfs=2)
    (fake.sys / "module/i915/parameters/max_vfs").write_text("2\n")
    doc = report(fake, Settings(num_vfs=2))
    assert doc["pending"] == [
        {
            "what": "i915 runs with max_vfs=2, configured 7",
            "fix": "reboot (run 'irisxe-sriov-ctl apply' first if the files are not written yet)",
            "reboot": True,
        }
    ]
    assert doc["reboot_pending"] is True
    assert "  - i915 runs with max_vfs=2, configured 7: reboot" in status.format_text(doc)
    # a driver that does not say (no max_vfs parameter: the stock one) is no mismatch
    (fake.sys / "module/i915/parameters/max_vfs").unlink()
    assert report(fake, Settings(num_vfs=2))["pending"] == []


def test_count_and_role_differences_are_listed_without_reboot(fake):
    fake.healthy(numvfs=3)
    doc = report(fake, Settings(num_vfs=4, vf_roles={2: "none", 3: "host"}))
    assert [p["what"] for p in doc["pending"]] == [
        "3 VFs exist, 4 configured",
        "VF 2 (0000:00:02.2) is on vfio-pci, its role none wants no driver",
        "VF 3 (0000:00:02.3) is on vfio-pci, its role host wants i915",
    ]
    assert doc["reboot_pending"] is False
    assert doc["vfs"][3] == {
        "index": 4,
        "address": "0000:00:02.4",
        "present": False,
        "driver": None,
        "driver_override": None,
        "role": "vfio",
        "expected_driver": "vfio-pci",
        "iommu_group": None,
        "render_node": None,
        "in_use_by": [],
    }
    assert "absent" in status.format_text(doc)


def test_missing_pf_is_reported(tmp_path):
    doc = status.report(
        host.scan(Paths(tmp_path), "0000:00:02.0"), Settings(num_vfs=1), GRUB, APPLIED
    )
    assert doc["pf"]["present"] is False and doc["pf"]["driver"] is None
    # an empty root: no module loaded either (doctor's module.loaded fails too)
    assert [p["what"] for p in doc["pending"]] == [
        "i915 is configured and not loaded",
        "no PCI device at 0000:00:02.0",
    ]
    assert "no such PCI device" in status.format_text(doc)
