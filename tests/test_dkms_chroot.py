"""The real upstream driver with the compat layer, in Debian 13 chroots with the real dkms
and Debian 13's real kernel headers.

The upstream package is built from the pinned source the way upstream builds its release
(tests/chroot.py: upstream_deb). One DKMS build (about 4.5 minutes on two cores), cached
per build inputs (the headers' base, the driver, the layer): `built` installs both
packages as the README says and the tests below look at that one chroot. The failure case
breaks a header that the first objects include, so its build stops within seconds.
"""

import hashlib
from collections.abc import Iterator
from pathlib import Path

import pytest

from chroot import (
    CACHE,
    DKMS_BASE,
    KEEP_APT_DEBS,
    PIN,
    SOURCE,
    VM_BASE,
    Chroot,
    base_tree,
    cache_lock,
    upstream_deb,
)
from vm import GUEST_UNIT, boot, make_image

pytestmark = pytest.mark.chroot

HEADERS_AMD64_DEB = "/var/cache/apt/archives/linux-headers-*-amd64_*_amd64.deb"
DRIVER_DEB = f"/root/debs/i915-sriov-dkms_{PIN}_amd64.deb"
PACKAGE_DEB = "/root/debs/irisxe-sriov.deb"
MODULES = ("i915", "xe", "kvmgt", "intel_sriov_compat")
MODULE_VERSION = f"{PIN}-sriov"


@pytest.fixture(scope="session")
def dkms_base() -> Path:
    return base_tree("dkms", DKMS_BASE, KEEP_APT_DEBS)


