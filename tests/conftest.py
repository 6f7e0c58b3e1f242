from pathlib import Path

import pytest

from chroot import (
    PACKAGE_BASE,
    PIN,
    PREVIOUS_RELEASE,
    SOURCE,
    Chroot,
    base_tree,
    build_standin_driver,
    package_version,
    release_deb,
    with_debs,
)
from dkmsbuild import built, dkms_base, driver  # noqa: F401 (session fixtures of two tiers)
from fakesys import FakeSystem

TESTS = Path(__file__).resolve().parent
# The tiers by directory (docs/testing.md): a test's tier is where it lives, its marker
# applied here. pyproject.toml's pythonpath makes every tier's modules importable.
TIERS = {"unit": None, "package": "chroot", "vm": "vm", "harness": None}

# pytest-timeout's bound for a chroot or VM test (the fast tier's is `timeout` in
# pyproject.toml): generous, since one DKMS build takes up to 9 minutes on two cores and a
# missing base is made first; a test may set its own.
CHROOT_TIMEOUT = 1800


@pytest.hookimpl(tryfirst=True)  # before -m deselects by the markers given here
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        tier = TIERS.get(item.path.relative_to(TESTS).parts[0])
        if tier is not None:
            item.add_marker(tier)
        slow = item.get_closest_marker("chroot") or item.get_closest_marker("vm")
        if slow and not item.get_closest_marker("timeout"):
            item.add_marker(pytest.mark.timeout(CHROOT_TIMEOUT))
    # The harness's own tests first: some of them patch the harness's globals (its mirror,
    # its cache), which the VM pool's build thread must never see, so the pool starts
    # after them (pool_from_the_start). The VM pool's tests last: its VMs run while every
    # other test does; its tests only read what the VMs reported (tests/harness/vmpool.py).
    harness = [item for item in items if in_the_harness(item)]
    pooled = [item for item in items if uses_the_pool(item) and not in_the_harness(item)]
    rest = [item for item in items if item not in harness and item not in pooled]
    items[:] = [*harness, *rest, *pooled]


def uses_the_pool(item: pytest.Item) -> bool:
    return "vm_pool" in getattr(item, "fixturenames", ())


def in_the_harness(item: pytest.Item) -> bool:
    return item.path.relative_to(TESTS).parts[0] == "harness"


@pytest.fixture(autouse=True)
def pool_from_the_start(request: pytest.FixtureRequest) -> None:
    """Start the VM pool (once: vm_pool is the session's) with the first test after the
    harness's own, where any selected test uses it: the chroot tier, mostly one process
    at a time (dpkg, apt), then runs beside the VMs instead of after them, on the core
    they leave and in their I/O waits."""
    if in_the_harness(request.node):
        return
    if any(uses_the_pool(item) for item in request.session.items):
        request.getfixturevalue("vm_pool")


@pytest.fixture
def fake(tmp_path: Path) -> FakeSystem:
    root = tmp_path / "root"
    root.mkdir()
    return FakeSystem(root)


def tree(root: Path) -> dict[str, tuple[str, int]]:
    """Every file and link under root with its content and mtime: for "nothing changed"."""
    listing: dict[str, tuple[str, int]] = {}
    for path in sorted(root.rglob("*")):
        relative = str(path.relative_to(root))
        if path.is_symlink():
            listing[relative] = ("-> " + str(path.readlink()), 0)
        elif path.is_file():
            listing[relative] = (path.read_text(errors="replace"), path.stat().st_mtime_ns)
        else:
            listing[relative + "/"] = ("", 0)
    return listing


@pytest.fixture
def snapshot():
    return tree


# --- package tests in Debian 13 chroots (tests/harness/chroot.py) ------------------------


@pytest.fixture(scope="session")
def package() -> Path:
    """The .deb that make deb built (make check builds it first)."""
    deb = SOURCE / "dist" / f"irisxe-sriov_{package_version()}_all.deb"
    if not deb.exists():
        pytest.fail(f"{deb} is missing: run 'make deb' (make check does)")
    made = deb.stat().st_mtime
    for directory in ("src", "debian", "conf", "docs"):
        for path in sorted((SOURCE / directory).rglob("*")):
            if (
                path.is_file()
                and not {"__pycache__", "tests"} & set(path.relative_to(SOURCE).parts)
                and path.name != "performance.md"  # neither is in the .deb
                and path.stat().st_mtime > made
            ):
                pytest.fail(f"{deb} is older than {path}: run 'make deb' (make check does)")
    return deb


@pytest.fixture(scope="session")
def vm_pool(request, package, tmp_path_factory):
    """Every VM module's VMs, started with the first test (pool_from_the_start)."""
    import vmpool

    pool = vmpool.start(request.session, package, tmp_path_factory.mktemp("vms"))
    yield pool
    VM_POOL_SUMMARY.extend(pool.close())


VM_POOL_SUMMARY: list[str] = []


def pytest_terminal_summary(terminalreporter) -> None:
    if VM_POOL_SUMMARY:
        terminalreporter.section("VM pool (tests/harness/vmpool.py)")
        for line in VM_POOL_SUMMARY:
            terminalreporter.write_line(line)


@pytest.fixture(scope="session")
def standin(tmp_path_factory) -> Path:
    return build_standin_driver(tmp_path_factory.mktemp("standin"), PIN)


@pytest.fixture(scope="session")
def previous(tmp_path_factory) -> Path:
    """The previous release's .deb, built from its release commit in the clean build chroot."""
    return release_deb(PREVIOUS_RELEASE, tmp_path_factory.mktemp("previous"))


@pytest.fixture(scope="session")
def base() -> Path:
    return base_tree("pkg", PACKAGE_BASE)


@pytest.fixture
def chroot(base, tmp_path, package, standin):
    box = Chroot(base, tmp_path)
    try:
        yield with_debs(box, package, standin)
    finally:
        box.close()
