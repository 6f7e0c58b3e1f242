"""Whole-disk Debian 13 VMs that boot through a real boot loader (docs/notes.md,
"Test tiers and budgets").

The VM tests in tests/harness/vm.py boot the kernel directly (QEMU -kernel with a command line the
test hands over). These boot FROM THE DISK: firmware, boot loader, the kernel command line
the boot loader read from what the package configured, /proc/cmdline reported by the guest.

What works here (no loop devices, nothing mounted, nothing of this machine configured):

- Tools: this machine (Debian 12) has QEMU and e2fsprogs only. Everything else comes from
  Debian 13 itself: a second overlay on the same base, the *tools* chroot, holds the disk
  image file (/root/disk.img) and runs sfdisk, mkfs.fat, mcopy and grub-mkimage on it; the
  firmware for UEFI is Debian 13's `ovmf` package from that same base
  (/usr/share/OVMF/OVMF_CODE_4M.fd, with a private copy of OVMF_VARS_4M.fd). QEMU's
  default firmware, SeaBIOS, is the BIOS.
- Disk: GPT made by `sfdisk` on the image file: 1 MiB BIOS boot partition (GRUB's core.img
  for BIOS), a 512 MiB EFI system partition (FAT32 by `mkfs.fat --offset`, filled by
  `mcopy -i disk.img@@OFFSET`), and the root: ext4 written straight into the disk image by
  this machine's `mkfs.ext4 -d TREE -E offset=...` from the image chroot's tree, with a
  fixed UUID (ROOT_UUID) that grub.cfg's `search --fs-uuid` and fstab name.
- GRUB: `grub-install` needs a block device (it runs grub-probe on it), so its two steps
  are done by hand with the same Debian 13 GRUB: `grub-mkimage` with an embedded
  `search --fs-uuid` config makes the EFI image (the removable path EFI/BOOT/BOOTX64.EFI)
  and the BIOS core.img; the modules go to /boot/grub/<platform>/ as grub-install puts
  them. `grub-bios-setup` fails on an image file even with a device map ("cannot find a
  device for <its directory> (is /dev mounted?)"), so embed_bios_grub does its part:
  boot.img into the MBR, core.img into the BIOS boot partition.
  grub.cfg for the first boot is made by the package's own `update-grub` in the chroot,
  where grub-probe is a test double (GRUB_PROBE_DOUBLE: the chroot has no block device);
  it is removed from the image, so in the guest the real grub-probe and update-grub run
  (root=UUID=... from the second boot on).
- systemd-boot: `bootctl install --esp-path=/efi --no-variables` and the package's install
  run in the image chroot with a tmpfs at /efi (run_with_esp: a plain directory or a bind
  mount do not pass for an ESP there); the package's `update-initramfs -u -k all` runs
  Debian's /etc/initramfs/post-update.d/systemd-boot, whose `kernel-install add` writes
  the loader entry from /etc/kernel/cmdline. The ESP's tree then goes into the FAT
  partition; the guest mounts it at /efi.
- The guest reports twice per boot, on the serial console: an initramfs-tools
  local-bottom script (EARLY_REPORT, in every initrd the guest builds too) prints
  /proc/cmdline, the kernel and the firmware as soon as the root is mounted, and on the
  last boot of a scenario (step "early"), or on any BIOS boot of the hybrid GRUB disk
  (BIOS_EARLY), powers off right there; a test-only unit (BOOT_CHECK), ordered
  after the local file systems only, counts boots in /var/lib/irisxe-boot-test/boots,
  reports the firmware and the loader entries, runs that boot's step from
  /etc/irisxe-boot-steps (`config set`, a second kernel package, a kernel hold or its
  release, purge; several actions a line run in turn) and powers off.
  QEMU runs with -no-reboot; the test relaunches it on the same disk for the next boot.
- Speed (TCG, about 60 s to multi-user.target and two minutes for a refresh with
  initramfs-tools' defaults): the initrds, the chroot's and the guest's, are built with
  MODULES=list and COMPRESSLEVEL=1 (vm.quick_initramfs), q35's idle drivers do not load,
  kernel-install's depmod plugin is masked (prepare_guest), QEMU has -nodefaults (no
  CD-ROM or parallel port to probe), purge is `dpkg --purge` (apt adds a cache rebuild,
  nothing for the maintainer scripts), GRUB on BIOS and on UEFI share one disk (a BIOS boot that
  stops in the initrd before each UEFI boot), and the scenarios' VMs run at once.
- efivarfs files cannot seek: `tail -c +5 FILE` fails on them, `cat FILE | tail -c +5`
  reads systemd-boot's LoaderInfo.
"""

