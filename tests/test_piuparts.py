"""piuparts' install and purge test of the .deb (with the stand-in i915-sriov-dkms, see
tests/chroot.py) in a Debian 13 base that already has our dependencies, so that whatever
the purge leaves behind can only be ours."""

import subprocess

import pytest

from chroot import DEPENDENCIES, MIRROR, SUITE, base_tarball

pytestmark = pytest.mark.chroot


def test_piuparts_install_and_purge(package, standin):
    base = base_tarball("piuparts", DEPENDENCIES, suffix=".tar.gz")
    done = subprocess.run(
        [
            "piuparts",
            "--basetgz",
            str(base),
            "--distribution",
            SUITE,
            "--mirror",
            MIRROR,
            "--keyring",
            "/usr/share/keyrings/debian-archive-keyring.gpg",
            "--no-upgrade-test",
            # dpkg-preconfigure leaves this directory behind for any package with a debconf
            # config script (checked with a package that has nothing else)
            "--ignore",
            "/var/cache/debconf/tmp.ci/",
            str(standin),
            str(package),
        ],
        capture_output=True,
        text=True,
        check=False,
        timeout=900,
    )
    log = done.stdout + done.stderr
    assert done.returncode == 0, log[-6000:]
    assert "PASS: All tests." in log
    assert "Inadequate results" not in log
