"""docs/examples/ansible/site.yml run by Debian's ansible-core in a Debian 13 chroot
(connection local, the chroot being the managed host), with the selections
`irisxe-sriov-ctl config export --preseed` wrote on a fake reference host: the package
installs with exactly those settings and their generated files, and a second run of the
playbook changes nothing. The GPU is a fake sysfs tree in the chroot's /sys; the driver
package is the stand-in (tests/harness/chroot.py)."""

import re
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

import fakesys
from chroot import DEPENDENCIES, PIN, SOURCE, chroot_on, run_with_proc
from fakesys import FakeSystem
from irisxe_sriov.cli.commands import cli
from irisxe_sriov.report import contract

ANSIBLE_BASE = (*DEPENDENCIES, "apt-utils", "ansible-core", "sudo")
PLAY = "/root/play"
RUN = (
    f"cd {PLAY} && ansible-playbook -i localhost, -c local -e irisxe_hosts=localhost "
    "-e irisxe_require_doctor_ok=false site.yml"
)


def reference_selections(tmp_path: Path) -> str:
    """What `config export --preseed` prints on a reference host with these settings."""
    reference = FakeSystem(tmp_path / "reference")
    reference.healthy(driver="xe", numvfs=3)
    fakesys.write(
        reference.root / "etc/default/irisxe-sriov",
        'DRIVER="xe"\nNUM_VFS="3"\nBOOTLOADER="none"\nVF_ROLES="2:none 3:host"\n'
        'KERNEL_HOLD="off"\n',
    )
    done = CliRunner().invoke(cli, ["--root", str(reference.root), "config", "export", "--preseed"])
    assert done.exit_code == 0, done.output
    return done.output


@pytest.fixture
def box(tmp_path):
    with chroot_on("ansible", ANSIBLE_BASE, tmp_path / "box") as made:
        yield made


def recap(output: str) -> dict[str, int]:
    match = re.search(r"localhost\s*:\s*(.*)", output.split("PLAY RECAP", 1)[1])
    assert match, output[-2000:]
    return {key: int(value) for key, value in re.findall(r"(\w+)=(\d+)", match.group(1))}


def test_the_playbook_installs_what_was_exported_and_a_second_run_changes_nothing(
    box, tmp_path, package, standin
):
    selections = reference_selections(tmp_path)
    assert "irisxe-sriov irisxe-sriov/num_vfs select 3\n" in selections
    play = box.path(PLAY)
    shutil.copytree(SOURCE / "docs/examples/ansible", play)
    (play / "irisxe-sriov.preseed").write_text(selections)
    box.copy_in(package, f"{PLAY}/debs/irisxe-sriov.deb")
    box.copy_in(standin, f"{PLAY}/debs/i915-sriov-dkms_{PIN}_amd64.deb")
    FakeSystem(box.root).add_gpu(device="a7a0", driver=None, totalvfs=None)

    first = run_with_proc(box, RUN, timeout=900)
    assert first.returncode == 0, first.stdout[-4000:]
    assert recap(first.stdout)["failed"] == 0 and recap(first.stdout)["changed"] > 0
    settings = box.read("/etc/default/irisxe-sriov")
    for line in ('DRIVER="xe"', 'NUM_VFS="3"', 'BOOTLOADER="none"', 'VF_ROLES="2:none 3:host"',
                 'KERNEL_HOLD="off"'):  # fmt: skip
        assert f"\n{line}\n" in f"\n{settings}", (line, settings)
    # the host exports what the reference exported: the same settings, whole
    exported = box.run("irisxe-sriov-ctl config export --preseed").stdout
    assert exported == selections
    assert "xe" in box.read("/etc/modprobe.d/irisxe-sriov.conf")
    # the play reported doctor's findings (this chroot has no working GPU: not required)
    assert f"schema {contract.SCHEMA_VERSION}: {{" in first.stdout

    second = run_with_proc(box, RUN, timeout=900)
    assert second.returncode == 0, second.stdout[-4000:]
    assert recap(second.stdout)["changed"] == 0, second.stdout[-4000:]
    assert box.read("/etc/default/irisxe-sriov") == settings
