"""`irisxe-sriov-ctl metrics` (metrics.py): Prometheus' text format, read back with
Debian's python3-prometheus-client parser, on every kind of machine the judgement tests
know; the numbers are what status and doctor say; `--textfile` writes node-exporter's
file whole, and only where its directory exists. promtool and a real node-exporter scrape
are in tests/package/test_metrics_chroot.py."""

import json
import os
from pathlib import Path

import pytest
from click.testing import CliRunner
from prometheus_client.parser import text_string_to_metric_families

import fakesys
from irisxe_sriov import paths
from irisxe_sriov.cli.commands import cli
from irisxe_sriov.report import metrics
from machines import MACHINES, root_of


def ctl(root: Path, *args: str):
    return CliRunner().invoke(cli, ["--root", str(root), *args])


def parsed(text: str) -> dict[str, list[tuple[dict[str, str], float]]]:
    """Family name -> (labels, value) of every sample; the parser rejects what is not the
    text format."""
    found: dict[str, list[tuple[dict[str, str], float]]] = {}
    for family in text_string_to_metric_families(text):
        assert family.type == "gauge", family.name
        assert family.documentation, family.name
        found[family.name] = [(sample.labels, sample.value) for sample in family.samples]
    return found


@pytest.fixture(params=sorted(MACHINES))
def machine(request, tmp_path) -> Path:
    return root_of(request.param, tmp_path)


def test_the_metrics_say_what_status_and_doctor_say(machine):
    shown = ctl(machine, "metrics")
    assert shown.exit_code == 0, shown.output
    found = parsed(shown.output)
    status = json.loads(ctl(machine, "status", "--json").output)
    doctor = json.loads(ctl(machine, "doctor", "--json").output)
    existing = status["pf"]["sriov_numvfs"]
    assert found.get("irisxe_sriov_vfs_existing", []) == (
        [] if existing is None else [({}, existing)]
    )
    configured = [vf for vf in status["vfs"] if vf["role"] is not None]
    assert found["irisxe_sriov_vfs_configured"] == [({}, len(configured))]
    drivers = {labels["vf"]: value for labels, value in found.get("irisxe_sriov_vf_driver_ok", [])}
    assert drivers == {
        str(vf["index"]): float(vf["present"] and vf["driver"] == vf["expected_driver"])
        for vf in configured
    }
    failed = {labels["id"] for labels, _ in found.get("irisxe_sriov_doctor_failed", [])}
    assert failed == {f["id"] for f in doctor["findings"] if f["level"] == "fail"}
    levels = {labels["level"]: value for labels, value in found["irisxe_sriov_doctor_findings"]}
    assert levels == doctor["summary"]
    assert found["irisxe_sriov_reboot_pending"] == [({}, float(status["reboot_pending"]))]
    providers = {labels["kernel"]: labels for labels, _ in found["irisxe_sriov_kernel_provider"]}
    running = status["providers"]["running"]
    if running is not None:
        assert providers["running"]["provider"] == (running["provider"] or "none")
    [(info, _)] = found["irisxe_sriov_info"]
    assert info["driver"] == status["settings"]["driver"]
    assert info["machine_role"] == status["machine"]["role"]


def test_a_vf_on_the_wrong_driver_shows(fake):
    fake.healthy(numvfs=3)
    # a settings file: without one the defaults follow the bindings found running
    fakesys.write(fake.root / "etc/default/irisxe-sriov", 'NUM_VFS="3"\n')
    ok = parsed(ctl(fake.root, "metrics").output)["irisxe_sriov_vf_driver_ok"]
    assert [value for _, value in ok] == [1.0, 1.0, 1.0]
    (fake.device_dir("0000:00:02.2") / "driver").unlink()
    fake.bind("0000:00:02.2", "i915")  # VF 2, of role vfio, taken by the host driver
    after = parsed(ctl(fake.root, "metrics").output)
    assert [(labels["vf"], value) for labels, value in after["irisxe_sriov_vf_driver_ok"]] == [
        ("1", 1.0),
        ("2", 0.0),
        ("3", 1.0),
    ]
    assert ({"id": "vf.2.driver"}, 1.0) in after["irisxe_sriov_doctor_failed"]


