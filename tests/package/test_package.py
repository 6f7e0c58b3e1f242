"""The built .deb in Debian 13 chroots, with the real dpkg, apt, debconf, ucf and lintian.

The upstream i915-sriov-dkms .deb cannot be had here: a stand-in package of the same name
and version (tests/harness/chroot.py: build_standin_driver) takes its place. The GPU is a fake
sysfs tree inside the chroot's own /sys directory where a test needs one.
"""

import contextlib
import hashlib
import os
import pty
import select
import signal
import time
from pathlib import Path

import pytest

from chroot import Chroot, build_standin_driver, default_settings_file, install, settings_values
from fakesys import FakeSystem, install_kernel
from irisxe_sriov import pin

OURS = (
    "/etc/default/irisxe-sriov",
    "/etc/modprobe.d/irisxe-sriov.conf",
    "/etc/sysfs.d/irisxe-sriov.conf",
    "/etc/driverctl.d",
    "/etc/default/grub.d/irisxe-sriov.cfg",
    "/var/lib/irisxe-sriov",
)


def state_of(box: Chroot, host_paths: list[str]) -> dict[str, tuple[str, int]]:
    """Content hash and mtime of each file (and of every file below each directory)."""
    state = {}
    for host_path in host_paths:
        path = box.path(host_path)
        files = sorted(path.rglob("*")) if path.is_dir() else [path]
        for file in files:
            if file.is_file():
                state[str(file)] = (
                    hashlib.sha256(file.read_bytes()).hexdigest(),
                    file.stat().st_mtime_ns,
                )
    return state


def listing(box: Chroot) -> set[str]:
    """Every path in the chroot but those that change whatever package is installed."""
    volatile = (
        "/var/log/",
        "/var/cache/",
        "/var/lib/apt/",
        "/var/lib/dpkg/",
        "/run/",
        "/tmp/",
        "/root/debs/",
    )
    paths = set()
    for path in box.root.rglob("*"):
        host_path = "/" + str(path.relative_to(box.root))
        if not host_path.startswith(volatile) and not (
            # ucf keeps rotated copies of its registry and hash file by itself
            host_path.startswith("/var/lib/ucf/") and host_path[-2:-1] == "."
        ):
            paths.add(host_path)
    return paths


def test_lintian_reports_no_error_and_no_warning(chroot):
    done = chroot.run(
        "lintian --fail-on error,warning --no-tag-display-limit /root/debs/irisxe-sriov.deb",
        check=False,
    )
    assert done.returncode == 0, done.stdout
    assert not [line for line in done.stdout.splitlines() if line[:2] in ("E:", "W:")]


