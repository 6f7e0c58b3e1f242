"""The upgrade from the previous release (0.1.0, built from `git archive` of its commit in the
clean build chroot: the `previous` fixture, tests/conftest.py) to the .deb just built, in
a trixie chroot with the stand-in driver and preseeded answers. piuparts' upgrade test is
in tests/package/test_piuparts.py."""

from chroot import PIN, Chroot, default_settings_file, package_version, preseed, settings_values

PREVIOUS = "0.1.0"
CMDLINE = "root=UUID=1234 ro quiet\n"
I915_TOKENS = "intel_iommu=on i915.enable_guc=3 i915.max_vfs=7 module_blacklist=xe"
MODPROBE = "/etc/modprobe.d/irisxe-sriov.conf"
# Marks a run of the OLD helper's `config` (the preconfigure hazard): test-only, written
# into the installed 0.1.0 helper, which the upgrade replaces.
OLD_CONFIG_MARK = """import sys
if sys.argv[0].endswith("debconf_ui.py") and sys.argv[1:] == ["config"]:
    open("/root/old-helper-asked", "a").write("config\\n")
"""


def dpkg_version(box: Chroot) -> str:
    return box.run("dpkg-query -W -f='${Version}' irisxe-sriov").stdout


def test_upgrade_from_the_previous_release(chroot, previous):
    chroot.copy_in(previous, "/root/debs/previous.deb")
    chroot.write("/etc/kernel/cmdline", CMDLINE)
    answers = {"driver": "i915", "num_vfs": "4", "bootloader": "systemd-boot", "vf_unbound": "3"}
    preseed(chroot, answers)
    chroot.run(
        f"apt-get install -y /root/debs/i915-sriov-dkms_{PIN}_amd64.deb /root/debs/previous.deb"
    )
    assert dpkg_version(chroot) == PREVIOUS
    before = settings_values(chroot)
    assert chroot.read("/etc/kernel/cmdline") == f"root=UUID=1234 ro quiet {I915_TOKENS}\n"
    # 0.1.0 wrote the VF count and the bindings even with no GPU at the PF address
    old_files = sorted(p.name for p in chroot.path("/etc/driverctl.d").iterdir())
    assert old_files == ["pci-0000:00:02.1", "pci-0000:00:02.2", "pci-0000:00:02.4"]
    assert chroot.path("/etc/sysfs.d/irisxe-sriov.conf").exists()
    # a local edit of a generated file
    modprobe = chroot.path(MODPROBE)
    modprobe.write_text(modprobe.read_text() + "# local note\n")
    helper = chroot.path("/usr/lib/python3/dist-packages/irisxe_sriov/debconf_ui.py")
    helper.write_text(helper.read_text().replace("import sys\n", OLD_CONFIG_MARK, 1))

    done = chroot.run("apt-get install -y /root/debs/irisxe-sriov.deb")
    assert dpkg_version(chroot) == package_version()
    assert "Preconfiguring packages" in done.stdout
    # the new config script did not run the old helper with the new templates
    assert not chroot.path("/root/old-helper-asked").exists()
    # settings kept; a key the new version added, if written, has its default
    after = settings_values(chroot)
    assert {key: after.get(key) for key in before} == before
    added = {key: value for key, value in after.items() if key not in before}
    assert added.items() <= default_settings_file().items(), added
    # the local edit kept; where the new version differs it stands beside as ucf says
    kept = chroot.read(MODPROBE)
    assert kept.endswith("# local note\n") and "options i915 enable_guc=3 max_vfs=7" in kept
    dist = chroot.path(MODPROBE + ".ucf-dist")
    if dist.exists():
        assert "# local note" not in dist.read_text()
    # what 0.2.0 no longer writes with no GPU at the PF address is gone
    assert not list(chroot.path("/etc/driverctl.d").glob("pci-*"))
    assert not chroot.path("/etc/sysfs.d/irisxe-sriov.conf").exists()
    managed = chroot.read("/var/lib/irisxe-sriov/managed")
    assert "/etc/driverctl.d/pci-0000:00:02.1" not in managed
    assert "/etc/sysfs.d/irisxe-sriov.conf" not in managed
    # our tokens once each, the admin's kept; purge gives the admin's line back
    assert chroot.read("/etc/kernel/cmdline") == f"root=UUID=1234 ro quiet {I915_TOKENS}\n"
    chroot.run("apt-get purge -y irisxe-sriov")
    assert chroot.read("/etc/kernel/cmdline") == CMDLINE
    assert not chroot.path("/etc/default/irisxe-sriov").exists()
    assert not chroot.path(MODPROBE).exists()
