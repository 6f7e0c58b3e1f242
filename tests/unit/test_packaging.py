"""Consistency of the packaging with the code: one version, one pin, a man page and
completion that match the CLI, and translations templates that match the templates."""

import re
import shlex
import shutil
import subprocess
import tomllib
from pathlib import Path

import click
from click.testing import CliRunner

import fakesys
from irisxe_sriov import __version__, pin
from irisxe_sriov.cli.commands import cli

SOURCE = Path(__file__).resolve().parents[2]


def test_one_version_everywhere():
    changelog = (SOURCE / "debian/changelog").read_text().splitlines()[0]
    found = re.match(r"irisxe-sriov \(([^)]+)\)", changelog)
    assert found is not None, changelog
    debian_version = found.group(1)
    assert debian_version == __version__
    # the other places take it from these two: pyproject from __init__.py, the man page and
    # the config script from debian/changelog when the package is built (debian/rules;
    # tests/package/test_build_chroot.py reads the built ones)
    pyproject = tomllib.loads((SOURCE / "pyproject.toml").read_text())
    assert "version" not in pyproject["project"] and pyproject["project"]["dynamic"] == ["version"]
    assert pyproject["tool"]["setuptools"]["dynamic"]["version"] == {
        "attr": "irisxe_sriov.__version__"
    }
    assert '"irisxe-sriov @VERSION@"' in (SOURCE / "docs/irisxe-sriov-ctl.8").read_text()
    config = (SOURCE / "debian/irisxe-sriov.config").read_text()
    assert re.findall(r"^version=(.*)$", config, re.MULTILINE) == ["@VERSION@"]


def test_the_pin_is_written_in_one_place():
    control = (SOURCE / "debian/control").read_text()
    assert "${irisxe:Driver}" in control and pin.DRIVER_VERSION not in control
    assert "print(providers.DEPENDENCY)" in (SOURCE / "debian/rules").read_text()


def commands(group: click.Group, prefix: str = "") -> list[str]:
    """Every command line that runs something: the leaves, and a group that runs by
    itself (`kernels`, with `kernels hold` and `kernels release` under it)."""
    names = []
    for name, command in sorted(group.commands.items()):
        if isinstance(command, click.Group):
            if command.invoke_without_command:
                names.append(prefix + name)
            names += commands(command, f"{prefix}{name} ")
        else:
            names.append(prefix + name)
    return names


def command_named(name: str) -> click.Command:
    command: click.Command = cli
    for part in name.split():
        assert isinstance(command, click.Group)
        command = command.commands[part]
    return command


def options_of(command: click.Command) -> list[str]:
    """The long options a command declares (-h/--help is click's, not a parameter)."""
    return [
        option
        for parameter in command.params
        for option in (*parameter.opts, *parameter.secondary_opts)
        if option.startswith("--")
    ]


def test_man_page_documents_every_command_and_option():
    page = (SOURCE / "docs/irisxe-sriov-ctl.8").read_text().replace("\\-", "-")
    listed = commands(cli)
    assert listed == [
        "apply",
        "attach",
        "cluster proxmox sync",
        "config export",
        "config get",
        "config set",
        "config show",
        "doctor",
        "kernels",
        "kernels hold",
        "kernels release",
        "metrics",
        "snippet",
        "status",
        "vfs restore",
        "vfs roles",
        "vfs set",
    ]
    for name in listed:
        assert f".BR {name} " in page or f'.BR "{name}" ' in page, name
    declared: set[str] = set()
    for name in listed:
        options = options_of(command_named(name))
        declared.update(options)
        shown = CliRunner().invoke(cli, [*name.split(), "--help"])
        # a --help that fails prints no option, and the checks below would pass on nothing
        assert shown.exit_code == 0, (name, shown.output)
        assert shown.output.startswith(f"Usage: cli {name} "), (name, shown.output)
        for option in options:
            assert option in shown.output, (name, option)
            assert option in page, (name, option)
    # the options come from click's declarations, not from help text that may be empty
    assert declared == {
        "--boot", "--connect", "--dry-run", "--force", "--json", "--mapping", "--notify",
        "--preseed", "--removed", "--vf", "--textfile", "--verbose", "--wait",
    }  # fmt: skip
    assert options_of(cli) == ["--version", "--root"]
    assert "IRISXE_SRIOV_ROOT" in page and "--root" in page and "--version" in page


