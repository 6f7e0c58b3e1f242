"""Runtime VF work on fake roots: the order of sysfs writes, in-use detection, refusals.

The kernel's reaction to sriov_numvfs (VFs appearing) cannot happen in a fake sysfs: where
a test needs VFs they are laid out beforehand (tests/harness/fakesys.py, the GPU's test double).
The real kernel side runs in tests/vm/test_vm.py.
"""

import json
import os

import pytest
from click.testing import CliRunner

from fakesys import kernel_double
from irisxe_sriov.choices import VfRole
from irisxe_sriov.cli.commands import cli
from irisxe_sriov.machine import reader, users
from irisxe_sriov.paths import Paths
from irisxe_sriov.process import Runner
from irisxe_sriov.runtime import vfs
from irisxe_sriov.settings import Settings
from judged import judged

PF = "0000:00:02.0"


def restore(fake, settings, force=False, kernel=True):
    """restore's log for `settings` on the fake root; `kernel`: a double of the kernel
    makes the VFs a write of sriov_numvfs asks for (fakesys.kernel_double)."""
    lines: list[str] = []
    verdicts = judged(fake.root, "restore", settings=settings, strict=True)
    sysfs = kernel_double(fake, lines.append) if kernel else None
    vfs.restore(Paths(fake.root), verdicts, Runner(False, lines.append), lines.append, force, sysfs)
    return lines


def attribute(fake, address, name):
    return (fake.device_dir(address) / name).read_text().strip()


def test_restore_binds_per_role_overrides_first(fake):
    fake.add_gpu(numvfs=3, vf_drivers=["i915", None, None], autoprobe=1)
    (fake.sys / "bus/pci/drivers_probe").write_text("")
    lines = restore(fake, Settings(num_vfs=3, vf_roles={2: VfRole.NONE, 3: VfRole.HOST}))
    assert lines == [
        f"PF {PF}: driver_override i915",
        f"PF {PF}: sriov_drivers_autoprobe 0",
        "would run: modprobe vfio-pci",
        "VF 1 (0000:00:02.1): driver_override vfio-pci",
        "VF 2 (0000:00:02.2): driver_override none",
        "VF 3 (0000:00:02.3): driver_override i915",
        "VF 1 (0000:00:02.1): unbind from i915",
        "VF 1 (0000:00:02.1): bind to vfio-pci",
        "VF 3 (0000:00:02.3): bind to i915",
        f"VFs as configured: 3 on {PF}",
    ]
    assert attribute(fake, PF, "driver_override") == "i915"
    assert attribute(fake, PF, "sriov_drivers_autoprobe") == "0"
    assert attribute(fake, "0000:00:02.2", "driver_override") == "none"
    assert (fake.sys / "bus/pci/drivers_probe").read_text() == "0000:00:02.3\n"


def test_restore_is_idempotent(fake):
    fake.healthy(numvfs=2)
    for number in (1, 2):
        (fake.device_dir(f"0000:00:02.{number}") / "driver_override").write_text("vfio-pci\n")
    (fake.device_dir(PF) / "driver_override").write_text("i915\n")
    assert restore(fake, Settings(num_vfs=2)) == [f"VFs as configured: 2 on {PF}"]


def test_restore_changes_the_count_through_zero(fake):
    fake.healthy(numvfs=2)
    lines = restore(fake, Settings(num_vfs=3))
    assert lines[:3] == [
        f"PF {PF}: driver_override i915",
        f"PF {PF}: remove the VFs",
        f"PF {PF}: create 3 VFs",
    ]
    assert attribute(fake, PF, "sriov_numvfs") == "3"  # what the kernel was told last


def test_restore_without_pf_or_driver_waits(fake, tmp_path):
    assert restore(fake, Settings()) == [f"no PCI device at {PF}: nothing to restore"]
    fake.add_gpu(driver=None)
    assert restore(fake, Settings()) == [
        f"{PF} has no driver yet: the udev rule runs this again when it binds"
    ]


def test_restore_caps_at_what_the_pf_offers(fake):
    """A settings file asking for more VFs than sriov_totalvfs offers now (a max_vfs of
    the admin's, or fewer from the driver) makes what the PF offers, and says so: the
    boot unit must not fail for it."""
    fake.add_gpu(totalvfs=2)
    (fake.sys / "bus/pci/drivers_probe").write_text("")
    lines = restore(fake, Settings(num_vfs=3))
    assert f"num_vfs 3 is above the 2 VFs {PF} offers: making 2" in lines
    assert f"PF {PF}: create 2 VFs" in lines
    assert lines[-1] == f"VFs as configured: 2 on {PF}"


