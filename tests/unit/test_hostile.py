"""Hostile input on fake roots (docs/notes.md, "Hostile input"): each class must give one
clear line and the README's exit status, change nothing, never hang, never escape the
root."""

import json
import os
import threading
from pathlib import Path

import pytest
from click.testing import CliRunner

from irisxe_sriov import cmdline, settings
from irisxe_sriov.cli.commands import cli
from irisxe_sriov.machine import kernelfiles, reader
from irisxe_sriov.paths import LOADER_INFO_EFIVAR, Paths


def run(root: Path, *args: str):
    return CliRunner().invoke(cli, ["--root", str(root), *args])


def stdout_only() -> CliRunner:
    """click 8.1 mixes stderr into stdout unless told; 8.2 dropped the option."""
    try:
        return CliRunner(mix_stderr=False)  # type: ignore[call-arg]
    except TypeError:
        return CliRunner()


@pytest.fixture
def machine(fake):
    fake.healthy(numvfs=3)
    assert run(fake.root, "config", "set", "num_vfs=3").exit_code == 0
    return fake


def one_error_line(result, exit_code: int) -> str:
    assert result.exit_code == exit_code, result.output
    lines = result.output.splitlines()
    assert len(lines) == 1, result.output
    assert lines[0].startswith("irisxe-sriov-ctl: error: ")
    assert "Traceback" not in result.output
    return lines[0]


# --- 1. control characters, 7. non-ASCII digits and huge numbers --------------------------

HOSTILE_VALUES = [
    ("num_vfs", "3\n", "'3\\n'"),
    ("num_vfs", "\t3", "'\\t3'"),
    ("num_vfs", "3\r", "'3\\r'"),
    ("num_vfs", "²", "'²'"),
    ("num_vfs", "٣", "'٣'"),
    ("num_vfs", "3" * 5000, "(5000 characters)"),
    ("num_vfs", "1" * 30, "out of range"),
    ("driver", "xe\n", "'xe\\n'"),
    ("driver", "x\x1be", "'x\\x1be'"),
    ("bootloader", "grub\x85", "'grub\\x85'"),
    ("vf_roles", "1:vfio\n2:none", "'1:vfio\\n2:none'"),
    ("vf_roles", "1:vfio\u20282:none", "'1:vfio\\u20282:none'"),
    ("vf_roles", "²:vfio", "'²:vfio'"),
    ("pf", "0000:00:02.0\n", "'0000:00:02.0\\n'"),
]


@pytest.mark.parametrize(("key", "value", "named"), HOSTILE_VALUES)
def test_config_set_refuses_hostile_values(machine, snapshot, key, value, named):
    before = snapshot(machine.root)
    line = one_error_line(run(machine.root, "config", "set", f"{key}={value}"), 2)
    assert named in line and len(line) < 300
    assert snapshot(machine.root) == before
    # and the file still parses: every later command works
    assert run(machine.root, "config", "show").exit_code == 0


@pytest.mark.parametrize("count", ["3\n", "²", "9" * 4000, "0x1"])
def test_vfs_set_refuses_hostile_counts(machine, snapshot, count):
    before = snapshot(machine.root)
    one_error_line(run(machine.root, "vfs", "set", count), 2)
    assert snapshot(machine.root) == before


def test_vfs_roles_refuses_control_characters(machine, snapshot):
    before = snapshot(machine.root)
    one_error_line(run(machine.root, "vfs", "roles", "1:vfio\n2:none"), 2)
    assert snapshot(machine.root) == before


def test_every_problem_of_one_config_set_is_listed_at_once(machine):
    result = run(machine.root, "config", "set", "driver=x\n", "num_vfs=9", "pf=q", "colour=1")
    assert result.exit_code == 2
    assert len(result.output.splitlines()) == 1  # the unknown key stops before the values
    result = run(machine.root, "config", "set", "driver=x\n", "num_vfs=9", "pf=q")
    assert [line.split(": ")[2] for line in result.output.splitlines()] == [
        "driver",
        "num_vfs",
        "pf",
    ]


