"""Attaching VFs to guests on a fixture root where some VFs are already given away.

qm and incus cannot run here: under a fake root the Runner prints their command lines
instead ("would run: ..."), which is what these tests read. virsh and virt-xml-validate
are the real ones; libvirt's test:///default driver is a real connection without a
hypervisor.
"""

import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner

from irisxe_sriov import errors, process
from irisxe_sriov.cli.commands import cli
from irisxe_sriov.runtime import attach

WIN11 = """<domain type='kvm'>
  <name>win11</name>
  <devices>
    <hostdev mode='subsystem' type='pci' managed='yes'>
      <source>
        <address domain='0x0000' bus='0x00' slot='0x02' function='0x1'/>
      </source>
    </hostdev>
  </devices>
</domain>
"""
PVE_100 = """boot: order=scsi0
hostpci0: 0000:00:02.2,pcie=1
hostpci1: 01:00.0
memory: 4096

[snapshot1]
hostpci2: 0000:00:02.3
"""
INCUS_VM1 = """container:
  name: vm1
  devices:
    igpu-vf3:
      address: 0000:00:02.3
      type: pci
  config:
    volatile.igpu.last_state.pci.slot.name: "0000:00:02.5"
"""
MINIMAL_DOMAIN = """<domain type='kvm'>
  <name>validate</name>
  <memory>1048576</memory>
  <os><type arch='x86_64' machine='q35'>hvm</type></os>
  <devices>
  </devices>
</domain>
"""


@pytest.fixture
def guests(fake):
    fake.healthy(numvfs=4)
    settings = fake.root / "etc/default/irisxe-sriov"
    settings.write_text('NUM_VFS="4"\nVF_ROLES="4:none"\n')
    (fake.root / "etc/libvirt/qemu").mkdir(parents=True)
    (fake.root / "etc/libvirt/qemu/win11.xml").write_text(WIN11)
    (fake.root / "etc/pve/qemu-server").mkdir(parents=True)
    (fake.root / "etc/pve/qemu-server/100.conf").write_text(PVE_100)
    (fake.root / "etc/group").write_text("root:x:0:\nvideo:x:44:\nrender:x:105:\n")
    return fake


@pytest.fixture
def with_incus(guests):
    instance = guests.root / "var/lib/incus/virtual-machines/vm1"
    instance.mkdir(parents=True)
    (instance / "backup.yaml").write_text(INCUS_VM1)
    return guests


def run(root, *args):
    return CliRunner().invoke(cli, ["--root", str(root), *args])


def test_usage_is_read_from_libvirt_and_proxmox(guests):
    from irisxe_sriov.paths import Paths

    assert attach.read_assignments(Paths(guests.root)) == {
        "0000:00:02.1": ["libvirt win11"],
        "0000:00:02.2": ["proxmox 100"],
        "0000:01:00.0": ["proxmox 100"],
    }  # the snapshot section's hostpci2 is not the VM's current config


def test_incus_instances_take_vfs_too(with_incus):
    from irisxe_sriov.paths import Paths

    usage = attach.read_assignments(Paths(with_incus.root))
    assert usage["0000:00:02.3"] == ["incus vm1"]
    assert usage["0000:00:02.5"] == ["incus vm1"]
    # 02.1 libvirt, 02.2 Proxmox, 02.3 Incus: the lowest free VF for a VM is VF 4 (none)
    result = run(with_incus.root, "snippet", "qemu")
    assert result.exit_code == 0 and result.output == "-device vfio-pci,host=0000:00:02.4\n"
    assert run(with_incus.root, "snippet", "qemu", "--vf", "3").output.endswith(
        "VF 3 (0000:00:02.3) is already given to incus vm1\n"
    )