def test_restore_fails_and_names_each_vf_that_was_not_made(fake):
    """Where the write of sriov_numvfs made no VF (no kernel here to make them: the fake
    root's sysfs is files), restore fails, one line per VF, exit 1 from the CLI; it never
    reports success for VFs that do not exist."""
    fake.add_gpu(numvfs=1, vf_drivers=["vfio-pci"])
    with pytest.raises(vfs.VfsError) as raised:
        restore(fake, Settings(num_vfs=3), kernel=False)
    assert raised.value.problems == [
        f"VF 2 (0000:00:02.2) was not created: {PF} has 1 of 3 VFs; see 'irisxe-sriov-ctl doctor'",
        f"VF 3 (0000:00:02.3) was not created: {PF} has 1 of 3 VFs; see 'irisxe-sriov-ctl doctor'",
    ]
    fakesys_settings = fake.root / "etc/default/irisxe-sriov"
    fakesys_settings.parent.mkdir(parents=True)
    fakesys_settings.write_text('NUM_VFS="3"\n')
    result = run(fake.root, "vfs", "restore")
    assert result.exit_code == 1
    assert result.output.count("was not created") == 2
    assert "VFs as configured" not in result.output


def guest_using(fake, group: int | None, name: str, pid: int = 4242) -> None:
    """A process that holds /dev/vfio/<group>, as QEMU does for a passed-through VF."""
    assert group is not None, "the VF has no IOMMU group"
    (fake.root / "dev/vfio").mkdir(parents=True, exist_ok=True)
    (fake.root / f"dev/vfio/{group}").write_text("")
    process = fake.root / f"proc/{pid}"
    (process / "fd").mkdir(parents=True)
    (process / "fd/27").symlink_to(f"/dev/vfio/{group}")
    (process / "cmdline").write_text(
        "\0".join(["/usr/bin/qemu-system-x86_64", "-name", f"guest={name},debug-threads=on"])
    )


def test_in_use_from_open_vfio_groups_and_libvirt(fake):
    fake.healthy(numvfs=2)
    state = reader.scan(Paths(fake.root), PF)
    vf1, vf2 = state.vfs
    guest_using(fake, vf1.iommu_group, "win11")
    status = fake.root / "run/libvirt/qemu/ubuntu.xml"
    status.parent.mkdir(parents=True)
    status.write_text(  # libvirt's live domain XML, as /run/libvirt/qemu keeps it
        "<domstatus><domain type='kvm'><name>ubuntu</name><devices>"
        "<hostdev mode='subsystem' type='pci' managed='yes'><driver name='vfio'/><source>"
        "<address domain='0x0000' bus='0x00' slot='0x02' function='0x2'/></source>"
        "</hostdev></devices></domain></domstatus>"
    )
    known = users.read_usage(Paths(fake.root), state.vfs)
    assert known.users_of(vf1) == ["win11"]
    assert known.users_of(vf2) == ["ubuntu"]
    with pytest.raises(vfs.VfsError) as raised:
        restore(fake, Settings(num_vfs=3))
    assert str(raised.value) == (
        "VF 1 (0000:00:02.1) is in use by win11: will not change the "
        "VF count to 3; stop the guest or process first, or use --force"
    )
    assert attribute(fake, PF, "sriov_numvfs") == "2"  # nothing destroyed
    assert f"PF {PF}: remove the VFs" in restore(fake, Settings(num_vfs=3), force=True)


def run(root, *args):
    return CliRunner().invoke(cli, ["--root", str(root), *args])


def test_cli_vfs_set_refuses_a_busy_vf_and_changes_nothing(fake, snapshot):
    fake.healthy(numvfs=2)
    guest_using(fake, reader.scan(Paths(fake.root), PF).vfs[0].iommu_group, "win11")
    before = snapshot(fake.root)
    result = run(fake.root, "vfs", "set", "3")
    assert result.exit_code == 1
    assert result.output == (
        "irisxe-sriov-ctl: error: VF 1 (0000:00:02.1) is in use by win11: "
        "will not change the VF count to 3; stop the guest or process first, or use "
        "--force\n"
    )
    assert snapshot(fake.root) == before
    bad = run(fake.root, "vfs", "set", "9")
    assert bad.exit_code == 2 and "num_vfs: 9 is out of range: allowed 0-7" in bad.output


