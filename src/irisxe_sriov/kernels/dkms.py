"""Can the pinned driver build for a kernel, and what did dkms do with it?

The judgements are pure (`judge`, `state_of`) over what `read_dkms` found; the same table
(pin.HEADER_CHANGES) is rendered into /etc/dkms/i915-sriov-dkms.conf, so dkms and doctor
reach the same verdict on the same headers (docs/notes.md, "The compat layer").
"""

import re
from collections.abc import Mapping
from pathlib import Path
from typing import NamedTuple

from irisxe_sriov import fixes, pin
from irisxe_sriov.choices import Closed
from irisxe_sriov.fixes import Fix
from irisxe_sriov.kernels import debversion
from irisxe_sriov.machine import reader
from irisxe_sriov.paths import Paths

ARCH = "x86_64"
# Where irisxe-sriov installs its compat layer (conf/dkms/compat; docs/notes.md).
LAYER_DIR = "/usr/share/irisxe-sriov/dkms/compat"


class HeaderChange(NamedTuple):
    name: str
    since: str
    probe: str
    marker: str | None
    bridge: str | None


CHANGES = tuple(HeaderChange(*row) for row in pin.HEADER_CHANGES)


class Judgement(NamedTuple):
    release: str
    in_range: bool  # BUILD_EXCLUSIVE_KERNEL of the pinned dkms.conf
    headers: bool  # headers found at all
    blocking: tuple[str, ...]  # changes no build flag bridges
    bridged: tuple[str, ...]  # changes the build flags bridge

    @property
    def buildable(self) -> bool:
        return self.in_range and self.headers and not self.blocking


class DkmsState(Closed):
    """What dkms did with the pinned driver for one kernel."""

    INSTALLED = "installed"  # the SR-IOV modules are in the kernel's updates/ tree
    BUILT = "built"  # built, not installed
    FAILED = "failed"  # the last build for this kernel failed
    SKIPPED = "skipped"  # outside the pin's range, or headers it cannot build against
    NO_PACKAGE = "no-package"  # buildable, but the pinned driver package is not installed
    NO_HEADERS = "no-headers"  # buildable once the kernel's headers are there
    NOT_BUILT = "not-built"  # buildable, never built


class DkmsFiles(NamedTuple):
    """What one kernel's files say about the pinned DKMS build (read_dkms)."""

    release: str
    headers: bool  # a headers tree exists
    texts: Mapping[str, str | None]  # each probed header file's text (HeaderChange.probe)
    installed: bool  # i915 or xe in the kernel's updates/ tree
    built: bool  # dkms's tree has a build for the kernel
    source: bool  # the pinned driver's source is there for dkms (its package installed)
    log: str  # dkms's make.log, host spelling (named in the verdict)
    failure: str | None  # the log's first error line when its last build was this kernel's


class KernelState(NamedTuple):
    release: str
    state: DkmsState
    detail: str
    fix: Fix = fixes.NONE  # what makes the pinned build this kernel's provider; none: nothing


def python_regex(marker: str) -> str:
    """The ERE of the table as Python's re understands it (POSIX classes)."""
    return marker.replace("[[:space:]]", r"\s")


def matches(change: HeaderChange, texts: dict[str, str | None]) -> bool:
    text = texts.get(change.probe)
    if text is None:
        return False
    if change.marker is None:
        return True
    absent = change.marker.startswith("!")
    pattern = python_regex(change.marker.removeprefix("!"))
    return (re.search(pattern, text.replace("\n", " ")) is None) == absent


def judge(release: str, headers: bool, texts: dict[str, str | None]) -> Judgement:
    found = [change for change in CHANGES if matches(change, texts)]
    return Judgement(
        release=release,
        in_range=re.match(pin.KERNEL_PATTERN, release) is not None,
        headers=headers,
        blocking=tuple(c.name for c in found if c.bridge is None),
        bridged=tuple(c.name for c in found if c.bridge is not None),
    )


# --- the state of the pinned build on one kernel (pure) ------------------------------------


def dkms_ref() -> str:
    return f"{pin.DRIVER_PACKAGE}/{pin.DRIVER_VERSION}"


DRIVER_DEB = f"{pin.DRIVER_PACKAGE}_{pin.DRIVER_VERSION}_amd64.deb"


def package_fix() -> Fix:
    """How the pinned driver package gets installed: it is in no Debian archive."""
    return fixes.of(
        fixes.manual(
            f"download {DRIVER_DEB} from the upstream release page (see "
            "/usr/share/doc/irisxe-sriov/README.Debian)"
        ),
        fixes.run("apt", "install", f"./{DRIVER_DEB}"),
    )


