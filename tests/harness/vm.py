"""Debian 13 VMs under QEMU for the VF tests (the recipe is written down below).

TCG (KVM here cannot run an unmodified guest), q35 with an intel-iommu, the root on
virtio-blk at 00:03.0, and an emulated NVMe controller with SR-IOV at 00:02.0: a stand-in
for the GPU's PF whose VFs appear at 00:02.1.. with IOMMU groups of their own. Its driver
is nvme, so the test images change the GPU driver name in the package's udev rule to
nvme, and nothing else of the package.

The guest reports on the serial console through a test-only unit (GUEST_CHECK) and
powers off; nothing of this machine is touched but the image files under a test's tmp.
"""

import re
import subprocess
from pathlib import Path
from typing import NamedTuple

from chroot import Chroot, settle_first_boot

PF = "0000:00:02.0"

# Test-only, inside the guest: wait until the VFs settle, report them, run the scenario's
# runtime steps (kernel command line irisxe.steps=...), report again, power off.
GUEST_CHECK = r"""#!/bin/sh
pf=/sys/bus/pci/devices/0000:00:02.0
out=/dev/ttyS0
arg() { sed -n "s/.*$1=\([^ ]*\).*/\1/p" /proc/cmdline; }
report() {
	echo "IRISXE $1 numvfs $(cat $pf/sriov_numvfs 2>/dev/null || echo absent)" > $out
	for link in $pf/virtfn*; do
		[ -e "$link" ] || continue
		address=$(basename "$(readlink -f "$link")")
		driver=$(readlink "$link/driver" 2>/dev/null)
		echo "IRISXE $1 vf $address ${driver##*/}" > $out
	done
}
bindings() {
	for link in "$pf"/virtfn*; do
		[ -e "$link" ] && echo "$link $(readlink "$link/driver" 2>/dev/null)"
	done
}
# Settled: the count is reached, udev's queue is empty, no systemd job is queued or running
# but this check's own (the restore unit is a oneshot: "activating" while it runs), and
# the bindings did not change since the previous look. Polls; no fixed wait.
settle() {
	i=0
	last=
	while [ $i -lt 120 ]; do
		udevadm settle
		now="$(cat $pf/sriov_numvfs 2>/dev/null) $(bindings)"
		if [ "$(cat $pf/sriov_numvfs 2>/dev/null)" = "$1" ] &&
			! systemctl list-jobs --no-legend 2>/dev/null |
			grep -q -v -e irisxe-vm-check -e '^No jobs' &&
			[ "$now" = "$last" ]; then
			break
		fi
		last=$now
		sleep 1
		i=$((i + 1))
	done
	echo "IRISXE settled-after $i" > $out
}
settle "$(arg irisxe.vfs)"
report boot
echo "IRISXE enabled $(systemctl is-enabled irisxe-sriov-restore.service)" > $out
for step in $(arg irisxe.steps | tr ',' ' '); do
	case "$step" in
		set*)
			irisxe-sriov-ctl vfs set "${step#set}" > $out 2>&1
			echo "IRISXE set-exit $?" > $out
			settle "${step#set}"
			report "$step"
			;;
		purge)
			DEBIAN_FRONTEND=noninteractive apt-get purge -y irisxe-sriov > /dev/null 2>&1
			echo "IRISXE purge-exit $?" > $out
			for leftover in /etc/driverctl.d/* /etc/udev/rules.d/*irisxe* \
				/usr/lib/systemd/system/irisxe-sriov* /etc/systemd/system/*/irisxe-sriov* \
				/etc/sysfs.d/*irisxe* /etc/default/irisxe-sriov /var/lib/irisxe-sriov; do
				[ -e "$leftover" ] && echo "IRISXE leftover $leftover" > $out
			done
			;;
	esac
done
journalctl -b -o cat -u irisxe-sriov-restore.service | sed 's/^/IRISXE journal /' > $out
echo "IRISXE done" > $out
systemctl poweroff --force
"""
GUEST_UNIT = """[Unit]
Description=irisxe-sriov VM test: report the VFs (test only)
After=multi-user.target

[Service]
Type=oneshot
ExecStart=/usr/local/sbin/irisxe-vm-check

[Install]
WantedBy=multi-user.target
"""
# Test-only: the PF driver binds late, after sysfsutils ran (the measured race).
LATE_PF_UNIT = """[Unit]
Description=irisxe-sriov VM test: load the PF driver late (test only)

[Service]
Type=oneshot
# Binds once the restore unit says it waits (at the latest after 50 s), so the race is
# the same however slowly Python starts on a loaded host; then 2 s into its wait.
ExecStart=/bin/sh -c 'for i in $(seq 100); do \\
    journalctl -b -o cat -u irisxe-sriov-restore.service | grep -q "has no driver yet" && break; \\
    sleep 0.5; done; sleep 2; modprobe nvme'

[Install]
WantedBy=multi-user.target
"""