def test_cli_vfs_set_writes_settings_and_restores(fake):
    fake.healthy(numvfs=2)
    result = run(fake.root, "vfs", "set", "2")
    assert result.exit_code == 0, result.output
    assert 'NUM_VFS="2"' in (fake.root / "etc/default/irisxe-sriov").read_text()
    assert f"VFs as configured: 2 on {PF}" in result.output


def test_cli_vfs_roles_show_and_set(fake):
    fake.healthy(numvfs=2)
    run(fake.root, "config", "set", "num_vfs=2")
    shown = run(fake.root, "vfs", "roles")
    assert shown.output.splitlines()[1:] == [
        "1   0000:00:02.1  vfio  vfio-pci  vfio-pci",
        "2   0000:00:02.2  vfio  vfio-pci  vfio-pci",
    ]
    changed = run(fake.root, "vfs", "roles", "2:none")
    assert changed.exit_code == 0, changed.output
    assert "VF 2 (0000:00:02.2): unbind from vfio-pci" in changed.output
    assert 'VF_ROLES="2:none"' in (fake.root / "etc/default/irisxe-sriov").read_text()
    bad = run(fake.root, "vfs", "roles", "2:gpu")
    assert bad.exit_code == 2
    assert "role 'gpu' of VF 2 is not one of vfio, host, none" in bad.output


def test_status_shows_who_uses_a_vf(fake):
    fake.healthy(numvfs=2)
    guest_using(fake, reader.scan(Paths(fake.root), PF).vfs[1].iommu_group, "win11")
    doc = json.loads(run(fake.root, "status", "--json").output)
    assert [vf["in_use_by"] for vf in doc["vfs"][:2]] == [[], ["win11"]]
    assert "win11" in run(fake.root, "status").output


def test_sysfs_writes_stay_inside_the_root_through_absolute_links(fake):
    """A root whose /sys/bus/pci/devices links are absolute (a copied or bind-mounted sysfs):
    every link resolves in the root. /irisxe-test-sys does not exist on the host, so a write
    that left the root would fail instead of reaching a real device (docs/notes.md, "Hostile
    input")."""
    fake.healthy(numvfs=2)
    devices = fake.sys / "bus/pci/devices"
    for link in sorted(devices.iterdir()):
        hop = fake.root / "irisxe-test-sys" / link.name
        hop.parent.mkdir(exist_ok=True)
        hop.symlink_to(os.path.relpath(link.resolve(), hop.parent))
        link.unlink()
        link.symlink_to(f"/irisxe-test-sys/{link.name}")
    (fake.sys / "bus/pci/drivers_probe").write_text("")
    lines = restore(fake, Settings(num_vfs=2, vf_roles={2: VfRole.NONE}))
    assert lines[-1] == f"VFs as configured: 2 on {PF}"
    assert attribute(fake, PF, "driver_override") == "i915"
    assert attribute(fake, "0000:00:02.1", "driver_override") == "vfio-pci"
    assert attribute(fake, "0000:00:02.2", "driver_override") == "none"
    assert not (fake.root / "irisxe-test-sys/0000:00:02.1/driver_override").is_symlink()


def test_restore_skips_a_vf_whose_device_is_gone(fake):
    """A virtfn link whose target is gone is no VF (reader.read_vfs): restore binds the VFs
    that exist and names the missing one. Taken for a VF, the link made restore write a
    driver_override where there is no device, and fail before binding any VF."""
    fake.add_gpu(numvfs=1)
    (fake.device_dir(PF) / "sriov_numvfs").write_text("2\n")
    (fake.device_dir(PF) / "virtfn1").symlink_to("../0000:00:02.2")
    (fake.sys / "bus/pci/drivers_probe").write_text("")
    lines: list[str] = []
    with pytest.raises(vfs.VfsError) as raised:
        vfs.restore(
            Paths(fake.root),
            judged(fake.root, "restore", settings=Settings(num_vfs=2), strict=True),
            Runner(False, lines.append),
            lines.append,
        )
    assert lines == [
        f"PF {PF}: driver_override i915",
        "would run: modprobe vfio-pci",
        "VF 1 (0000:00:02.1): driver_override vfio-pci",
        "VF 1 (0000:00:02.1): bind to vfio-pci",
    ]
    assert raised.value.problems == [
        f"VF 2 (0000:00:02.2) was not created: {PF} has 1 of 2 VFs; see 'irisxe-sriov-ctl doctor'"
    ]
    assert attribute(fake, "0000:00:02.1", "driver_override") == "vfio-pci"


