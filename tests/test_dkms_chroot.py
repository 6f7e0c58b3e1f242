"""The kernel compatibility guard with the real dkms and Debian 13's real kernel headers.

The upstream driver cannot be had here: tests/chroot.py builds a stand-in DKMS package of
the same name and version whose module source calls the renamed and moved kernel APIs
the way i915-sriov-dkms 2025.12.10 does (facts.md: 2).
"""

import pytest

from chroot import DKMS_BASE, KEEP_APT_DEBS, Chroot, base_tree, build_standin_dkms_driver

pytestmark = pytest.mark.chroot

HEADERS_DEB = "/var/cache/apt/archives/linux-headers-*-amd64_*.deb"


@pytest.fixture(scope="session")
def dkms_base():
    return base_tree("dkms", DKMS_BASE, KEEP_APT_DEBS)


@pytest.fixture(scope="session")
def standins(tmp_path_factory):
    directory = tmp_path_factory.mktemp("dkms-standins")
    return {
        "full": build_standin_dkms_driver(directory, uses_moved_apis=True),
        "rename-only": build_standin_dkms_driver(directory, uses_moved_apis=False),
    }


@pytest.fixture
def box(dkms_base, tmp_path, package, standins):
    chroot = Chroot(dkms_base, tmp_path)
    try:
        chroot.copy_in(package, "/root/debs/irisxe-sriov.deb")
        for name, deb in standins.items():
            chroot.copy_in(deb, f"/root/debs/driver-{name}.deb")
        yield chroot
    finally:
        chroot.close()


def release(box: Chroot) -> str:
    return box.run("ls /lib/modules").stdout.split()[0]


def dpkg_state(box: Chroot, package: str) -> str:
    return box.run(f"dpkg-query -W -f='${{db:Status-Abbrev}}' {package}").stdout.strip()


def test_without_the_guard_installs_fail(box):
    done = box.run("apt-get install -y /root/debs/driver-full.deb", check=False)
    assert done.returncode != 0
    assert "Bad return status for module build on kernel" in done.stdout
    assert dpkg_state(box, "i915-sriov-dkms") == "iF"  # left half-configured
    log = box.read("/var/lib/dkms/i915-sriov-dkms/2025.12.10/build/make.log")
    assert "implicit declaration of function '__copy_from_user_inatomic_nocache'" in log
    headers = box.run(f"dpkg -i {HEADERS_DEB}", check=False)
    assert headers.returncode != 0
    assert "header_postinst.d/dkms exited with return code" in headers.stdout


def test_with_the_guard_apt_completes_and_doctor_explains(box):
    done = box.run("apt-get install -y /root/debs/driver-full.deb /root/debs/irisxe-sriov.deb")
    assert "includes a BUILD_EXCLUSIVE directive" in done.stdout
    assert dpkg_state(box, "i915-sriov-dkms") == "ii"
    assert dpkg_state(box, "irisxe-sriov") == "ii"
    headers = box.run(f"dpkg -i {HEADERS_DEB}")  # a kernel (headers) installation
    kernel = release(box)
    assert (
        f"irisxe-sriov: warning: kernel {kernel} will boot without the SR-IOV driver "
        "(skipped: headers the pinned release cannot build against:"
    ) in headers.stdout
    assert box.read("/run/reboot-required.pkgs") == "irisxe-sriov\n"
    assert box.run("dpkg --audit").stdout == ""  # nothing left unconfigured
    listing = box.run("irisxe-sriov-ctl kernels").stdout
    assert listing.startswith(
        f"{kernel}  skipped     headers the pinned release cannot build "
        "against: pci_resize_resource takes a 4th argument;"
    )
    doctor = box.run("irisxe-sriov-ctl doctor --json", check=False)
    assert doctor.returncode == 1
    assert '"message": "i915 is not loaded"' in doctor.stdout
    assert (
        "no installed kernel can serve i915-sriov-dkms 2025.12.10: it needs a kernel from "
        "6.12 to 6.18 whose headers predate Debian 6.12.100"
    ) in doctor.stdout


def older_headers(box: Chroot) -> None:
    """Edit the blocking markers out of the real headers, so that they look like a Debian
    6.12 from before 6.12.100 with only the rename (the mirror carries only the current
    kernel). The stand-in module includes none of the edited headers."""
    source = box.run("readlink -f /lib/modules/*/source").stdout.strip()
    box.run(
        f"cd {source} && rm include/linux/gpu_buddy.h && "
        "sed -i 's/pci_resize_resource(/pci_resize_resource_x(/' include/linux/pci.h && "
        "sed -i 's/drm_exec_for_each_locked_object(exec, obj)/"
        "drm_exec_for_each_locked_object(exec, index, obj)/' include/drm/drm_exec.h && "
        "sed -i 's/struct drm_sched_init_args {/struct drm_sched_init_args_x {/' "
        "include/drm/gpu_scheduler.h"
    )


def test_a_driver_needing_only_the_rename_builds_with_the_bridge(box):
    older_headers(box)
    alone = box.run("apt-get install -y /root/debs/driver-rename-only.deb", check=False)
    assert alone.returncode != 0  # without the bridge the rename breaks the build
    box.run("apt-get install -y /root/debs/irisxe-sriov.deb")  # configures the driver too
    kernel = release(box)
    assert dpkg_state(box, "i915-sriov-dkms") == "ii"
    assert box.run(f"ls /lib/modules/{kernel}/updates/dkms/").stdout.startswith("i915.ko")
    assert box.run("irisxe-sriov-ctl kernels").stdout.startswith(
        f"{kernel}  installed   the SR-IOV modules are installed"
    )
