from irisxe_sriov import packages
from irisxe_sriov.paths import Paths


def test_installed_version_reads_only_installed_stanzas(fake):
    paths = Paths(fake.root)
    assert packages.installed_version(paths, "i915-sriov-dkms") is None
    fake.install_package("i915-sriov-dkms-extra", "1")
    fake.install_package("i915-sriov-dkms", "2025.12.10")
    assert packages.installed_version(paths, "i915-sriov-dkms") == "2025.12.10"
    status = fake.root / "var/lib/dpkg/status"
    status.write_text(
        status.read_text().replace(
            "Package: i915-sriov-dkms\nStatus: install ok installed",
            "Package: i915-sriov-dkms\nStatus: deinstall ok config-files",
        )
    )
    assert packages.installed_version(paths, "i915-sriov-dkms") is None


def test_same_version_compares_as_dpkg_does():
    assert packages.same_version("2025.12.10", "2025.12.10")
    assert packages.same_version("0:2025.12.10", "2025.12.10")
    assert not packages.same_version("2025.12.10-1", "2025.12.10")