def test_lowest_free_vf_and_libvirt_xml_validates(guests, tmp_path):
    result = run(guests.root, "snippet", "libvirt")
    assert result.exit_code == 0, result.output
    assert result.output == (
        '<hostdev mode="subsystem" type="pci" managed="no">\n  <source>\n'
        '    <address domain="0x0000" bus="0x00" slot="0x02" function="0x3"/>\n'
        "  </source>\n</hostdev>\n"
    )
    unbound = run(guests.root, "snippet", "libvirt", "--vf", "4").output
    assert 'managed="yes"' in unbound and 'function="0x4"' in unbound
    for number, xml in (("3", result.output), ("4", unbound)):
        document = tmp_path / f"domain-{number}.xml"
        document.write_text(attach.add_hostdev(MINIMAL_DOMAIN, xml))
        done = subprocess.run(
            ["virt-xml-validate", str(document), "domain"],
            capture_output=True,
            text=True,
            check=False,
        )
        assert done.returncode == 0, done.stdout + done.stderr


def test_the_pf_and_taken_vfs_are_refused(guests, snapshot):
    before = snapshot(guests.root)
    pf = run(guests.root, "snippet", "qemu", "--vf", "0000:00:02.0")
    assert pf.exit_code == 2
    assert pf.output == (
        "irisxe-sriov-ctl: error: 0000:00:02.0 is the PF: giving it to a guest unbinds its "
        "driver, which destroys every VF; pick a VF (0000:00:02.1-0000:00:02.4)\n"
    )
    taken = run(guests.root, "attach", "proxmox", "101", "--vf", "2")
    assert taken.exit_code == 1  # a valid request the host cannot meet now: a state
    assert "VF 2 (0000:00:02.2) is already given to proxmox 100" in taken.output
    assert run(guests.root, "snippet", "qemu", "--vf", "9").exit_code == 2
    assert run(guests.root, "snippet", "qemu", "--vf", "junk").exit_code == 2
    assert run(guests.root, "snippet", "qemu", "--vf", "\u00b2").exit_code == 2
    assert snapshot(guests.root) == before


def test_an_absent_vf_is_never_offered(fake):
    """The lowest free VF is one that exists: VFs 3 and 4 are configured but absent (the
    kernel made 2), VF 3 with a virtfn link whose device is gone (reader.read_vfs). A
    guest given one of them would not start."""
    from fakesys import PF

    fake.healthy(numvfs=2)
    settings = fake.root / "etc/default/irisxe-sriov"
    settings.parent.mkdir(parents=True, exist_ok=True)
    settings.write_text('NUM_VFS="4"\n')
    (fake.device_dir(PF) / "virtfn2").symlink_to("../0000:00:02.3")
    (fake.root / "etc/libvirt/qemu").mkdir(parents=True)
    (fake.root / "etc/libvirt/qemu/win11.xml").write_text(WIN11)  # VF 1 is taken
    assert run(fake.root, "snippet", "qemu").output == "-device vfio-pci,host=0000:00:02.2\n"
    taking = WIN11.replace("function='0x1'", "function='0x2'")
    (fake.root / "etc/libvirt/qemu/vm2.xml").write_text(taking)
    none_left = run(fake.root, "snippet", "qemu")
    assert none_left.exit_code == 1
    assert none_left.output == (
        "irisxe-sriov-ctl: error: no free VF with role vfio or none: every one is given to "
        "a guest or absent; see 'irisxe-sriov-ctl status'\n"
    )
    for requested in ("3", "0000:00:02.4"):
        asked = run(fake.root, "snippet", "qemu", "--vf", requested)
        assert (asked.exit_code, asked.output) == (
            1,
            (
                f"irisxe-sriov-ctl: error: VF {requested[-1]} (0000:00:02.{requested[-1]}) is "
                "configured but absent: the PF has 2 VF(s) now; see 'irisxe-sriov-ctl status'\n"
            ),
        )


