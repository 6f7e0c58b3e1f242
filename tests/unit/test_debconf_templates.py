"""The debconf templates as a person reads them, and as a translator gets them.

Every template is built as the package builds it (po2debconf), loaded into a private
debconf database (DEBCONF_SYSTEMRC: this machine's own debconf database is not touched)
and asked for real by debconf's dialog (whiptail) and readline frontends inside an 80x50
tmux pane, with the longest realistic data for each variable: every word of the
question must be on the screen whole (not cut at the 80th column, nor broken across
lines). The templates themselves follow the debconf specification and Debian's
debconf style guide (docs/notes.md, "Debconf, ucf and the maintainer scripts")."""

import re
import shlex
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from irisxe_sriov import cmdline
from irisxe_sriov.choices import BootPath, Driver, KernelHold, Role
from irisxe_sriov.cli import debconf_ui
from irisxe_sriov.settings import Settings

SOURCE = Path(__file__).resolve().parents[2]
TEMPLATES = SOURCE / "debian/irisxe-sriov.templates"
COLUMNS, LINES = 80, 50


def stanzas(text: str) -> dict[str, dict[str, str]]:
    """The templates by name: field -> value, an extended description joined by newlines
    with the leading space of each line taken off."""
    found: dict[str, dict[str, str]] = {}
    for block in text.strip().split("\n\n"):
        fields: dict[str, str] = {}
        field = ""
        for line in block.splitlines():
            if line.startswith("#"):
                continue
            if line.startswith(" "):
                fields[field] += "\n" + line[1:]
            else:
                field, _, value = line.partition(":")
                fields[field] = value.strip()
        found[fields["Template"]] = fields
    return found


SOURCE_TEMPLATES = stanzas(TEMPLATES.read_text())


def longest_parameters() -> str:
    tokens = [
        " ".join(cmdline.wanted_tokens(Settings(driver=driver), "a7a0", role))
        for driver in Driver
        for role in (Role.HOST, Role.GUEST)
    ]
    return max(tokens, key=len)


# the longest realistic value of every variable the helper substitutes (data only)
DATA = {
    "choices": ", ".join(debconf_ui.count_choices(None)),
    "max": "7",
    "parameters": longest_parameters(),
    "detected": max(BootPath.values(), key=len),
    "address": "0000:00:02.0",
    "vendor": "10de",
    "device": "2204",
    "kernels": "6.12.57+deb13-amd64, 6.12.63+deb13-amd64, 6.18.9+deb13-amd64",
}


def description(name: str, fields: dict[str, str]) -> str:
    text = fields.get("Description") or fields["_Description"]
    return re.sub(r"\$\{(\w+)\}", lambda m: DATA[m.group(1)], text)


def test_every_variable_has_data_and_the_helper_substitutes_no_other():
    used = set(re.findall(r"\$\{(\w+)\}", TEMPLATES.read_text()))
    assert used == set(DATA)
    helper = (SOURCE / "src/irisxe_sriov/cli/debconf_ui.py").read_text()
    assert set(re.findall(r'db\.subst\(\w+, "(\w+)"', helper)) == used


def test_short_descriptions_fit_and_choices_are_translatable():
    for name, fields in SOURCE_TEMPLATES.items():
        short = fields["_Description"].split("\n")[0]
        assert len(description(name, {"_Description": short})) < 75, name
        if fields["Type"] in ("select", "multiselect") and "Choices" in fields:
            # only data (numbers) comes through a plain Choices
            assert fields["Choices"] == "${choices}", name
    closed = {
        "irisxe-sriov/driver": Driver,
        "irisxe-sriov/bootloader": BootPath,
        "irisxe-sriov/kernel_hold": KernelHold,
    }
    for name, values in closed.items():
        fields = SOURCE_TEMPLATES[name]
        assert fields["Choices-C"] == ", ".join(values.values()), name
        assert len(fields["__Choices"].split(", ")) == len(values), name
        assert fields["Default"] in values.values(), name


