import os
import shutil
import subprocess
import tempfile
import threading
from pathlib import Path

import pytest
from click.testing import CliRunner

from irisxe_sriov import process
from irisxe_sriov.cli.commands import cli
from irisxe_sriov.machine import reader
from irisxe_sriov.paths import Paths
from irisxe_sriov.write import apply, configure, plan
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
    lines: list[str] = []
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
        def run(self, argv, optional=False, debconf=False, quiet=False):
            return 3

    with pytest.raises(apply.ApplyError) as raised:
        apply.execute(p, paths, FailingRunner(True, print), print)
    assert str(raised.value) == (
        "update-grub failed with exit status 3; update-initramfs -u -k all failed with exit "
        "status 3; the files are written and the next apply runs it again"
    )
    assert (fake.root / "run/reboot-required").exists()  # the files did change
    # remembered: the next plan, with no file to change, still runs both (docs/notes.md, "Hostile
    # input")
    again = configure.make_plan(paths, judged(paths.root, "change", None, True), None)
    assert not again.pending and not again.empty
    assert again.commands == (("update-grub",), ("update-initramfs", "-u", "-k", "all"))
    assert reader.pending_refreshes(paths) == ["update-grub", "update-initramfs -u -k all"]
    lines: list[str] = []
    apply.execute(again, paths, process.Runner(False, lines.append), lines.append)
    assert lines == ["would run: update-grub", "would run: update-initramfs -u -k all"]
    assert reader.pending_refreshes(paths) == []
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


def test_lock_serialises_two_applies(tmp_path):
    """A second run waits for the first, and says for what (no sleep here: the main
    thread waits for the second run's announcement)."""
    paths = Paths(tmp_path)
    order = []
    waiting = threading.Event()

    def announce(line: str) -> None:
        order.append(line)
        waiting.set()

    def second():
        with apply.locked(paths, announce):
            order.append("second")

    with apply.locked(paths):
        thread = threading.Thread(target=second)
        thread.start()
        assert waiting.wait(30), "the second run did not wait for the first"
        order.append("first")
    thread.join()
    assert order == [
        f"waiting for process {os.getpid()} (python3), which holds "
        "/var/lib/irisxe-sriov/lock (at most 300 s)",
        "first",
        "second",
    ]


def world_traversable_root() -> Path:
    """A root every user can walk into (pytest's own tmp is root's alone, which would make
    the permission tests below pass for the wrong reason)."""
    root = Path(tempfile.mkdtemp(prefix="irisxe-lock."))
    root.chmod(0o755)
    return root


def test_only_root_can_take_the_lock_and_a_waiting_run_gives_up(fake):
    """The lock is root's alone (0600 in a 0755 directory): another user cannot open it,
    so cannot flock it and stall dpkg, config set or the boot unit. A run that finds it
    held (here by the real flock(1)) waits at most its bound, naming the holder, and
    fails with exit 1."""
    root = world_traversable_root()
    try:
        paths = Paths(root)
        with apply.locked(paths):
            pass
        assert oct(paths.lock.stat().st_mode & 0o777) == "0o600"
        assert oct(paths.state_dir.stat().st_mode & 0o777) == "0o755"
        as_nobody = ["runuser", "-u", "nobody", "--", "flock", "-n", str(paths.lock), "true"]
        refused = subprocess.run(as_nobody, capture_output=True, text=True, check=False)
        assert refused.returncode != 0 and "Permission denied" in refused.stderr
        (paths.state_dir / "readable").write_text("")  # the directory itself is open to all
        readable = ["runuser", "-u", "nobody", "--", "cat", str(paths.state_dir / "readable")]
        assert subprocess.run(readable, check=False).returncode == 0
        holder = subprocess.Popen(
            ["flock", str(paths.lock), "cat"], stdin=subprocess.PIPE, stdout=subprocess.DEVNULL
        )
        try:
            lines: list[str] = []
            while not lines:  # until flock(1) has it: our attempt announces the wait
                try:
                    with apply.locked(paths, lines.append, timeout=0.3):
                        lines.clear()  # not held yet: give flock(1) its turn
                except apply.LockBusy as busy:
                    error = busy
                    break
            assert lines == [
                f"waiting for process {holder.pid} (flock), which holds "
                "/var/lib/irisxe-sriov/lock (at most 0.3 s)"
            ]
            assert str(error) == (
                f"process {holder.pid} (flock) held /var/lib/irisxe-sriov/lock for 0.3 s: "
                "gave up; try again once it has finished"
            )
            assert error.status == 1
        finally:
            assert holder.stdin is not None
            holder.stdin.close()
            holder.wait()
    finally:
        shutil.rmtree(root)


@pytest.mark.parametrize("mask", [0o000, 0o077])
def test_modes_do_not_follow_the_umask(fake, mask):
    """Whatever the caller's umask, what we create has the mode we choose (Debian policy
    10.9): directories 0755, files 0644, the lock and the journal root's alone."""
    fake.healthy(numvfs=2)
    (fake.root / "etc/modprobe.d").mkdir(parents=True, exist_ok=True)
    old = os.umask(mask)
    try:
        result = CliRunner().invoke(cli, ["--root", str(fake.root), "config", "set", "num_vfs=2"])
    finally:
        os.umask(old)
    assert result.exit_code == 0, result.output

    def mode(path: str) -> str:
        return oct((fake.root / path).stat().st_mode & 0o777)

    assert mode("var/lib/irisxe-sriov") == "0o755"
    assert mode("var/lib/irisxe-sriov/lock") == "0o600"
    assert mode("var/lib/irisxe-sriov/written") == "0o755"
    assert mode("etc/sysfs.d") == "0o755"  # made by this run
    assert mode("etc/default/grub.d/irisxe-sriov.cfg") == "0o644"
    assert mode("var/lib/irisxe-sriov/managed") == "0o644"
