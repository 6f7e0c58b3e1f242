import pytest

from irisxe_sriov.choices import Driver, VfRole
from irisxe_sriov.report import status
from irisxe_sriov.settings import Settings
from judged import judged


def report(fake, settings):
    """status's document for `settings` on the fake root (its boot files as they are)."""
    return status.report(judged(fake.root, "status", settings=settings, strict=True))


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
    doc = report(fake, Settings(driver=Driver.XE, num_vfs=3))
    assert doc["reboot_pending"] is True
    # The whole list: the kernel side only. The vfio VFs stay on vfio-pci whichever driver
    # the PF has, so none of them may be listed (a VF line reads "VF N (...) is on ...").
    assert [(p["what"], p["reboot"]) for p in doc["pending"]] == [
        (
            "the running kernel command line lacks xe.max_vfs=7 xe.force_probe=a7a0 "
            "module_blacklist=i915: /etc/default/grub.d/irisxe-sriov.cfg is missing or out "
            "of date",
            True,
        ),
        ("xe is not loaded", True),
        ("i915 is loaded although xe is configured", True),
    ]


@pytest.mark.parametrize(
    ("running", "num_vfs", "permits"),
    [
        ("7", 7, True),
        ("2", 2, True),  # a cap of 2 permits the 2 VFs configured
        ("4294967295", 7, True),  # xe's unlimited default (U32_MAX), read back
        ("2", 3, False),  # the PF cannot reach 3
        ("0", 1, False),  # i915's default: no VFs at all
        ("garbage", 1, False),
    ],
)
def test_max_vfs_is_judged_by_what_it_permits(fake, running, num_vfs, permits):
    """A max_vfs at or above the configured count permits it, whatever this package
    would have written: Debian 7.3's xe defaults to unlimited, and an admin's cap of 2
    for 2 VFs is no problem. A cap below the count is, and only a reboot mends it."""
    fake.healthy(numvfs=num_vfs)
    (fake.sys / "module/i915/parameters/max_vfs").write_text(running + "\n")
    doc = report(fake, Settings(num_vfs=num_vfs))
    pending = [p for p in doc["pending"] if p["id"] == "module.max_vfs"]
    if permits:
        assert pending == []
        return
    assert pending == [
        {
            "id": "module.max_vfs",
            "what": f"i915 runs with max_vfs={running}, SR-IOV needs at least {num_vfs}",
            "fix": "irisxe-sriov-ctl apply; reboot",
            "steps": [
                {"text": "irisxe-sriov-ctl apply", "argv": ["irisxe-sriov-ctl", "apply"]},
                {"text": "reboot", "argv": ["reboot"]},
            ],
            "reboot": True,
        }
    ]
    assert doc["reboot_pending"] is True


def test_an_unreadable_max_vfs_is_no_difference(fake):
    """A driver that does not say (no max_vfs parameter, or not root) is no mismatch."""
    fake.healthy(numvfs=2)
    (fake.sys / "module/i915/parameters/max_vfs").unlink()
    doc = report(fake, Settings(num_vfs=2))
    assert [p for p in doc["pending"] if p["id"] == "module.max_vfs"] == []


def test_count_and_role_differences_are_listed_without_reboot(fake):
    fake.healthy(numvfs=3)
    doc = report(fake, Settings(num_vfs=4, vf_roles={2: VfRole.NONE, 3: VfRole.HOST}))
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
        "proxmox_mappings": None,
    }
    assert "absent" in status.format_text(doc)


def test_missing_pf_is_reported(tmp_path):
    doc = status.report(judged(tmp_path, "status", settings=Settings(num_vfs=1), strict=True))
    assert doc["pf"]["present"] is False and doc["pf"]["driver"] is None
    # an empty root: no module loaded either (doctor's module.loaded fails too)
    assert [p["what"] for p in doc["pending"]] == [
        "i915 is not loaded",
        "no PCI device at 0000:00:02.0",
    ]
    assert "no such PCI device" in status.format_text(doc)