def test_debconf_answers_take_the_same_rule():
    for bad in ("3\n", "²", "7" * 3000):
        with pytest.raises(settings.SettingsError) as raised:
            settings.build({"num_vfs": bad})
        assert len(raised.value.problems) == 1
        assert len(raised.value.problems[0]) < 200


def test_settings_file_with_control_characters_is_one_line_per_problem(machine, snapshot):
    path = machine.root / "etc/default/irisxe-sriov"
    path.write_text('DRIVER="i915\x1b"\nNUM_VFS="3"\x0cX\n')
    before = snapshot(machine.root)
    result = run(machine.root, "apply")
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert result.output == (
        "irisxe-sriov-ctl: error: /etc/default/irisxe-sriov:1: driver: 'i915\\x1b' contains "
        "'\\x1b': allowed are printable ASCII characters (letters, digits, punctuation, space)\n"
        "irisxe-sriov-ctl: error: /etc/default/irisxe-sriov:2: 'NUM_VFS=\"3\"\\x0cX' is not a "
        'KEY="value" line\n'
    )
    assert snapshot(machine.root) == before


# --- 7. decoding and special files --------------------------------------------------------


def test_non_utf8_settings_file_is_bad_input(machine, snapshot):
    (machine.root / "etc/default/irisxe-sriov").write_bytes(b'DRIVER="i9\xff15"\n')
    before = snapshot(machine.root)
    line = one_error_line(run(machine.root, "apply"), 2)
    assert "/etc/default/irisxe-sriov is not UTF-8 text (byte 0xff at offset 10)" in line
    assert snapshot(machine.root) == before


@pytest.mark.parametrize(
    "where", ["etc/modprobe.d/irisxe-sriov.conf", "var/lib/irisxe-sriov/managed"]
)
def test_non_utf8_generated_file_or_manifest_is_one_line(machine, snapshot, where):
    (machine.root / where).write_bytes(b"\xfe\xff garbage\n")
    before = snapshot(machine.root)
    line = one_error_line(run(machine.root, "apply"), 1)
    assert f"/{where} is not UTF-8 text" in line
    assert str(machine.root) not in line  # the host spelling, not the root's
    assert snapshot(machine.root) == before


def test_a_fifo_does_not_hang(machine, snapshot):
    settings_file = machine.root / "etc/default/irisxe-sriov"
    settings_file.unlink()
    os.mkfifo(settings_file)
    outcome: dict[str, object] = {}
    worker = threading.Thread(target=lambda: outcome.update(r=run(machine.root, "apply")))
    worker.start()
    worker.join(10)
    assert not worker.is_alive(), "a FIFO in place of the settings file hangs"
    line = one_error_line(outcome["r"], 2)
    assert "/etc/default/irisxe-sriov is not a regular file" in line


def test_reads_are_bounded_and_refuse_devices(tmp_path):
    with pytest.raises(reader.UnreadableFile, match="is not a regular file"):
        reader.read_bytes(Path("/dev/zero"))  # read-only, and refused before any read
    big = tmp_path / "big"
    big.write_bytes(b"x" * 5000)
    with pytest.raises(reader.UnreadableFile, match="is larger than 4096 bytes"):
        reader.read_bytes(big, 4096)
    assert reader.read_text(big, 4096) is None
    assert reader.parse_int("٣") is None and reader.parse_int("9" * 5000) is None


def test_huge_settings_file_gives_bounded_output(machine):
    path = machine.root / "etc/default/irisxe-sriov"
    path.write_text("garbage " * 1000 + "\n" * 3)
    result = run(machine.root, "status")
    assert result.exit_code == 2 and len(result.output) < 500
    path.write_text("x\n" * 30000)
    result = run(machine.root, "status")
    assert result.exit_code == 2 and len(result.output.splitlines()) <= 22
    path.write_bytes(b"y" * (1 << 20))
    line = one_error_line(run(machine.root, "status"), 2)
    assert "is larger than 65536 bytes" in line


# --- 5. the PF must be a supported Intel GPU ---------------------------------------------


