"""Providers per kernel on fake roots: the pinned DKMS build, the kernel's own xe, none.

Kernel trees are laid out as Debian's packages lay them out (6.12: /lib/modules and
/boot/config-*; 7.x: /usr/lib/modules/<release>/config beside the modules), with an xe.ko.xz
whose .modinfo strings are those of Debian's 7.3.4 xe.ko (alias lines and the max_vfs
parameter). The GPU is a test double (tests/harness/fakesys.py).
"""

import json
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import assume, given, settings
from hypothesis import strategies as st

import fakesys
from irisxe_sriov import fixes, pin
from irisxe_sriov.boot import nextboot
from irisxe_sriov.choices import BootPath, Driver
from irisxe_sriov.cli.commands import cli
from irisxe_sriov.kernels import debversion, providers
from irisxe_sriov.machine import aptsources, bootfiles, kernelfiles, secureboot
from irisxe_sriov.paths import LOADER_ENTRY_DEFAULT_EFIVAR, Paths
from irisxe_sriov.report import doctor, judgement
from irisxe_sriov.settings import Settings
from judged import gathered, judged

STOCK = "6.12.118+deb13-amd64"
BACKPORTS = "7.3.4+deb13-amd64"
GRUB_CFG = """\
if [ "${next_entry}" ] ; then
   set default="${next_entry}"
   set next_entry=
   save_env next_entry
   set boot_once=true
else
   set default="%(default)s"
fi
function gfxmode {
\tset gfxpayload="${1}"
}
menuentry 'Debian GNU/Linux' --class debian $menuentry_id_option 'gnulinux-simple-u1' {
\tlinux\t/boot/vmlinuz-%(newest)s root=UUID=u1 ro  quiet
\tinitrd\t/boot/initrd.img-%(newest)s
}
submenu 'Advanced options for Debian GNU/Linux' $menuentry_id_option 'gnulinux-advanced-u1' {
\tmenuentry 'Debian GNU/Linux, with Linux %(newest)s' --class debian \
$menuentry_id_option 'gnulinux-%(newest)s-advanced-u1' {
\t\tlinux\t/boot/vmlinuz-%(newest)s root=UUID=u1 ro  quiet
\t}
\tmenuentry 'Debian GNU/Linux, with Linux %(newest)s (recovery mode)' --class debian \
$menuentry_id_option 'gnulinux-%(newest)s-recovery-u1' {
\t\tlinux\t/boot/vmlinuz-%(newest)s root=UUID=u1 ro single
\t}
\tmenuentry 'Debian GNU/Linux, with Linux %(older)s' --class debian \
$menuentry_id_option 'gnulinux-%(older)s-advanced-u1' {
\t\tlinux\t/boot/vmlinuz-%(older)s root=UUID=u1 ro  quiet
\t}
}
"""


def grub(root: Path, default: str = "0", grubenv: str = "", older: str = STOCK) -> None:
    newest = BACKPORTS
    fakesys.write(root / "boot/grub/grub.cfg", GRUB_CFG % locals())
    fakesys.write(root / "boot/grub/grubenv", "# GRUB Environment Block\n" + grubenv)


# --- pure helpers -------------------------------------------------------------------------

# Expected orders come from `dpkg --compare-versions` (Debian 12's dpkg 1.21).
DPKG_ORDER = [
    ("6.12.38+deb13-amd64", "6.12.38-1-liquorix-amd64", -1),
    ("6.12.38-1-liquorix-amd64", "6.12.38+deb13-amd64", 1),
    ("7.3.4+deb13-amd64", "6.12.118+deb13-amd64", 1),
    ("6.12.9+deb13-amd64", "6.12.10+deb13-amd64", -1),
    ("6.12.118+deb13-amd64", "6.12.117+deb13-amd64", 1),
    ("6.18~rc1", "6.18", -1),
    ("7.0.14-1-pve", "7.0.2-1-pve", 1),
    ("6.12.118+deb13-amd64", "6.12.118+deb13-rt-amd64", -1),
    ("6.12.118+deb13-cloud-amd64", "6.12.118+deb13-amd64", 1),
    ("7.3.4+bpo-amd64", "7.3.4+deb13-amd64", -1),
    ("6.12.0", "6.12", 1),
    ("6.12a", "6.12+", -1),
    ("1.0~beta", "1.0", -1),
    ("1.0", "1.0-0", 0),
    ("7.3.4+deb13-amd64", "7.3.4+deb13-amd64", 0),
    ("6.1.0-18-amd64", "6.1.0-9-amd64", 1),
    ("6.12.38-1-liquorix-amd64", "6.12.38-2-liquorix-amd64", -1),
]


