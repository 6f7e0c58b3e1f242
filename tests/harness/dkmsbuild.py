"""The pinned driver built by the real dkms in a Debian 13 chroot, once per session and
cached per build inputs: the fixtures the chroot tier's DKMS tests
(tests/package/test_dkms_chroot.py) and the VM that loads the modules
(tests/vm/test_dkms_vm.py) share. tests/conftest.py makes them session fixtures."""

import hashlib
from collections.abc import Iterator
from pathlib import Path

import pytest

from chroot import (
    CACHE,
    DKMS_BASE,
    KEEP_APT_DEBS,
    PIN,
    SOURCE,
    Chroot,
    base_tree,
    cache_lock,
    upstream_deb,
)

DRIVER_DEB = f"/root/debs/i915-sriov-dkms_{PIN}_amd64.deb"


PACKAGE_DEB = "/root/debs/irisxe-sriov.deb"


@pytest.fixture(scope="session")
def dkms_base() -> Path:
    return base_tree("dkms", DKMS_BASE, KEEP_APT_DEBS)


@pytest.fixture(scope="session")
def driver(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return upstream_deb(tmp_path_factory.mktemp("upstream-build"))


def with_both(box: Chroot, package: Path, driver: Path) -> Chroot:
    box.copy_in(package, PACKAGE_DEB)
    box.copy_in(driver, DRIVER_DEB)
    return box


def build_inputs_digest(dkms_base: Path, driver: Path) -> str:
    """What the DKMS build depends on: the base (Debian's headers and dkms; its name
    carries the archive's Release date), the driver package, and irisxe-sriov's layer and
    override (conf/dkms, the override's template and the table in pin.py)."""
    digest = hashlib.sha256(dkms_base.name.encode())
    digest.update(hashlib.sha256(driver.read_bytes()).digest())
    inputs = [
        *sorted((SOURCE / "conf/dkms").rglob("*")),
        SOURCE / "src/irisxe_sriov/write/templates/dkms.conf.j2",
        SOURCE / "src/irisxe_sriov/pin.py",
    ]
    for path in inputs:
        if path.is_file():
            digest.update(str(path.relative_to(SOURCE)).encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:16]


@pytest.fixture(scope="session")
def built(
    dkms_base: Path, tmp_path_factory: pytest.TempPathFactory, package: Path, driver: Path
) -> Iterator[tuple[Chroot, str]]:
    """The README's command in a fresh chroot: apt install of both .debs. The chroot and
    apt's output.

    One DKMS build per set of build inputs (build_inputs_digest), cached: a later session
    starts from the chroot that build left (its overlay's upper layer) and installs the
    current irisxe-sriov .deb over it, whose postinst finds the modules built."""
    key = build_inputs_digest(dkms_base, driver)
    cached, cached_log = CACHE / f"dkms-built-{key}.tar", CACHE / f"dkms-built-{key}.log"
    scratch = tmp_path_factory.mktemp("built")
    if cached.exists() and cached_log.exists():
        box = with_both(Chroot(dkms_base, scratch, upper=cached), package, driver)
        try:
            box.run(f"dpkg -i {PACKAGE_DEB}")
            yield box, cached_log.read_text()
        finally:
            box.close()
        return
    box = with_both(Chroot(dkms_base, scratch), package, driver)
    try:
        # about 4.5 minutes alone on two cores; allow for a busy machine
        done = box.run(f"apt-get install -y {DRIVER_DEB} {PACKAGE_DEB}", check=False, timeout=3600)
        if done.returncode == 0:
            with cache_lock():
                for stale in CACHE.glob("dkms-built-*"):
                    stale.unlink()
                box.save_upper(cached)
                cached_log.write_text(done.stdout)
        yield box, done.stdout
    finally:
        box.close()


def release(box: Chroot) -> str:
    return box.run("ls /lib/modules").stdout.split()[0]
