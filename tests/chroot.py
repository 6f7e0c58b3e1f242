"""Debian 13 chroots for the package tests.

A base made with mmdebstrap is cached under /var/cache/irisxe-sriov-tests (rebuilt when
missing or when its package list changes), extracted once, and every test gets its own
overlayfs on top, so each starts from the pristine base in a moment.

Nothing of this machine is mounted into a chroot: no /proc, no /sys, no /dev/pts. Its
/sys is a plain directory where tests lay out a fake GPU (tests/fakesys.py); this
machine's real 0000:00:02.0 stays out of reach.
"""

import contextlib
import fcntl
import hashlib
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

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
# What the package depends on; the package itself and the stand-in driver are installed
# by the tests.
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


def base_tarball(name: str, packages: tuple[str, ...], suffix: str = ".tar") -> Path:
    """mmdebstrap's tarball for `packages`, cached; its name carries a digest of the list.
    The suffix picks the compression (piuparts wants .tar.gz)."""
    digest = hashlib.sha256(f"{SUITE} {MIRROR} {' '.join(packages)}".encode()).hexdigest()[:12]
    tarball = CACHE / f"{name}-{SUITE}-{digest}{suffix}"
    with cache_lock():
        if not tarball.exists():
            partial = CACHE / f"{name}-{SUITE}-{digest}.partial{suffix}"
            subprocess.run(
                [
                    "mmdebstrap",
                    "--quiet",
                    "--variant=minbase",
                    f"--include={','.join(packages)}",
                    SUITE,
                    str(partial),
                    MIRROR,
                ],
                check=True,
            )
            partial.rename(tarball)
    return tarball


def base_tree(name: str, packages: tuple[str, ...]) -> Path:
    """The extracted base, read-only lower layer of every overlay."""
    tarball = base_tarball(name, packages)
    tree = tarball.with_suffix("")
    with cache_lock():
        if not (tree / ".irisxe-complete").exists():
            shutil.rmtree(tree, ignore_errors=True)
            tree.mkdir()
            subprocess.run(["tar", "-xf", str(tarball), "-C", str(tree)], check=True)
            (tree / ".irisxe-complete").touch()
    return tree


class Chroot:
    """An overlay on a base tree; `run` executes inside it with a clean environment."""

    def __init__(self, lower: Path, scratch: Path) -> None:
        self.scratch = scratch
        self.root = scratch / "root"
        for name in ("upper", "work", "root"):
            (scratch / name).mkdir()
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

    def close(self) -> None:
        subprocess.run(["umount", str(self.root)], check=True)

    def path(self, host_path: str) -> Path:
        return self.root / host_path.lstrip("/")

    def run(
        self,
        script: str,
        check: bool = True,
        env: dict[str, str] | None = None,
        stdin: str | None = None,
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
            timeout=600,
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
    subprocess.run(
        ["dpkg-deb", "--root-owner-group", "--build", str(tree), str(deb)],
        check=True,
        stdout=subprocess.DEVNULL,
    )
    return deb


SOURCE = Path(__file__).resolve().parent.parent
PIN = "2025.12.10"  # the stand-in's version: what debian/control pins


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
    types = {
        "driver": "select",
        "bootloader": "select",
        "num_vfs": "string",
        "vf_unbound": "multiselect",
        "vf_host": "multiselect",
    }
    lines = "".join(
        f"irisxe-sriov irisxe-sriov/{key} {types[key]} {value}\n" for key, value in answers.items()
    )
    box.run("debconf-set-selections", stdin=lines)


def install(box: Chroot, answers: dict[str, str] | None = None) -> str:
    """Preseed, then apt-get install the stand-in and the package; apt's output."""
    preseed(box, answers or {})
    done = box.run(
        f"apt-get install -y /root/debs/i915-sriov-dkms_{PIN}_amd64.deb /root/debs/irisxe-sriov.deb"
    )
    return done.stdout