@pytest.mark.parametrize(
    ("vendor", "device", "pci_class"),
    [("8086", "51f0", "0x028000"), ("10de", "a7a0", "0x030000"), ("8086", "1234", "0x030000")],
)
def test_pf_must_be_a_supported_intel_gpu(machine, snapshot, vendor, device, pci_class):
    machine.add_function("0000:00:14.0", vendor=vendor, device=device)
    (machine.device_dir("0000:00:14.0") / "class").write_text(pci_class + "\n")
    before = snapshot(machine.root)
    line = one_error_line(run(machine.root, "config", "set", "pf=0000:00:14.0"), 2)
    assert "pf: 0000:00:14.0 is not a supported Intel GPU" in line
    assert snapshot(machine.root) == before


def test_an_absent_pf_is_allowed(machine):
    assert run(machine.root, "config", "set", "pf=0000:00:08.0").exit_code == 0


# --- 6. the root boundary -----------------------------------------------------------------


def test_absolute_symlinks_resolve_inside_the_root(fake, tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    fake.healthy(numvfs=2)
    # a root whose directories are absolute symlinks, one naming a host path that exists
    (fake.root / "realetc").mkdir()
    for entry in (fake.root / "etc").iterdir():
        entry.rename(fake.root / "realetc" / entry.name)
    (fake.root / "etc").rmdir()
    (fake.root / "etc").symlink_to("/realetc")
    (fake.root / "realetc/modprobe.d").symlink_to(str(outside))
    result = run(fake.root, "config", "set", "num_vfs=2")
    assert result.exit_code == 0, result.output
    assert list(outside.iterdir()) == []  # nothing written onto the host
    inner = fake.root / str(outside).lstrip("/") / "irisxe-sriov.conf"
    assert "max_vfs=7" in inner.read_text()
    assert (fake.root / "realetc/default/irisxe-sriov").exists()
    again = run(fake.root, "apply")
    assert again.output == "nothing to change\n", again.output


def test_dotdot_and_links_never_leave_the_root(tmp_path):
    root = tmp_path / "root"
    (root / "a").mkdir(parents=True)
    (root / "a/up").symlink_to("../../../../..")
    (root / "a/abs").symlink_to("/a")
    (root / "a/loop").symlink_to("/a/loop")
    paths = Paths(root)
    assert paths.at("/../../etc/passwd") == root / "etc/passwd"
    assert paths.at("/a/up/etc/passwd") == root / "etc/passwd"
    assert paths.at("/a/abs/up/x") == root / "x"
    assert paths.at("/a/abs", follow=False) == root / "a/abs"
    with pytest.raises(OSError, match="Too many levels"):
        paths.at("/a/loop/x")


def test_manifest_entries_outside_what_we_generate_are_never_deleted(machine, tmp_path):
    victim = tmp_path / "victim"
    victim.write_text("keep me\n")
    inside = machine.root / "etc/passwd"
    inside.write_text("root:x:0:0\n")
    manifest = machine.root / "var/lib/irisxe-sriov/managed"
    manifest.write_text(
        manifest.read_text() + f"/etc/passwd\n/../../../../..{victim}\n/etc/driverctl.d/../x\n"
    )
    assert run(machine.root, "config", "set", "num_vfs=2").exit_code == 0
    assert victim.read_text() == "keep me\n" and inside.exists()
    assert "/etc/passwd" not in manifest.read_text()


def test_errors_never_show_a_file_outside_the_root(machine, tmp_path):
    secret = tmp_path / "secret"
    secret.write_text("SECRET-TOKEN not a setting\n")
    settings_file = machine.root / "etc/default/irisxe-sriov"
    settings_file.unlink()
    settings_file.symlink_to(str(secret))
    result = run(machine.root, "config", "show")
    assert "SECRET-TOKEN" not in result.output
    assert result.exit_code == 0  # the link points at nothing inside the root: defaults


def test_kernel_headers_are_found_through_debian_absolute_link(fake):
    release = "6.12.38+deb13-amd64"
    (fake.root / "lib/modules" / release / "kernel").mkdir(parents=True)
    headers = fake.root / "usr/src" / f"linux-headers-{release}"
    (headers / "include/linux").mkdir(parents=True)
    (fake.root / "lib/modules" / release / "build").symlink_to(f"/usr/src/linux-headers-{release}")
    found, _ = kernelfiles.read_headers(Paths(fake.root), release)
    assert found


# --- 4. duplicated tokens -----------------------------------------------------------------


# What the default settings want on the line, written out: built with wanted_tokens, a
# token it dropped would be missing from both sides and the checks would still pass.
I915_TOKENS = ["intel_iommu=on", "i915.enable_guc=3", "i915.max_vfs=7", "module_blacklist=xe"]


def test_every_occurrence_of_an_owned_token_is_normalised(fake):
    fake.healthy(numvfs=2)
    (fake.root / "boot/grub/grub.cfg").unlink()
    admin = (
        "root=/dev/sda1 intel_iommu=on quiet i915.max_vfs=2 module_blacklist=xe "
        "intel_iommu=off module_blacklist=i915,snd\n"
    )
    line_file = fake.root / "etc/kernel/cmdline"
    line_file.parent.mkdir(parents=True)
    line_file.write_text(admin)
    assert run(fake.root, "config", "set", "bootloader=systemd-boot").exit_code == 0
    line = line_file.read_text()
    assert cmdline.missing_from(line, I915_TOKENS) == []
    assert cmdline.effective_value(line, "intel_iommu") == "on"
    assert "i915" not in (cmdline.effective_value(line, "module_blacklist") or "").split(",")
    record = (fake.root / "var/lib/irisxe-sriov/kernel-cmdline").read_text()
    assert cmdline.undo(line, cmdline.parse_record(record)) == admin


def test_missing_from_judges_the_effective_value():
    good = "intel_iommu=on i915.enable_guc=3 i915.max_vfs=7 module_blacklist=xe"
    assert cmdline.missing_from(good, I915_TOKENS) == []
    assert cmdline.missing_from(good + " intel_iommu=off", I915_TOKENS) == ["intel_iommu=on"]
    assert cmdline.missing_from(good + " module_blacklist=snd", I915_TOKENS) == [
        "module_blacklist=xe"
    ]


# --- 10. defaults that fit the hardware ---------------------------------------------------


def test_a_pf_offering_3_vfs_defaults_to_3(fake):
    fake.healthy(driver="xe", numvfs=0)
    (fake.device_dir("0000:00:02.0") / "sriov_totalvfs").write_text("3\n")
    shown = json.loads(run(fake.root, "config", "show", "--json").output)
    assert shown["num_vfs"] == 3
    assert run(fake.root, "status").exit_code == 0
    assert run(fake.root, "apply").exit_code == 0
    assert 'NUM_VFS="3"' in (fake.root / "etc/default/irisxe-sriov").read_text()


# --- 11. contracts ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "args",
    [
        ["status", "--json"],
        ["config", "show", "--json"],
        ["kernels", "--json"],
        ["status", "--json", "--bogus"],
    ],
)
def test_json_commands_print_json_on_every_failure(machine, args):
    (machine.root / "etc/default/irisxe-sriov").write_bytes(b"\xff\n")
    result = stdout_only().invoke(cli, ["--root", str(machine.root), *args])
    if result.exit_code == 0:
        json.loads(result.stdout)
        return
    document = json.loads(result.stdout)
    assert document["error"] and document["exit_status"] == result.exit_code