@pytest.mark.parametrize(("left", "right", "expected"), DPKG_ORDER)
def test_debian_version_order(left, right, expected):
    assert debversion.compare(left, right) == expected
    assert debversion.compare(right, left) == -expected


def test_release_names_that_are_not_numbers_sort_without_crashing(tmp_path):
    for release in ("6.12.38+deb13-amd64", "6.12.38-1-liquorix-amd64", "6.12.٣-amd64", "x"):
        (tmp_path / "lib/modules" / release / "kernel").mkdir(parents=True)
    assert kernelfiles.installed_kernels(Paths(tmp_path)) == [
        "6.12.38+deb13-amd64",
        "6.12.38-1-liquorix-amd64",
        "6.12.٣-amd64",
        "x",
    ]


@pytest.mark.parametrize(
    ("release", "expected"),
    [("6.17.9-amd64", False), ("6.18", True), ("6.18.1+deb13-amd64", True), ("7.0.14-1-pve", True),
     ("6.12.118+deb13-amd64", False), ("10.1", True), ("linux", False)],
)  # fmt: skip
def test_xe_pf_release_rule(release, expected):
    assert debversion.upstream_at_least(release, 6, 18) is expected


def test_apt_sources_deb822_and_one_line():
    debian_sources = (
        "Types: deb deb-src\nURIs: http://mirror.example/debian\n"
        "Suites: trixie trixie-updates\nComponents: main\n\n"
        "Types: deb\nURIs: http://security.example/debian-security\nSuites: trixie-security\n"
    )
    found = aptsources.summarise(aptsources.parse_deb822(debian_sources), deb822=True)
    assert found == aptsources.AptSources(False, "http://mirror.example/debian", True)
    assert aptsources.backports_steps(found) == [
        "add trixie-backports to the Suites: line of /etc/apt/sources.list.d/debian.sources",
        "apt update",
        "apt install -t trixie-backports linux-image-amd64",
    ]
    lines = "deb [arch=amd64] http://m.example/debian trixie main\n# deb x trixie-backports main\n"
    found = aptsources.summarise(aptsources.parse_one_line(lines), deb822=False)
    assert aptsources.backports_steps(found)[0] == (
        "echo 'deb http://m.example/debian trixie-backports main' > "
        "/etc/apt/sources.list.d/trixie-backports.list"
    )
    with_backports = lines + "deb http://m.example/debian trixie-backports main contrib\n"
    found = aptsources.summarise(aptsources.parse_one_line(with_backports), deb822=False)
    assert aptsources.backports_steps(found) == [
        "apt install -t trixie-backports linux-image-amd64"
    ]


@pytest.mark.parametrize(
    ("output", "expected"),
    [
        ("/var/lib/dkms/mok.pub is already enrolled\n", secureboot.Enrolment.ENROLLED),
        ("/var/lib/dkms/mok.pub is not enrolled\n", secureboot.Enrolment.NOT_ENROLLED),
        (
            "/var/lib/dkms/mok.pub is already in the enrollment request\n",
            secureboot.Enrolment.PENDING,
        ),
        ("EFI variables are not supported on this system\n", secureboot.Enrolment.UNKNOWN),
    ],
)
def test_mokutil_test_key_wording(output, expected):
    assert secureboot.parse_test_key(output) is expected


def test_secure_boot_efivar(tmp_path):
    var = tmp_path / "sys/firmware/efi/efivars" / secureboot.SECURE_BOOT_EFIVAR
    assert bootfiles.read_secure_boot(Paths(tmp_path)).enabled is None
    fakesys.write(var, b"\x06\x00\x00\x00\x01")
    fakesys.write(tmp_path / "var/lib/dkms/mok.pub", b"DER")
    state = bootfiles.read_secure_boot(Paths(tmp_path))
    assert (state.enabled, state.key_present, state.enrolment) == (
        True,
        True,
        secureboot.Enrolment.UNKNOWN,
    )
    assert state.why_unknown == "cannot be checked under --root"
    fakesys.write(var, b"\x06\x00\x00\x00\x00")
    assert bootfiles.read_secure_boot(Paths(tmp_path)).enabled is False


