"""process.Runner, the one process gateway: what it runs, prints and reports."""

import pytest

from irisxe_sriov import process


def test_runner_prints_instead_of_running_when_not_live():
    lines: list[str] = []
    assert process.Runner(live=False, echo=lines.append).run(["update-grub"]) == 0
    assert lines == ["would run: update-grub"]


def test_runner_runs_real_commands_when_live(tmp_path):
    lines: list[str] = []
    runner = process.Runner(live=True, echo=lines.append)
    assert runner.run(["sh", "-c", f"echo ran > {tmp_path}/out"]) == 0
    assert (tmp_path / "out").read_text() == "ran\n"
    assert runner.run(["false"]) == 1
    assert lines[0].startswith("running: sh -c")


def test_optional_command_that_is_not_installed_is_skipped():
    lines: list[str] = []
    runner = process.Runner(live=True, echo=lines.append)
    assert runner.run(["irisxe-no-such-tool", "-u"], optional=True) == 0
    assert lines == ["skipped: irisxe-no-such-tool -u (irisxe-no-such-tool is not installed)"]
    with pytest.raises(FileNotFoundError):
        runner.run(["irisxe-no-such-tool"])


def test_capture_returns_status_and_output_and_prints_instead_when_not_live():
    lines: list[str] = []
    live = process.Runner(live=True, echo=lines.append)
    assert live.capture(["sh", "-c", "echo out; echo err >&2; exit 3"]) == (3, "out\nerr\n")
    assert lines == ["running: sh -c 'echo out; echo err >&2; exit 3'"]
    assert live.capture(["true"], quiet=True) == (0, "")
    assert len(lines) == 1  # a quiet one is not announced
    dry = process.Runner(live=False, echo=lines.append)
    assert dry.capture(["virsh", "domstate", "vm"]) == (0, "")
    assert lines[-1] == "would run: virsh domstate vm"


def test_probe_answers_only_where_it_can_run():
    assert process.Runner(live=True).probe(["true"]) == 0
    assert process.Runner(live=True).probe(["false"]) == 1
    assert process.Runner(live=True).probe(["irisxe-no-such-tool"]) is None
    assert process.Runner(live=False).probe(["true"]) is None  # under another root


def test_detectors_do_not_import_the_writer():
    """bootloader and secureboot ask the host through process, never through apply, the
    writer (docs/notes.md, "One error, one exit status")."""
    import ast
    import importlib
    from pathlib import Path

    names = (
        "boot.bootloader",
        "machine.secureboot",
        "machine.snapshot",
        "report.judgement",
        "report.status",
        "report.doctor",
        "kernels.providers",
    )
    for name in names:
        module = importlib.import_module(f"irisxe_sriov.{name}")
        tree = ast.parse(Path(str(module.__file__)).read_text())
        imported = {
            f"{node.module}.{alias.name}" if isinstance(node, ast.ImportFrom) else alias.name
            for node in ast.walk(tree)
            if isinstance(node, ast.Import | ast.ImportFrom)
            for alias in node.names
        }
        assert "irisxe_sriov.write.apply" not in imported, name
