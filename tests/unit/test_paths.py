from pathlib import Path

from irisxe_sriov.paths import Paths


def test_paths_live_under_the_root(tmp_path):
    paths = Paths(tmp_path)
    assert paths.settings == tmp_path / "etc/default/irisxe-sriov"
    assert paths.pci_device("0000:00:02.0") == tmp_path / "sys/bus/pci/devices/0000:00:02.0"
    assert paths.driverctl_override("0000:00:02.3") == tmp_path / "etc/driverctl.d/pci-0000:00:02.3"
    assert paths.display(paths.grub_dropin) == "/etc/default/grub.d/irisxe-sriov.cfg"
    assert paths.display(tmp_path) == "/"
    assert not paths.is_host


def test_only_the_real_root_is_the_host():
    assert Paths("/").is_host
    assert Paths(Path("/tmp/..")).is_host
    assert Paths().display(Paths().settings) == "/etc/default/irisxe-sriov"