import re
import shutil
import struct
import subprocess
import time
from pathlib import Path
from typing import Literal, NamedTuple

from chroot import ENV, VM_BASE, Chroot, settle_first_boot
from vm import QEMU_MACHINE, quick_initramfs

BOOT_PACKAGES = (
    "grub2-common",
    "grub-pc-bin",
    "grub-efi-amd64-bin",
    "systemd-boot",
    "systemd-boot-efi",
    "dosfstools",
    "mtools",
    "fdisk",
    "ovmf",
)
BOOT_BASE = (*VM_BASE, *BOOT_PACKAGES)
# A second kernel for the kernel upgrade in the guest (no network there): the .debs of
# trixie's cloud flavour, downloaded into /root/kernels of the base.
SECOND_KERNEL_HOOK = (
    '--customize-hook=chroot "$1" env DEBIAN_FRONTEND=noninteractive apt-get install '
    "--download-only -y --no-install-recommends linux-image-cloud-amd64",
    '--customize-hook=mkdir -p "$1/root/kernels" && '
    'mv "$1"/var/cache/apt/archives/linux-image-*cloud*.deb "$1/root/kernels/"',
)

ROOT_UUID = "6a2f0c6e-1f0b-4d1c-9a51-2f7f3b1e0d14"
MACHINE_ID = "5e1ec7ed0000400080000000000000a1"
SECTOR = 512
MIB = 1 << 20
BIOS_BOOT = (1 * MIB, 1 * MIB)  # (offset, size)
ESP = (2 * MIB, 512 * MIB)
ROOT = (514 * MIB, 3072 * MIB)
DISK_SIZE = ROOT[0] + ROOT[1] + MIB  # room for the backup GPT
PARTITIONS = (
    "label: gpt\n"
    f"start={BIOS_BOOT[0] // SECTOR}, size={BIOS_BOOT[1] // SECTOR}, "
    "type=21686148-6449-6E6F-744E-656564454649, name=bios\n"
    f"start={ESP[0] // SECTOR}, size={ESP[1] // SECTOR}, "
    "type=C12A7328-F81F-11D2-BA4B-00A0C93EC93B, name=esp\n"
    f"start={ROOT[0] // SECTOR}, size={ROOT[1] // SECTOR}, "
    "type=0FC63DAF-8483-4772-8E79-3D69D8477DE4, name=root\n"
)

GRUB_PROBE_DOUBLE = f"""#!/bin/sh
# test double for grub-probe (tests/harness/bootdisk.py): the chroot has no block device under /;
# the answers are those of the VM's disk, where the real grub-probe runs
target=
for argument in "$@"; do
\tcase "$argument" in --target=*) target=${{argument#--target=}} ;; esac
done
case "$target" in
\tdevice) echo /dev/vda3 ;;
\tdisk) echo /dev/vda ;;
\tfs) echo ext2 ;;
\tfs_uuid) echo {ROOT_UUID} ;;
\tpartmap) echo gpt ;;
\tabstraction) ;;
\tdrive) echo '(hd0,gpt3)' ;;
\tcompatibility_hint) echo hd0,gpt3 ;;
\thints_string) ;;
esac
"""
# Embedded in the GRUB images: find the root by its UUID, then GRUB's normal start.
GRUB_EARLY = f"""search --no-floppy --fs-uuid --set=root {ROOT_UUID}
set prefix=($root)/boot/grub
"""
GRUB_MODULES = "part_gpt ext2 search search_fs_uuid normal configfile linux echo test gzio"

FSTAB = f"UUID={ROOT_UUID} / ext4 errors=remount-ro 0 0\n"
ESP_FSTAB = "PARTLABEL=esp /efi vfat umask=0077 0 0\n"

