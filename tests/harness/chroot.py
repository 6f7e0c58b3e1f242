"""Debian 13 chroots for the package tests.

A base made with mmdebstrap is cached under /var/cache/irisxe-sriov-tests (rebuilt when
missing or when its package list changes), extracted once, and every test gets its own
overlayfs on top, so each starts from the pristine base in a moment.

Nothing of this machine is mounted into a chroot: no /proc, no /sys, no /dev/pts. Its
/sys is a plain directory where tests lay out a fake GPU (tests/harness/fakesys.py); this
machine's real 0000:00:02.0 stays out of reach.
"""

import contextlib
import email.utils
import fcntl
import functools
import hashlib
import os
import shutil
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import IO

from irisxe_sriov import pin

CACHE = Path(os.environ.get("IRISXE_SRIOV_TEST_CACHE", "/var/cache/irisxe-sriov-tests"))
SUITE = "trixie"
MIRROR = "http://deb.debian.org/debian"
ENV = {
    "PATH": "/usr/sbin:/usr/bin:/sbin:/bin",
    "HOME": "/root",
    "LC_ALL": "C.UTF-8",
    "DEBIAN_FRONTEND": "noninteractive",
    "TERM": "dumb",
}
# What the package depends on; the package itself and the driver (a stand-in, or the real
# upstream package in the DKMS tests) are installed by the tests.
DEPENDENCIES = (
    "python3",
    "python3-click",
    "python3-jinja2",
    "python3-debian",
    "python3-debconf",
    "ucf",
    "driverctl",
    "sysfsutils",
)
PACKAGE_BASE = (*DEPENDENCIES, "lintian", "apt-utils")


@contextlib.contextmanager
def cache_lock() -> Iterator[None]:
    CACHE.mkdir(parents=True, exist_ok=True)
    with (CACHE / ".lock").open("a") as handle:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        yield


# How long to wait for the mirror's InRelease before falling back to the newest base.
RELEASE_TIMEOUT = 10


@functools.cache
def release_file(url: str) -> bytes | None:
    """The InRelease at `url`, fetched once per session; None when it cannot be had."""
    try:
        with urllib.request.urlopen(url, timeout=RELEASE_TIMEOUT) as response:
            data: bytes = response.read()
            return data
    except (OSError, ValueError):
        return None


def suites_of(sources: tuple[str, ...], suite: str = SUITE) -> list[tuple[str, str]]:
    """(mirror, suite) of the base's archive and of each extra one-line `deb` source."""
    found = [(MIRROR, suite)]
    for line in sources:
        fields = line.split()
        if len(fields) >= 3 and fields[0] == "deb" and not fields[1].startswith("["):
            found.append((fields[1].rstrip("/"), fields[2]))
    return found


def archive_stamp(sources: tuple[str, ...] = (), suite: str = SUITE) -> str | None:
    """Names the archive's state: the newest Release Date of the suites the base is made
    from and a digest of their InRelease files (a new Date and new checksums with every
    archive update). None when a Release file cannot be fetched."""
    digest = hashlib.sha256()
    newest = ""
    for mirror, name in suites_of(sources, suite):
        data = release_file(f"{mirror}/dists/{name}/InRelease")
        if data is None:
            return None
        digest.update(data)
        for line in data.decode(errors="replace").splitlines():
            if line.startswith("Date:"):
                with contextlib.suppress(ValueError):
                    when = email.utils.parsedate_to_datetime(line.split(":", 1)[1].strip())
                    newest = max(newest, when.strftime("%Y%m%d%H%M"))
                break
    return f"{newest or 'nodate'}{digest.hexdigest()[:6]}"


# Shared flocks on the bases this session uses, held until it exits: another session's
# refresh removes only the superseded bases nobody holds.
HELD: dict[Path, IO[str]] = {}


def hold(tarball: Path) -> None:
    if tarball not in HELD:
        handle = tarball.with_name(tarball.name + ".inuse").open("a")
        fcntl.flock(handle.fileno(), fcntl.LOCK_SH)
        HELD[tarball] = handle