@pytest.fixture(scope="session")
def driver(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return upstream_deb(tmp_path_factory.mktemp("upstream-build"))


def with_both(box: Chroot, package: Path, driver: Path) -> Chroot:
    box.copy_in(package, PACKAGE_DEB)
    box.copy_in(driver, DRIVER_DEB)
    return box


def build_inputs_digest(dkms_base: Path, driver: Path) -> str:
    """What the DKMS build depends on: the base (Debian's headers and dkms; its name
    carries the archive's Release date), the driver package, and irisxe-sriov's layer and
    override (conf/dkms, the override's template and the table in pin.py)."""
    digest = hashlib.sha256(dkms_base.name.encode())
    digest.update(hashlib.sha256(driver.read_bytes()).digest())
    inputs = [
        *sorted((SOURCE / "conf/dkms").rglob("*")),
        SOURCE / "src/irisxe_sriov/write/templates/dkms.conf.j2",
        SOURCE / "src/irisxe_sriov/pin.py",
    ]
    for path in inputs:
        if path.is_file():
            digest.update(str(path.relative_to(SOURCE)).encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:16]


@pytest.fixture(scope="session")
def built(
    dkms_base: Path, tmp_path_factory: pytest.TempPathFactory, package: Path, driver: Path
) -> Iterator[tuple[Chroot, str]]:
    """The README's command in a fresh chroot: apt install of both .debs. The chroot and
    apt's output.

    One DKMS build per set of build inputs (build_inputs_digest), cached: a later session
    starts from the chroot that build left (its overlay's upper layer) and installs the
    current irisxe-sriov .deb over it, whose postinst finds the modules built."""
    key = build_inputs_digest(dkms_base, driver)
    cached, cached_log = CACHE / f"dkms-built-{key}.tar", CACHE / f"dkms-built-{key}.log"
    scratch = tmp_path_factory.mktemp("built")
    if cached.exists() and cached_log.exists():
        box = with_both(Chroot(dkms_base, scratch, upper=cached), package, driver)
        try:
            box.run(f"dpkg -i {PACKAGE_DEB}")
            yield box, cached_log.read_text()
        finally:
            box.close()
        return
    box = with_both(Chroot(dkms_base, scratch), package, driver)
    try:
        # about 4.5 minutes alone on two cores; allow for a busy machine
        done = box.run(f"apt-get install -y {DRIVER_DEB} {PACKAGE_DEB}", check=False, timeout=3600)
        if done.returncode == 0:
            with cache_lock():
                for stale in CACHE.glob("dkms-built-*"):
                    stale.unlink()
                box.save_upper(cached)
                cached_log.write_text(done.stdout)
        yield box, done.stdout
    finally:
        box.close()


def release(box: Chroot) -> str:
    return box.run("ls /lib/modules").stdout.split()[0]


def dpkg_state(box: Chroot, package: str) -> str:
    return box.run(f"dpkg-query -W -f='${{db:Status-Abbrev}}' {package}").stdout.strip()


def test_apt_install_of_both_builds_the_four_modules(built):
    box, output = built
    assert dpkg_state(box, "i915-sriov-dkms") == "ii", output[-4000:]
    assert dpkg_state(box, "irisxe-sriov") == "ii", output[-4000:]
    assert box.run("dpkg --audit").stdout == ""
    kernel = release(box)
    installed = box.run(f"ls /lib/modules/{kernel}/updates/dkms/").stdout.split()
    assert sorted(installed) == sorted(f"{name}.ko.xz" for name in MODULES)
    # the driver's postinst ran the build with the layer: both were unpacked first
    assert output.index("Unpacking irisxe-sriov") < output.index("Setting up i915-sriov-dkms")
    log = box.read(f"/var/lib/dkms/i915-sriov-dkms/{PIN}/{kernel}/x86_64/log/make.log")
    assert "irisxe-sriov compat layer for kernel" in log
    assert "#define IRISXE_HAVE_GPU_BUDDY 1" in log
    assert " error:" not in log and " warning:" not in log


def test_modules_carry_the_sriov_version_and_the_kernels_vermagic(built):
    box, _ = built
    kernel = release(box)
    for name in MODULES:
        path = f"/lib/modules/{kernel}/updates/dkms/{name}.ko.xz"
        info = box.run(f"modinfo -F version {path}; modinfo -F vermagic {path}").stdout
        version, vermagic = info.splitlines()[:2]
        if name in ("i915", "xe"):
            assert version == MODULE_VERSION
        assert vermagic.startswith(f"{kernel} SMP preempt mod_unload modversions")


def test_depmod_finds_every_symbol_in_the_real_module_tree(built):
    box, _ = built
    kernel = release(box)
    symvers = f"/usr/src/linux-headers-{kernel}/Module.symvers"
    assert box.path(symvers).is_file()
    done = box.run(f"depmod -n -e -E {symvers} {kernel} 2>&1 >/dev/null")
    assert done.stdout == ""  # no "needs unknown symbol", no "disagrees about version"
    dep = box.run(f"depmod -n {kernel} | grep '^updates/dkms/i915.ko.xz:'").stdout
    assert "kernel/drivers/gpu/drm/drm_kms_helper.ko" in dep  # linked to the real tree


def test_kernels_reports_the_build_installed(built):
    box, _ = built
    kernel = release(box)
    listing = box.run("irisxe-sriov-ctl kernels --json").stdout
    assert f'"release": "{kernel}"' in listing
    assert '"state": "installed"' in listing


def test_a_later_headers_install_and_reconfigure_run_cleanly(built):
    box, _ = built
    box.run(f"dpkg -i {HEADERS_AMD64_DEB}")  # runs /etc/kernel/header_postinst.d/dkms
    assert box.run("dpkg --audit").stdout == ""
    # the postinst's build-driver finds the modules installed and leaves them
    box.run("dpkg-reconfigure -f noninteractive irisxe-sriov")
    assert '"state": "installed"' in box.run("irisxe-sriov-ctl kernels --json").stdout


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


@pytest.mark.vm
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
        assert result.value(f"version-{module}") == MODULE_VERSION, log


def imitate_an_unknown_kernel_change(box: Chroot) -> None:
    """Change a declaration in the kernel's <linux/hugetlb_inline.h>, which the first
    objects of the driver (its compat module) include and no probe of the layer does:
    a future Debian update nobody has bridged yet."""
    source = box.run("readlink -f /lib/modules/*/source").stdout.strip()
    box.run(
        f"printf '%s\\n' 'struct irisxe_future_change;' "
        "'static inline int is_vm_hugetlb_page(struct irisxe_future_change *x) { return 0; }' "
        f">> {source}/include/linux/hugetlb_inline.h"
    )


def test_an_unknown_kernel_change_never_breaks_dpkg(dkms_base, tmp_path, package, driver):
    """Ours first (dpkg -i leaves it unpacked until the driver is there), then the driver:
    its postinst builds with the override and layer already in place; the build fails on
    the imitated change, dkms skips the kernel, and dpkg completes. A later kernel headers
    installation runs the kernel's dkms hook into the same failure and completes too."""
    box = with_both(Chroot(dkms_base, tmp_path), package, driver)
    try:
        imitate_an_unknown_kernel_change(box)
        ours = box.run(f"dpkg -i {PACKAGE_DEB}", check=False)
        assert ours.returncode != 0 and dpkg_state(box, "irisxe-sriov") == "iU"
        assert box.run("readlink -f /etc/dkms/i915-sriov-dkms.conf").stdout.strip() == (
            "/usr/share/irisxe-sriov/dkms/i915-sriov-dkms.conf"
        )
        assert box.path("/usr/share/irisxe-sriov/dkms/compat/irisxe-build").is_file()
        done = box.run(f"dpkg -i {DRIVER_DEB} && dpkg --configure -a")
        assert "irisxe-sriov: the pinned driver does not build for kernel" in box.read(
            f"/var/lib/dkms/i915-sriov-dkms/{PIN}/build/make.log"
        )
        assert dpkg_state(box, "i915-sriov-dkms") == "ii", done.stdout[-3000:]
        assert dpkg_state(box, "irisxe-sriov") == "ii", done.stdout[-3000:]
        headers = box.run(f"dpkg -i {HEADERS_AMD64_DEB}")
        assert "was skipped for module(s) i915-sriov-dkms" in headers.stdout
        assert box.run("dpkg --audit").stdout == ""
        kernel = release(box)
        listing = box.run("irisxe-sriov-ctl kernels --json").stdout
        assert f'"release": "{kernel}"' in listing and '"state": "failed"' in listing
        assert "the build failed: " in listing and "hugetlb_inline.h" in listing
        # doctor wraps its lines at 80 columns: read it as one line
        doctor = " ".join(box.run("irisxe-sriov-ctl doctor", check=False).stdout.split())
        assert "the build failed: " in doctor
        assert "keep booting a kernel whose state is installed" in doctor
    finally:
        box.close()