def test_json_on_a_missing_root(tmp_path):
    result = stdout_only().invoke(cli, ["--root", str(tmp_path / "none"), "status", "--json"])
    assert result.exit_code == 2
    assert "does not exist" in json.loads(result.stdout)["error"]


def test_unexpected_errors_are_one_line(machine, monkeypatch):
    from irisxe_sriov.machine import gather

    def broken(*args, **kwargs):
        raise ValueError("boom")

    monkeypatch.setattr(gather, "gather", broken)
    line = one_error_line(run(machine.root, "config", "show"), 1)
    assert "internal error: ValueError: boom" in line


def test_snippet_without_a_free_vf_is_a_state_failure(fake):
    fake.healthy(numvfs=0)
    one_error_line(run(fake.root, "snippet", "qemu"), 1)


def test_errors_name_the_target_not_a_temporary(machine, monkeypatch):
    import tempfile

    def full(*args, **kwargs):
        raise OSError(28, "No space left on device", f"{kwargs.get('dir')}/.tmp123")

    monkeypatch.setattr(tempfile, "mkstemp", full)
    monkeypatch.setattr(tempfile, "mkdtemp", full)
    line = one_error_line(run(machine.root, "config", "set", "num_vfs=2"), 1)
    # the journal is the first file written
    assert line.endswith("No space left on device: /var/lib/irisxe-sriov/journal")