# Test-only, in every initrd (an initramfs-tools local-bottom script, so every refresh
# in the guest keeps it): report the command line as soon as the root is mounted, and
# on a boot whose step is "early" (the last of a scenario) power off right there.
EARLY_REPORT = r"""#!/bin/sh
# klibc's sh, cat and uname only: the initrd has no busybox (no sed, no cut)
case "$1" in prereqs) exit 0 ;; esac
boots=0
if [ -f "${rootmnt}/var/lib/irisxe-boot-test/boots" ]; then
	read -r boots < "${rootmnt}/var/lib/irisxe-boot-test/boots"
fi
n=$((boots + 1))
read -r cmdline < /proc/cmdline
firmware=bios
[ -d /sys/firmware/efi ] && firmware=uefi
echo > /dev/ttyS0  # after initramfs-tools' "Begin: ... " on the same line
echo "IRISXE $n cmdline $cmdline" > /dev/ttyS0
echo "IRISXE $n kernel $(uname -r)" > /dev/ttyS0
echo "IRISXE $n early-firmware $firmware" > /dev/ttyS0
i=0
step=
while IFS= read -r line; do
	i=$((i + 1))
	[ "$i" = "$n" ] && step=$line
done < "${rootmnt}/etc/irisxe-boot-steps"
# the hybrid GRUB disk: every BIOS boot ends here, and the UEFI boot after it runs the step
if [ "$step" = early ] ||
	{ [ "$firmware" = bios ] && [ -e "${rootmnt}/etc/irisxe-boot-bios-early" ]; }; then
	read -r uptime rest < /proc/uptime
	echo "IRISXE $n done early $uptime" > /dev/ttyS0
	echo o > /proc/sysrq-trigger  # power off; the root is still mounted read-only
	sleep 60
fi
"""
EARLY_REPORT_PATH = "/etc/initramfs-tools/scripts/local-bottom/irisxe-boot-report"
# On the hybrid GRUB disk: BIOS boots stop in the initrd (EARLY_REPORT), UEFI boots run on.
BIOS_EARLY = "/etc/irisxe-boot-bios-early"

# Test-only, in the booted guest: one step per boot (boot N runs line N of
# /etc/irisxe-boot-steps), each line of its output prefixed with the uptime.
BOOT_CHECK = r"""#!/bin/sh
out=/dev/ttyS0
state=/var/lib/irisxe-boot-test
mkdir -p $state
n=$(($(cat $state/boots 2>/dev/null || echo 0) + 1))
echo $n > $state/boots
sync
say() { echo "IRISXE $n $*" > $out; }
say uptime "$(cut -d' ' -f1 /proc/uptime)"
if [ -d /sys/firmware/efi ]; then
	mountpoint -q /sys/firmware/efi/efivars ||
		mount -t efivarfs efivarfs /sys/firmware/efi/efivars
	# efivarfs files cannot seek, so tail must read a pipe: the first 4 bytes are the
	# variable's attributes, the rest UTF-16 (NULs dropped: ASCII here)
	info=$(cat /sys/firmware/efi/efivars/LoaderInfo-4a67b082-0a4c-41cf-b6c7-440b29bb8c4f \
		2>/dev/null | tail -c +5 | tr -d '\000')
	say firmware "uefi ${info:-no-LoaderInfo}"
else
	say firmware bios
fi
entries() {
	for entry in /efi/loader/entries/*.conf; do
		[ -e "$entry" ] || continue
		say "$1" "$(sed -n 's/^version[[:space:]]*//p' "$entry")" \
			"$(sed -n 's/^options[[:space:]]*//p' "$entry")"
	done
}
entries entry
for action in $(sed -n "${n}p" /etc/irisxe-boot-steps); do
	start=$(cut -d' ' -f1 /proc/uptime)
	(
		case "$action" in
			set:*) irisxe-sriov-ctl config set "${action#set:}" ;;
			kernel) dpkg -i /root/kernels/*.deb ;;
			release) irisxe-sriov-ctl kernels release ;;
			hold:*) irisxe-sriov-ctl kernels hold "${action#hold:}" ;;
			purge) dpkg --purge irisxe-sriov ;;
		esac
		echo $? > /tmp/step.status
	) 2>&1 | while IFS= read -r line; do
		echo "IRISXE $n log $(cut -d' ' -f1 /proc/uptime) $action $line" > $out
	done
	say "$action-exit" "$(cat /tmp/step.status) $start $(cut -d' ' -f1 /proc/uptime)"
done
entries after
say done "$(cut -d' ' -f1 /proc/uptime)"
sync
systemctl poweroff --force
"""
# Early: after the local file systems (the ESP at /efi included) and efivarfs, not after
# everything multi-user.target pulls in.
BOOT_UNIT = """[Unit]
Description=irisxe-sriov boot test: one step per boot (test only)
DefaultDependencies=no
After=local-fs.target systemd-remount-fs.service sys-firmware-efi-efivars.mount

[Service]
Type=oneshot
Environment=DEBIAN_FRONTEND=noninteractive
ExecStart=/usr/local/sbin/irisxe-boot-check

[Install]
WantedBy=sysinit.target
"""


