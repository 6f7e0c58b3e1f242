"""Fault injection into purge (docs/notes.md, "Hostile input"): `dpkg --purge` killed after
every single write step of the postrm, then run again, must end as an uninterrupted purge ends.

The steps are the commands the postrm and ucf write with (rm, mv, cp, rmdir, ucf, ucfr)
and the boot refresh. Each is a wrapper in /root/steps, first on PATH, that runs the real
command, counts the step and at the chosen one kills the whole dpkg process group with
SIGKILL (`setsid` makes dpkg its leader), so no trap and no cleanup runs. The chroot has no
kernel, so update-initramfs is a recorder: it writes down the /etc/kernel/cmdline each
refresh saw, and the last refresh must see the admin's line.
"""

from chroot import Chroot, install
from test_package import listing

ADMIN_LINE = "root=UUID=1 ro quiet intel_iommu=off i915.max_vfs=2 intel_iommu=off\n"
WRITERS = ("rm", "mv", "cp", "rmdir", "ucf", "ucfr")
STEPS = "/root/steps"
COUNT = """count=$(( $(cat /root/steps/count) + 1 ))
echo "$count" > /root/steps/count
echo "$count $0 $*" >> /root/steps/trace
"""
KILL = '[ "$count" != "$(cat /root/steps/kill-at)" ] || kill -KILL 0\n'
PURGE = f"PATH={STEPS}:/usr/sbin:/usr/bin:/sbin:/bin setsid -w dpkg --purge irisxe-sriov"


def wrap(box: Chroot) -> None:
    for name in WRITERS:
        real = box.run(f"command -v {name}").stdout.strip()
        box.write(
            f"{STEPS}/{name}",
            f'#!/bin/sh\n{real} "$@"\nstatus=$?\n{COUNT}{KILL}exit $status\n',
        )
    box.write(
        f"{STEPS}/update-initramfs",
        "#!/bin/sh\n"
        f"{COUNT}"
        "printf '%s\\n' \"$(cat /etc/kernel/cmdline)\" >> /root/steps/initramfs\n"
        f"{KILL}",
    )
    box.run(f"chmod +x {STEPS}/*")


def arm(box: Chroot, kill_at: int) -> None:
    box.write(f"{STEPS}/count", "0\n")
    box.write(f"{STEPS}/kill-at", f"{kill_at}\n")


def check_purged(box: Chroot, expected: set[str]) -> None:
    assert box.read("/etc/kernel/cmdline") == ADMIN_LINE
    assert listing(box) == expected
    for registry in ("/var/lib/ucf/registry", "/var/lib/ucf/hashfile"):
        assert "irisxe-sriov" not in box.read(registry)
    assert "irisxe-sriov/" not in box.read("/var/cache/debconf/config.dat")
    status = box.run("dpkg-query -W -f='${db:Status-Abbrev}' irisxe-sriov", check=False)
    assert status.returncode != 0 or status.stdout.startswith("un"), status.stdout
    # the last boot refresh ran once the admin's line was back
    assert box.read(f"{STEPS}/initramfs").splitlines()[-1] + "\n" == ADMIN_LINE


def test_purge_killed_after_any_step_is_completed_by_the_next_purge(chroot, base, tmp_path):
    chroot.write("/etc/kernel/cmdline", ADMIN_LINE)
    install(chroot, {"num_vfs": "2", "bootloader": "systemd-boot"})
    assert "intel_iommu=on" in chroot.read("/etc/kernel/cmdline")
    chroot.run("dpkg --remove irisxe-sriov")  # remove keeps what purge must take away
    wrap(chroot)
    removed = tmp_path / "removed.tar"
    chroot.save_upper(removed)

    # the uninterrupted purge: how many steps there are, and the listing to end with
    arm(chroot, 0)
    chroot.run(PURGE)
    steps = int(chroot.read(f"{STEPS}/count"))
    trace = chroot.read(f"{STEPS}/trace")
    expected = listing(chroot)
    check_purged(chroot, expected)
    assert steps >= 10, trace
    print(f"purge: {steps} write steps:\n{trace}")

    for kill_at in range(1, steps + 1):
        scratch = tmp_path / f"kill-{kill_at}"
        scratch.mkdir()
        box = Chroot(base, scratch, upper=removed)
        try:
            arm(box, kill_at)
            killed = box.run(PURGE, check=False)
            assert killed.returncode == 137, (kill_at, killed.stdout, trace)
            arm(box, 0)
            again = box.run(PURGE, check=False)
            assert again.returncode == 0, (kill_at, again.stdout, trace)
            check_purged(box, expected)
        except AssertionError as error:
            raise AssertionError(f"killed after step {kill_at} of:\n{trace}") from error
        finally:
            box.close()


# Test-only, run inside the chroot: the installed irisxe-sriov-ctl, killed (os._exit, no
# cleanup) after write step N of apply (apply.STEP_HOOKS, the fault-injection seam); N=0
# runs to the end and prints the number of steps.
KILLED_APPLY = """
import os, sys
from irisxe_sriov.write import apply
kill_at, count = int(sys.argv[1]), [0]
def hook(what):
    count[0] += 1
    if count[0] == kill_at:
        os._exit(137)
apply.STEP_HOOKS.append(hook)
sys.argv = ["irisxe-sriov-ctl", "config", "set", "driver=xe", "num_vfs=1"]
from irisxe_sriov.cli import entry
try:
    entry.main()
finally:
    print("steps", count[0], file=sys.stderr)
"""


def test_purge_after_an_apply_killed_at_any_step_gives_the_admins_line_back(chroot, base, tmp_path):
    """`config set` killed after every single write step, then `dpkg --purge` (the
    package's Python gone by then: the sh postrm takes the journal back, then purges as
    usual): the admin's /etc/kernel/cmdline comes back byte for byte, and nothing of ours
    is left, the GRUB drop-in and directories included."""
    chroot.write("/etc/kernel/cmdline", ADMIN_LINE)
    install(chroot, {"num_vfs": "2", "bootloader": "systemd-boot"})
    assert "intel_iommu=on" in chroot.read("/etc/kernel/cmdline")
    wrap(chroot)  # update-initramfs a recorder: the chroot has no kernel
    chroot.write("/root/killed-apply.py", KILLED_APPLY)
    installed = tmp_path / "installed.tar"
    chroot.save_upper(installed)
    run = f"PATH={STEPS}:/usr/sbin:/usr/bin:/sbin:/bin python3 /root/killed-apply.py"
    arm(chroot, 0)
    whole = chroot.run(f"{run} 0", check=False)
    assert whole.returncode == 0, whole.stdout
    steps = int(whole.stdout.rsplit("steps ", 1)[1].split()[0])
    assert steps > 10, whole.stdout
    chroot.run(PURGE)
    expected = listing(chroot)
    check_purged(chroot, expected)
    for kill_at in range(1, steps + 1):
        scratch = tmp_path / f"kill-{kill_at}"
        scratch.mkdir()
        box = Chroot(base, scratch, upper=installed)
        try:
            arm(box, 0)
            killed = box.run(f"{run} {kill_at}", check=False)
            assert killed.returncode == 137, (kill_at, killed.stdout)
            purged = box.run(PURGE, check=False)
            assert purged.returncode == 0, (kill_at, purged.stdout)
            assert box.read("/etc/kernel/cmdline") == ADMIN_LINE, kill_at
            assert listing(box) == expected, kill_at
        finally:
            box.close()