# --- next boot ----------------------------------------------------------------------------


def test_grub_default_zero_is_the_newest(tmp_path):
    grub(tmp_path)
    found = bootfiles.read_next_boot(Paths(tmp_path), BootPath.GRUB)
    assert found == nextboot.NextBoot(BACKPORTS, "GRUB: grub.cfg's default '0'")


@pytest.mark.parametrize(
    ("default", "grubenv", "expected"),
    [
        ("1>2", "", STOCK),
        ("1>0", "", BACKPORTS),
        ("gnulinux-advanced-u1>gnulinux-6.12.118+deb13-amd64-advanced-u1", "", STOCK),
        ("Advanced options for Debian GNU/Linux>Debian GNU/Linux, with Linux " + STOCK, "", STOCK),
        ("${saved_entry}", f"saved_entry=gnulinux-advanced-u1>gnulinux-{STOCK}-advanced-u1\n",
         STOCK),
        ("${saved_entry}", "", BACKPORTS),
        ("0", "next_entry=1>2\n", STOCK),
        ("7", "", None),
        ("no-such-entry", "", None),
    ],
)  # fmt: skip
def test_grub_default_entries(tmp_path, default, grubenv, expected):
    grub(tmp_path, default, grubenv)
    assert bootfiles.read_next_boot(Paths(tmp_path), BootPath.GRUB).release == expected


def test_systemd_boot_default(tmp_path):
    entries = tmp_path / "boot/efi/loader/entries"
    for release in (STOCK, BACKPORTS):
        fakesys.write(
            entries / f"abc-{release}.conf",
            f"title Debian\nversion {release}\nlinux /abc/{release}/linux\noptions ro\n",
        )
    paths = Paths(tmp_path)
    assert bootfiles.read_next_boot(paths, BootPath.SYSTEMD_BOOT).release == BACKPORTS
    fakesys.write(tmp_path / "boot/efi/loader/loader.conf", f"timeout 3\ndefault abc-{STOCK}*\n")
    assert bootfiles.read_next_boot(paths, BootPath.SYSTEMD_BOOT) == nextboot.NextBoot(
        STOCK, f"systemd-boot: loader.conf's default 'abc-{STOCK}*'"
    )
    efivar = tmp_path / "sys/firmware/efi/efivars" / LOADER_ENTRY_DEFAULT_EFIVAR
    # systemd-boot's entry ids are the file names with .conf (src/boot/boot.c), as bootctl
    # set-default takes them
    fakesys.write(efivar, b"\x06\x00\x00\x00" + f"abc-{BACKPORTS}.conf".encode("utf-16-le"))
    assert bootfiles.read_next_boot(paths, BootPath.SYSTEMD_BOOT).release == BACKPORTS
    fakesys.write(efivar, b"\x06\x00\x00\x00" + f"abc-{BACKPORTS}".encode("utf-16-le"))
    assert (
        bootfiles.read_next_boot(paths, BootPath.SYSTEMD_BOOT).release is None
    )  # names no entry id
    assert bootfiles.read_next_boot(paths, BootPath.PROXMOX).release is None
    assert bootfiles.read_next_boot(paths, None).evidence == "not known for boot path none found"


# --- providers per kernel -----------------------------------------------------------------


def kernels_of(root: Path, device: str | None = "a7a0"):
    """Every kernel's provider, judged for the GPU `device` (None: none visible)."""
    found = judgement.judge_kernels(gathered(root, "kernels"), device)
    return {k.release: k for k in found}


def test_stock_kernel_only_has_no_provider(tmp_path):
    fakesys.install_kernel(tmp_path, STOCK, max_vfs=True)
    kernel = kernels_of(tmp_path)[STOCK]
    assert kernel.provider is None and kernel.drivers == ()
    assert kernel.state == "no-package"  # the pinned driver package is not installed
    fakesys.install_dkms_source(tmp_path)
    assert kernels_of(tmp_path)[STOCK].state == "no-headers"
    assert kernel.kernel_xe == (
        "xe is an SR-IOV PF for Alder Lake and Raptor Lake from Linux 6.18 on"
    )