def test_qemu_proxmox_incus_snippets(guests):
    assert run(guests.root, "snippet", "qemu").output == "-device vfio-pci,host=0000:00:02.3\n"
    # VM 100 has no machine: line, so qemu-server's i440fx: no pcie=1, which qm refuses there
    assert run(guests.root, "snippet", "proxmox", "100").output == (
        "qm set 100 --hostpci2 0000:00:02.3\n"
        "# VM 100 has the i440fx machine type: the VF is a conventional PCI device there; "
        "for PCI Express, 'qm set 100 --machine q35' (while it is stopped) and attach again\n"
    )
    q35 = guests.root / "etc/pve/qemu-server/101.conf"
    q35.write_text("machine: pc-q35-9.2+pve1\nmemory: 4096\n")
    assert run(guests.root, "snippet", "proxmox", "101").output == (
        "qm set 101 --hostpci0 0000:00:02.3,pcie=1\n"
    )
    # an instance Incus does not have here: said so, and the VM form given
    assert run(guests.root, "snippet", "incus", "vm1").output == (
        "incus config device add vm1 igpu-vf3 pci address=0000:00:02.3\n"
        "# Incus instance vm1 is not in /var/lib/incus here\n"
    )
    assert run(guests.root, "snippet", "incus", "vm1", "--vf", "4").output.splitlines()[0] == (
        "incus config device add vm1 igpu-vf4 gpu gputype=sriov pci=0000:00:02.0"
    )
    needs_name = run(guests.root, "snippet", "proxmox")
    assert needs_name.exit_code == 2 and "needs the guest's name" in needs_name.output


def test_incus_says_whether_the_instance_is_a_vm(with_incus):
    """A VM takes a vfio VF as a pci device; a container cannot (pci is VM only in Incus)
    and gets a host-role VF's DRM nodes as a gpu device of gputype physical."""
    vm = run(with_incus.root, "snippet", "incus", "vm1", "--vf", "3")
    assert vm.exit_code == 1  # vm1's own backup.yaml names VF 3: it has it already
    vm = run(with_incus.root, "snippet", "incus", "vm1")
    assert vm.output.splitlines() == [
        "incus config device add vm1 igpu-vf4 gpu gputype=sriov pci=0000:00:02.0",
        "# Incus instance vm1 is a virtual machine",
    ]
    (with_incus.root / "var/lib/incus/containers/ct1").mkdir(parents=True)
    none_for_it = run(with_incus.root, "snippet", "incus", "ct1")
    assert none_for_it.exit_code == 1 and "no free VF with role host" in none_for_it.output
    (with_incus.root / "etc/default/irisxe-sriov").write_text('NUM_VFS="4"\nVF_ROLES="4:host"\n')
    with_incus.bind("0000:00:02.4", "i915")
    container = run(with_incus.root, "snippet", "incus", "ct1")
    assert container.output.splitlines() == [
        "incus config device add ct1 igpu-vf4 gpu gputype=physical pci=0000:00:02.4",
        "# Incus instance ct1 is a container",
    ]


def test_a_proxmox_vm_with_every_hostpci_slot_used(guests):
    full = "".join(f"hostpci{n}: 0000:01:00.{n % 8}\n" for n in range(16))
    (guests.root / "etc/pve/qemu-server/102.conf").write_text(full)
    result = run(guests.root, "snippet", "proxmox", "102")
    assert result.exit_code == 1
    assert result.output == (
        "irisxe-sriov-ctl: error: VM 102 uses every hostpci slot (hostpci0-hostpci15): remove "
        "one with 'qm set 102 --delete hostpciN' first\n"
    )


def test_containers_get_the_render_node(guests):
    assert run(guests.root, "snippet", "docker").output == (
        "--device /dev/dri/renderD128 --group-add 105\n"
    )
    assert run(guests.root, "snippet", "podman").output == (
        "--device /dev/dri/renderD128 --group-add keep-groups\n"
    )