def test_preseeded_install_i915_with_4_vfs(chroot):
    FakeSystem(chroot.root).add_gpu(driver=None, totalvfs=None)  # stock driver not bound yet
    chroot.run("touch /root/marker")
    output = install(chroot, {"driver": "i915", "num_vfs": "4", "bootloader": "none"})
    assert "Preconfiguring packages" in output  # the config ran before unpack, harmlessly
    written = chroot.run(
        "find /etc /var/lib/irisxe-sriov -newer /root/marker -type f "
        "-not -path '/etc/ld.so.cache' | sort"
    ).stdout.split()
    assert written == [
        "/etc/default/irisxe-sriov",
        "/etc/driverctl.d/pci-0000:00:02.1",
        "/etc/driverctl.d/pci-0000:00:02.2",
        "/etc/driverctl.d/pci-0000:00:02.3",
        "/etc/driverctl.d/pci-0000:00:02.4",
        "/etc/modprobe.d/irisxe-sriov.conf",
        "/etc/sysfs.d/irisxe-sriov.conf",
        "/etc/udev/rules.d/70-irisxe-sriov.rules",
        "/var/lib/irisxe-sriov/lock",
        "/var/lib/irisxe-sriov/managed",
        # what purge runs: initramfs-tools' trigger, our module options leave the initrd
        "/var/lib/irisxe-sriov/purge-refresh",
        # what was written, to tell a local edit from our own writes (docs/notes.md, "Hostile
        # input")
        "/var/lib/irisxe-sriov/written/etc:driverctl.d:pci-0000:00:02.1",
        "/var/lib/irisxe-sriov/written/etc:driverctl.d:pci-0000:00:02.2",
        "/var/lib/irisxe-sriov/written/etc:driverctl.d:pci-0000:00:02.3",
        "/var/lib/irisxe-sriov/written/etc:driverctl.d:pci-0000:00:02.4",
        "/var/lib/irisxe-sriov/written/etc:modprobe.d:irisxe-sriov.conf",
        "/var/lib/irisxe-sriov/written/etc:sysfs.d:irisxe-sriov.conf",
        "/var/lib/irisxe-sriov/written/etc:udev:rules.d:70-irisxe-sriov.rules",
    ]
    assert chroot.read("/var/lib/irisxe-sriov/purge-refresh") == (
        "dpkg-trigger --no-await update-initramfs\n"
    )
    assert settings_values(chroot) == {
        **default_settings_file(),
        "DRIVER": "i915",
        "NUM_VFS": "4",
        "BOOTLOADER": "none",
    }
    modprobe = chroot.read("/etc/modprobe.d/irisxe-sriov.conf")
    assert "\noptions i915 enable_guc=3 max_vfs=7\n" in modprobe and "\nblacklist xe\n" in modprobe
    sysfs = chroot.read("/etc/sysfs.d/irisxe-sriov.conf")
    assert sysfs.endswith(
        "bus/pci/devices/0000:00:02.0/sriov_drivers_autoprobe = 0\n"
        "bus/pci/devices/0000:00:02.0/sriov_numvfs = 4\n"
    )
    for number in range(1, 5):
        assert chroot.read(f"/etc/driverctl.d/pci-0000:00:02.{number}") == "vfio-pci\n"
    assert chroot.read("/run/reboot-required.pkgs") == "irisxe-sriov\n"
    registered = [
        line.split()[-1]
        for line in chroot.read("/var/lib/ucf/registry").splitlines()
        if line.split()[0] == "irisxe-sriov"
    ]
    assert registered == [path for path in written if path.startswith("/etc/")]


def test_preseeded_install_xe_with_2_vfs_on_a_fake_gpu(chroot):
    fake = FakeSystem(chroot.root)
    fake.add_gpu(device="a7a0", driver=None, totalvfs=None)  # stock driver not bound yet
    chroot.write("/etc/kernel/cmdline", "root=UUID=1234 ro quiet\n")
    install(
        chroot, {"driver": "xe", "num_vfs": "2", "bootloader": "systemd-boot", "vf_unbound": "2"}
    )
    assert settings_values(chroot)["VF_ROLES"] == "2:none"
    assert "options xe max_vfs=7 force_probe=a7a0\n" in chroot.read(
        "/etc/modprobe.d/irisxe-sriov.conf"
    )
    assert chroot.read("/etc/kernel/cmdline") == (
        "root=UUID=1234 ro quiet intel_iommu=on xe.max_vfs=7 xe.force_probe=a7a0 "
        "module_blacklist=i915\n"
    )
    assert sorted(p.name for p in chroot.path("/etc/driverctl.d").iterdir()) == ["pci-0000:00:02.1"]
    assert "sriov_numvfs = 2\n" in chroot.read("/etc/sysfs.d/irisxe-sriov.conf")


def test_reconfigure_without_change_modifies_nothing_and_runs_nothing(chroot):
    chroot.write("/etc/kernel/cmdline", "root=UUID=1234 ro quiet\n")
    install(chroot, {"num_vfs": "3", "bootloader": "systemd-boot"})
    watched = [*OURS, "/etc/kernel/cmdline"]
    before = state_of(chroot, watched)
    time.sleep(0.05)  # an mtime written now would differ
    done = chroot.run("dpkg-reconfigure irisxe-sriov")
    assert state_of(chroot, watched) == before
    assert "irisxe-sriov:" not in done.stdout  # no file written, no command run


