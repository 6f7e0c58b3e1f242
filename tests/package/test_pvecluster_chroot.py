"""`cluster proxmox sync` of the installed package on a Debian 13 chroot playing a
Proxmox VE node: the command runs pvesh for real there, and pvesh is tests/harness/doubles/pvesh,
a TEST DOUBLE of Proxmox VE's pvesh for /cluster/mapping/pci (Proxmox VE cannot be
installed here; its docstring names the sources it follows), installed as /usr/bin/pvesh
in the chroot only. The GPU is a fake sysfs tree in the chroot's /sys."""

from pathlib import Path

from chroot import install
from fakesys import FakeSystem, write

DOUBLE = Path(__file__).resolve().parents[1] / "harness" / "doubles" / "pvesh"
CONFIG = "/etc/pve/mapping/pci.cfg"


def test_sync_on_a_node_runs_pvesh_once_then_nothing(chroot):
    fake = FakeSystem(chroot.root)
    fake.add_gpu(device="a7a0", driver="i915", numvfs=2, vf_drivers=["vfio-pci", "vfio-pci"])
    for number in (1, 2):
        write(fake.device_dir(f"0000:00:02.{number}") / "subsystem_vendor", "0x8086\n")
        write(fake.device_dir(f"0000:00:02.{number}") / "subsystem_device", "0x3024\n")
    chroot.write("/etc/hostname", "pve1\n")
    chroot.write(CONFIG, "intel-igpu-vf\n\tmap node=pve2,path=0000:00:02.1,id=8086:46d0\n")
    install(chroot, {"driver": "i915", "num_vfs": "2", "bootloader": "none"})
    chroot.copy_in(DOUBLE, "/usr/bin/pvesh")
    chroot.path("/usr/bin/pvesh").chmod(0o755)

    first = chroot.run("irisxe-sriov-ctl cluster proxmox sync")
    assert "running: pvesh set /cluster/mapping/pci/intel-igpu-vf --map" in first.stdout
    assert first.stdout.endswith("mapping intel-igpu-vf holds node pve1's 2 VFs of role vfio\n")
    config = chroot.read(CONFIG)
    assert "\tmap node=pve2,path=0000:00:02.1,id=8086:46d0\n" in config
    for number in (1, 2):
        assert f"\tmap node=pve1,path=0000:00:02.{number},id=8086:a7a0," in config
    second = chroot.run("irisxe-sriov-ctl cluster proxmox sync")
    assert second.stdout.endswith(": nothing to change\n") and "running:" not in second.stdout
    assert chroot.read("/pvesh.log").count("set /cluster/mapping/pci/") == 1
    status = chroot.run("irisxe-sriov-ctl status").stdout
    assert "Proxmox VE cluster mappings: VF 1 intel-igpu-vf; VF 2 intel-igpu-vf" in status
