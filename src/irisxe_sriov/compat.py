"""Can the pinned driver build for a kernel, and what did dkms do with it?

The judgement is pure (`judge`) over what `read_headers` found; the same table
(pin.HEADER_CHANGES) is rendered into /etc/dkms/i915-sriov-dkms.conf, so dkms and doctor
reach the same verdict on the same headers (docs/notes.md, "The compat layer").
"""

import re
from pathlib import Path
from typing import NamedTuple

from irisxe_sriov import debversion, pin
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


class KernelState(NamedTuple):
    release: str
    state: str  # installed | built | skipped | failed | no-headers | not-built
    detail: str


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


# --- reading ------------------------------------------------------------------------------


def header_dirs(paths: Paths, release: str) -> list[Path]:
    # build -> /usr/src/linux-headers-<release>: resolved inside the root (paths.at).
    return [paths.at(f"/lib/modules/{release}/{name}") for name in ("build", "source")]


def read_headers(paths: Paths, release: str) -> tuple[bool, dict[str, str | None]]:
    """Whether headers exist for `release`, and each probed file's text (first found)."""
    directories = [d for d in header_dirs(paths, release) if d.is_dir()]
    texts: dict[str, str | None] = {}
    for change in CHANGES:
        texts[change.probe] = None
        for directory in directories:
            try:
                texts[change.probe] = (directory / change.probe).read_text(errors="replace")
                break
            except OSError:
                continue
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


def state_of(paths: Paths, judgement: Judgement) -> KernelState:
    release = judgement.release
    updates = paths.at("/lib/modules") / release / "updates"
    if any(updates.glob("**/i915.ko*")) or any(updates.glob("**/xe.ko*")):
        return KernelState(release, "installed", "the SR-IOV modules are installed")
    if (dkms_tree(paths) / release / ARCH / "module").is_dir():
        return KernelState(release, "built", "built but not installed: run dkms install")
    log = dkms_tree(paths) / "build" / "make.log"
    try:
        make_log = log.read_text(errors="replace")
    except OSError:
        make_log = ""
    if f"for kernel {release} " in make_log:
        error = first_error(make_log) or "see the log"
        return KernelState(
            release,
            "failed",
            f"the build failed: {error} ({paths.display(log)}); a kernel change the compat "
            "layer does not bridge yet: keep booting a kernel whose state is installed and "
            "report the error to irisxe-sriov",
        )
    if not judgement.headers:
        return KernelState(release, "no-headers", f"no headers: install linux-headers-{release}")
    if not judgement.in_range:
        return KernelState(release, "skipped", f"outside the pin's range {pin.KERNEL_RANGE_TEXT}")
    if judgement.blocking:
        return KernelState(
            release,
            "skipped",
            "headers the pinned release cannot build against: " + "; ".join(judgement.blocking),
        )
    return KernelState(release, "not-built", "buildable but not built: run dkms autoinstall")


def kernel_states(paths: Paths) -> list[KernelState]:
    states = []
    for release in installed_kernels(paths):
        headers, texts = read_headers(paths, release)
        states.append(state_of(paths, judge(release, headers, texts)))
    return states