# Test double of a guest manager that starts guests at boot: Proxmox VE's pve-guests.service
# cannot be installed here, so a unit of its name reports the VFs it finds at its start.
# The restore unit orders itself before it (conf/systemd/irisxe-sriov-restore.service).
GUESTS_STANDIN = r"""#!/bin/sh
pf=/sys/bus/pci/devices/0000:00:02.0
out=/dev/ttyS0
echo "IRISXE guests numvfs $(cat $pf/sriov_numvfs 2>/dev/null || echo absent)" > $out
for link in $pf/virtfn*; do
	[ -e "$link" ] || continue
	address=$(basename "$(readlink -f "$link")")
	driver=$(readlink "$link/driver" 2>/dev/null)
	echo "IRISXE guests vf $address ${driver##*/}" > $out
done
"""
GUESTS_STANDIN_UNIT = """[Unit]
Description=irisxe-sriov VM test: stands in for pve-guests, which starts guests (test double)

[Service]
Type=oneshot
ExecStart=/usr/local/sbin/irisxe-vm-guests

[Install]
WantedBy=multi-user.target
"""


class Result(NamedTuple):
    numvfs: dict[str, str]  # label -> sriov_numvfs
    drivers: dict[str, dict[str, str]]  # label -> {VF address: driver or ""}
    lines: list[str]

    def value(self, key: str) -> str | None:
        for line in self.lines:
            if line.startswith(key + " "):
                return line.split(" ", 1)[1]
        return None


# Test-only, appended to the installed pciids.py in the image: QEMU's NVMe controller
# (1b36:0010) and e1000e (8086:10d3) count as a supported GPU, so that role detection and
# `vfs restore` accept the stand-ins; nothing else of the package changes.
NVME_AS_GPU = """
# --- test double (irisxe-sriov VM tests): QEMU's NVMe stands in for the GPU's PF and
# its e1000e for a VF given to a guest ---
PLATFORMS["TEST"] = ("QEMU devices standing in for the GPU (test double)", ("0010", "10d3"))
_irisxe_test_platform_of = platform_of


def platform_of(vendor, device):
    if (vendor, device) in (("1b36", "0010"), ("8086", "10d3")):
        return "TEST"
    return _irisxe_test_platform_of(vendor, device)
"""


# The root's own drivers (virtio-blk, ext4; virtio_pci is built into Debian's kernel): the
# only modules a guest's initrd needs (MODULES=list).
ROOT_MODULES = ("virtio_blk", "ext4")
# Test-only: drivers of q35's own devices and of the emulated CPU that no test uses, kept
# from loading at every boot: udev's coldplug loaded them while the test's step ran (in a
# systemd-boot guest, ahci from 48 s to 60 s of the boot; kvm_amd for QEMU's SVM flag).
IDLE_DRIVERS = (
    "ahci",
    "i2c_i801",
    "lpc_ich",
    "iTCO_wdt",
    "kvm_amd",
    "ccp",
    "pcspkr",
    "parport_pc",
    "ppdev",
    "sg",
    "serio_raw",
    "joydev",
)


def idle_drivers_off(box: Chroot) -> None:
    """IDLE_DRIVERS blacklisted (aliases only: a module that needs one still loads it)."""
    box.write(
        "/etc/modprobe.d/irisxe-vm-test.conf",
        "# test only (tests/harness/vm.py)\n"
        + "".join(f"blacklist {name}\n" for name in IDLE_DRIVERS),
    )


def quick_initramfs(box: Chroot) -> None:
    """The quickest initrds for a guest: MODULES=list of ROOT_MODULES, COMPRESSLEVEL=1,
    and the idle drivers off in them too. Written before the package's install, so that
    the initrds the install builds in the chroot are quick ones already (MODULES=list,
    unlike dep, needs no root device to look at) and those the guest rebuilds (purge's
    initramfs-tools trigger, a refresh) stay so. Under TCG a process costs about 50 ms
    (200 runs of /bin/true: 10 s): with initramfs-tools' defaults (MODULES=most) a rebuild
    took about two minutes; in one guest here, alternating, MODULES=dep took 164 and
    125 s (20 s of it before the first hook), MODULES=list 101 and 99 s."""
    box.write("/etc/initramfs-tools/conf.d/irisxe-vm-test", "MODULES=list\nCOMPRESSLEVEL=1\n")
    modules = box.path("/etc/initramfs-tools/modules")
    listed = modules.read_text() if modules.exists() else ""
    modules.write_text(listed + "".join(f"{name}\n" for name in ROOT_MODULES))
    idle_drivers_off(box)