def test_reconfigure_applies_an_edited_settings_file(chroot):
    FakeSystem(chroot.root).add_gpu(driver=None, totalvfs=None)
    chroot.write("/etc/kernel/cmdline", "root=UUID=1234 ro quiet\n")
    install(chroot, {"num_vfs": "4", "bootloader": "systemd-boot"})
    settings_file = chroot.path("/etc/default/irisxe-sriov")
    settings_file.write_text(
        settings_file.read_text()
        .replace('NUM_VFS="4"', 'NUM_VFS="2"')
        .replace('DRIVER="i915"', 'DRIVER="xe"')
    )
    done = chroot.run("dpkg-reconfigure irisxe-sriov")
    assert "removed /etc/driverctl.d/pci-0000:00:02.3" in done.stdout
    # the boot path was refreshed (initramfs-tools is not in the chroot, so it says so)
    assert "skipped: update-initramfs -u -k all (update-initramfs is not installed)" in done.stdout
    assert "module_blacklist=i915" in chroot.read("/etc/kernel/cmdline")
    assert sorted(p.name for p in chroot.path("/etc/driverctl.d").iterdir()) == [
        "pci-0000:00:02.1",
        "pci-0000:00:02.2",
    ]


def edit_then_switch_driver(box: Chroot) -> None:
    install(box, {"num_vfs": "2", "bootloader": "none"})
    modprobe = box.path("/etc/modprobe.d/irisxe-sriov.conf")
    modprobe.write_text(modprobe.read_text() + "# local note\n")
    settings_file = box.path("/etc/default/irisxe-sriov")
    settings_file.write_text(settings_file.read_text().replace('DRIVER="i915"', 'DRIVER="xe"'))


def test_local_edit_survives_reconfigure_as_ucf_dist(chroot):
    edit_then_switch_driver(chroot)
    done = chroot.run("dpkg-reconfigure irisxe-sriov")
    kept = chroot.read("/etc/modprobe.d/irisxe-sriov.conf")
    assert kept.endswith("# local note\n") and "options i915" in kept
    assert "options xe max_vfs=7" in chroot.read("/etc/modprobe.d/irisxe-sriov.conf.ucf-dist")
    assert (
        "kept the local version of /etc/modprobe.d/irisxe-sriov.conf; the new one is "
        "/etc/modprobe.d/irisxe-sriov.conf.ucf-dist"
    ) in done.stdout


def test_ucf_force_conffnew_replaces_a_local_edit(chroot):
    edit_then_switch_driver(chroot)
    chroot.run("dpkg-reconfigure irisxe-sriov", env={"UCF_FORCE_CONFFNEW": "1"})
    replaced = chroot.read("/etc/modprobe.d/irisxe-sriov.conf")
    assert "options xe max_vfs=7" in replaced and "# local note" not in replaced


def test_purge_leaves_nothing_of_ours(chroot):
    chroot.write("/etc/kernel/cmdline", "root=UUID=1234  ro quiet i915.max_vfs=2\n")
    # a kernel whose own xe `kernels` reads, so that it keeps its modinfo cache
    install_kernel(chroot.path("/"), "7.3.4+deb13-amd64", usr=True)
    before = listing(chroot)
    # driver asked for: with that kernel installed the question would default to xe
    answers = {"driver": "i915", "num_vfs": "3", "bootloader": "systemd-boot", "vf_unbound": "3"}
    install(chroot, answers)
    chroot.run("irisxe-sriov-ctl kernels --json")
    assert "7.3.4+deb13-amd64" in chroot.read("/var/cache/irisxe-sriov/modinfo.json")
    assert "i915.max_vfs=7" in chroot.read("/etc/kernel/cmdline")
    modprobe = chroot.path("/etc/modprobe.d/irisxe-sriov.conf")
    modprobe.write_text(modprobe.read_text() + "# local note\n")
    settings_file = chroot.path("/etc/default/irisxe-sriov")
    settings_file.write_text(settings_file.read_text().replace('DRIVER="i915"', 'DRIVER="xe"'))
    chroot.run("dpkg-reconfigure irisxe-sriov")  # leaves a .ucf-dist behind
    chroot.run("apt-get remove -y irisxe-sriov")
    assert chroot.path("/etc/default/irisxe-sriov").exists()  # remove keeps configuration
    chroot.run("apt-get purge -y irisxe-sriov i915-sriov-dkms")
    assert listing(chroot) == before
    assert not chroot.path("/var/cache/irisxe-sriov").exists()  # listing skips /var/cache
    assert chroot.read("/etc/kernel/cmdline") == "root=UUID=1234  ro quiet i915.max_vfs=2\n"
    for registry in ("/var/lib/ucf/registry", "/var/lib/ucf/hashfile"):
        assert "irisxe-sriov" not in chroot.read(registry)
    debconf_db = chroot.read("/var/cache/debconf/config.dat")
    assert "irisxe-sriov/" not in debconf_db


