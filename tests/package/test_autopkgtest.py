"""debian/tests run by autopkgtest itself against the built .deb and the stand-in
i915-sriov-dkms (tests/harness/chroot.py), installed into a trixie testbed as autopkgtest
installs them.

The backend is autopkgtest's chroot server on an overlay of the trixie package base made
for this run alone. The unshare backend would be the choice of a developer's machine, but
it needs subordinate ids for root in /etc/subuid, which this machine does not have and
these tests must not add. The chroot server cannot revert a testbed, so autopkgtest would
skip a breaks-testbed test; the overlay is thrown away after the run, so that
restriction is waived here (--ignore-restrictions)."""

import subprocess

from chroot import Chroot, online, tree_tarball


def test_autopkgtest_passes_in_a_trixie_testbed(base, package, standin, tmp_path):
    source = tmp_path / "irisxe-sriov"
    source.mkdir()
    subprocess.run(
        ["tar", "-xf", str(tree_tarball(tmp_path / "source.tar")), "-C", str(source)], check=True
    )
    scratch = tmp_path / "testbed"
    scratch.mkdir()
    testbed = Chroot(base, scratch)
    try:
        online(testbed)
        done = subprocess.run(
            [
                "autopkgtest",
                "--no-built-binaries",
                "--ignore-restrictions",
                "breaks-testbed",
                # the base has no package lists: a test's Depends beyond @ (the JSON
                # schema check's python3-jsonschema) comes from the mirror
                "--setup-commands=apt-get update",
                "--output-dir",
                str(tmp_path / "out"),
                str(package),
                str(standin),
                f"{source}/",
                "--",
                "chroot",
                str(testbed.root),
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            check=False,
            timeout=1200,
        )
    finally:
        testbed.close()
    summary_file = tmp_path / "out" / "summary"
    summary = summary_file.read_text() if summary_file.exists() else ""
    assert done.returncode == 0, done.stdout[-6000:]
    assert summary.split() == ["ctl-fake-root", "PASS", "reconfigure-purge", "PASS"], summary
