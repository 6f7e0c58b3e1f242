"""Debian 13's real 6.12 kernel in a VM with the modules the real dkms built from the
pinned driver (harness/dkmsbuild.py: the chroot tier's one build)."""

from chroot import VM_BASE, Chroot, base_tree
from dkmsbuild import release
from irisxe_sriov import pin
from vm import GUEST_UNIT, boot, make_image

# Test-only, inside the VM: load the DKMS i915 and xe (no GPU is needed to load them) and
# report the version each module has, then power off.
MODULE_CHECK = r"""#!/bin/sh
out=/dev/ttyS0
for module in i915 xe; do
	modprobe "$module" > $out 2>&1
	echo "IRISXE modprobe-$module $?" > $out
	echo "IRISXE version-$module $(cat /sys/module/$module/version 2>/dev/null || echo none)" > $out
done
echo "IRISXE done" > $out
systemctl poweroff --force
"""


def test_the_modules_load_into_debians_own_kernel(built, tmp_path):
    """Debian 13's real 6.12 kernel under QEMU (tests/vm.py) with the modules dkms built."""
    box, _ = built
    kernel = release(box)
    (tmp_path / "vm").mkdir()
    guest = Chroot(base_tree("vm", VM_BASE), tmp_path / "vm")
    try:
        assert release(guest) == kernel  # the same Debian kernel as the headers
        for module in box.path(f"/lib/modules/{kernel}/updates/dkms").glob("*.ko.xz"):
            guest.copy_in(module, f"/lib/modules/{kernel}/updates/dkms/{module.name}")
        guest.run(f"depmod {kernel}")
        guest.write("/usr/local/sbin/irisxe-vm-check", MODULE_CHECK)
        guest.path("/usr/local/sbin/irisxe-vm-check").chmod(0o755)
        guest.write("/etc/systemd/system/irisxe-vm-check.service", GUEST_UNIT)
        guest.run("systemctl enable irisxe-vm-check.service 2>&1")
        image_kernel, initrd = make_image(guest, tmp_path / "image.raw")
    finally:
        guest.close()
    serial = tmp_path / "serial.log"
    result = boot(tmp_path / "image.raw", image_kernel, initrd, "", serial)
    log = serial.read_text(errors="replace")[-4000:]
    for module in ("i915", "xe"):
        assert result.value(f"modprobe-{module}") == "0", log
        assert result.value(f"version-{module}") == pin.MODULE_VERSION, log