def cached_bases(prefix: str, suffix: str) -> list[Path]:
    """The complete bases of one name, package list and options: every archive state
    (PREFIX-STAMP.tar), and PREFIX.tar as named before bases carried the archive's state."""
    return [
        path
        for path in CACHE.glob(f"{prefix}*{suffix}")
        if path.name == f"{prefix}{suffix}"
        or (path.name.startswith(f"{prefix}-") and ".partial" not in path.name)
    ]


def mounts() -> str:
    return Path("/proc/self/mounts").read_text()


def remove_superseded(current: Path, prefix: str, suffix: str) -> list[Path]:
    """Delete the other bases of the same name, package list and options (older archive
    states), with their extracted trees, unless a session holds one or an overlay has it
    as its lower layer. Under cache_lock."""
    removed = []
    mounted = mounts()
    for old in cached_bases(prefix, suffix):
        tree = old.with_suffix("") if suffix == ".tar" else None
        if old == current or (tree and f"lowerdir={tree}," in mounted):
            continue
        marker = old.with_name(old.name + ".inuse")
        with marker.open("a") as handle:
            try:
                fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                continue  # in use by a running session: a later refresh takes it
            if tree:
                shutil.rmtree(tree, ignore_errors=True)
            old.unlink()
            marker.unlink()
        removed.append(old)
    return removed


def base_tarball(
    name: str,
    packages: tuple[str, ...],
    suffix: str = ".tar",
    options: tuple[str, ...] = (),
    sources: tuple[str, ...] = (),
    suite: str = SUITE,
) -> Path:
    """mmdebstrap's tarball for `packages`, cached; its name carries the suite, a digest of
    the list, the options and the extra apt `sources` lines, and the archive's state
    (archive_stamp): a new Release file on the mirror makes a new base, so new kernels and
    headers are seen, and the superseded one is removed. Offline, the newest cached base
    is used.
    The suffix picks the compression (piuparts wants .tar.gz)."""
    key = f"{suite} {MIRROR} {' '.join(packages)}" + "".join(f" {o}" for o in (*options, *sources))
    digest = hashlib.sha256(key.encode()).hexdigest()[:12]
    prefix = f"{name}-{suite}-{digest}"
    stamp = archive_stamp(sources, suite)
    with cache_lock():
        if stamp is None:
            cached = cached_bases(prefix, suffix)
            if cached:
                newest = max(cached, key=lambda path: path.stat().st_mtime)
                hold(newest)
                return newest
            stamp = "offline"
        tarball = CACHE / f"{prefix}-{stamp}{suffix}"
        if not tarball.exists():
            partial = CACHE / f"{prefix}-{stamp}.partial{suffix}"
            subprocess.run(
                [
                    "mmdebstrap",
                    "--quiet",
                    "--variant=minbase",
                    f"--include={','.join(packages)}",
                    *options,
                    suite,
                    str(partial),
                    MIRROR,
                    *sources,
                ],
                check=True,
            )
            partial.rename(tarball)
        hold(tarball)
        remove_superseded(tarball, prefix, suffix)
    return tarball


def base_tree(
    name: str,
    packages: tuple[str, ...],
    options: tuple[str, ...] = (),
    sources: tuple[str, ...] = (),
    suite: str = SUITE,
) -> Path:
    """The extracted base, read-only lower layer of every overlay."""
    tarball = base_tarball(name, packages, options=options, sources=sources, suite=suite)
    tree = tarball.with_suffix("")
    with cache_lock():
        if not (tree / ".irisxe-complete").exists():
            shutil.rmtree(tree, ignore_errors=True)
            tree.mkdir()
            subprocess.run(["tar", "-xf", str(tarball), "-C", str(tree)], check=True)
            (tree / ".irisxe-complete").touch()
    return tree


@contextlib.contextmanager
def chroot_on(name: str, packages: tuple[str, ...], scratch: Path) -> Iterator["Chroot"]:
    """A Chroot on the cached base `name` of `packages`, in `scratch` (made here), closed
    after."""
    scratch.mkdir()
    made = Chroot(base_tree(name, packages), scratch)
    try:
        yield made
    finally:
        made.close()