def test_backports_kernel_has_its_own_xe(tmp_path):
    fakesys.install_kernel(tmp_path, BACKPORTS, usr=True)
    kernel = kernels_of(tmp_path)[BACKPORTS]
    assert (kernel.provider, kernel.drivers) == (providers.Provider.KERNEL_XE, ("xe",))
    assert kernel.kernel_xe == (
        f"xe {BACKPORTS} is an SR-IOV PF for a7a0 (xe.max_vfs, xe.force_probe)"
    )
    assert kernel.boots_next is None  # no grub.cfg: unknown


@pytest.mark.parametrize(
    ("variant", "expected"),
    [
        ({"config": fakesys.NO_XE_CONFIG}, "built without xe (CONFIG_DRM_XE is not set)"),
        ({"config": "CONFIG_DRM_XE=m\n"}, "built without SR-IOV (CONFIG_PCI_IOV is not set)"),
        ({"max_vfs": False}, "its xe has no max_vfs parameter"),
        ({"ids": ("9a49",)}, "its xe does not claim the GPU's device id a7a0"),
        (
            {"ids": ("9a49",), "alias_index": False},
            "its xe does not claim the GPU's device id a7a0",
        ),
    ],
)
def test_why_a_kernels_own_xe_does_not_serve(tmp_path, variant, expected):
    fakesys.install_kernel(tmp_path, BACKPORTS, usr=True, **variant)
    kernel = kernels_of(tmp_path)[BACKPORTS]
    assert kernel.provider is None
    assert kernel.kernel_xe == expected


def test_flavours_cloud_has_no_xe_rt_has(tmp_path):
    cloud = "7.3.4+deb13-cloud-amd64"
    fakesys.install_kernel(tmp_path, cloud, usr=True, config=fakesys.NO_XE_CONFIG)
    fakesys.install_kernel(tmp_path, "7.3.4+deb13-rt-amd64", usr=True)
    found = kernels_of(tmp_path)
    assert found["7.3.4+deb13-cloud-amd64"].provider is None
    assert found["7.3.4+deb13-rt-amd64"].provider is providers.Provider.KERNEL_XE


def test_no_gpu_visible_any_supported_id_will_do(tmp_path):
    fakesys.install_kernel(tmp_path, BACKPORTS, usr=True, alias_index=False)
    assert kernels_of(tmp_path, device=None)[BACKPORTS].provider == "kernel-xe"


def test_dkms_installed_is_the_first_choice(tmp_path):
    fakesys.install_kernel(tmp_path, STOCK, dkms=True)
    fakesys.install_kernel(tmp_path, "6.18.3+deb13-amd64", dkms=True)
    found = kernels_of(tmp_path)
    assert (found[STOCK].provider, found[STOCK].drivers) == ("i915-sriov-dkms", ("i915", "xe"))
    # a kernel with both: the pinned DKMS build comes first
    assert found["6.18.3+deb13-amd64"].provider == "i915-sriov-dkms"


def test_both_kernels_with_either_booting_next(tmp_path):
    fakesys.install_kernel(tmp_path, STOCK)
    fakesys.install_kernel(tmp_path, BACKPORTS, usr=True)
    grub(tmp_path)
    found = kernels_of(tmp_path)
    assert (found[STOCK].boots_next, found[BACKPORTS].boots_next) == (False, True)
    grub(tmp_path, "1>2")
    found = kernels_of(tmp_path)
    assert (found[STOCK].boots_next, found[BACKPORTS].boots_next) == (True, False)


# --- doctor: one provider finding, fixes that lead somewhere ------------------------------

DEB822 = aptsources.AptSources(False, "http://mirror.example/debian", True)


def diagnose(root: Path, settings: Settings, secure: secureboot.SecureBoot | None = None):
    verdicts = judged(root, settings=settings, apt=DEB822, secure_boot=secure)
    return {f.id: f for f in doctor.diagnose(verdicts)}


