"""bash completion of irisxe-sriov-ctl, in real bash: the script debian/rules installs
(click's, generated the same way), registered as `complete -p` shows, and asked as bash
asks it, with COMP_WORDS split at COMP_WORDBREAKS ("driver=x" is the words driver, = and
x). The command it runs is the console entry point, from the source tree."""

import os
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from irisxe_sriov import settings

SOURCE = Path(__file__).resolve().parents[2]
PROG = "irisxe-sriov-ctl"


@pytest.fixture(scope="module")
def shell(tmp_path_factory) -> Path:
    """A directory with the completion script and an irisxe-sriov-ctl on PATH."""
    where = tmp_path_factory.mktemp("completion")
    environment = {**os.environ, "PYTHONPATH": str(SOURCE / "src")}
    script = subprocess.run(
        [sys.executable, "-m", "irisxe_sriov"],
        env={**environment, "_IRISXE_SRIOV_CTL_COMPLETE": "bash_source"},
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    (where / "completion.bash").write_text(script)
    command = where / "bin" / PROG
    command.parent.mkdir()
    command.write_text(
        f"#!/bin/sh\nPYTHONPATH={shlex.quote(str(SOURCE / 'src'))} "
        f'exec {shlex.quote(sys.executable)} -m irisxe_sriov "$@"\n'
    )
    command.chmod(0o755)
    return where


def bash(shell: Path, program: str) -> str:
    done = subprocess.run(
        ["bash", "--norc", "--noprofile", "-c", f". ./completion.bash\n{program}"],
        cwd=shell,
        env={**os.environ, "PATH": f"{shell / 'bin'}:{os.environ['PATH']}"},
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout


def complete(shell: Path, line: str) -> list[str]:
    """What bash offers at the end of `line`, split into words as bash splits them."""
    words = bash_words(line)
    program = (
        f"COMP_WORDS=({' '.join(shlex.quote(w) for w in words)})\n"
        f"COMP_CWORD={len(words) - 1}\n"
        f"COMP_LINE={shlex.quote(line)}\n"
        f"_irisxe_sriov_ctl_completion {PROG}\n"
        'printf "%s\\n" "${COMPREPLY[@]}"'
    )
    return [word for word in bash(shell, program).splitlines() if word]


def bash_words(line: str) -> list[str]:
    """COMP_WORDS for `line`: blanks separate words, and "=" (in COMP_WORDBREAKS) is a
    word of its own; a line ending in a blank has an empty word last."""
    words: list[str] = []
    for blank_separated in line.split(" "):
        parts = blank_separated.split("=")
        for number, part in enumerate(parts):
            if number:
                words.append("=")
            if part or number == 0:
                words.append(part)
    if words and words[-1] == "" and line.endswith("="):
        words.pop()
    return words


def test_the_script_registers_itself(shell):
    assert bash(shell, f"complete -p {PROG}") == (
        f"complete -o nosort -F _irisxe_sriov_ctl_completion {PROG}\n"
    )
    # compgen with the registered function's words: the commands at the top level
    offered = bash(
        shell,
        f"COMP_WORDS=({PROG} ''); COMP_CWORD=1; _irisxe_sriov_ctl_completion {PROG}\n"
        'compgen -W "${COMPREPLY[*]}" -- con',
    )
    assert offered == "config\n"


def test_commands_and_subcommands(shell):
    assert {"status", "doctor", "kernels", "config", "apply"} <= set(complete(shell, f"{PROG} "))
    assert complete(shell, f"{PROG} config ") == ["export", "get", "set", "show"]


def test_config_get_completes_every_key(shell):
    assert complete(shell, f"{PROG} config get ") == list(settings.KEYS)
    assert complete(shell, f"{PROG} config get num") == ["num_vfs"]


def test_config_set_completes_keys_then_closed_values(shell):
    # a key with a closed set: its KEY=VALUE words, whose common prefix bash inserts
    assert complete(shell, f"{PROG} config set dri") == ["driver=i915", "driver=xe"]
    assert complete(shell, f"{PROG} config set p") == ["pf="]
    # after "KEY=" bash asks for the word after "=": the values
    assert complete(shell, f"{PROG} config set driver=") == ["i915", "xe"]
    assert complete(shell, f"{PROG} config set driver=x") == ["xe"]
    assert complete(shell, f"{PROG} config set kernel_hold=") == ["auto", "off"]
    assert complete(shell, f"{PROG} config set num_vfs=") == [str(n) for n in range(8)]
    assert complete(shell, f"{PROG} config set bootloader=s") == ["systemd-boot"]
    # the second assignment as the first
    assert complete(shell, f"{PROG} config set num_vfs=2 machine_role=g") == ["guest"]
    # an open value has nothing to offer
    assert complete(shell, f"{PROG} config set vf_roles=") == []


def test_closed_values_are_the_ones_config_set_accepts():
    """Every value completion offers is one config set takes (the closed sets of
    choices.py through settings.build), where no PF caps num_vfs; sched=custom with the
    per-function values it needs."""
    custom = {"sched_exec_quantum_ms": "pf:10 vf:20", "sched_preempt_timeout_us": "pf:0 vf:0"}
    for key, values in settings.closed_values().items():
        for value in values:
            found = settings.build({key: value, **(custom if value == "custom" else {})})
            assert found.values()[key] == value, (key, value)
