"""piuparts' install, purge and upgrade tests of the .deb (with the stand-in
i915-sriov-dkms, see tests/harness/chroot.py) in a Debian 13 base that already has our
dependencies, so that whatever the purge leaves behind can only be ours. The upgrade
starts from the previous release (the `previous` fixture), offered to piuparts as the
version "in the archive": a local repository, bind-mounted into its chroot."""

import shutil
import subprocess

from chroot import DEPENDENCIES, MIRROR, SUITE, base_tarball


def test_piuparts_install_purge_and_upgrade(package, standin, previous, tmp_path):
    base = base_tarball("piuparts", DEPENDENCIES, suffix=".tar.gz")
    repository = tmp_path / "archive"
    repository.mkdir()
    shutil.copy(previous, repository / f"irisxe-sriov_{previous.name.split('_')[1]}_all.deb")
    shutil.copy(standin, repository)
    index = subprocess.run(
        ["dpkg-scanpackages", "--multiversion", "."],
        cwd=repository,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    (repository / "Packages").write_text(index)
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
            "--bindmount",
            str(repository),
            "--extra-repo",
            f"deb [trusted=yes] file://{repository} ./",
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
        timeout=1200,
    )
    log = done.stdout + done.stderr
    assert done.returncode == 0, log[-6000:]
    assert "PASS: All tests." in log
    assert "Inadequate results" not in log
    # the upgrade test ran (not "Can't test upgrade"), from the previous release to this one
    assert "PASS: Installation, upgrade and purging tests." in log, log[-6000:]