def xe_host(fake, release: str = BACKPORTS) -> None:
    """A working in-kernel-xe host: 7 VFs on vfio-pci, the kernel's own xe loaded."""
    fake.healthy(driver="xe", numvfs=7)
    (fake.root / "sys/module/xe/version").unlink()  # the in-tree xe has no MODULE_VERSION
    fake.set_kernel(release)
    (fake.root / "var/lib/dpkg/status").write_text("")  # no i915-sriov-dkms: not needed


def test_working_kernel_xe_host_passes_doctor(fake):
    xe_host(fake)
    fakesys.install_kernel(fake.root, BACKPORTS, usr=True)
    result = diagnose(fake.root, Settings(driver=Driver.XE, num_vfs=7))
    bad = {i: f for i, f in result.items() if f.level in ("fail", "warn")}
    assert bad == {}
    assert result["provider"].message == f"{BACKPORTS} has kernel-xe for xe (loaded)"
    assert result["driver.package"].message == (
        f"i915-sriov-dkms is not installed; not needed on {BACKPORTS}, whose own xe is the provider"
    )
    assert "kernel.range" not in result and "module.dkms" not in result


def test_working_kernel_xe_host_doctor_exits_0(fake):
    xe_host(fake)
    fakesys.install_kernel(fake.root, BACKPORTS, usr=True)
    fakesys.write(fake.root / "etc/default/irisxe-sriov", 'DRIVER="xe"\nNUM_VFS="7"\n')
    result = CliRunner().invoke(cli, ["--root", str(fake.root), "doctor", "--verbose"])
    assert result.exit_code == 0, result.output
    assert f"[OK  ] provider: {BACKPORTS} has kernel-xe for xe (loaded)" in result.output


def test_driver_i915_where_only_kernel_xe_serves(fake):
    xe_host(fake)
    fakesys.install_kernel(fake.root, BACKPORTS, usr=True)
    result = diagnose(fake.root, Settings(driver=Driver.I915, num_vfs=7))
    assert result["provider"].level == "fail"
    assert result["provider"].message == (f"{BACKPORTS} has kernel-xe, which offers xe, not i915")
    # xe makes the VFs now: the setting is all that differs, no reboot needed
    assert result["provider"].fix.commands() == [["irisxe-sriov-ctl", "config", "set", "driver=xe"]]


def no_restore_or_plain_reboot(result) -> None:
    """Where no kernel serves the driver now, no fix may be `vfs restore`, a bare reboot
    or apply-and-reboot: none of them leads to a VF."""
    for finding in result.values():
        assert "vfs restore" not in str(finding.fix), finding
        assert finding.fix != fixes.REBOOT, finding
        assert finding.fix.steps[:1] != fixes.APPLY.steps, finding


def failed_build(root: Path, release: str) -> None:
    """dkms's make.log of a build that failed (an API change nobody bridges yet)."""
    fakesys.write(
        root / f"var/lib/dkms/{pin.DRIVER_PACKAGE}/{pin.DRIVER_VERSION}/build/make.log",
        f"DKMS (dkms-3.2.2) make.log for {pin.DRIVER_PACKAGE}/{pin.DRIVER_VERSION} "
        f"for kernel {release} (x86_64)\n"
        "drivers/gpu/drm/i915/i915_gem.c:522:13: error: implicit declaration of function 'x'\n",
    )


def test_stock_kernel_only_gets_the_backports_commands(fake):
    fake.add_gpu(driver="i915", totalvfs=None)
    fake.load_module("i915", version=None)
    fake.set_kernel(STOCK)
    fakesys.install_kernel(fake.root, STOCK)
    failed_build(fake.root, STOCK)
    result = diagnose(fake.root, Settings(num_vfs=7))
    assert result["provider"].level == "fail"
    assert str(result["provider"].fix) == (
        "add trixie-backports to the Suites: line of /etc/apt/sources.list.d/debian.sources; "
        "apt update; apt install -t trixie-backports linux-image-amd64; "
        "irisxe-sriov-ctl config set driver=xe; reboot"
    )
    assert result["provider"].fix.steps[0].argv is None  # editing a deb822 file: by hand
    assert result["sriov.numvfs"].level == "skip"
    assert result["sriov.totalvfs"].level == "skip"
    no_restore_or_plain_reboot(result)