@pytest.mark.parametrize(("pf_driver", "configured"), [("i915", "xe"), ("xe", "i915")])
def test_host_role_vfs_follow_the_pfs_driver(fake, pf_driver, configured):
    """A host VF is bound to the driver the PF runs now, not the one configured: after a
    driver switch and before the reboot the PF still runs the old one, and only that one
    can take its VFs."""
    fake.add_gpu(driver=pf_driver, numvfs=2)
    (fake.sys / "bus/pci/drivers_probe").write_text("")
    lines = restore(
        fake, Settings(driver=configured, num_vfs=2, vf_roles={1: VfRole.HOST, 2: VfRole.HOST})
    )
    assert lines == [
        f"PF {PF}: driver_override {pf_driver}",
        f"PF {PF}: sriov_drivers_autoprobe 1",  # host VFs only: the kernel may bind them
        f"VF 1 (0000:00:02.1): driver_override {pf_driver}",
        f"VF 2 (0000:00:02.2): driver_override {pf_driver}",
        f"VF 1 (0000:00:02.1): bind to {pf_driver}",
        f"VF 2 (0000:00:02.2): bind to {pf_driver}",
        f"VFs as configured: 2 on {PF}",
    ]


def test_restore_refuses_to_rebind_a_vf_a_guest_uses(fake, snapshot):
    """The boot unit and `vfs restore` move a VF to its role's driver; a VF a guest holds
    is left alone (rebinding it pulls the device from under the guest) unless --force. A
    busy VF that stays where it is does not stop the others."""
    fake.healthy(numvfs=2)
    guest_using(fake, reader.scan(Paths(fake.root), PF).vfs[0].iommu_group, "win11")
    (fake.sys / "bus/pci/drivers_probe").write_text("")
    before = snapshot(fake.root)
    with pytest.raises(vfs.VfsError) as raised:
        restore(fake, Settings(num_vfs=2, vf_roles={1: VfRole.NONE}))
    assert str(raised.value) == (
        "VF 1 (0000:00:02.1) is in use by win11: will not rebind it; "
        "stop the guest or process first, or use --force"
    )
    assert attribute(fake, "0000:00:02.1", "driver_override") == "(null)"
    # only the PF's own override was written before the refusal
    after = snapshot(fake.root)
    changed = {name for name, content in after.items() if content != before.get(name)}
    assert changed == {"sys/devices/pci0000:00/0000:00:02.0/driver_override"}
    # VF 1 stays on vfio-pci: VF 2 may move although VF 1 is busy
    lines = restore(fake, Settings(num_vfs=2, vf_roles={2: VfRole.NONE}))
    assert "VF 2 (0000:00:02.2): unbind from vfio-pci" in lines
    forced = restore(fake, Settings(num_vfs=2, vf_roles={1: VfRole.NONE}), force=True)
    assert "VF 1 (0000:00:02.1): unbind from vfio-pci" in forced


def test_cli_vfs_roles_refuses_to_rebind_a_busy_vf_and_force_overrides(fake, snapshot):
    fake.healthy(numvfs=2)
    assert run(fake.root, "config", "set", "num_vfs=2").exit_code == 0
    guest_using(fake, reader.scan(Paths(fake.root), PF).vfs[0].iommu_group, "win11")
    before = snapshot(fake.root)
    refused = run(fake.root, "vfs", "roles", "1:none")
    assert refused.exit_code == 1
    assert refused.output == (
        "irisxe-sriov-ctl: error: VF 1 (0000:00:02.1) is in use by win11: will not rebind "
        "it; stop the guest or process first, or use --force\n"
    )
    assert snapshot(fake.root) == before  # neither the settings nor sysfs
    # a role change of a VF nobody uses goes ahead while VF 1 is busy
    other = run(fake.root, "vfs", "roles", "2:none")
    assert other.exit_code == 0, other.output
    assert "VF 2 (0000:00:02.2): unbind from vfio-pci" in other.output
    forced = run(fake.root, "vfs", "roles", "1:none", "--force")
    assert forced.exit_code == 0, forced.output
    assert "VF 1 (0000:00:02.1): unbind from vfio-pci" in forced.output
    assert 'VF_ROLES="1:none 2:none"' in (fake.root / "etc/default/irisxe-sriov").read_text()