# --- 3. local edits through the CLI -------------------------------------------------------


def test_a_local_edit_is_kept_and_the_new_version_lands_beside_it(machine):
    conf = machine.root / "etc/modprobe.d/irisxe-sriov.conf"
    conf.write_text(conf.read_text() + "# my local tweak\n")
    paths = Paths(machine.root)
    assert reader.drift(paths) == [("/etc/modprobe.d/irisxe-sriov.conf", "edited")]
    assert run(machine.root, "apply").output == "nothing to change\n"  # an edit alone
    result = run(machine.root, "config", "set", "driver=xe")
    assert result.exit_code == 0, result.output
    assert (
        "kept the local version of /etc/modprobe.d/irisxe-sriov.conf; the new one is "
        "/etc/modprobe.d/irisxe-sriov.conf.ucf-dist" in result.output
    )
    assert conf.read_text().endswith("# my local tweak\n") and "options xe" not in conf.read_text()
    assert "options xe" in conf.with_name(conf.name + ".ucf-dist").read_text()
    assert reader.drift(paths) == [("/etc/modprobe.d/irisxe-sriov.conf", "edited")]
    assert run(machine.root, "apply").output == "nothing to change\n"
    (machine.root / "etc/sysfs.d/irisxe-sriov.conf").unlink()
    assert ("/etc/sysfs.d/irisxe-sriov.conf", "removed") in reader.drift(paths)


# --- round two, 2: the journal replays only what apply itself could have written ----------


def planted_journal(root: Path, entries: str, files: dict[str, str], commands: str = "") -> None:
    journal = root / "var/lib/irisxe-sriov/journal"
    journal.mkdir(parents=True, exist_ok=True)
    (journal / "entries").write_text(entries)
    (journal / "commands").write_text(commands)
    for name, text in files.items():
        (journal / name).write_text(text)


@pytest.mark.parametrize(
    ("entries", "files", "commands", "named"),
    [
        ("0 1 /etc/sudoers.d/irisxe\n", {"0.after": "ALL ALL=(ALL) NOPASSWD: ALL\n"}, "",
         "/etc/sudoers.d/irisxe"),
        ("0 1 /etc/passwd\n", {}, "", "/etc/passwd"),  # a removal
        ("0 1 /etc/modprobe.d/../../etc/passwd\n", {}, "", "/etc/modprobe.d/../../etc/passwd"),
        ("0 1 /var/lib/irisxe-sriov/written/etc:passwd\n", {"0.after": "x"}, "",
         "/var/lib/irisxe-sriov/written/etc:passwd"),
        ("0 1 /etc/modprobe.d/irisxe-sriov.conf\n", {"0.after": "# ok\n"},
         "sh -c 'touch /pwned'\n", "sh -c 'touch /pwned'"),
    ],
)  # fmt: skip
def test_a_planted_journal_is_carried_out_in_no_part(
    machine, snapshot, entries, files, commands, named
):
    """The next run completes an interrupted apply from its journal; a journal naming a
    path or a command apply never writes or runs (a local user's plant, or damage) is
    ignored whole, said so, and removed."""
    root = machine.root
    (root / "etc/passwd").write_text("root:x:0:0::/root:/bin/sh\n")
    planted_journal(root, entries, files, commands)
    before = snapshot(root)
    result = run(root, "apply")
    assert result.exit_code == 0, result.output
    assert f"ignored /var/lib/irisxe-sriov/journal: it names {named!r}" in result.output or (
        f"ignored /var/lib/irisxe-sriov/journal: it names the command {named!r}" in result.output
    )
    assert not (root / "var/lib/irisxe-sriov/journal").exists()
    assert not (root / "etc/sudoers.d").exists()
    assert (root / "etc/passwd").read_text() == "root:x:0:0::/root:/bin/sh\n"
    after = snapshot(root)
    changed = {p for p, c in after.items() if before.get(p) != c}
    assert changed <= {"var/lib/irisxe-sriov/journal/", "var/lib/irisxe-sriov/lock"} | {
        p for p in before if p.startswith("var/lib/irisxe-sriov/journal")
    }


