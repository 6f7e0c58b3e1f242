"""Proxmox VE cluster mappings (pvecluster.py, `cluster proxmox sync`, `attach proxmox
--mapping`, status). Proxmox VE cannot be installed here: tests/harness/doubles/pvesh is a TEST
DOUBLE of pvesh for /cluster/mapping/pci (its docstring names the pve-manager and
pve-guest-common sources it follows). Under --root the command prints the pvesh command
line it would run; the tests run that very line with the double on the fake root's
/etc/pve/mapping/pci.cfg, as a node of the cluster would, then sync again."""

import json
import shlex
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner

import fakesys
from irisxe_sriov.cli.commands import cli
from irisxe_sriov.runtime import pvecluster

DOUBLE = Path(__file__).resolve().parents[1] / "harness" / "doubles" / "pvesh"
CONFIG = "etc/pve/mapping/pci.cfg"
OTHER_NODE = (
    "intel-igpu-vf\n"
    "\tdescription three N100 boxes\n"
    "\tmap node=pve2,path=0000:00:02.1,id=8086:46d0,iommugroup=12,subsystem-id=8086:7270\n"
    "\tmap node=pve1,path=0000:00:02.0,id=8086:a7a0,iommugroup=2\n"
    "\n"
    "nic\n"
    "\tmap node=pve1,path=0000:03:00.0,id=8086:125c,iommugroup=20\n"
)


def ctl(root: Path, *args: str):
    return CliRunner().invoke(cli, ["--root", str(root), *args])


@pytest.fixture
def node(fake) -> Path:
    """pve1: 3 VFs, VF 3 of role host; a cluster whose mapping already has pve2's VF
    and (put there by an admin) pve1's PF, and a mapping of another device."""
    fake.healthy(numvfs=3)
    fakesys.write(fake.root / "etc/default/irisxe-sriov", 'NUM_VFS="3"\nVF_ROLES="3:host"\n')
    for number in (1, 2, 3):
        device = fake.device_dir(f"0000:00:02.{number}")
        fakesys.write(device / "subsystem_vendor", "0x8086\n")
        fakesys.write(device / "subsystem_device", "0x3024\n")
    fakesys.write(fake.root / "etc/hostname", "pve1.lab.example\n")
    fakesys.write(fake.root / CONFIG, OTHER_NODE)
    return fake.root