@pytest.mark.parametrize(
    "line",
    [
        # the kernel uses the last occurrence: every one is ours to set, and to give back
        "root=UUID=1 intel_iommu=off quiet intel_iommu=off module_blacklist=xe i915.max_vfs=2\n",
        "\n",  # an empty line: purge must not leave intel_iommu=on behind
    ],
)
def test_purge_gives_back_duplicated_tokens_and_an_empty_line(chroot, line):
    """The postrm replays the purge text Python computed (docs/notes.md, "Purge") while
    /etc/kernel/cmdline is as written; the sh token undo used to take back other copies
    of a duplicated token and left intel_iommu=on in an empty line."""
    chroot.write("/etc/kernel/cmdline", line)
    install(chroot, {"num_vfs": "2", "bootloader": "systemd-boot"})
    written = chroot.read("/etc/kernel/cmdline")
    assert "intel_iommu=off" not in written and "intel_iommu=on" in written
    chroot.run("apt-get purge -y irisxe-sriov")
    assert chroot.read("/etc/kernel/cmdline") == line


def test_other_driver_version_is_refused(chroot, tmp_path):
    other = build_standin_driver(tmp_path, "2026.05.06")
    chroot.copy_in(other, "/root/debs/other.deb")
    done = chroot.run(
        "apt-get install -y /root/debs/other.deb /root/debs/irisxe-sriov.deb", check=False
    )
    assert done.returncode != 0
    pinned = f"{pin.DRIVER_PACKAGE} (= {pin.DRIVER_VERSION})"
    assert f"Depends: {pinned} but 2026.05.06 is to be installed" in done.stdout
    assert not chroot.path("/etc/default/irisxe-sriov").exists()


def converse(argv: list[str], answers: list[str], timeout: float = 60) -> str:
    """Run argv on a pty, typing each answer after the next prompt (a line ending in ": ").
    A conversation that outlives `timeout` is killed (the child's whole session: pty.fork
    makes it a session leader) and fails with its transcript."""
    pid, fd = pty.fork()
    if pid == 0:  # pragma: no cover - the child
        os.execvp(argv[0], argv)
    transcript = b""
    pending = list(answers)
    deadline = time.monotonic() + timeout
    finished = False
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([fd], [], [], 0.5)
            if not ready:
                if pending and transcript.rstrip(b" ").endswith(b":"):
                    os.write(fd, (pending.pop(0) + "\n").encode())
                    transcript += b" <typed>"
                continue
            try:
                data = os.read(fd, 4096)
            except OSError:
                data = b""
            if not data:
                finished = True
                break
            transcript += data
    finally:
        if not finished:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        os.close(fd)
    text = transcript.decode(errors="replace")
    if not finished:
        raise AssertionError(f"{argv[-1]}: no end after {timeout} s, killed:\n{text[-3000:]}")
    return text


