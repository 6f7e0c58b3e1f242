"""The real upstream driver with the compat layer, in Debian 13 chroots with the real dkms
and Debian 13's real kernel headers.

The upstream package is built from the pinned source the way upstream builds its release
(tests/harness/chroot.py: upstream_deb). One DKMS build (about 4.5 minutes on two cores), cached
per build inputs (the headers' base, the driver, the layer): `built` installs both
packages as the README says and the tests below look at that one chroot. The failure case
breaks a header that the first objects include, so its build stops within seconds.
"""

from chroot import (
    PIN,
    Chroot,
)
from dkmsbuild import DRIVER_DEB, PACKAGE_DEB, release, with_both
from irisxe_sriov import pin

HEADERS_AMD64_DEB = "/var/cache/apt/archives/linux-headers-*-amd64_*_amd64.deb"
MODULES = ("i915", "xe", "kvmgt", "intel_sriov_compat")


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
            assert version == pin.MODULE_VERSION
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