def test_cli_vfs_set_force_destroys_a_busy_vf(fake):
    """--force goes past the guest; the fake root has no kernel to make the third VF, so
    the command then fails naming it (on a host the kernel makes it: tests/vm/test_vm.py)."""
    fake.healthy(numvfs=2)
    guest_using(fake, reader.scan(Paths(fake.root), PF).vfs[0].iommu_group, "win11")
    forced = run(fake.root, "vfs", "set", "3", "--force")
    assert f"PF {PF}: remove the VFs\nPF {PF}: create 3 VFs\n" in forced.output
    assert attribute(fake, PF, "sriov_numvfs") == "3"
    assert forced.exit_code == 1
    assert "VF 3 (0000:00:02.3) was not created" in forced.output


def test_at_boot_restore_waits_for_the_pf_driver(fake):
    """The boot unit's `--wait`: while no driver has bound the PF it looks again until
    one does (here the bind happens as the wait begins), at most the given seconds; a
    PF that stays unbound ends the wait and leaves it to the udev rule."""
    fake.add_gpu(driver=None, numvfs=0)
    waited: list[str] = []

    def bind_now(line: str) -> None:
        waited.append(line)
        fake.bind(PF, "i915")  # the driver binds while restore waits

    assert vfs.wait_for_driver(Paths(fake.root), PF, 30, bind_now)
    assert waited == [f"{PF} has no driver yet: waiting up to 30 s for it to bind"]
    (fake.device_dir(PF) / "driver").unlink()
    assert not vfs.wait_for_driver(Paths(fake.root), PF, 0.2, lambda line: None)
    result = run(fake.root, "vfs", "restore", "--wait", "0.2")
    assert result.exit_code == 0, result.output
    assert result.output.splitlines() == [
        f"{PF} has no driver yet: waiting up to 0.2 s for it to bind",
        f"{PF} has no driver yet: the udev rule runs this again when it binds",
    ]


def container_holding(fake, node: str, pid: int = 4343) -> None:
    """A process in a Docker container with a VF's render node open (docker run
    --device): its fd links to the node as the container names it."""
    (fake.root / "dev/dri").mkdir(parents=True, exist_ok=True)
    (fake.root / f"dev/dri/{node}").write_text("")
    process = fake.root / f"proc/{pid}"
    (process / "fd").mkdir(parents=True)
    (process / "fd/0").symlink_to("/dev/null")
    (process / "fd/5").symlink_to(f"/dev/dri/{node}")
    (process / "cmdline").write_text("/usr/bin/ffmpeg\0-hwaccel\0vaapi\0")
    (process / "cgroup").write_text(
        "0::/system.slice/docker-0123456789abcdef0123456789abcdef.scope\n"
    )


def test_a_process_holding_a_vfs_render_node_is_a_user(fake, snapshot):
    """A container transcoding on a host-role VF's render node uses that VF: rebinding
    the VF (or destroying it) is refused naming the process and its container, as for a
    guest; --force goes ahead. The PF's own render node is not a VF's."""
    fake.add_gpu(numvfs=2, vf_drivers=["i915", "vfio-pci"])
    write_settings = fake.root / "etc/default/irisxe-sriov"
    write_settings.parent.mkdir(parents=True)
    write_settings.write_text('NUM_VFS="2"\nVF_ROLES="1:host"\n')
    container_holding(fake, "renderD129")  # VF 1's node (fakesys: renderD129 for VF 1)
    container_holding(fake, "renderD128", pid=4444)  # the PF's: no VF's user
    state = reader.scan(Paths(fake.root), PF)
    known = users.read_usage(Paths(fake.root), state.vfs)
    user = "ffmpeg (pid 4343) in docker container 0123456789ab"
    assert [known.users_of(vf) for vf in state.vfs] == [[user], []]
    doc = json.loads(run(fake.root, "status", "--json").output)
    assert [vf["in_use_by"] for vf in doc["vfs"]] == [[user], []]
    before = snapshot(fake.root)
    refused = run(fake.root, "vfs", "roles", "1:vfio")
    assert refused.exit_code == 1
    assert refused.output == (
        f"irisxe-sriov-ctl: error: VF 1 (0000:00:02.1) is in use by {user}: will not rebind "
        "it; stop the guest or process first, or use --force\n"
    )
    assert snapshot(fake.root) == before
    assert run(fake.root, "vfs", "set", "1").exit_code == 1  # destroying it: refused too
    forced = run(fake.root, "vfs", "roles", "1:vfio", "--force")
    assert "VF 1 (0000:00:02.1): unbind from i915" in forced.output