def test_sr_iov_and_vf_are_explained_where_first_read():
    """The driver question is the first one asked (on hosts and guests alike) and says
    what SR-IOV and VFs are; the notes, which may come before it, use neither word."""
    first = SOURCE_TEMPLATES["irisxe-sriov/driver"]["_Description"].split("\n.\n")[0]
    assert "SR-IOV lets" in first and "virtual functions (VFs)" in first
    for name, fields in SOURCE_TEMPLATES.items():
        if fields["Type"] == "note":
            text = fields["_Description"]
            assert "SR-IOV" not in text and not re.search(r"\bVFs?\b", text), name


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> Path:
    """The templates as the package ships them (po2debconf, as dh_installdebconf runs
    it), and a private debconf configuration."""
    for program in ("po2debconf", "tmux", "whiptail", "debconf"):
        if shutil.which(program) is None:
            raise AssertionError(f"{program} is missing: make deps installs it")
    where = tmp_path_factory.mktemp("debconf")
    (where / "templates").write_text(
        subprocess.run(
            ["po2debconf", str(TEMPLATES)], capture_output=True, text=True, check=True
        ).stdout
    )
    return where


def database(where: Path) -> Path:
    """A debconf configuration whose databases are files under `where`."""
    conf = where / "debconf.conf"
    conf.write_text(
        "Config: configdb\nTemplates: templatedb\n\n"
        f"Name: configdb\nDriver: File\nFilename: {where}/config.dat\n\n"
        f"Name: templatedb\nDriver: File\nFilename: {where}/templates.dat\n"
    )
    return conf


def screen(built: Path, tmp_path: Path, name: str, frontend: str, keys: str | None = None) -> str:
    """What debconf's `frontend` shows for template `name` in an 80x50 terminal; with
    `keys`, those typed then, and the answer debconf stored instead."""
    conf = database(tmp_path)
    lines = [
        "#!/bin/sh",
        ". /usr/share/debconf/confmodule",
        f"db_x_loadtemplatefile {built}/templates irisxe-sriov",
        *(f"db_subst {name} {var} {shlex.quote(value)}" for var, value in DATA.items()),
        f"db_fset {name} seen false",
        f"db_input critical {name} || true",
        "db_go || true",
        f'db_get {name} && printf "%s" "$RET" > {tmp_path}/answer',
        f"touch {tmp_path}/done",
    ]
    script = tmp_path / "ask"
    script.write_text("\n".join(lines) + "\n")
    script.chmod(0o755)
    session = f"irisxe-sriov-tests-{tmp_path.name}"
    command = (
        f"env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin TERM=xterm LC_ALL=C.UTF-8 "
        f"DEBCONF_SYSTEMRC={conf} DEBIAN_FRONTEND={frontend} debconf {script}; sleep 60"
    )
    tmux = ["tmux", "-L", session]
    subprocess.run(
        [*tmux, "new-session", "-d", "-s", session, "-x", str(COLUMNS), "-y", str(LINES), command],
        check=True,
    )
    try:
        shown, deadline = "", time.monotonic() + 30
        short = SOURCE_TEMPLATES[name]["_Description"].split("\n")[0][:20]
        while time.monotonic() < deadline:
            time.sleep(0.3)
            now = subprocess.run(
                [*tmux, "capture-pane", "-p", "-S", "-", "-t", session],
                capture_output=True,
                text=True,
                check=True,
            ).stdout
            if short.split("$")[0] in now and now == shown:
                break  # the question is up, and the screen stands still
            shown = now
        else:
            raise AssertionError(f"{name} did not show in {frontend}:\n{shown}")
        if keys is None:
            return shown
        subprocess.run([*tmux, "send-keys", "-t", session, keys, "Enter"], check=True)
        while time.monotonic() < deadline:
            time.sleep(0.2)
            if (tmp_path / "done").exists():
                return (tmp_path / "answer").read_text()
        raise AssertionError(f"{name} got no answer from {keys!r} in {frontend}")
    finally:
        subprocess.run([*tmux, "kill-server"], check=False)


@pytest.mark.parametrize("frontend", ["dialog", "readline"])
@pytest.mark.parametrize("name", sorted(SOURCE_TEMPLATES))
def test_every_template_fits_80_columns(built, tmp_path, name, frontend):
    shown = screen(built, tmp_path, name, frontend)
    assert all(len(line) <= COLUMNS for line in shown.splitlines())
    words_on_screen = set(re.sub(r"[│┤├┌┐└┘─]", " ", shown).split())
    text = description(name, SOURCE_TEMPLATES[name])
    for word in text.replace("\n.\n", "\n").split():
        assert word in words_on_screen, (word, shown)


@pytest.mark.parametrize("typed", ["3", "7", "0"])
def test_a_typed_count_is_that_count_in_readline(built, tmp_path, typed):
    """readline takes a typed number as the item of that number: item N is count N."""
    assert screen(built, tmp_path, "irisxe-sriov/num_vfs", "readline", typed) == typed
