"""Fault injection (docs/notes.md, "Hostile input"): kill `config set` / `apply` after every
single write step, deterministically, and check that the next run converges and never
loses the admin's /etc/kernel/cmdline tokens.

The kill is real: the command runs in a forked child that leaves with os._exit at step N,
so no `finally`, no `except` and no cleanup runs, as under `kill -9`.
"""

import os
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from irisxe_sriov import cmdline
from irisxe_sriov.cli.commands import cli
from irisxe_sriov.paths import is_generated
from irisxe_sriov.write import apply, plan

KILLED = 137
ADMIN_LINE = (
    "root=UUID=1 ro quiet i915.max_vfs=2 intel_iommu=off module_blacklist=snd "
    "intel_iommu=off module_blacklist=i915\n"
)


def invoke(root: Path, *args: str) -> int:
    return CliRunner().invoke(cli, ["--root", str(root), *args]).exit_code


def run_killed_at(root: Path, args: list[str], kill_at: int | None) -> tuple[int, int]:
    """Run the command in a child killed after write step `kill_at` (None: never).
    Returns (exit status, steps the child reached)."""
    reader, writer = os.pipe()
    child = os.fork()
    if child == 0:  # pragma: no cover - the child leaves through os._exit only
        os.close(reader)
        steps = 0

        def hook(what: str) -> None:
            nonlocal steps
            steps += 1
            os.write(writer, b".")
            if steps == kill_at:
                os._exit(KILLED)

        apply.STEP_HOOKS.append(hook)
        code = 1
        try:
            code = invoke(root, *args)
        finally:
            os._exit(code)
    os.close(writer)
    reached = 0
    while chunk := os.read(reader, 4096):
        reached += len(chunk)
    os.close(reader)
    _, status = os.waitpid(child, 0)
    return os.waitstatus_to_exitcode(status), reached


def systemd_boot_host(fake) -> None:
    fake.healthy(numvfs=2)
    (fake.root / "boot/grub/grub.cfg").unlink()
    line = fake.root / "etc/kernel/cmdline"
    line.parent.mkdir(parents=True, exist_ok=True)
    line.write_text(ADMIN_LINE)
    settings_file = fake.root / "etc/default/irisxe-sriov"
    settings_file.parent.mkdir(parents=True, exist_ok=True)
    settings_file.write_text('NUM_VFS="2"\nBOOTLOADER="systemd-boot"\n')


def state(root: Path) -> dict[str, str]:
    """What matters after a run: every file under /etc and our state, no lock, no /run."""
    found = {}
    for top in ("etc", "var/lib/irisxe-sriov"):
        for path in sorted((root / top).rglob("*")):
            if path.is_file() and path.name != "lock":
                found[str(path.relative_to(root))] = path.read_text()
    return found


def check_sound(root: Path) -> None:
    temporaries = [p for p in root.rglob("*") if apply.TEMPORARY_RE.fullmatch(p.name)]
    assert temporaries == []
    assert not (root / "var/lib/irisxe-sriov/journal").exists()
    record = (root / "var/lib/irisxe-sriov/kernel-cmdline").read_text()
    line = (root / "etc/kernel/cmdline").read_text()
    # purge's undo gives the admin's line back: no token of theirs was lost
    assert cmdline.undo(line, cmdline.parse_record(record)) == ADMIN_LINE
    listed = set(plan.parse_manifest((root / "var/lib/irisxe-sriov/managed").read_text()))
    for path in (root / "etc").rglob("*"):
        host_path = "/" + str(path.relative_to(root))
        if path.is_file() and is_generated(host_path):
            assert host_path in listed, f"{host_path} is orphaned"


@pytest.mark.parametrize(
    "args",
    [
        ["config", "set", "driver=xe", "num_vfs=1"],
        ["config", "set", "num_vfs=3", "vf_roles=3:none"],
    ],
)
def test_a_kill_after_any_write_step_converges(fake, tmp_path, monkeypatch, args):
    # fsync makes a write durable across a power cut, which no test here simulates; on a
    # busy disk it would make this test slow
    monkeypatch.setattr(os, "fsync", lambda descriptor: None)
    systemd_boot_host(fake)
    assert invoke(fake.root, "apply") == 0
    before = state(fake.root)
    reference = tmp_path / "reference"
    shutil.copytree(fake.root, reference, symlinks=True)
    code, steps = run_killed_at(reference, args, None)
    assert code == 0 and steps > 5
    after = state(reference)
    assert after != before

    pristine = tmp_path / "pristine"
    shutil.copytree(fake.root, pristine, symlinks=True)
    outcomes = []
    for kill_at in range(1, steps + 1):
        root = tmp_path / f"kill-{kill_at}"
        shutil.copytree(pristine, root, symlinks=True)
        code, _ = run_killed_at(root, args, kill_at)
        assert code == KILLED
        assert invoke(root, "apply") == 0  # the next run completes or finds nothing begun
        final = state(root)
        assert final in (before, after), f"killed after step {kill_at}: diverged"
        check_sound(root)
        assert invoke(root, "apply") == 0 and state(root) == final  # and stays
        outcomes.append(final == after)
        shutil.rmtree(root)
    # killed before the journal was in place: nothing happened; after it: completed
    assert outcomes[0] is False and outcomes[-1] is True
    assert outcomes == sorted(outcomes)


def test_a_full_disk_at_any_write_step_fails_cleanly_and_converges(fake, tmp_path, monkeypatch):
    """The disk fills up at write step N (ENOSPC raised there, in the process, so that
    its error handling runs): the command fails with one line naming the file, exit 1,
    and the next run, with space again, ends where an uninterrupted one ends."""
    import errno

    monkeypatch.setattr(os, "fsync", lambda descriptor: None)
    systemd_boot_host(fake)
    assert invoke(fake.root, "apply") == 0
    args = ["config", "set", "driver=xe", "num_vfs=1"]
    reference = tmp_path / "reference"
    shutil.copytree(fake.root, reference, symlinks=True)
    code, steps = run_killed_at(reference, args, None)
    assert code == 0
    after = state(reference)
    pristine = tmp_path / "pristine"
    shutil.copytree(fake.root, pristine, symlinks=True)
    for full_at in range(1, steps + 1):
        root = tmp_path / f"full-{full_at}"
        shutil.copytree(pristine, root, symlinks=True)
        count = 0

        def hook(what: str, full_at: int = full_at) -> None:
            nonlocal count
            count += 1
            if count == full_at:
                path = what.split(" ", 1)[-1]
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), path)

        monkeypatch.setattr(apply, "STEP_HOOKS", [hook])
        failed = CliRunner().invoke(cli, ["--root", str(root), *args])
        monkeypatch.setattr(apply, "STEP_HOOKS", [])
        assert failed.exit_code == 1, (full_at, failed.output)
        lines = failed.output.strip().split("\n")
        assert "No space left on device" in lines[-1], (full_at, failed.output)
        assert "Traceback" not in failed.output
        if full_at > 2:  # past the journal (steps 1 and 2): the next apply completes it
            assert "'irisxe-sriov-ctl apply' " in lines[-1], lines[-1]
        assert invoke(root, "apply") == 0, full_at
        assert state(root) == (after if full_at > 1 else state(pristine)), full_at
        assert invoke(root, *args) == 0 and state(root) == after, f"full at step {full_at}"
        check_sound(root)
        shutil.rmtree(root)