def test_readme_documents_every_command():
    readme = (SOURCE / "README.md").read_text()
    for name in commands(cli):
        assert f"  {name} " in readme, name
    assert "make deb" in readme and "make check" in readme


def test_templates_pot_is_current(tmp_path):
    if shutil.which("debconf-updatepo") is None:
        raise AssertionError("po-debconf is missing: make check installs it")
    copy = tmp_path / "debian"
    shutil.copytree(SOURCE / "debian", copy)
    subprocess.run(["debconf-updatepo"], cwd=copy, check=True)
    strip = re.compile(r'^"POT-Creation-Date:.*$', re.M)

    def entries(text: str) -> str:
        # gettext versions wrap long strings at different places (Debian 12's and 13's
        # differ around "${"): compare the strings, not their continuation lines
        return strip.sub("", text).replace('"\n"', "")

    assert entries((copy / "po/templates.pot").read_text()) == entries(
        (SOURCE / "debian/po/templates.pot").read_text()
    )


def test_bash_completion_protocol():
    env = {
        "_IRISXE_SRIOV_CTL_COMPLETE": "bash_complete",
        "COMP_WORDS": "irisxe-sriov-ctl con",
        "COMP_CWORD": "1",
    }
    result = CliRunner().invoke(cli, [], env=env, prog_name="irisxe-sriov-ctl")
    assert result.output.splitlines() == ["plain,config"]
    env["COMP_WORDS"], env["COMP_CWORD"] = "irisxe-sriov-ctl config ", "2"
    result = CliRunner().invoke(cli, [], env=env, prog_name="irisxe-sriov-ctl")
    assert result.output.splitlines() == ["plain,export", "plain,get", "plain,set", "plain,show"]


def man_section(name: str) -> str:
    """The text of section `name` of the man page source, "\\-" read as "-"."""
    page = (SOURCE / "docs/irisxe-sriov-ctl.8").read_text().replace("\\-", "-")
    return page.split(f".SH {name}\n", 1)[1].split("\n.SH ", 1)[0]


def test_man_page_has_no_warnings():
    done = subprocess.run(
        ["man", "--warnings", "-l", str(SOURCE / "docs/irisxe-sriov-ctl.8")],
        env={"MANWIDTH": "80", "LC_ALL": "C.UTF-8", "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        check=True,
    )
    assert done.stderr == "" and "JSON OUTPUT" in done.stdout


def test_man_page_sections():
    environment = man_section("ENVIRONMENT")
    for variable in ("IRISXE_SRIOV_ROOT", "IRISXE_SRIOV_DEBUG", "NO_COLOR"):
        assert f".B {variable}\n" in environment, variable
    see_also = man_section("SEE ALSO")
    for page in ("dkms (8)", "sysfs.conf (5)", "virsh (1)", "qm (1)", "mokutil (1)", "ucf (1)"):
        assert f".BR {page}" in see_also, page
    exit_status = man_section("EXIT STATUS")
    for name in commands(cli):
        top = name.split()[0]
        assert re.search(rf"^\.BR? .*\b{re.escape(top)}\b", exit_status, re.M), name


def test_every_command_has_an_example_that_runs(fake):
    """EXAMPLES shows every command, and each example parses and runs on a fake root (no
    host command runs under --root: each is printed as "would run")."""
    examples = [
        line.split(" | ")[0].split(" > ")[0]
        for line in man_section("EXAMPLES").splitlines()
        if line.startswith("irisxe-sriov-ctl ")
    ]
    for name in commands(cli):
        assert any(f"irisxe-sriov-ctl {name}" in line for line in examples), name
    fake.healthy(numvfs=2)
    fake.install_dkms_kernel("6.12.57+deb13-amd64")  # the kernel `kernels hold` names
    # a Proxmox VE node whose VF 1 is in the mapping the attach example names
    fakesys.write(fake.root / "etc/hostname", "pve1\n")
    fakesys.write(
        fake.root / "etc/pve/mapping/pci.cfg",
        "intel-igpu-vf\n\tmap node=pve1,path=0000:00:02.1,id=8086:a7a0\n",
    )
    for line in examples:
        args = shlex.split(line)[1:]
        if args[:2] == ["--root", "/mnt"]:
            args = args[2:]
        result = CliRunner().invoke(cli, ["--root", str(fake.root), *args])
        # a refusal or a check that fails on this fake machine is fine; a usage error not
        assert result.exit_code in (0, 1), (line, result.output)
        assert "Traceback" not in result.output, line
