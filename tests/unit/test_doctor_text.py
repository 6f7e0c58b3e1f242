"""doctor's text at 80 columns (doctor.format_text, reports.text_style): a summary line
first, the failed findings, then those to look at, each fix one step per line; the
passed and skipped ones only with --verbose; lines that fit the width; colour only on a
terminal and never with NO_COLOR. --json is not touched by any of it.

Run on every kind of machine the judgement tests know (tests/harness/machines.py); the colour and
width tests run the real console entry point on a pseudo-terminal."""

import fcntl
import json
import os
import pty
import re
import struct
import subprocess
import sys
import termios
from pathlib import Path

import pytest
from click.testing import CliRunner

from irisxe_sriov.cli.commands import cli
from machines import MACHINES, root_of

SOURCE = Path(__file__).resolve().parents[2]
TAG = re.compile(r"^\[(FAIL|WARN|OK  |SKIP)\] (\S+): ")


def doctor(root: Path, *args: str):
    return CliRunner().invoke(cli, ["--root", str(root), "doctor", *args])


@pytest.fixture(params=sorted(MACHINES))
def machine(request, tmp_path) -> Path:
    return root_of(request.param, tmp_path)


def tags(text: str) -> list[tuple[str, str]]:
    return [(m[1], m[2]) for line in text.splitlines() if (m := TAG.match(line))]


def test_summary_first_problems_first_passes_folded(machine):
    findings = json.loads(doctor(machine, "--json").output)
    counts = findings["summary"]
    brief = doctor(machine).output
    first = brief.splitlines()[0]
    problems = counts["fail"] + counts["warn"]
    passes = f"{counts['ok']} passed, {counts['skip']} skipped"
    if problems:
        assert first.startswith(f"{problems} problem") and first.endswith(passes), first
        assert (f"{counts['fail']} failed" in first) == bool(counts["fail"]), first
    else:
        assert first == f"no problems: {passes}"
    # without --verbose: the problems alone, failed before those to look at
    shown = tags(brief)
    assert [level for level, _ in shown] == ["FAIL"] * counts["fail"] + ["WARN"] * counts["warn"]
    folded = counts["ok"] + counts["skip"]
    assert brief.rstrip().endswith(
        f"{folded} passed or skipped checks not shown: irisxe-sriov-ctl doctor --verbose"
    ) == bool(folded)
    # with it: every finding, problems first, then the passes, then the skipped
    every = tags(doctor(machine, "--verbose").output)
    order = {"FAIL": 0, "WARN": 1, "OK  ": 2, "SKIP": 3}
    assert [order[level] for level, _ in every] == sorted(order[level] for level, _ in every)
    assert sorted(id for _, id in every) == sorted(f["id"] for f in findings["findings"])


def test_lines_fit_80_columns_but_for_one_long_word(machine):
    for args in ([], ["--verbose"]):
        for line in doctor(machine, *args).output.splitlines():
            assert len(line) <= 80 or len(line.split()) == 1, line


def test_every_fix_step_is_shown(machine):
    findings = json.loads(doctor(machine, "--json").output)["findings"]
    # a command wrapped over lines is one command, continued with " \\"
    flat = " ".join(doctor(machine).output.replace(" \\\n", " ").split())
    for finding in findings:
        if finding["level"] in ("fail", "warn"):
            for step in finding["steps"]:
                assert " ".join(step["text"].split()) in flat, (finding["id"], step)


def test_json_is_the_same_with_verbose(machine):
    assert doctor(machine, "--json", "--verbose").output == doctor(machine, "--json").output


def on_a_terminal(root: Path, env: dict[str, str | None], columns: int = 80) -> str:
    """What `irisxe-sriov-ctl --root ROOT doctor` prints on a pseudo-terminal of
    `columns` columns, run as the console script runs it (entry.main). A variable of
    `env` that is None is unset."""
    leader, follower = pty.openpty()
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 24, columns, 0, 0))
    environment = {**os.environ, "PYTHONPATH": str(SOURCE / "src"), "TERM": "xterm", **env}
    program = "from irisxe_sriov.cli import entry; entry.main()"
    process = subprocess.Popen(
        [sys.executable, "-c", program, "--root", str(root), "doctor"],
        stdin=subprocess.DEVNULL,
        stdout=follower,
        stderr=subprocess.DEVNULL,
        env={k: v for k, v in environment.items() if v is not None},
    )
    os.close(follower)
    chunks = []
    while True:
        try:
            chunk = os.read(leader, 65536)
        except OSError:  # EIO: the terminal's last writer is gone
            break
        if not chunk:
            break
        chunks.append(chunk)
    os.close(leader)
    process.wait(timeout=60)
    return b"".join(chunks).decode().replace("\r\n", "\n")


@pytest.fixture
def failing(tmp_path) -> Path:
    return root_of("stock_i915", tmp_path)


def test_colour_on_a_terminal_only_and_never_with_no_color(failing):
    coloured = on_a_terminal(failing, {"NO_COLOR": None})
    assert "\033[1;31m[FAIL]\033[0m provider: " in coloured
    assert "\033[1;33m[WARN]\033[0m " in coloured
    assert "\033[" not in on_a_terminal(failing, {"NO_COLOR": "1"})
    assert "\033[" not in on_a_terminal(failing, {"NO_COLOR": None, "TERM": "dumb"})
    piped = subprocess.run(
        [sys.executable, "-m", "irisxe_sriov", "--root", str(failing), "doctor"],
        env={**os.environ, "PYTHONPATH": str(SOURCE / "src"), "TERM": "xterm"},
        capture_output=True,
        text=True,
        check=False,
    )
    assert piped.returncode == 1 and piped.stdout.startswith("5 problems (3 failed")
    assert "\033[" not in piped.stdout


def test_a_narrow_terminal_gets_narrow_lines(failing):
    text = on_a_terminal(failing, {"NO_COLOR": "1"}, columns=60)
    lines = text.splitlines()
    assert max(len(line) for line in lines if len(line.split()) > 1) <= 60
    assert max(len(line) for line in lines) > 50  # filled, not cut short


def test_a_long_command_is_one_command_when_pasted():
    from irisxe_sriov import fixes
    from irisxe_sriov.report import doctor as diagnosis

    step = fixes.run("apt-get", "install", "-t", "trixie-backports", "linux-image-amd64",
                     "linux-headers-amd64", "a b")  # fmt: skip
    finding = diagnosis.Finding("x", diagnosis.FAIL, "m", fixes.of(step))
    lines = diagnosis.format_text([finding], diagnosis.Style(width=60)).splitlines()
    command = [line for line in lines if "fix:" in line or line.startswith(" " * 14)]
    assert all(len(line) <= 60 for line in command) and len(command) > 1
    assert all(line.endswith(" \\") for line in command[:-1])
    # the shell reads the lines back as the very words of the step
    pasted = "\n".join(command).replace("fix:", "", 1)
    words = subprocess.run(
        ["sh", "-c", f"set -- {pasted}\nprintf '%s\\n' \"$@\""],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.splitlines()
    assert words == list(step.argv or ())