def test_attach_proxmox_and_incus_run_their_tools(guests):
    """Under a root other than / (and with --dry-run) nothing runs: the output says what
    would, and never that anything was attached."""
    q35 = PVE_100.replace("memory: 4096\n", "memory: 4096\nmachine: q35\n")
    (guests.root / "etc/pve/qemu-server/100.conf").write_text(q35)
    for dry in ([], ["--dry-run"]):
        proxmox = run(guests.root, "attach", "proxmox", "100", *dry)
        assert proxmox.exit_code == 0
        assert proxmox.output.splitlines() == [
            "would run: qm set 100 --hostpci2 0000:00:02.3,pcie=1",
            "would attach VF 3 (0000:00:02.3) to 100: nothing was changed",
        ]
    incus = run(guests.root, "attach", "incus", "vm1", "--vf", "4")
    assert incus.output.splitlines()[:2] == [
        "note: Incus instance vm1 is not in /var/lib/incus here",
        "would run: incus config device add vm1 igpu-vf4 gpu gputype=sriov pci=0000:00:02.0",
    ]
    assert run(guests.root, "attach", "docker", "x").exit_code == 2


def test_attach_libvirt_through_a_real_connection(guests):
    result = run(guests.root, "attach", "libvirt", "test", "--connect", "test:///default")
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0] == "running: virsh -c test:///default domstate test"
    assert lines[1].startswith("running: virsh -c test:///default attach-device test ")
    assert lines[1].endswith(" --config --live")  # the test domain runs
    # the test driver has no attach-device: the definition is edited and defined instead
    assert lines[2] == "running: virsh -c test:///default dumpxml --inactive test"
    assert lines[3].startswith("running: virsh -c test:///default define ")
    assert lines[-1] == "VF 3 (0000:00:02.3) attached to test"
    missing = run(guests.root, "attach", "libvirt", "nope", "--connect", "test:///default")
    assert missing.exit_code == 1 and "libvirt domain 'nope'" in missing.output


class ScriptedVirsh(process.Runner):
    """virsh answers by subcommand: the failures test:///default cannot give (each virsh
    run there starts from the driver's fresh state)."""

    def __init__(self, answers: dict[str, tuple[int, str]]) -> None:
        self.lines: list[str] = []
        super().__init__(live=True, echo=self.lines.append)
        self.answers = answers
        self.asked: list[str] = []

    def capture(self, argv, quiet=False):
        self.asked.append(argv[1])
        if argv[1] == "define":
            self.defined = Path(argv[2]).read_text()
        return self.answers[argv[1]]


UNSUPPORTED = (1, "error: Operation not supported: unsupported flags (0x2) in function ...")
CHOICE = attach.Choice(3, "0000:00:02.3", "vfio", "vfio-pci")


@pytest.mark.parametrize(
    ("dumpxml", "message"),
    [
        ((1, "error: failed to get domain 'vm'\n"), "virsh dumpxml failed: error: failed to get"),
        ((0, "<domain/>\n"), "the libvirt definition has no <devices> element"),
    ],
)
def test_a_failing_dumpxml_is_an_error_never_a_definition(dumpxml, message):
    virsh = ScriptedVirsh({"domstate": (0, "shut off\n"), "attach-device": UNSUPPORTED})
    virsh.answers["dumpxml"] = dumpxml
    with pytest.raises(errors.Failed) as raised:
        attach.to_libvirt(virsh, ["virsh"], "vm", CHOICE)
    assert raised.value.lines()[0].startswith(message)
    assert virsh.asked == ["domstate", "attach-device", "dumpxml"]  # nothing was defined


def test_to_libvirt_falls_back_to_define_only_when_libvirt_cannot_attach():
    running = {"domstate": (0, "running\n"), "attach-device": UNSUPPORTED}
    virsh = ScriptedVirsh({**running, "dumpxml": (0, MINIMAL_DOMAIN), "define": (0, "")})
    attach.to_libvirt(virsh, ["virsh"], "vm", CHOICE)
    assert virsh.asked == ["domstate", "attach-device", "dumpxml", "define"]
    assert virsh.defined == attach.add_hostdev(MINIMAL_DOMAIN, attach.hostdev_xml(CHOICE))
    assert 'function="0x3"' in virsh.defined
    assert virsh.lines == [
        "vm runs: the VF is in its definition and comes with its next start "
        "(this connection cannot attach live)"
    ]
    refused = ScriptedVirsh({**running, "attach-device": (1, "error: device busy")})
    with pytest.raises(errors.Failed, match="virsh attach-device failed: error: device busy"):
        attach.to_libvirt(refused, ["virsh"], "vm", CHOICE)
    assert refused.asked == ["domstate", "attach-device"]
    gone = ScriptedVirsh({"domstate": (1, "error: failed to get domain 'vm'")})
    with pytest.raises(errors.Failed, match="libvirt domain 'vm': error: failed to get domain"):
        attach.to_libvirt(gone, ["virsh"], "vm", CHOICE)