def run_as_a_node_would(root: Path, output: str) -> subprocess.CompletedProcess[str]:
    """The pvesh line `output` says would run, run with the double on `root`."""
    [line] = [line for line in output.splitlines() if line.startswith("would run: pvesh ")]
    argv = shlex.split(line.removeprefix("would run: "))
    return subprocess.run(
        [str(DOUBLE), *argv[1:]],
        env={"PVESH_DOUBLE_ROOT": str(root), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        check=False,
    )


def status_of(root: Path) -> dict:
    return json.loads(ctl(root, "status", "--json").output)


def entries(root: Path, name: str) -> list[str]:
    return list(pvecluster.parse((root / CONFIG).read_text()).mappings[name].map)


def test_sync_adds_this_nodes_vfio_vfs_and_touches_nothing_else(node):
    first = ctl(node, "cluster", "proxmox", "sync")
    assert first.exit_code == 0, first.output
    assert first.output.endswith(
        "mapping intel-igpu-vf would hold node pve1's 2 VFs of role vfio\n"
    )
    done = run_as_a_node_would(node, first.output)
    assert done.returncode == 0, done.stderr
    groups = {vf["index"]: vf["iommu_group"] for vf in status_of(node)["vfs"]}
    assert entries(node, "intel-igpu-vf") == [
        "node=pve2,path=0000:00:02.1,id=8086:46d0,iommugroup=12,subsystem-id=8086:7270",
        "node=pve1,path=0000:00:02.0,id=8086:a7a0,iommugroup=2",
        *(
            f"node=pve1,path=0000:00:02.{n},id=8086:a7a0,iommugroup={group},subsystem-id=8086:3024"
            for n, group in ((1, groups[1]), (2, groups[2]))
        ),
    ]
    assert entries(node, "nic") == ["node=pve1,path=0000:03:00.0,id=8086:125c,iommugroup=20"]
    # idempotent: nothing to run the second time
    again = ctl(node, "cluster", "proxmox", "sync")
    assert again.exit_code == 0 and "would run" not in again.output
    assert again.output == (
        "mapping intel-igpu-vf holds node pve1's 2 VFs of role vfio: nothing to change\n"
    )
    # status shows which VFs are in a mapping
    assert [vf["proxmox_mappings"] for vf in status_of(node)["vfs"]] == [
        ["intel-igpu-vf"],
        ["intel-igpu-vf"],
        [],
    ]
    text = ctl(node, "status").output
    assert (
        "Proxmox VE cluster mappings: VF 1 intel-igpu-vf; VF 2 intel-igpu-vf; VF 3 in none" in text
    )


def test_iommu_groups_come_from_sysfs_and_stay_checked(node):
    """Proxmox VE refuses to start a guest whose mapping's iommugroup or subsystem-id
    does not match the device (PVE::Mapping::PCI::assert_valid): they are read, not
    guessed."""
    run_as_a_node_would(node, ctl(node, "cluster", "proxmox", "sync").output)
    for vf in status_of(node)["vfs"][:2]:
        [mine] = [
            e for e in entries(node, "intel-igpu-vf") if f"node=pve1,path={vf['address']}," in e
        ]
        assert pvecluster.properties(mine)["iommugroup"] == str(vf["iommu_group"])


def test_a_role_change_takes_the_vf_out_and_a_new_mapping_is_created(node):
    run_as_a_node_would(node, ctl(node, "cluster", "proxmox", "sync").output)
    fakesys.write(node / "etc/default/irisxe-sriov", 'NUM_VFS="3"\nVF_ROLES="2:host 3:host"\n')
    done = run_as_a_node_would(node, ctl(node, "cluster", "proxmox", "sync").output)
    assert done.returncode == 0, done.stderr
    mine = [e for e in entries(node, "intel-igpu-vf") if e.startswith("node=pve1,")]
    # VF 2 is gone from the mapping; the PF, which the admin mapped, stays
    assert [pvecluster.properties(e)["path"] for e in mine] == ["0000:00:02.0", "0000:00:02.1"]
    created = ctl(node, "cluster", "proxmox", "sync", "--mapping", "lab-vf")
    assert "pvesh create /cluster/mapping/pci --id lab-vf --map" in created.output
    assert run_as_a_node_would(node, created.output).returncode == 0
    assert len(entries(node, "lab-vf")) == 1


def test_a_mapping_changed_meanwhile_is_refused_by_its_digest(node):
    planned = ctl(node, "cluster", "proxmox", "sync").output
    assert "--digest " in planned
    fakesys.write(
        node / CONFIG, OTHER_NODE + "\nother\n\tmap node=pve3,path=0000:00:02.1,id=8086:46d0\n"
    )
    refused = run_as_a_node_would(node, planned)
    assert refused.returncode == 255 and "detected modified configuration" in refused.stderr


def test_attach_proxmox_with_a_mapping(node):
    fakesys.write(node / "etc/pve/qemu-server/101.conf", "machine: q35\nmemory: 4096\n")
    missing = ctl(node, "attach", "proxmox", "101", "--mapping", "lab-vf")
    assert missing.exit_code == 2
    assert "mapping 'lab-vf' has no entry for node pve1" in missing.output
    run_as_a_node_would(node, ctl(node, "cluster", "proxmox", "sync").output)
    done = ctl(node, "attach", "proxmox", "101", "--mapping", "intel-igpu-vf")
    assert done.exit_code == 0, done.output
    assert done.output.splitlines() == [
        "would run: qm set 101 --hostpci0 mapping=intel-igpu-vf,pcie=1",
        "would attach mapping intel-igpu-vf to 101: nothing was changed",
    ]
    assert ctl(node, "attach", "incus", "c1", "--mapping", "intel-igpu-vf").exit_code == 2


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--mapping", "9lives"], "mapping '9lives' is no Proxmox VE id"),
        (["--mapping", "a b"], "mapping 'a b' is no Proxmox VE id"),
    ],
)
def test_bad_names_are_refused_before_anything_runs(node, args, message):
    before = (node / CONFIG).read_text()
    refused = ctl(node, "cluster", "proxmox", "sync", *args)
    assert refused.exit_code == 2 and message in refused.output
    assert "would run" not in refused.output and (node / CONFIG).read_text() == before


