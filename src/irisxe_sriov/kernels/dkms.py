"""Can the pinned driver build for a kernel, and what did dkms do with it?

Pure: `judge` and `state_of` decide from what machine/kernelfiles.py read; the same table
(pin.HEADER_CHANGES) is rendered into /etc/dkms/i915-sriov-dkms.conf, so dkms and doctor
reach the same verdict on the same headers (docs/notes.md, "The compat layer").
"""

import re
from collections.abc import Mapping
from typing import NamedTuple

from irisxe_sriov import fixes, pin
from irisxe_sriov.choices import Closed
from irisxe_sriov.fixes import Fix

ARCH = "x86_64"


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
    kernel's provider where any can. An installed, built or failed build is reported as
    such; otherwise a kernel outside the pin's range is skipped before its headers and the
    driver package are asked about: no headers would make it buildable."""
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
