"""The installed `irisxe-sriov-ctl` console script, run as a real process.

The package is installed with pip into a venv on Debian's python3 that sees Debian's
python3-click/jinja2/debian (--system-site-packages, --no-deps): the same libraries the
.deb depends on.
"""

import json
import subprocess
import sys
from pathlib import Path

import pytest

SOURCE = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def console_script(tmp_path_factory) -> Path:
    venv = tmp_path_factory.mktemp("venv")
    subprocess.run([sys.executable, "-m", "venv", "--system-site-packages", str(venv)], check=True)
    build = tmp_path_factory.mktemp("source")
    # Install from a copy so the source tree gets no build/ or egg-info droppings.
    subprocess.run(
        [
            "cp",
            "-a",
            f"{SOURCE}/src",
            f"{SOURCE}/pyproject.toml",
            f"{SOURCE}/README.md",
            str(build),
        ],
        check=True,
    )
    subprocess.run(
        [
            str(venv / "bin/pip"),
            "install",
            "-q",
            "--no-deps",
            "--no-build-isolation",
            "--disable-pip-version-check",
            "--no-index",
            str(build),
        ],
        check=True,
    )
    return venv / "bin/irisxe-sriov-ctl"


def test_installed_script_reports_status(console_script, fake):
    fake.healthy(numvfs=2)
    done = subprocess.run(
        [str(console_script), "--root", str(fake.root), "status", "--json"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    doc = json.loads(done.stdout)
    assert doc["pf"]["platform"] == "RPL-P" and doc["pf"]["sriov_numvfs"] == 2


def test_installed_script_exit_codes(console_script, fake):
    fake.healthy(numvfs=2)
    bad = subprocess.run(
        [str(console_script), "--root", str(fake.root), "config", "set", "num_vfs=8"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert bad.returncode == 2
    assert bad.stderr == "irisxe-sriov-ctl: error: num_vfs: 8 is out of range: allowed 0-7\n"
    good = subprocess.run(
        [str(console_script), "--root", str(fake.root), "config", "set", "num_vfs=7"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert good.returncode == 0 and "created /etc/modprobe.d/irisxe-sriov.conf" in good.stdout
    doctor = subprocess.run(
        [str(console_script), "--root", str(fake.root), "doctor"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert doctor.returncode == 1  # 2 VFs exist, 7 configured
    assert "[FAIL] sriov.numvfs: 2 VFs exist, 7 configured" in doctor.stdout