def test_one_problem_one_exit_status_in_every_command(guests, snapshot):
    """The exit status belongs to the problem, not to the command that meets it
    (docs/notes.md, "One error, one exit status"): each command used to translate errors by
    hand, and the same AttachError left `snippet docker` with 1 and `snippet qemu` with 2.
    One line names the problem, and a problem that is bad input changes nothing on disk."""
    from fakesys import PF

    libvirt = ["--connect", "test:///default"]

    def statuses(*commands: list[str]) -> dict[str, tuple[int, str]]:
        found = {}
        for args in commands:
            result = run(guests.root, *args)
            assert "Traceback" not in result.output
            found[" ".join(args)] = (result.exit_code, result.output.splitlines()[-1])
        return found

    def same(found: dict[str, tuple[int, str]], status: int, message: str) -> None:
        for command, (code, line) in found.items():
            assert code == status, (command, line)
            assert line.startswith("irisxe-sriov-ctl: error: ") and message in line, command

    before = snapshot(guests.root)
    # bad input (2): a VF that is not configured, in every command that picks a VF
    unknown = statuses(
        ["snippet", "qemu", "--vf", "9"],
        ["snippet", "proxmox", "100", "--vf", "9"],
        ["attach", "proxmox", "100", "--vf", "9"],
        ["attach", "libvirt", "test", "--vf", "9", *libvirt],
        ["attach", "incus", "vm1", "--vf", "9", "--dry-run"],
    )
    same(unknown, 2, "'9' is not a configured VF: allowed 1-4")
    # a state (1): the VF is a guest's already
    taken = statuses(
        ["snippet", "qemu", "--vf", "2"],
        ["attach", "proxmox", "101", "--vf", "2"],
        ["attach", "libvirt", "test", "--vf", "2", *libvirt],
    )
    same(taken, 1, "VF 2 (0000:00:02.2) is already given to proxmox 100")
    assert snapshot(guests.root) == before

    # a state (1): no free VF, and no render node for containers
    for function in ("3", "4"):
        taking = WIN11.replace("function='0x1'", f"function='0x{function}'")
        (guests.root / f"etc/libvirt/qemu/vm{function}.xml").write_text(taking)
    none_free = statuses(
        ["snippet", "qemu"],
        ["snippet", "incus", "vm1"],
        ["attach", "proxmox", "100"],
        ["attach", "libvirt", "test", *libvirt],
    )
    same(none_free, 1, "no free VF with role vfio or none")
    for node in (guests.device_dir(PF) / "drm").iterdir():
        node.rmdir()
    same(statuses(["snippet", "docker"], ["snippet", "podman"]), 1, "no render node")

    # bad input (2): a settings file out of range, whichever command reads it
    (guests.root / "etc/default/irisxe-sriov").write_text('NUM_VFS="9"\n')
    before = snapshot(guests.root)
    settings = statuses(
        ["status"],
        ["kernels"],
        ["config", "show"],
        ["config", "set", "driver=xe"],
        ["apply"],
        ["vfs", "restore"],
        ["vfs", "roles"],
        ["snippet", "qemu"],
        ["snippet", "docker"],
        ["attach", "proxmox", "100"],
    )
    same(settings, 2, "num_vfs: 9 is out of range: allowed 0-7")
    assert snapshot(guests.root) == before