class Chroot:
    """An overlay on a base tree; `run` executes inside it with a clean environment."""

    def __init__(self, lower: Path, scratch: Path, upper: Path | None = None) -> None:
        """`upper`: a tarball of an earlier chroot's upper layer (save_upper) to start
        from, as if what was done in it had been done here."""
        self.scratch = scratch
        self.root = scratch / "root"
        for name in ("upper", "work", "root"):
            (scratch / name).mkdir()
        if upper is not None:
            subprocess.run(["tar", "-xf", str(upper), "-C", str(scratch / "upper")], check=True)
        subprocess.run(
            [
                "mount",
                "-t",
                "overlay",
                "overlay",
                "-o",
                f"lowerdir={lower},upperdir={scratch / 'upper'},workdir={scratch / 'work'}",
                str(self.root),
            ],
            check=True,
        )

    def save_upper(self, tarball: Path) -> None:
        """What was changed in this chroot so far (its overlay's upper layer, whiteouts
        included) as a tarball, written whole or not at all."""
        partial = tarball.with_name(tarball.name + ".partial")
        subprocess.run(
            ["tar", "-cf", str(partial), "-C", str(self.scratch / "upper"), "."], check=True
        )
        partial.rename(tarball)

    def processes(self) -> list[int]:
        """Processes whose root directory is this chroot (a build may leave one behind)."""
        found = []
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit():
                try:
                    if (entry / "root").readlink() == self.root:
                        found.append(int(entry.name))
                except OSError:
                    continue
        return found

    def close(self) -> None:
        for pid in self.processes():
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, 9)
        for _ in range(50):
            if not self.processes():
                break
            time.sleep(0.1)
        subprocess.run(["umount", str(self.root)], check=True)

    def path(self, host_path: str) -> Path:
        return self.root / host_path.lstrip("/")

    def run(
        self,
        script: str,
        check: bool = True,
        env: dict[str, str] | None = None,
        stdin: str | None = None,
        timeout: int = 600,
    ) -> subprocess.CompletedProcess[str]:
        """Run a sh script inside; stdout and stderr together in .stdout."""
        done = subprocess.run(
            [
                "chroot",
                str(self.root),
                "/usr/bin/env",
                "-i",
                *[f"{k}={v}" for k, v in {**ENV, **(env or {})}.items()],
                "sh",
                "-c",
                script,
            ],
            input=stdin,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            check=False,
            timeout=timeout,
        )
        if check and done.returncode != 0:
            raise AssertionError(f"chroot: {script!r} exited {done.returncode}:\n{done.stdout}")
        return done

    def copy_in(self, source: Path, host_path: str) -> str:
        target = self.path(host_path)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(source, target)
        return host_path

    def read(self, host_path: str) -> str:
        return self.path(host_path).read_text()

    def write(self, host_path: str, text: str) -> None:
        target = self.path(host_path)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text)


def settle_first_boot(box: Chroot) -> None:
    """The stamps systemd-update-done leaves after a first boot (ConditionNeedsUpdate=,
    systemd.unit(5)), as of the tree's /usr: without them every boot of a test VM is a
    first boot and rebuilds the linker cache and the journal catalog under TCG (about 8 s
    of a boot in the boot VMs' serial logs)."""
    usr = box.path("/usr").stat().st_mtime_ns
    for directory in ("/etc", "/var"):
        box.write(f"{directory}/.updated", f"TIMESTAMP_NSEC={usr}\n")


def build_deb(tree: Path, deb: Path) -> Path:
    subprocess.run(
        ["dpkg-deb", "--root-owner-group", "--build", str(tree), str(deb)],
        check=True,
        stdout=subprocess.DEVNULL,
    )
    return deb


def build_standin_driver(directory: Path, version: str) -> Path:
    """A test double of upstream's i915-sriov-dkms .deb (it cannot be had here): same name,
    architecture and version, installing nothing."""
    tree = directory / f"standin-{version}"
    (tree / "DEBIAN").mkdir(parents=True)
    doc = tree / "usr/share/doc/i915-sriov-dkms"
    doc.mkdir(parents=True)
    (doc / "copyright").write_text("Test double of i915-sriov-dkms; no upstream code.\n")
    (tree / "DEBIAN" / "control").write_text(
        "Package: i915-sriov-dkms\n"
        f"Version: {version}\n"
        "Architecture: amd64\n"
        "Maintainer: irisxe-sriov tests <tests@irisxe-sriov.org>\n"
        "Description: test double of the upstream i915-sriov-dkms package\n"
        " Named and versioned like the upstream driver package; installs nothing.\n"
    )
    deb = directory / f"i915-sriov-dkms_{version}_amd64.deb"
    return build_deb(tree, deb)