def test_stock_kernel_with_headers_missing_gets_the_headers(fake):
    """A kernel in the pin's range without headers: installing them is the fix (dkms's
    own header hook builds the driver), then the reboot into it. One outside the range
    never gets "install headers": nothing would build there."""
    fake.add_gpu(driver="i915", totalvfs=None)
    old = "6.12.38+deb13-amd64"  # before the first API change the layer bridges
    fake.set_kernel(old)
    fakesys.install_kernel(fake.root, old)
    fakesys.install_dkms_source(fake.root)
    fakesys.install_kernel(fake.root, BACKPORTS, usr=True, config=fakesys.NO_XE_CONFIG)
    fake.grub()
    grub(fake.root, "1>2", older=old)  # the older kernel boots next: the admin chose it
    kernels = {k.release: k for k in judged(fake.root).kernels}
    assert (kernels[old].state, kernels[BACKPORTS].state) == ("no-headers", "skipped")
    assert kernels[BACKPORTS].fix == fixes.NONE
    what = providers.advice(list(kernels.values()), old, "i915", fixes.NONE)
    assert what is not None
    assert what.commands() == [["apt", "install", f"linux-headers-{old}"], ["reboot"]]


def test_newer_kernel_with_provider_boots_next(fake):
    fake.add_gpu(driver="i915", totalvfs=None)
    fake.set_kernel(STOCK)
    fakesys.install_kernel(fake.root, STOCK)
    fakesys.install_kernel(fake.root, BACKPORTS, usr=True)
    grub(fake.root)
    result = diagnose(fake.root, Settings(driver=Driver.XE, num_vfs=7))
    assert result["provider"].fix == fixes.REBOOT  # the kernel with xe boots next
    assert result[f"kernel.{BACKPORTS}"].message.startswith("kernel-xe (xe) (boots next); DKMS")
    grub(fake.root, "1>2")  # the stock kernel stays the default
    result = diagnose(fake.root, Settings(driver=Driver.XE, num_vfs=7))
    assert str(result["provider"].fix) == f"reboot and choose {BACKPORTS} in the boot menu"
    no_restore_or_plain_reboot(result)


def test_dkms_provider_with_the_stock_module_loaded(fake):
    fake.healthy()
    (fake.root / "sys/module/i915/version").unlink()  # the stock i915
    fake.set_kernel(STOCK)
    fakesys.install_kernel(fake.root, STOCK, dkms=True)
    result = diagnose(fake.root, Settings(num_vfs=3))
    assert result["provider"].level == "fail"
    assert "is the stock kernel module (version none)" in result["provider"].message
    assert str(result["provider"].fix) == f"update-initramfs -u -k {STOCK}; reboot"
    fake.load_module("i915", parameters={"enable_guc": "3", "max_vfs": "7"})
    result = diagnose(fake.root, Settings(num_vfs=3))
    assert result["provider"].message == f"{STOCK} has i915-sriov-dkms for i915 (loaded)"


@pytest.mark.parametrize(
    ("secure", "level", "words"),
    [
        (None, "skip", "Secure Boot state unknown"),
        (secureboot.SecureBoot(False, True, secureboot.Enrolment.UNKNOWN), "ok", "is off"),
        (secureboot.SecureBoot(True, True, secureboot.Enrolment.ENROLLED), "ok", "is enrolled"),
        (secureboot.SecureBoot(True, True, secureboot.Enrolment.NOT_ENROLLED), "fail",
         "is not enrolled"),
        (secureboot.SecureBoot(True, False, secureboot.Enrolment.UNKNOWN), "fail",
         "dkms has no signing key"),
        (secureboot.SecureBoot(True, True, secureboot.Enrolment.UNKNOWN,
                               "cannot be checked under --root"), "warn",
         "cannot be checked under --root"),
    ],
)  # fmt: skip
def test_secure_boot_with_dkms(fake, secure, level, words):
    fake.healthy()
    fake.set_kernel(STOCK)
    fakesys.install_kernel(fake.root, STOCK, dkms=True)
    finding = diagnose(fake.root, Settings(num_vfs=3), secure)["secureboot.key"]
    assert finding.level == level and words in finding.message
    if level == "fail":
        assert ["mokutil", "--import", "/var/lib/dkms/mok.pub"] in finding.fix.commands()