def prepare_guest(box: Chroot, late_pf: bool = False) -> None:
    """Test-only additions to the image: the reporter, the late PF (with a stand-in guest
    manager that reports what it finds at its start), nvme for i915 in the udev rule and
    the NVMe PF accepted as the GPU (NVME_AS_GPU)."""
    pciids = box.path("/usr/lib/python3/dist-packages/irisxe_sriov/pciids.py")
    pciids.write_text(pciids.read_text() + NVME_AS_GPU)
    box.write("/usr/local/sbin/irisxe-vm-check", GUEST_CHECK)
    box.path("/usr/local/sbin/irisxe-vm-check").chmod(0o755)
    box.write("/etc/systemd/system/irisxe-vm-check.service", GUEST_UNIT)
    units = ["irisxe-vm-check.service"]
    if late_pf:
        box.write("/etc/systemd/system/irisxe-vm-late-pf.service", LATE_PF_UNIT)
        box.write("/usr/local/sbin/irisxe-vm-guests", GUESTS_STANDIN)
        box.path("/usr/local/sbin/irisxe-vm-guests").chmod(0o755)
        box.write("/etc/systemd/system/pve-guests.service", GUESTS_STANDIN_UNIT)
        units += ["irisxe-vm-late-pf.service", "pve-guests.service"]
    box.run(f"systemctl enable {' '.join(units)} 2>&1")
    rule = box.path("/etc/udev/rules.d/70-irisxe-sriov.rules")
    rule.write_text(rule.read_text().replace('DRIVER=="i915"', 'DRIVER=="nvme"'))
    box.write("/etc/hostname", "irisxe-vm\n")


def make_image(box: Chroot, image: Path) -> tuple[Path, Path]:
    """An ext4 image of the chroot (mkfs.ext4 -d), and its kernel and initrd."""
    settle_first_boot(box)
    idle_drivers_off(box)
    subprocess.run(
        ["mkfs.ext4", "-q", "-F", "-L", "root", "-d", str(box.root), str(image), "3G"], check=True
    )
    kernel = sorted(box.path("/boot").glob("vmlinuz-*"))[-1]
    initrd = sorted(box.path("/boot").glob("initrd.img-*"))[-1]
    copies = []
    for source in (kernel, initrd):
        copy = image.parent / source.name
        copy.write_bytes(source.read_bytes())
        copies.append(copy)
    return copies[0], copies[1]


# The stand-in for the GPU's PF at 00:02.0 (facts: an NVMe controller with SR-IOV).
NVME_PF = (
    "-device",
    "nvme-subsys,id=s0,nqn=irisxe-test",
    "-device",
    "nvme,serial=pf0,subsys=s0,addr=02.0,multifunction=on,sriov_max_vfs=4,"
    "sriov_vq_flexible=8,sriov_vi_flexible=4",
)
# libvirt's q35 layout: PCIe root ports at 00:02.0-00:02.7 (docs/notes.md, "Hosts,
# guests and what sits at 00:02.x"), a device behind the first one standing in for a VF
# given to the guest (an e1000e, 8086:10d3, which the test counts as a GPU function).
Q35_GUEST = (
    "-device",
    "pcie-root-port,id=rp0,chassis=1,addr=02.0,multifunction=on",
    *[
        arg
        for n in range(1, 8)
        for arg in ("-device", f"pcie-root-port,id=rp{n},chassis={n + 1},addr=02.{n}")
    ],
    "-device",
    "e1000e,bus=rp0",  # no netdev: a NIC without a peer, no network at all
)


# The machine every VM test runs: q35 under TCG (KVM here cannot run an unmodified guest),
# one CPU, no display, no network, and no reboot (a reboot ends QEMU; tests relaunch it).
QEMU_MACHINE = (
    "qemu-system-x86_64",
    "-machine",
    "q35",
    "-accel",
    "tcg",
    "-m",
    "1536",
    "-smp",
    "1",
    "-nographic",
    "-vga",
    "none",
    "-no-reboot",
    "-nic",
    "none",
)


def boot(
    image: Path,
    kernel: Path,
    initrd: Path,
    append: str,
    log: Path,
    timeout: int = 420,
    devices: tuple[str, ...] = NVME_PF,
) -> Result:
    """Boot, wait for the guest to power off, and parse its IRISXE lines."""
    argv = [
        *QEMU_MACHINE,
        "-kernel",
        str(kernel),
        "-initrd",
        str(initrd),
        "-append",
        f"root=/dev/vda rw console=ttyS0 intel_iommu=on {append}",
        "-device",
        "intel-iommu",
        "-drive",
        f"file={image},if=none,id=root,format=raw",
        "-device",
        "virtio-blk-pci,drive=root,addr=03.0",
        *devices,
        "-serial",
        f"file:{log}",
        "-monitor",
        "none",
    ]
    subprocess.run(
        argv, check=True, timeout=timeout, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    text = log.read_text(errors="replace")
    lines = [m.group(1).strip() for m in re.finditer(r"IRISXE (.*)", text)]
    numvfs: dict[str, str] = {}
    drivers: dict[str, dict[str, str]] = {}
    for line in lines:
        parts = line.split()
        if len(parts) == 3 and parts[1] == "numvfs":
            numvfs[parts[0]] = parts[2]
            drivers.setdefault(parts[0], {})
        elif len(parts) >= 3 and parts[1] == "vf":
            drivers.setdefault(parts[0], {})[parts[2]] = parts[3] if len(parts) > 3 else ""
    return Result(numvfs, drivers, lines)