def test_scheduling_values_are_exported_as_read_back(fake):
    from driverdouble import I915Double

    fake.healthy(numvfs=2)
    I915Double(fake, print)
    fakesys.write(fake.root / "etc/default/irisxe-sriov", 'NUM_VFS="2"\nSCHED="fair"\n')
    before = parsed(ctl(fake.root, "metrics").output)
    assert before["irisxe_sriov_exec_quantum_ms"] == [
        ({"function": "pf"}, 0.0),
        ({"function": "1"}, 0.0),
        ({"function": "2"}, 0.0),
    ]
    assert ({"id": "sched.profile"}, 1.0) in before["irisxe_sriov_doctor_failed"]
    assert ctl(fake.root, "config", "set", "sched=fair").exit_code == 0
    after = parsed(ctl(fake.root, "metrics").output)
    assert [value for _, value in after["irisxe_sriov_preempt_timeout_us"]] == [16000.0] * 3
    assert "irisxe_sriov_doctor_failed" not in after  # nothing fails any more


def test_label_values_are_escaped():
    family = metrics.Family("x", "help", (metrics.Sample((("a", 'q"\\\nz'),), 1.0),))
    text = metrics.exposition([family])
    assert 'irisxe_sriov_x{a="q\\"\\\\\\nz"} 1' in text
    assert parsed(text)["irisxe_sriov_x"] == [({"a": 'q"\\\nz'}, 1.0)]


def test_textfile_only_where_node_exporter_reads(fake):
    fake.healthy(numvfs=2)
    target = fake.root / paths.METRICS_TEXTFILE.lstrip("/")
    # no node-exporter: nothing is written, and that is no error
    done = ctl(fake.root, "metrics", "--textfile")
    assert done.exit_code == 0 and done.output == ""
    assert not target.parent.exists()
    target.parent.mkdir(parents=True)
    os.umask(0o077)  # the caller's umask does not decide who may read it
    try:
        assert ctl(fake.root, "metrics", "--textfile").exit_code == 0
    finally:
        os.umask(0o022)
    assert target.read_text() == ctl(fake.root, "metrics").output
    assert oct(target.stat().st_mode & 0o777) == "0o644"
    assert [p.name for p in target.parent.iterdir()] == [target.name]  # no temporary left


def test_remove_and_purge_take_the_textfile_away(tmp_path):
    """The postrm's remove_metrics (paths put in from paths.METRICS_TEXTFILE) removes the
    file and the temporary of a run cut off (apply.replace_file's name); a symlink an
    admin put there stays. The paths are rebased under tmp_path."""
    import subprocess
    import tempfile

    from irisxe_sriov.write import render

    source = Path(__file__).resolve().parents[2] / "debian/irisxe-sriov.postrm"
    script = render.postrm(source.read_text())
    function = script[script.index("remove_metrics() {") : script.index("# run_refresh")]
    function = function.replace(" /var/", f" {tmp_path}/var/")
    target = tmp_path / paths.METRICS_TEXTFILE.lstrip("/")
    target.parent.mkdir(parents=True)
    target.write_text("irisxe_sriov_vfs_configured 2\n")
    handle, temporary = tempfile.mkstemp(
        prefix=f".{target.name}.", suffix=paths.TEMPORARY_SUFFIX, dir=target.parent
    )
    os.close(handle)
    (target.parent / "other.prom").symlink_to(target)
    subprocess.run(["sh", "-c", function + "remove_metrics\n"], check=True)
    assert [p.name for p in target.parent.iterdir()] == ["other.prom"]
    assert not Path(temporary).exists()


def test_the_unit_starts_only_where_the_command_writes():
    """irisxe-sriov-metrics.service's condition is the directory `metrics --textfile`
    writes to (paths.METRICS_DIR): the one place the unit spells it."""
    unit = Path(__file__).resolve().parents[2] / "conf/systemd/irisxe-sriov-metrics.service"
    assert f"\nConditionPathIsDirectory={paths.METRICS_DIR}\n" in unit.read_text()
