"""Builds the way Debian does: the source in a clean Debian 13 chroot with nothing but
build-essential and dpkg-dev, its Build-Depends installed from the archive (as a buildd
does), so a missing build dependency fails here first; and the README's two commands on
a fresh machine that has only make and git.

These chroots reach the Debian mirror (apt-get build-dep, make's apt-get install); the
bases are cached (tests/harness/chroot.py). Inside the fresh machine the fast tier runs: the
chroot and VM tiers cannot nest (no mmdebstrap, overlayfs or QEMU inside a chroot)."""

import gzip
import io
import re
import subprocess
import tarfile
from pathlib import Path

import pytest

from chroot import (
    BUILD_BASE,
    FRESH_BASE,
    SOURCE,
    Chroot,
    base_tree,
    build_from_source,
    chroot_on,
    online,
    package_version,
    run_with_proc,
    tree_tarball,
)
from irisxe_sriov import __version__, pin
from irisxe_sriov.report import contract


def deb_listing(deb: Path) -> str:
    return subprocess.run(
        ["dpkg-deb", "-c", str(deb)], capture_output=True, text=True, check=True
    ).stdout


def deb_file(deb: Path, member: str) -> str:
    tar = subprocess.run(["dpkg-deb", "--fsys-tarfile", str(deb)], capture_output=True, check=True)
    return subprocess.run(
        ["tar", "-xO", member], input=tar.stdout, capture_output=True, check=True
    ).stdout.decode()


@pytest.fixture
def box(tmp_path):
    with chroot_on("build", BUILD_BASE, tmp_path / "box") as made:
        yield made


def test_the_package_builds_from_its_build_depends_alone(box, tmp_path):
    assert box.run("dpkg-query -W python3-click python3-jinja2 debhelper", check=False).returncode
    done = build_from_source(box, tree_tarball(tmp_path / "source.tar"))
    assert done.returncode == 0, done.stdout[-6000:]
    deb = box.path(f"/root/build/irisxe-sriov_{package_version()}_all.deb")
    listing = deb_listing(deb)
    assert "./usr/lib/python3/dist-packages/irisxe_sriov/cli/commands.py" in listing
    assert "./usr/share/irisxe-sriov/dkms/i915-sriov-dkms.conf" in listing
    for document in contract.Document:
        schema = deb_file(deb, f"./usr/share/irisxe-sriov/schema/{document}.schema.json")
        assert schema == (SOURCE / f"conf/schema/{document}.schema.json").read_text()
    assert "./usr/share/doc/irisxe-sriov/NEWS.Debian.gz" in listing
    completion = deb_file(deb, "./usr/share/bash-completion/completions/irisxe-sriov-ctl")
    assert "complete -o nosort -F _irisxe_sriov_ctl_completion irisxe-sriov-ctl" in completion
    depends = subprocess.run(
        ["dpkg-deb", "-f", str(deb), "Depends"], capture_output=True, text=True, check=True
    ).stdout
    pinned = f"{pin.DRIVER_PACKAGE} (= {pin.DRIVER_VERSION})"
    assert depends.startswith(f"{pinned} | linux-image-amd64 (>= 6.18~)")


@pytest.mark.parametrize("suite", ["trixie", "bookworm"])
def test_the_readme_commands_on_a_fresh_machine(tmp_path, suite):
    """Debian 13, and Debian 12 as a build and development machine (README)."""
    scratch = tmp_path / "box"
    scratch.mkdir()
    box = Chroot(base_tree("fresh", FRESH_BASE, suite=suite), scratch)
    try:
        online(box)
        box.copy_in(tree_tarball(tmp_path / "source.tar"), "/root/source.tar")
        box.run("mkdir /root/irisxe-sriov && tar -xf /root/source.tar -C /root/irisxe-sriov")
        done = run_with_proc(box, "cd /root/irisxe-sriov && make deb && make test", timeout=1500)
        tail = done.stdout[-3000:]
        assert done.returncode == 0, done.stdout[-8000:]
        assert f"built dist/irisxe-sriov_{package_version()}_all.deb" in done.stdout, tail
        summary = done.stdout.rstrip().splitlines()[-1]
        assert re.fullmatch(
            r"\d+ passed(, \d+ (deselected|skipped|warnings?|xfailed|xpassed))* in .*", summary
        ), tail
    finally:
        box.close()


def test_the_built_package_depends_on_the_pin(package):
    depends = subprocess.run(
        ["dpkg-deb", "-f", str(package), "Depends"], capture_output=True, text=True, check=True
    ).stdout
    # the pinned DKMS package first, a kernel with its own SR-IOV xe as the alternative
    pinned = f"{pin.DRIVER_PACKAGE} (= {pin.DRIVER_VERSION})"
    assert depends.startswith(f"{pinned} | linux-image-amd64 (>= 6.18~), driverctl,")


def test_the_built_package_says_its_version_where_the_build_put_it(package):
    """debian/rules puts the package's version into the config script (which runs only
    the helper of its own version) and the man page's header; the source has @VERSION@."""
    config = subprocess.run(
        ["dpkg-deb", "-I", str(package), "config"], capture_output=True, text=True, check=True
    ).stdout
    assert re.findall(r"^version=(.*)$", config, re.MULTILINE) == [__version__]
    listing = subprocess.run(
        ["dpkg-deb", "--fsys-tarfile", str(package)], capture_output=True, check=True
    ).stdout
    with tarfile.open(fileobj=io.BytesIO(listing)) as archive:
        member = archive.extractfile("./usr/share/man/man8/irisxe-sriov-ctl.8.gz")
        assert member is not None
        header = gzip.decompress(member.read()).decode().splitlines()[0]
    assert f'"irisxe-sriov {__version__}"' in header and "@VERSION@" not in header