def test_secure_boot_with_kernel_xe_needs_no_key(fake):
    xe_host(fake)
    fakesys.install_kernel(fake.root, BACKPORTS, usr=True)
    secure = secureboot.SecureBoot(True, False, secureboot.Enrolment.UNKNOWN)
    finding = diagnose(fake.root, Settings(driver=Driver.XE, num_vfs=7), secure)["secureboot.key"]
    assert (finding.level, finding.message) == (
        "ok",
        "Secure Boot is on; the kernel's own xe is signed by Debian",
    )


# --- the commands -------------------------------------------------------------------------


def test_kernels_json(fake):
    fake.add_gpu()
    fake.set_kernel(STOCK)
    fakesys.install_kernel(fake.root, STOCK)
    fakesys.install_kernel(fake.root, BACKPORTS, usr=True)
    grub(fake.root)
    fake.grub()
    grub(fake.root)
    result = CliRunner().invoke(cli, ["--root", str(fake.root), "kernels", "--json"])
    assert result.exit_code == 0, result.output
    document = json.loads(result.output)["kernels"]
    assert [(k["release"], k["provider"], k["drivers"], k["boots_next"]) for k in document] == [
        (STOCK, None, [], False),
        (BACKPORTS, "kernel-xe", ["xe"], True),
    ]
    assert set(document[0]) == {
        "release", "provider", "drivers", "state", "detail", "kernel_xe", "boots_next", "held",
    }  # fmt: skip
    text = CliRunner().invoke(cli, ["--root", str(fake.root), "kernels"]).output
    assert f"{BACKPORTS}  kernel-xe: xe  (boots next)\n" in text
    assert text.endswith("next boot: GRUB: grub.cfg's default '0'\n")


def test_status_names_the_providers(fake):
    fake.add_gpu()
    fake.set_kernel(STOCK)
    fakesys.install_kernel(fake.root, STOCK)
    fakesys.install_kernel(fake.root, BACKPORTS, usr=True)
    fake.grub()
    grub(fake.root)
    result = CliRunner().invoke(cli, ["--root", str(fake.root), "status", "--json"])
    assert result.exit_code == 0, result.output
    found = json.loads(result.output)["providers"]
    assert found["running"]["release"] == STOCK and found["running"]["provider"] is None
    assert found["next_boot"]["release"] == BACKPORTS
    assert found["next_boot"]["provider"] == "kernel-xe"
    text = CliRunner().invoke(cli, ["--root", str(fake.root), "status"]).output
    assert f"next boot: {BACKPORTS}, kernel-xe (xe)\n" in text


def test_kernel_hook_names_the_provider(fake):
    fakesys.install_kernel(fake.root, BACKPORTS, usr=True)
    fakesys.write(fake.root / "etc/default/irisxe-sriov", 'DRIVER="xe"\n')
    result = CliRunner().invoke(cli, ["--root", str(fake.root), "kernels", "--notify", BACKPORTS])
    assert result.exit_code == 0
    assert result.output == (
        f"irisxe-sriov: kernel {BACKPORTS}: SR-IOV by kernel-xe (xe; configured driver xe)\n"
    )
    assert not (fake.root / "run/reboot-required").exists()
    fakesys.write(fake.root / "etc/default/irisxe-sriov", 'DRIVER="i915"\n')
    result = CliRunner().invoke(cli, ["--root", str(fake.root), "kernels", "--notify", BACKPORTS])
    assert "would boot without an SR-IOV driver for i915 (kernel-xe offers xe" in result.output
    assert "no reboot is requested for it" in result.output
    # a kernel without a provider of the driver never gets a reboot notice from us: an
    # automatic reboot (unattended-upgrades) would land without SR-IOV
    assert not (fake.root / "run/reboot-required").exists()


