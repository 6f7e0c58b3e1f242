import os
import threading
from pathlib import Path

import pytest

from irisxe_sriov import apply, configure, host, plan, process
from irisxe_sriov.paths import Paths
from judged import judged


def test_atomic_write_replaces_and_reports_new_directories(tmp_path):
    target = tmp_path / "a" / "b" / "file"
    assert apply.atomic_write(target, "one\n") == [tmp_path / "a", tmp_path / "a" / "b"]
    assert apply.atomic_write(target, "two\n") == []
    assert target.read_text() == "two\n"
    assert oct(target.stat().st_mode & 0o777) == "0o644"
    assert [p.name for p in target.parent.iterdir()] == ["file"]  # no temporary left behind


def test_failed_write_leaves_the_old_file_and_no_temporary(tmp_path, monkeypatch):
    target = tmp_path / "file"
    target.write_text("old\n")

    def broken_fsync(descriptor):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", broken_fsync)
    with pytest.raises(OSError):
        apply.atomic_write(target, "new\n")
    assert target.read_text() == "old\n"
    assert [p.name for p in tmp_path.iterdir()] == ["file"]


def test_execute_writes_deletes_records_and_announces(fake):
    fake.healthy()
    paths = Paths(fake.root)
    read = judged(paths.root, "change", {"num_vfs": "3"}, True)
    lines = []
    first = configure.make_plan(paths, read, None)
    apply.execute(first, paths, process.Runner(False, lines.append), lines.append)
    assert "would run: update-initramfs -u -k all" in lines
    assert "would run: update-grub" in lines
    assert (fake.root / "run/reboot-required.pkgs").read_text() == "irisxe-sriov\n"
    manifest = paths.manifest.read_text().splitlines()
    assert "/etc/driverctl.d/pci-0000:00:02.3" in manifest
    assert "/etc/default/grub.d/irisxe-sriov.cfg" in manifest
    # the second plan for the same configuration is empty
    again = configure.make_plan(paths, judged(paths.root, "change", {"num_vfs": "3"}, True), None)
    assert again.empty
    # fewer VFs: the override of VF 3 goes
    fewer = configure.make_plan(paths, judged(paths.root, "change", {"num_vfs": "2"}, True), None)
    assert {c.path: c.action for c in fewer.pending} == {
        "/etc/driverctl.d/pci-0000:00:02.3": plan.DELETE,
        "/etc/sysfs.d/irisxe-sriov.conf": plan.UPDATE,
    }
    assert fewer.commands == () and not fewer.reboot
    apply.execute(fewer, paths, process.Runner(False, lines.append), lines.append)
    assert not (fake.root / "etc/driverctl.d/pci-0000:00:02.3").exists()
    assert "/etc/driverctl.d/pci-0000:00:02.3" not in paths.manifest.read_text()


def test_failing_command_is_an_apply_error(fake, tmp_path):
    fake.healthy()
    paths = Paths(fake.root)
    p = configure.make_plan(paths, judged(paths.root, "change", None, True), None)

    class FailingRunner(process.Runner):
        def run(self, argv, optional=False):
            return 3

    with pytest.raises(apply.ApplyError) as raised:
        apply.execute(p, paths, FailingRunner(True, print), print)
    assert str(raised.value) == (
        "update-grub failed with exit status 3; update-initramfs -u -k all failed with exit "
        "status 3; the files are written and the next apply runs it again"
    )
    assert (fake.root / "run/reboot-required").exists()  # the files did change
    # remembered: the next plan, with no file to change, still runs both (issue 11)
    again = configure.make_plan(paths, judged(paths.root, "change", None, True), None)
    assert not again.pending and not again.empty
    assert again.commands == (("update-grub",), ("update-initramfs", "-u", "-k", "all"))
    assert host.pending_refreshes(paths) == ["update-grub", "update-initramfs -u -k all"]
    lines = []
    apply.execute(again, paths, process.Runner(False, lines.append), lines.append)
    assert lines == ["would run: update-grub", "would run: update-initramfs -u -k all"]
    assert host.pending_refreshes(paths) == []
    assert configure.make_plan(paths, judged(paths.root, "change", None, True), None).empty


def test_the_reboot_notice_names_the_package_once(fake):
    """Debian's /run/reboot-required.pkgs lists the packages that asked for the reboot:
    irisxe-sriov once however many applies ask before it, after what others wrote."""
    fake.healthy()
    paths = Paths(fake.root)
    listed = fake.root / "run/reboot-required.pkgs"
    listed.parent.mkdir(parents=True)
    listed.write_text("linux-image-6.12.48+deb13-amd64\n")  # a kernel upgrade's notice
    lines: list[str] = []
    for driver in ("i915", "xe", "i915"):  # each apply changes the kernel command line
        p = configure.make_plan(paths, judged(paths.root, "change", {"driver": driver}, True), None)
        assert p.reboot
        apply.execute(p, paths, process.Runner(False, lines.append), lines.append)
    assert lines.count("reboot needed: the kernel command line or module options changed") == 3
    assert listed.read_text() == "linux-image-6.12.48+deb13-amd64\nirisxe-sriov\n"
    notice = (fake.root / "run/reboot-required").read_text()
    assert notice == "*** System restart required ***\n"


def blocked_on(lock: Path) -> bool:
    """The kernel lists a process waiting for this file's flock ("->" in /proc/locks)."""
    inode = f":{lock.stat().st_ino} "
    return any(
        "-> FLOCK" in line and inode in line
        for line in Path("/proc/locks").read_text().splitlines()
    )


def test_lock_serialises_two_applies(tmp_path):
    paths = Paths(tmp_path)
    order = []

    def second():
        with apply.locked(paths):
            order.append("second")

    with apply.locked(paths):
        thread = threading.Thread(target=second)
        thread.start()
        # no sleep: wait until the kernel has the second apply waiting for the lock
        while not blocked_on(paths.lock):
            thread.join(0.01)
            assert thread.is_alive(), "the second apply did not wait for the first"
        order.append("first")
    thread.join()
    assert order == ["first", "second"]