def state_of(files: DkmsFiles) -> KernelState:
    """The pinned build's state on one kernel, and the commands that make it that
    kernel's provider where any can. A kernel outside the pin's range is skipped before
    anything else is asked of it: no headers would make it buildable."""
    release = files.release
    judgement = judge(release, files.headers, dict(files.texts))
    State = DkmsState
    if files.installed:
        return KernelState(release, State.INSTALLED, "the SR-IOV modules are installed")
    if files.built:
        fix = fixes.of(fixes.run("dkms", "install", dkms_ref(), "-k", release))
        return KernelState(release, State.BUILT, "built but not installed", fix)
    if files.failure is not None:
        return KernelState(
            release,
            State.FAILED,
            f"the build failed: {files.failure} ({files.log}); a kernel change the compat "
            "layer does not bridge yet",
            fixes.of(
                fixes.manual(f"report the error in {files.log} to irisxe-sriov"),
                fixes.manual("keep booting a kernel whose state is installed meanwhile"),
            ),
        )
    if not judgement.in_range:
        return KernelState(
            release, State.SKIPPED, f"outside the pin's range {pin.KERNEL_RANGE_TEXT}"
        )
    if judgement.blocking:
        return KernelState(
            release,
            State.SKIPPED,
            "headers the pinned release cannot build against: " + "; ".join(judgement.blocking),
        )
    headers = fixes.of(fixes.run("apt", "install", f"linux-headers-{release}"))
    if not files.source:
        # the package's postinst builds for every kernel with headers (AUTOINSTALL=yes)
        fix = (headers if not judgement.headers else fixes.NONE).then(package_fix())
        return KernelState(release, State.NO_PACKAGE, f"{pin.DRIVER_PACKAGE} is not installed", fix)
    if not judgement.headers:
        # dkms's own header hook builds the driver once the headers are installed
        return KernelState(release, State.NO_HEADERS, "no headers", headers)
    fix = fixes.of(fixes.run("dkms", "install", dkms_ref(), "-k", release))
    return KernelState(release, State.NOT_BUILT, "buildable but not built", fix)


# --- reading ------------------------------------------------------------------------------

PROBE_LIMIT = 1 << 20  # a header file is a few kB; a larger one is no header of ours


def header_dirs(paths: Paths, release: str) -> list[str]:
    """The host spellings of the kernel's two header halves (build is the -amd64 one,
    source the -common one on Debian)."""
    return [f"/lib/modules/{release}/{name}" for name in ("build", "source")]


def read_headers(paths: Paths, release: str) -> tuple[bool, dict[str, str | None]]:
    """Whether headers exist for `release`, and each probed file's text (first found).
    Every file is resolved from its host spelling, so a link below the headers tree
    resolves inside the root as the link to the tree does."""
    directories = [d for d in header_dirs(paths, release) if paths.at(d).is_dir()]
    texts: dict[str, str | None] = {}
    for change in CHANGES:
        texts[change.probe] = None
        for directory in directories:
            text = reader.read_text(paths.at(f"{directory}/{change.probe}"), PROBE_LIMIT)
            if text is not None:
                texts[change.probe] = text
                break
    return bool(directories), texts


def installed_kernels(paths: Paths) -> list[str]:
    """Releases with a kernel image in /boot or a modules tree with kernel modules (Debian
    7.x packages keep theirs in /usr/lib/modules), oldest first in Debian's version order
    (release names need not compare as numbers: debversion)."""
    releases = {p.name.removeprefix("vmlinuz-") for p in paths.at("/boot").glob("vmlinuz-*")}
    for modules in ("/lib/modules", "/usr/lib/modules"):
        releases |= {p.parent.name for p in paths.at(modules).glob("*/kernel")}
    return sorted(releases, key=debversion.release_key)


def dkms_tree(paths: Paths) -> Path:
    return paths.at("/var/lib/dkms") / pin.DRIVER_PACKAGE / pin.DRIVER_VERSION


def first_error(make_log: str) -> str | None:
    for line in make_log.splitlines():
        if "error:" in line:
            return line.strip()
    return None


MAKE_LOG_LIMIT = 16 << 20  # a failed build's log is some hundred kB


def read_make_log(paths: Paths) -> str:
    """dkms's log of the last build of the pinned driver ("" when there is none)."""
    return reader.read_text(dkms_tree(paths) / "build" / "make.log", MAKE_LOG_LIMIT) or ""


def read_dkms(paths: Paths, release: str, make_log: str) -> DkmsFiles:
    """What the files say about the pinned build on `release`; `make_log` is
    read_make_log's text (one file for every kernel: read once)."""
    updates = paths.at("/lib/modules") / release / "updates"
    installed = any(updates.glob("**/i915.ko*")) or any(updates.glob("**/xe.ko*"))
    headers, texts = read_headers(paths, release)
    failure = None
    if f"for kernel {release} " in make_log:
        failure = first_error(make_log) or "see the log"
    source = (dkms_tree(paths) / "source").exists() or paths.at(
        f"/usr/src/{pin.DRIVER_PACKAGE}-{pin.DRIVER_VERSION}/dkms.conf"
    ).is_file()
    return DkmsFiles(
        release=release,
        headers=headers,
        texts=texts,
        installed=installed,
        built=(dkms_tree(paths) / release / ARCH / "module").is_dir(),
        source=source,
        log=paths.display(dkms_tree(paths) / "build" / "make.log"),
        failure=failure,
    )