def test_special_files_in_place_of_kernel_files_do_not_hang(fake):
    """A FIFO or a device where a config, grub.cfg or modules.alias should be: read as
    absent (bounded, non-blocking reads), never a hang or a traceback."""
    import os

    release = "7.3.4+deb13-amd64"
    fakesys.install_kernel(fake.root, release, usr=True)
    config = fake.root / "usr/lib/modules" / release / "config"
    config.unlink()
    os.mkfifo(config)
    alias = fake.root / "usr/lib/modules" / release / "modules.alias"
    alias.unlink()
    alias.symlink_to("/dev/zero")
    (fake.root / "boot/grub").mkdir(parents=True)
    os.mkfifo(fake.root / "boot/grub/grub.cfg")
    result = CliRunner().invoke(cli, ["--root", str(fake.root), "kernels", "--json"])
    assert result.exit_code == 0, result.output
    kernel = json.loads(result.output)["kernels"][0]
    assert (kernel["provider"], kernel["kernel_xe"]) == (None, "no kernel config found")
    assert kernel["boots_next"] is None


def test_local_edits_and_failed_refreshes_reach_status_and_doctor(fake):
    """apply keeps a local edit (the new version beside it) and remembers a failed boot
    refresh; status lists both, doctor warns and fails with the way out."""
    fake.healthy()
    root = str(fake.root)
    assert CliRunner().invoke(cli, ["--root", root, "config", "set", "num_vfs=3"]).exit_code == 0
    conf = fake.root / "etc/modprobe.d/irisxe-sriov.conf"
    conf.write_text(conf.read_text() + "# mine\n")
    (fake.root / "var/lib/irisxe-sriov/pending-refresh").write_text("update-grub\n")
    status = json.loads(CliRunner().invoke(cli, ["--root", root, "status", "--json"]).output)
    whats = [p["what"] for p in status["pending"]]
    assert (
        "/etc/modprobe.d/irisxe-sriov.conf was edited locally; irisxe-sriov's version is "
        "/etc/modprobe.d/irisxe-sriov.conf.ucf-dist"
    ) in whats
    assert "the boot refresh 'update-grub' failed or was cut off (apply runs it again)" in whats
    assert status["reboot_pending"] is True
    result = CliRunner().invoke(cli, ["--root", root, "doctor", "--json"])
    findings = {f["id"]: f for f in json.loads(result.output)["findings"]}
    assert findings["files.local_edits"]["level"] == "warn"
    assert findings["boot.refresh"]["level"] == "fail"
    assert "(apply runs it again)" in findings["boot.refresh"]["message"]
    assert ["irisxe-sriov-ctl", "apply"] in [s["argv"] for s in findings["boot.refresh"]["steps"]]


def test_kernels_judges_the_gpu_not_whatever_sits_at_the_pf_address(fake):
    """A VM with QEMU's NVMe at 00:02.0 and no GPU yet: the kernel's own xe is judged for
    any supported id, not for the NVMe's device id (measured in the backports VM test)."""
    fake.add_function("0000:00:02.0", vendor="1b36", device="0010", driver="nvme")
    fake.virtual("QEMU")
    fakesys.install_kernel(fake.root, BACKPORTS, usr=True)
    result = CliRunner().invoke(cli, ["--root", str(fake.root), "kernels", "--json"])
    assert json.loads(result.output)["kernels"][0]["provider"] == "kernel-xe"


# Kernel release names as dpkg takes them: no epoch, a digit first, then what Debian's and
# others' kernel names use (letters, digits, . + ~ -; the last hyphen starts a revision).
# Pairs share a prefix, so that they differ where the order is subtle (~, the end, a digit).
PREFIX = st.from_regex(r"[0-9][0-9a-z.+~-]{0,6}", fullmatch=True)
TAIL = st.text("09az.+~-", max_size=4)


def dpkg_order(left: str, right: str) -> int:
    for relation, sign in (("lt", -1), ("gt", 1)):
        done = subprocess.run(["dpkg", "--compare-versions", left, relation, right], check=False)
        if done.returncode == 0:
            return sign
    return 0


def valid(version: str) -> bool:
    done = subprocess.run(["dpkg", "--validate-version", version], capture_output=True, check=False)
    return done.returncode == 0


@settings(max_examples=150, deadline=None)
@given(PREFIX, TAIL, TAIL)
def test_the_order_is_dpkgs_own(prefix, left_tail, right_tail):
    """debversion is written by hand (status must not import python-debian: make bench);
    the real dpkg is the reference it must agree with, on any pair of release names."""
    left, right = prefix + left_tail, prefix + right_tail
    assume(valid(left) and valid(right))
    assert debversion.compare(left, right) == dpkg_order(left, right), (left, right)