SOURCE = Path(__file__).resolve().parents[2]
PIN = pin.DRIVER_VERSION  # the stand-in's version: what the package depends on


def package_version() -> str:
    return subprocess.run(
        ["dpkg-parsechangelog", "-l", str(SOURCE / "debian/changelog"), "-S", "Version"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()


def with_debs(box: Chroot, package: Path, standin: Path) -> Chroot:
    """Put the built package and the stand-in driver into /root/debs of the chroot."""
    box.copy_in(package, "/root/debs/irisxe-sriov.deb")
    box.copy_in(standin, f"/root/debs/i915-sriov-dkms_{PIN}_amd64.deb")
    return box


def preseed(box: Chroot, answers: dict[str, str]) -> None:
    from irisxe_sriov.cli.debconf_ui import PACKAGE, QUESTION_TYPES

    lines = "".join(
        f"{PACKAGE} {PACKAGE}/{key} {QUESTION_TYPES[f'{PACKAGE}/{key}']} {value}\n"
        for key, value in answers.items()
    )
    box.run("debconf-set-selections", stdin=lines)


def install(box: Chroot, answers: dict[str, str] | None = None) -> str:
    """Preseed, then apt-get install the stand-in and the package; apt's output."""
    preseed(box, answers or {})
    done = box.run(
        f"apt-get install -y /root/debs/i915-sriov-dkms_{PIN}_amd64.deb /root/debs/irisxe-sriov.deb"
    )
    return done.stdout


# The real upstream driver package, built from the pinned source the way upstream builds
# its release .deb (its .github/workflows/release.yml): the tarball is test data kept
# outside this repository (never committed here), found in ../shared/upstream or
# $IRISXE_SRIOV_UPSTREAM_DIR.
UPSTREAM_TARBALL = f"i915-sriov-dkms-{PIN}.tar.xz"
UPSTREAM_BUILD_BASE = ("build-essential", "devscripts", "dh-make", "dh-dkms", "dkms")


def upstream_tarball() -> Path:
    """The pinned source tarball; a test that needs it fails (never skips) without it."""
    directory = Path(
        os.environ.get("IRISXE_SRIOV_UPSTREAM_DIR", SOURCE.parent / "shared" / "upstream")
    )
    tarball = directory / UPSTREAM_TARBALL
    if not tarball.is_file():
        raise AssertionError(
            f"{tarball} is missing: put the pinned upstream source there (git archive "
            f"--prefix=i915-sriov-dkms-{PIN}/ of strongtz/i915-sriov-dkms at tag {PIN}, or "
            "https://github.com/strongtz/i915-sriov-dkms/archive/"
            "2482f8fa4b1aabf10c5c9e5c1d4e37a84f2cdf57.tar.gz repacked so) or point "
            "IRISXE_SRIOV_UPSTREAM_DIR at its directory"
        )
    return tarball


def upstream_deb(scratch: Path) -> Path:
    """i915-sriov-dkms_<pin>_amd64.deb built from the tarball in a Debian 13 chroot, cached
    under CACHE keyed on the tarball's sha256."""
    tarball = upstream_tarball()
    digest = hashlib.sha256(tarball.read_bytes()).hexdigest()
    cached = CACHE / f"i915-sriov-dkms_{PIN}_amd64-{digest[:16]}.deb"
    with cache_lock():
        if cached.exists():
            return cached
    box = Chroot(base_tree("upstream-build", UPSTREAM_BUILD_BASE), scratch)
    try:
        box.copy_in(tarball, f"/root/{UPSTREAM_TARBALL}")
        box.run(
            f"cd /root && tar -xf {UPSTREAM_TARBALL} && cd i915-sriov-dkms-{PIN} && "
            "version=$(bash -c '. ./dkms.conf && echo \"$PACKAGE_VERSION\"') && "
            f'test "$version" = {PIN} && '
            'sed -i "s/###LATEST_VERSION###/$version/g" debian/control debian/changelog && '
            "dpkg-buildpackage -b -tc -us -uc"
        )
        built = box.path(f"/root/i915-sriov-dkms_{PIN}_amd64.deb")
        with cache_lock():
            partial = cached.with_suffix(".partial")
            shutil.copy(built, partial)
            partial.rename(cached)
    finally:
        box.close()
    return cached


# Kernel headers and dkms for the guard tests; apt's .debs are kept so that a test can
# install the kernel headers again offline.
DKMS_BASE = (*DEPENDENCIES, "apt-utils", "dkms", "build-essential", "linux-headers-amd64")
KEEP_APT_DEBS = ("--skip=cleanup/apt/cache",)

# trixie-backports, where Debian's kernels with their own SR-IOV xe are (Linux 7.x).
BACKPORTS_SOURCE = f"deb {MIRROR} {SUITE}-backports main"
# A bootable Debian 13 with trixie-backports' kernel (tests/package/test_backports_chroot.py): the
# real linux-image-amd64 7.x and what it needs from backports, installed by a hook since
# mmdebstrap's --include takes packages from the default release.
BACKPORTS_KERNEL_HOOK = (
    '--customize-hook=chroot "$1" env DEBIAN_FRONTEND=noninteractive apt-get install -y '
    "--no-install-recommends -t trixie-backports linux-image-amd64 initramfs-tools",
)
BACKPORTS_BASE = (*DEPENDENCIES, "systemd-sysv", "udev", "kmod", "apt-utils")

# A bootable Debian 13 for the VM tests (tests/vm/test_vm.py).
VM_BASE = (
    *DEPENDENCIES,
    "linux-image-amd64",
    "systemd-sysv",
    "udev",
    "kmod",
    "apt-utils",
    "initramfs-tools",
    # initramfs-tools compresses with zstd when it is there, else with gzip: zstd's
    # initrds are built and unpacked faster under TCG
    "zstd",
)

# A clean Debian 13 build environment as Debian's buildds have it: build-essential and
# dpkg-dev, everything else from the package's Build-Depends (tests/package/test_build_chroot.py).
BUILD_BASE = ("build-essential", "dpkg-dev")
# A fresh machine with nothing but what the README's two commands start from.
FRESH_BASE = ("make", "git")
# Left out of a copy of the working tree, as make deb leaves them out (and caches).
TREE_EXCLUDES = (
    "./build",
    "./dist",
    "./.git",
    "./.hypothesis",
    "./.pytest_cache",
    "./.mypy_cache",
    "./.ruff_cache",
    "__pycache__",
)


def online(box: Chroot) -> None:
    """Let apt inside reach the mirror: a copy of this machine's resolver configuration
    (read, never changed) replaces whatever the base has at /etc/resolv.conf."""
    target = box.path("/etc/resolv.conf")
    if target.is_symlink() or target.exists():
        target.unlink()
    target.write_text(Path("/etc/resolv.conf").read_text())


def run_with_proc(box: Chroot, script: str, timeout: int) -> subprocess.CompletedProcess[str]:
    """A sh script inside the chroot as on a booted machine: in a PID namespace of its own
    with that namespace's /proc mounted (the fast tier reads /proc/locks, the benchmark
    /proc/cpuinfo), and in a mount namespace with a devpts instance of its own at /dev/pts
    (the fast tier's terminal tests open pseudo-terminals); this machine's /proc, /sys and
    terminals stay out, and every mount goes with the namespace. stdout and stderr
    together."""
    pts, ptmx = box.path("/dev/pts"), box.path("/dev/ptmx")
    setup = (
        f"mkdir -p {pts} && mount -t devpts -o newinstance,ptmxmode=0666,mode=0620 devpts {pts}"
        f' && touch {ptmx} && mount --bind {pts}/ptmx {ptmx} && exec "$@"'
    )
    return subprocess.run(
        [
            "unshare",
            "--fork",
            "--pid",
            "--mount",
            f"--mount-proc={box.path('/proc')}",
            "sh",
            "-c",
            setup,
            "sh",
            "chroot",
            str(box.root),
            "/usr/bin/env",
            "-i",
            *[f"{k}={v}" for k, v in ENV.items()],
            "sh",
            "-c",
            script,
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        check=False,
        timeout=timeout,
    )


def tree_tarball(target: Path) -> Path:
    """The working tree as make deb copies it: without build/, dist/, .git and caches."""
    excludes = [f"--exclude={e}" for e in TREE_EXCLUDES]
    subprocess.run(["tar", "-cf", str(target), *excludes, "-C", str(SOURCE), "."], check=True)
    return target


def git_tarball(revision: str, target: Path) -> Path:
    subprocess.run(
        ["git", "-C", str(SOURCE), "archive", "--format=tar", "-o", str(target), revision],
        check=True,
    )
    return target


def build_from_source(
    box: Chroot, source: Path, before: str = "", timeout: int = 1200
) -> subprocess.CompletedProcess[str]:
    """Unpack a source tarball in /root/build/irisxe-sriov, install its Build-Depends from
    the archive (`before` runs first) and dpkg-buildpackage -b it, as a buildd does."""
    online(box)
    box.copy_in(source, "/root/source.tar")
    return box.run(
        "set -e; mkdir -p /root/build/irisxe-sriov; cd /root/build/irisxe-sriov; "
        "tar -xf /root/source.tar; apt-get update -qq; "
        f"{before}"
        "apt-get build-dep -y -qq ./ >/dev/null; dpkg-buildpackage -us -uc -b",
        check=False,
        timeout=timeout,
    )


def git(*args: str) -> str:
    return subprocess.run(
        ["git", "-C", str(SOURCE), *args], capture_output=True, text=True, check=True
    ).stdout.strip()


# The commit each earlier release was built from. Its tag v<version> marks it too, but a
# clone of main (CI's) carries no tags, and the changelog cannot say: the 0.1.0 entry
# stayed on top for commits after the release.
RELEASE_COMMITS = {"0.1.0": "da8051feeb167bcce521118b47fe8d0700fcb2fb"}
# The release before this version: the upgrade tests start from it.
PREVIOUS_RELEASE = "0.1.0"
# The released 0.1.0 lacked python3-click and python3-jinja2 in Build-Depends: building it
# needs them added by hand (docs/notes.md, "Test tiers and budgets").
RELEASE_BUILD_FIXES = {"0.1.0": "python3-click python3-jinja2"}


def release_deb(version: str, scratch: Path) -> Path:
    """The .deb of a released version, built from `git archive` of its release commit in
    the clean build chroot; cached under CACHE keyed on that commit."""
    commit = git("rev-parse", "--verify", f"{RELEASE_COMMITS[version]}^{{commit}}")
    cached = CACHE / f"irisxe-sriov_{version}_all-{commit[:12]}.deb"
    with cache_lock():
        if cached.exists():
            return cached
    box = Chroot(base_tree("build", BUILD_BASE), scratch)
    try:
        fixes = RELEASE_BUILD_FIXES.get(version)
        before = f"apt-get install -y -qq {fixes} >/dev/null; " if fixes else ""
        done = build_from_source(box, git_tarball(commit, scratch / "source.tar"), before)
        if done.returncode != 0:
            raise AssertionError(f"building {version} ({commit}) failed:\n{done.stdout[-4000:]}")
        with cache_lock():
            partial = cached.with_suffix(".partial")
            shutil.copy(box.path(f"/root/build/irisxe-sriov_{version}_all.deb"), partial)
            partial.rename(cached)
    finally:
        box.close()
    return cached


def settings_values(box: Chroot) -> dict[str, str]:
    """/etc/default/irisxe-sriov in the chroot: KEY -> value."""
    lines = box.read("/etc/default/irisxe-sriov").splitlines()
    return dict(
        line.replace('"', "").split("=", 1) for line in lines if line and not line.startswith("#")
    )


def default_settings_file() -> dict[str, str]:
    """What the settings file holds for each key a setting takes by default."""
    from irisxe_sriov.settings import KEYS, Settings

    return {KEYS[name]: value for name, value in Settings().values().items()}


def backports_tree() -> Path:
    return base_tree("backports", BACKPORTS_BASE, BACKPORTS_KERNEL_HOOK, (BACKPORTS_SOURCE,))