def test_installed_ctl_runs_on_debian_13(chroot):
    install(chroot, {"num_vfs": "2", "bootloader": "none"})
    FakeSystem(chroot.path("/srv/fake")).healthy(numvfs=2)
    done = chroot.run("irisxe-sriov-ctl --root /srv/fake status --json")
    assert '"platform": "RPL-P"' in done.stdout
    bad = chroot.run("irisxe-sriov-ctl config set num_vfs=9", check=False)
    assert bad.returncode == 2
    assert bad.stdout == "irisxe-sriov-ctl: error: num_vfs: 9 is out of range: allowed 0-7\n"
    # on the chroot itself (no GPU in its empty /sys): doctor fails, and says why
    doctor = chroot.run("irisxe-sriov-ctl doctor", check=False)
    assert doctor.returncode == 1 and "[FAIL] gpu.present: no PCI device at 0000:00:02.0" in (
        doctor.stdout
    )
    completion = chroot.read("/usr/share/bash-completion/completions/irisxe-sriov-ctl")
    assert "complete -o nosort -F _irisxe_sriov_ctl_completion irisxe-sriov-ctl" in completion
    assert chroot.path("/usr/share/man/man8/irisxe-sriov-ctl.8.gz").exists()
    # both units enabled: the VFs at boot, and the release of a stale kernel hold
    wants = chroot.path("/etc/systemd/system/multi-user.target.wants")
    for unit in ("irisxe-sriov-restore.service", "irisxe-sriov-hold.service"):
        assert (wants / unit).readlink() == Path(f"/usr/lib/systemd/system/{unit}"), unit
        assert chroot.path(f"/usr/lib/systemd/system/{unit}").is_file(), unit
    # the metrics timer enabled; its service only ever started by the timer
    timers = chroot.path("/etc/systemd/system/timers.target.wants")
    assert (timers / "irisxe-sriov-metrics.timer").is_symlink()
    assert not (wants / "irisxe-sriov-metrics.service").exists()


def test_interactive_reconfigure_rejects_a_bad_count(chroot):
    install(chroot, {"num_vfs": "4", "bootloader": "none"})
    chroot.write("/proc/sys/kernel/osrelease", "6.19.2-amd64\n")  # /proc is a plain dir here
    # readline frontend through a real pty: driver xe (2), 9 VFs (no such choice: asked
    # again), 3 VFs, boot path none (5), VF 3 unbound, VF 1 for the host, the kernel hold
    # off (2), scheduling fair (2; custom is not offered without its values), PF priority
    # high (4)
    transcript = converse(
        [
            "chroot",
            str(chroot.root),
            "/usr/bin/env",
            "-i",
            "PATH=/usr/sbin:/usr/bin:/sbin:/bin",
            "TERM=dumb",
            "LC_ALL=C.UTF-8",
            "HOME=/root",
            "dpkg-reconfigure",
            "-f",
            "readline",
            "irisxe-sriov",
        ],
        ["2", "9", "3", "5", "3", "1", "2", "2", "4"],
    )
    # no GPU in the chroot's /sys and a kernel past the pin: one note each, then the questions
    assert transcript.count("No GPU at 0000:00:02.0 yet") == 1
    assert "No installed kernel can make virtual GPUs" in transcript
    assert "Kernels checked: 6.19.2-amd64." in " ".join(transcript.split())  # as wrapped
    assert "Kernel driver for the Intel GPU:" in transcript
    assert "1. 1  2. 2  3. 3  4. 4  5. 5  6. 6  7. 7  8. 0" in transcript
    assert transcript.count("Number of virtual functions:") == 2
    assert "Virtual functions to leave without a driver:" in transcript
    assert "Kernel hold while a new kernel has no SR-IOV driver:" in transcript
    assert "1. default  2. fair  3. pf-limited\r\n" in transcript
    assert "Scheduling priority of the host:" in transcript
    assert settings_values(chroot) == {
        "DRIVER": "xe",
        "NUM_VFS": "3",
        "BOOTLOADER": "none",
        "VF_ROLES": "1:host 3:none",
        "PF": "0000:00:02.0",
        "MACHINE_ROLE": "auto",
        "KERNEL_HOLD": "off",
        "SCHED": "fair",
        "SCHED_EXEC_QUANTUM_MS": "",
        "SCHED_PREEMPT_TIMEOUT_US": "",
        "SCHED_PF_PRIORITY": "high",
    }
    # no GPU yet (an image): no driverctl override acts blindly at boot
    assert not chroot.path("/etc/driverctl.d/pci-0000:00:02.2").exists()