def prepare_initramfs(box: Chroot) -> None:
    """The early reporter and quick initrds, before the package's install rebuilds them."""
    box.write(EARLY_REPORT_PATH, EARLY_REPORT)
    box.path(EARLY_REPORT_PATH).chmod(0o755)
    quick_initramfs(box)


def prepare_guest(box: Chroot, steps: list[str]) -> None:
    """The reporter, the steps (one line per boot), and what any installed system has:
    a machine id, fstab, a hostname."""
    box.write("/usr/local/sbin/irisxe-boot-check", BOOT_CHECK)
    box.path("/usr/local/sbin/irisxe-boot-check").chmod(0o755)
    box.write("/etc/systemd/system/irisxe-boot-check.service", BOOT_UNIT)
    box.run("systemctl enable irisxe-boot-check.service 2>&1")
    box.write("/etc/irisxe-boot-steps", "".join(f"{step}\n" for step in steps))
    box.write("/etc/hostname", "irisxe-boot\n")
    # kernel-install's depmod plugin, masked as kernel-install(8) allows: every refresh
    # runs kernel-install for each kernel, and `depmod -a` of Debian's generic kernel takes
    # 53 to 67 s under TCG here; a kernel package's postinst runs depmod itself.
    box.path("/etc/kernel/install.d").mkdir(parents=True, exist_ok=True)
    box.path("/etc/kernel/install.d/50-depmod.install").symlink_to("/dev/null")


def use_grub_probe_double(box: Chroot) -> None:
    real = box.path("/usr/sbin/grub-probe")
    real.rename(real.with_name("grub-probe.real"))
    box.write("/usr/sbin/grub-probe", GRUB_PROBE_DOUBLE)
    real.chmod(0o755)  # the double, now at the real one's path


def drop_grub_probe_double(box: Chroot) -> None:
    real = box.path("/usr/sbin/grub-probe.real")
    real.rename(real.with_name("grub-probe"))


def install_grub_modules(box: Chroot) -> None:
    """What grub-install copies to /boot/grub: the modules of both platforms."""
    for platform in ("i386-pc", "x86_64-efi"):
        box.run(f"mkdir -p /boot/grub && cp -r /usr/lib/grub/{platform} /boot/grub/")


# Where run_with_esp leaves the ESP's tree in the image chroot until make_disk takes it.
ESP_TREE = "/root/esp-tree"