def test_pending_refreshes_run_only_known_commands(machine):
    (machine.root / "var/lib/irisxe-sriov/pending-refresh").write_text(
        "sh -c 'touch /pwned'\nupdate-grub\n"
    )
    result = run(machine.root, "apply")
    assert "would run: update-grub" in result.output
    assert "touch" not in result.output


def test_the_postrm_replays_exactly_what_python_would(tmp_path):
    """The sh postrm's `ours` (patterns put in by debian/rules from paths.shell_patterns)
    accepts exactly the paths paths.is_replayable accepts: checked on the paths apply
    writes and on hostile ones."""
    import subprocess

    from irisxe_sriov import paths as paths_module
    from irisxe_sriov.write import render

    source = Path(__file__).resolve().parents[2] / "debian/irisxe-sriov.postrm"
    script = render.postrm(source.read_text())
    functions = script[script.index("ours() {") : script.index("# reverse_journal")]
    candidates = [
        *paths_module.GENERATED,
        "/etc/kernel/cmdline",
        "/etc/driverctl.d/pci-0000:00:02.3",
        "/etc/driverctl.d/pci-0000:00:02.0",  # the PF: never ours
        "/etc/driverctl.d/pci-0000:00:02.3.ucf-dist",
        "/etc/modprobe.d/irisxe-sriov.conf.ucf-dist",
        "/var/lib/irisxe-sriov/written/etc:modprobe.d:irisxe-sriov.conf",
        "/var/lib/irisxe-sriov/written/etc:driverctl.d:pci-0000:00:02.1",
        "/var/lib/irisxe-sriov/written/etc:passwd",
        "/etc/passwd",
        "/etc/sudoers.d/irisxe",
        "/etc/modprobe.d/../passwd",
        "/etc/modprobe.d/irisxe-sriov.conf/../../passwd",
        "/etc/default/irisxe-sriov.bak",
        "/var/lib/irisxe-sriov/lock",
    ]
    check = functions + "".join(
        f'if ours "{c}"; then echo 1; else echo 0; fi\n' for c in candidates
    )
    done = subprocess.run(["sh", "-c", check], capture_output=True, text=True, check=True)
    in_sh = [line == "1" for line in done.stdout.split()]
    in_python = [paths_module.is_replayable(c) for c in candidates]
    assert in_sh == in_python, list(zip(candidates, in_sh, in_python, strict=True))
    assert in_python[:3] == [True, True, True] and not any(in_python[-6:])


def test_the_postrm_purges_the_temporaries_a_killed_apply_leaves(tmp_path):
    """Every temporary apply makes beside one of our files outside the state directory
    (apply.replace_file's names, made here by the same mkstemp call) is removed by the
    postrm's purge_temporaries; an admin's look-alike beside another file, and a symlink,
    stay. The globs are rebased under tmp_path: they are absolute in the postrm."""
    import subprocess
    import tempfile

    from irisxe_sriov import paths as paths_module
    from irisxe_sriov.write import apply as apply_module
    from irisxe_sriov.write import render

    source = Path(__file__).resolve().parents[2] / "debian/irisxe-sriov.postrm"
    script = render.postrm(source.read_text())
    function = script[script.index("purge_temporaries() {") : script.index("# restore_cmdline")]
    function = function.replace(" /etc/", f" {tmp_path}/etc/")
    ours = [
        *(f for f in paths_module.GENERATED if f.startswith("/etc/")),
        *paths_module.EDITED,
        "/etc/driverctl.d/pci-0000:00:02.3",
    ]
    made = []
    for host_path in ours:
        directory = tmp_path / host_path.lstrip("/")
        directory.parent.mkdir(parents=True, exist_ok=True)
        handle, name = tempfile.mkstemp(
            prefix=f".{directory.name}.", suffix=paths_module.TEMPORARY_SUFFIX, dir=directory.parent
        )
        os.close(handle)
        assert apply_module.TEMPORARY_RE.fullmatch(Path(name).name), name
        made.append(Path(name))
    decoys = [
        tmp_path / "etc/default/.grub.abcdefgh.irisxe-tmp",
        tmp_path / "etc/modprobe.d/.irisxe-sriov.conf.abc.irisxe-tmp",
        tmp_path / "etc/default/.irisxe-sriov.abcdefgh.irisxe-tmp.bak",
    ]
    for decoy in decoys:
        decoy.write_text("admin\n")
    link = tmp_path / "etc/sysfs.d/.irisxe-sriov.conf.12345678.irisxe-tmp"
    link.symlink_to("/etc/passwd")
    subprocess.run(["sh", "-c", function + "purge_temporaries\n"], check=True)
    assert [m for m in made if m.exists()] == []
    assert all(d.read_text() == "admin\n" for d in decoys)
    assert link.is_symlink()


