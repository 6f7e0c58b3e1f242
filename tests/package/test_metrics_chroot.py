"""The installed package's metrics with the real Prometheus tools in a Debian 13 chroot:
the timer enabled by dpkg, `irisxe-sriov-ctl metrics --textfile` (what the timer's
service runs) writing into Debian's prometheus-node-exporter textfile directory,
`promtool check metrics` accepting the file, node-exporter's textfile collector serving
it on 127.0.0.1 inside a network namespace of its own (unshare -n: nothing listens on
this machine), scraped with curl; a VF taken by the wrong driver shows in the scrape;
remove and purge take the file away. The GPU is a fake sysfs tree in the chroot's /sys."""

import pytest

from chroot import DEPENDENCIES, Chroot, chroot_on, install, with_debs
from fakesys import FakeSystem

METRICS_BASE = (*DEPENDENCIES, "apt-utils", "prometheus-node-exporter", "prometheus", "curl",
                "iproute2")  # fmt: skip
TEXTFILE = "/var/lib/prometheus/node-exporter/irisxe-sriov.prom"
# node-exporter on loopback in a network namespace of its own, scraped once it answers
SCRAPE = (
    "unshare -n sh -c '"
    "ip link set lo up; "
    "prometheus-node-exporter --web.listen-address=127.0.0.1:9100 "
    "--collector.disable-defaults --collector.textfile "
    "--collector.textfile.directory=/var/lib/prometheus/node-exporter "
    ">/tmp/node-exporter.log 2>&1 & "
    "for i in $(seq 50); do "
    "curl -sf http://127.0.0.1:9100/metrics && break; sleep 0.2; done; "
    "kill $!'"
)


@pytest.fixture
def box(tmp_path, package, standin):
    with chroot_on("metrics", METRICS_BASE, tmp_path / "box") as made:
        yield with_debs(made, package, standin)


def scraped(box: Chroot) -> dict[str, float]:
    """The irisxe_sriov series of one scrape, by their line's name and labels."""
    text = box.run(SCRAPE).stdout
    assert "node_textfile_scrape_error 0" in text, text[-2000:]
    return {
        line.rpartition(" ")[0]: float(line.rpartition(" ")[2])
        for line in text.splitlines()
        if line.startswith("irisxe_sriov_")
    }


def test_node_exporter_serves_the_metrics_and_a_broken_vf_shows(box):
    fake = FakeSystem(box.root)
    fake.add_gpu(device="a7a0", driver="i915", numvfs=2, vf_drivers=["vfio-pci", "vfio-pci"])
    install(box, {"driver": "i915", "num_vfs": "2", "bootloader": "none"})
    # dpkg enabled the timer; its service is started by the timer alone
    wants = box.path("/etc/systemd/system/timers.target.wants/irisxe-sriov-metrics.timer")
    assert wants.is_symlink()
    service = box.read("/usr/lib/systemd/system/irisxe-sriov-metrics.service")
    assert "ExecStart=/usr/bin/irisxe-sriov-ctl metrics --textfile\n" in service

    box.run("irisxe-sriov-ctl metrics --textfile")
    check = box.run(f"promtool check metrics < {TEXTFILE}", check=False)
    assert check.returncode == 0 and check.stdout == "", check.stdout
    series = scraped(box)
    assert series["irisxe_sriov_vfs_configured"] == 2
    assert series["irisxe_sriov_vfs_existing"] == 2
    assert series['irisxe_sriov_vf_driver_ok{address="0000:00:02.2",role="vfio",vf="2"}'] == 1

    # VF 2 taken by the host driver: the next run of the service shows it
    (fake.device_dir("0000:00:02.2") / "driver").unlink()
    fake.bind("0000:00:02.2", "i915")
    box.run("irisxe-sriov-ctl metrics --textfile")
    series = scraped(box)
    assert series['irisxe_sriov_vf_driver_ok{address="0000:00:02.2",role="vfio",vf="2"}'] == 0
    assert series['irisxe_sriov_doctor_failed{id="vf.2.driver"}'] == 1

    # removing the package takes the file away: no stale health for a machine without it
    box.run("apt-get remove -y irisxe-sriov")
    assert list(box.path("/var/lib/prometheus/node-exporter").iterdir()) == []