def run_with_esp(box: Chroot, script: str, timeout: int = 900) -> str:
    """A sh script inside the chroot with an ESP at /efi, as bootctl and kernel-install
    need one: a tmpfs mounted there in a mount namespace of this command alone, /proc of
    its own PID namespace, SYSTEMD_RELAX_ESP_CHECKS=1 (not vfat, not a GPT partition).
    A plain directory fails ("Directory /efi is not the root of the file system"), and a
    bind mount has the root's device, so kernel-install's `stat -c %m` takes "/" for the
    ESP's mount point and writes /efi/... into the entries. The ESP's tree is kept in
    ESP_TREE and put back at /efi by the next call. Output; fails on a non-zero exit."""
    root = str(box.root)
    environment = " ".join(f"{k}={v}" for k, v in {**ENV, "SYSTEMD_RELAX_ESP_CHECKS": "1"}.items())
    outer = (
        'set -e; mkdir -p "$0/efi" "$0/root/esp-tree"; mount -t tmpfs -o mode=0755 esp "$0/efi"; '
        'cp -a "$0/root/esp-tree/." "$0/efi/"; status=0; '
        f'chroot "$0" /usr/bin/env -i {environment} sh -c "$1" || status=$?; '
        'rm -rf "$0/root/esp-tree"; mkdir "$0/root/esp-tree"; '
        'cp -a "$0/efi/." "$0/root/esp-tree/"; '
        "exit $status"
    )
    done = subprocess.run(
        [
            "unshare",
            "--fork",
            "--pid",
            f"--mount-proc={root}/proc",
            "sh",
            "-c",
            outer,
            root,
            script,
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=timeout,
        check=False,
    )
    if done.returncode != 0:
        raise AssertionError(
            f"chroot with ESP: {script!r} exited {done.returncode}:\n{done.stdout}"
        )
    return done.stdout


DISK = "/root/disk.img"


def make_disk(image_box: Chroot, tools: Chroot, loader: str) -> None:
    """The bootable disk of the image chroot's tree, built at DISK in the tools chroot.
    The image chroot's /efi (systemd-boot) goes to the ESP; for GRUB both its EFI image
    (in the ESP) and its BIOS core.img (in the BIOS boot partition): one disk boots on
    either firmware, from the same /boot/grub. The tree, less /efi's contents, becomes
    the root."""
    settle_first_boot(image_box)
    disk = DISK
    tools.run(
        f"rm -f {disk} && truncate -s {DISK_SIZE} {disk} && sfdisk -q {disk}", stdin=PARTITIONS
    )
    tools.run(
        f"mkfs.fat -F 32 -n ESP --offset {ESP[0] // SECTOR} {disk} {ESP[1] // 1024} >/dev/null"
    )
    esp = tools.path("/root/esp")
    if esp.exists():
        shutil.rmtree(esp)
    esp.mkdir()
    if loader == "systemd-boot":
        # the ESP's tree, as run_with_esp left it
        shutil.copytree(image_box.path(ESP_TREE), esp, dirs_exist_ok=True)
        shutil.rmtree(image_box.path(ESP_TREE))
    else:
        tools.write("/root/early.cfg", GRUB_EARLY)
        (esp / "EFI/BOOT").mkdir(parents=True)
        tools.run(
            "grub-mkimage -O x86_64-efi -c /root/early.cfg -p /boot/grub "
            f"-o /root/esp/EFI/BOOT/BOOTX64.EFI {GRUB_MODULES}"
        )
    tools.run(f"MTOOLS_SKIP_CHECK=1 mcopy -s -i {disk}@@{ESP[0]} /root/esp/* ::/")
    subprocess.run(
        [
            "mkfs.ext4",
            "-q",
            "-F",
            "-L",
            "root",
            "-U",
            ROOT_UUID,
            "-E",
            f"offset={ROOT[0]},nodiscard",
            "-d",
            str(image_box.root),
            str(tools.path(disk)),
            f"{ROOT[1] // 1024}k",
        ],
        check=True,
    )
    if loader == "grub":
        tools.run(
            "grub-mkimage -O i386-pc -c /root/early.cfg -p /boot/grub "
            f"-o /root/core.img biosdisk {GRUB_MODULES}"
        )
        embed_bios_grub(
            tools.path(disk),
            tools.path("/usr/lib/grub/i386-pc/boot.img").read_bytes(),
            tools.path("/root/core.img").read_bytes(),
        )


def embed_bios_grub(disk: Path, boot_img: bytes, core_img: bytes) -> None:
    """What grub-bios-setup does for a GPT disk, on an image file (grub-bios-setup itself
    wants the block device under its directory: "cannot find a device for ... (is /dev
    mounted?)"): core.img into the BIOS boot partition, its first sector's blocklist
    pointing at the rest; boot.img into the MBR with the sector of core.img, keeping the
    protective MBR's partition table. Offsets from GRUB 2.12's include/grub/i386/pc/boot.h
    and boot/i386/pc/diskboot.S."""
    start = BIOS_BOOT[0] // SECTOR
    sectors = -(-len(core_img) // SECTOR)
    assert sectors * SECTOR <= BIOS_BOOT[1], "core.img does not fit the BIOS boot partition"
    core = bytearray(core_img.ljust(sectors * SECTOR, b"\0"))
    # diskboot.img's blocklist, the last 12 bytes of core.img's first sector: start
    # (8 bytes), count (2), load segment (2, GRUB_BOOT_MACHINE_KERNEL_SEG + 0x20)
    struct.pack_into("<QHH", core, SECTOR - 12, start + 1, sectors - 1, 0x820)
    with disk.open("r+b") as image:
        mbr = bytearray(image.read(SECTOR))
        boot = bytearray(boot_img)
        struct.pack_into("<Q", boot, 0x5C, start)  # GRUB_BOOT_MACHINE_KERNEL_SECTOR
        boot[0x66:0x68] = b"\x90\x90"  # GRUB_BOOT_MACHINE_DRIVE_CHECK: a hard disk
        boot[0x1B8:0x1FE] = mbr[0x1B8:0x1FE]  # disk signature and partition table
        image.seek(0)
        image.write(boot)
        image.seek(start * SECTOR)
        image.write(core)


Firmware = Literal["bios", "uefi"]


class Boot(NamedTuple):
    lines: list[str]  # this boot's IRISXE lines, without "IRISXE N "
    seconds: float  # QEMU start to power off
    log: Path
    firmware: Firmware

    def value(self, key: str) -> str | None:
        for line in self.lines:
            if line.startswith(key + " ") or line == key:
                return line[len(key) + 1 :]
        return None

    def values(self, key: str) -> list[str]:
        return [line[len(key) + 1 :] for line in self.lines if line.startswith(key + " ")]


def firmware_files(base: Path, scratch: Path) -> tuple[Path, Path]:
    """Debian 13's OVMF from the base tree (its `ovmf` package) and a private, writable
    copy of its variable store (the guest's efivars persist across its boots)."""
    variables = scratch / "OVMF_VARS.fd"
    if not variables.exists():
        shutil.copy(base / "usr/share/OVMF/OVMF_VARS_4M.fd", variables)
    return base / "usr/share/OVMF/OVMF_CODE_4M.fd", variables


def take_out(tools: Chroot, inside: str, target: Path) -> Path:
    """A file the tools chroot made, moved out of its overlay's upper layer once the
    chroot is closed (same file system: a rename, however large the disk)."""
    (tools.scratch / "upper" / inside.lstrip("/")).rename(target)
    return target


def boot_disk(
    disk: Path,
    number: int,
    log: Path,
    firmware: Firmware,
    ovmf: tuple[Path, Path],
    timeout: int = 900,
) -> Boot:
    """Boot the disk once (TCG, -m 1536, serial to a file, -no-reboot, no network, as
    tests/harness/vm.py) on `firmware` (SeaBIOS, QEMU's default, or OVMF), wait for the guest to
    power off, and parse boot `number`'s lines."""
    pflash: list[str] = []
    if firmware == "uefi":
        code, variables = ovmf
        pflash = [
            "-drive",
            f"if=pflash,format=raw,unit=0,readonly=on,file={code}",
            "-drive",
            f"if=pflash,format=raw,unit=1,file={variables}",
        ]
    argv = [
        *QEMU_MACHINE,
        "-nodefaults",  # no CD-ROM, parallel port or VGA to probe at every boot
        *pflash,
        "-drive",
        f"file={disk},if=none,id=root,format=raw",
        "-device",
        "virtio-blk-pci,drive=root,addr=03.0,bootindex=1",
        "-serial",
        f"file:{log}",
        "-monitor",
        "none",
    ]
    started = time.monotonic()
    subprocess.run(
        argv, check=True, timeout=timeout, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    seconds = time.monotonic() - started
    text = log.read_text(errors="replace")
    return Boot(report_lines(text, number), seconds, log, firmware)


def report_lines(text: str, number: int) -> list[str]:
    """Boot `number`'s IRISXE lines, without "IRISXE N "; a report may follow other output
    on its line (the initramfs' "Begin: Running /scripts/local-bottom ... ")."""
    return [m.group(1).rstrip("\r") for m in re.finditer(rf"IRISXE {number} (.*)", text)]


def boot_all(
    disk: Path, plan: list[tuple[int, Firmware]], scratch: Path, ovmf: tuple[Path, Path]
) -> list[Boot]:
    """Boot as planned ((boot number, firmware) each: an early BIOS boot has the number of
    the UEFI boot after it, as it ends before the count goes up); stops at the first boot
    that did not finish."""
    boots = []
    for number, firmware in plan:
        boot = boot_disk(disk, number, scratch / f"serial-{number}-{firmware}.log", firmware, ovmf)
        boots.append(boot)
        if boot.value("done") is None:
            break
    return boots