# --- round two, 6: bounds -------------------------------------------------------------------


def test_config_set_never_writes_a_settings_file_every_later_command_refuses(machine, snapshot):
    """A settings file is read up to 64 KiB; `config set` on one close to that (long
    comments) would write one past it, which status, doctor and the boot unit would then
    all refuse. It is refused instead, and nothing changes."""
    path = machine.root / "etc/default/irisxe-sriov"
    text = path.read_text()
    path.write_text(text + "#" * (64 * 1024 - len(text) - 2) + "\n")
    before = snapshot(machine.root)
    line = one_error_line(run(machine.root, "config", "set", "vf_roles=1:none 2:none 3:host"), 2)
    assert "/etc/default/irisxe-sriov would be 65" in line and "more than the 65536" in line
    assert snapshot(machine.root) == before
    assert run(machine.root, "status").exit_code == 0


def test_a_kernel_cmdline_past_what_a_kernel_takes_is_refused(machine, snapshot):
    """/etc/kernel/cmdline is bounded at 8 KiB (the kernel takes 2048 bytes on x86): a
    larger one is one error, exit 1, nothing written; the postrm's sed fallback stays
    bounded too (test_the_undo_sed_script_grows_linearly)."""
    (machine.root / "etc/default/irisxe-sriov").write_text('BOOTLOADER="systemd-boot"\n')
    line = machine.root / "etc/kernel/cmdline"
    line.parent.mkdir(parents=True, exist_ok=True)
    line.write_text("ro " + "intel_iommu=off " * 600 + "\n")
    before = snapshot(machine.root)
    error = one_error_line(run(machine.root, "apply"), 1)
    assert error.endswith("/etc/kernel/cmdline is larger than 8192 bytes")
    assert snapshot(machine.root) == before


def test_the_undo_sed_script_grows_linearly():
    """Repeated managed tokens: the script has two patterns an edit at most (it had one
    per occurrence before each, quadratic: 48 KB of intel_iommu=off took 11 s and 2.8 GB
    to make)."""
    for count in (100, 200, 400):
        line = "ro " + "intel_iommu=off " * count + "\n"
        result = cmdline.apply(line, ["intel_iommu=on", "i915.max_vfs=7"])
        script = cmdline.undo_sed(result.edits)
        assert script.count("\ns/") <= 2 * len(result.edits)
        assert len(result.edits) == count + 1


# --- round two, 7: special files and links inside the root --------------------------------


def test_special_files_at_efivars_cache_and_header_probes_never_hang(fake):
    """A FIFO, a character device or a sparse 200 MB file where the LoaderInfo efivar,
    the modinfo cache or a kernel header the compat check reads should be: every read is
    bounded and refuses what is no regular file (reader.open_regular), so status, doctor,
    kernels and the hook answer at once (pytest-timeout fails a hang)."""
    from fakesys import install_kernel

    fake.healthy(numvfs=2)
    release = "6.12.118+deb13-amd64"
    install_kernel(fake.root, release)
    headers = fake.root / "usr/src" / f"linux-headers-{release}" / "include/linux"
    headers.mkdir(parents=True)
    os.mkfifo(headers / "uaccess.h")
    (fake.root / f"lib/modules/{release}/build").symlink_to(f"/usr/src/linux-headers-{release}")
    efivars = fake.root / "sys/firmware/efi/efivars"
    efivars.mkdir(parents=True, exist_ok=True)
    os.mkfifo(efivars / LOADER_INFO_EFIVAR)
    cache = fake.root / "var/cache/irisxe-sriov/modinfo.json"
    cache.parent.mkdir(parents=True)
    with cache.open("wb") as sparse:
        sparse.truncate(200 << 20)
    os.mknod(fake.root / "var/cache/irisxe-sriov/probe", 0o600 | 0o020000, os.makedev(1, 5))
    for args in (["status"], ["doctor"], ["kernels"], ["kernels", "--notify", release]):
        result = run(fake.root, *args)
        assert result.exit_code in (0, 1), (args, result.output)
        assert "Traceback" not in result.output