def test_no_node_name_is_an_error(node):
    (node / "etc/hostname").unlink()
    refused = ctl(node, "cluster", "proxmox", "sync")
    assert refused.exit_code == 2 and "/etc/hostname names no host" in refused.output


def test_status_without_proxmox_shows_no_mappings(fake):
    fake.healthy(numvfs=2)
    status = json.loads(ctl(fake.root, "status", "--json").output)
    assert [vf["proxmox_mappings"] for vf in status["vfs"]] == [None, None]
    assert "Proxmox VE" not in ctl(fake.root, "status").output


ENTRY_A = "node=a,path=0000:00:02.1,id=8086:a7a0,iommugroup=2"
ENTRY_B = "node=b,path=0000:00:02.1,id=8086:a7a0,iommugroup=2"
PF = "0000:00:02.0"


def config_with(*entries: str) -> pvecluster.Config:
    text = "m\n" + "".join(f"\tmap {entry}\n" for entry in entries)
    return pvecluster.parse(text)


def test_a_node_without_vfio_vfs_takes_its_entries_out():
    """All VFs of this node gone or of another role: its entries leave the mapping, the
    other node's stay; the last node's leaving empties the map."""
    argv = pvecluster.sync_argv("m", config_with(ENTRY_A, ENTRY_B), "a", PF, [])
    assert argv is not None and argv[argv.index("--map") + 1] == ENTRY_B
    assert argv.count("--map") == 1
    emptied = pvecluster.sync_argv("m", config_with(ENTRY_A), "a", PF, [])
    assert emptied is not None and emptied[2:5] == ["/cluster/mapping/pci/m", "--delete", "map"]


def test_syncs_of_two_nodes_in_turn_change_nothing_the_second_time():
    """Each node's entries keep their place, and the order means nothing to Proxmox VE:
    node a after node b after node a is no write."""
    mine = pvecluster.Entry("a", "0000:00:02.1", "8086:a7a0", 2)
    assert pvecluster.sync_argv("m", config_with(ENTRY_B, ENTRY_A), "a", PF, [mine]) is None
    assert pvecluster.sync_argv("m", config_with(ENTRY_A, ENTRY_B), "a", PF, [mine]) is None
    moved = pvecluster.Entry("a", "0000:00:02.2", "8086:a7a0", 3)
    argv = pvecluster.sync_argv("m", config_with(ENTRY_A, ENTRY_B), "a", PF, [moved])
    assert argv is not None
    maps = [argv[i + 1] for i, word in enumerate(argv) if word == "--map"]
    assert maps == [moved.property_string(), ENTRY_B]  # in the place of a's old entry


def test_an_unreadable_mappings_file_is_an_error_not_no_mappings(node):
    (node / CONFIG).unlink()
    (node / CONFIG).mkdir()  # a directory where the file should be
    refused = ctl(node, "cluster", "proxmox", "sync")
    assert refused.output == (
        "irisxe-sriov-ctl: error: /etc/pve/mapping/pci.cfg is not a regular file: "
        "the mappings cannot be read\n"
    )
    assert refused.exit_code == 1
    # status goes on, without the mappings
    assert ctl(node, "status").exit_code == 0


def test_a_mapping_is_attached_once(node):
    fakesys.write(
        node / "etc/pve/qemu-server/101.conf",
        "machine: q35\nhostpci0: mapping=intel-igpu-vf,pcie=1\n",
    )
    run_as_a_node_would(node, ctl(node, "cluster", "proxmox", "sync").output)
    again = ctl(node, "attach", "proxmox", "101", "--mapping", "intel-igpu-vf")
    assert again.exit_code == 1 and "VM 101 has mapping intel-igpu-vf already" in again.output


def test_the_digest_of_no_file_is_sha1_of_nothing():
    import hashlib

    assert hashlib.sha1(b"").hexdigest() == pvecluster.EMPTY_DIGEST
    assert pvecluster.parse("").digest == pvecluster.EMPTY_DIGEST