def test_header_reads_stay_in_the_root_through_a_link_below_a_resolved_directory(fake):
    """/lib/modules/R/build links to the headers inside the root, and in them include/
    is an absolute link: it too resolves inside the root, never on this machine (where
    /irisxe-test-headers does not exist)."""
    release = "6.12.118+deb13-amd64"
    tree = fake.root / "usr/src" / f"linux-headers-{release}"
    tree.mkdir(parents=True)
    (tree / "include").symlink_to("/irisxe-test-headers/include")
    real = fake.root / "irisxe-test-headers/include/linux"
    real.mkdir(parents=True)
    (real / "uaccess.h").write_text("copy_from_user_inatomic_nontemporal\n")
    modules = fake.root / "lib/modules" / release
    (modules / "kernel").mkdir(parents=True)
    (modules / "build").symlink_to(f"/usr/src/linux-headers-{release}")
    assert not Path("/irisxe-test-headers").exists()
    found, texts = kernelfiles.read_headers(Paths(fake.root), release)
    assert found
    assert texts["include/linux/uaccess.h"] == "copy_from_user_inatomic_nontemporal\n"


# --- round two, 9: odds and ends ------------------------------------------------------------


def test_a_vf_given_two_roles_is_refused(machine, snapshot):
    before = snapshot(machine.root)
    line = one_error_line(run(machine.root, "config", "set", "vf_roles=1:vfio 1:host"), 2)
    assert line.endswith("vf_roles: VF 1 is given a role twice: give each VF one")
    assert snapshot(machine.root) == before


def test_a_negative_sriov_totalvfs_is_unknown(machine):
    """sysfs never says -1 for a count; a root that does is damaged: unknown, and the
    allowed range stays 0-7 (it read "allowed 0--1")."""
    (machine.device_dir("0000:00:02.0") / "sriov_totalvfs").write_text("-1\n")
    state = reader.scan(Paths(machine.root), "0000:00:02.0")
    assert state.pf.sriov_totalvfs is None
    line = one_error_line(run(machine.root, "config", "set", "num_vfs=8"), 2)
    assert line.endswith("num_vfs: 8 is out of range: allowed 0-7")


def test_the_admins_kernel_cmdline_keeps_mode_owner_and_attributes(machine):
    """Rewriting /etc/kernel/cmdline (a file of the admin's) keeps its mode, owner and
    extended attributes; a symlink there is written through (under --root as on /)."""
    line = machine.root / "etc/kernel/cmdline"
    line.parent.mkdir(parents=True, exist_ok=True)
    target = machine.root / "etc/kernel/cmdline.real"
    target.write_text("root=UUID=1 ro\n")
    line.symlink_to("cmdline.real")
    target.chmod(0o640)
    os.chown(target, 65534, 65534)
    try:
        os.setxattr(target, "user.irisxe-test", b"kept")
    except OSError:
        pytest.skip("this file system has no user extended attributes")
    (machine.root / "etc/default/irisxe-sriov").write_text('BOOTLOADER="systemd-boot"\n')
    result = run(machine.root, "apply")
    assert result.exit_code == 0, result.output
    assert line.is_symlink()
    assert "intel_iommu=on" in target.read_text()
    found = target.stat()
    assert (oct(found.st_mode & 0o777), found.st_uid, found.st_gid) == ("0o640", 65534, 65534)
    assert os.getxattr(target, "user.irisxe-test") == b"kept"
