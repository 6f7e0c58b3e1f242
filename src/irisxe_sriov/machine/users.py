"""Who uses the VFs, read once: open VFIO groups (the guests), running libvirt domains and
processes holding a VF's DRM nodes open (containers, host programs). Read before a VF is
unbound or the count changes (docs/notes.md, "Never take working VFs away"), and for status.
"""

import os
import re
import stat
from collections.abc import Iterable
from pathlib import Path

from irisxe_sriov.machine import reader
from irisxe_sriov.machine.snapshot import Usage, User
from irisxe_sriov.paths import DEV_DIR, DRI_DIR, VFIO_DIR, Paths
from irisxe_sriov.runtime.attach import libvirt_addresses


def qemu_name(cmdline: list[str]) -> str | None:
    """The guest name of a QEMU command line (-name guest=NAME,... or -name NAME)."""
    for position, argument in enumerate(cmdline[:-1]):
        if argument == "-name":
            value = cmdline[position + 1]
            for part in value.split(","):
                if part.startswith("guest="):
                    return part.removeprefix("guest=")
            return value.split(",")[0]
    return None


# How a container runtime names a container in its processes' cgroup path (cgroup v2:
# one line "0::/<path>"): Docker's and Podman's systemd scopes, LXC's and Incus'
# lxc.payload.<name> (Incus runs its containers through liblxc).
CONTAINER_RE = (
    (re.compile(r"/docker-([0-9a-f]{12})[0-9a-f]*\.scope"), "docker container {}"),
    (re.compile(r"/docker/([0-9a-f]{12})[0-9a-f]*"), "docker container {}"),
    (re.compile(r"/libpod-([0-9a-f]{12})[0-9a-f]*\.scope"), "podman container {}"),
    (re.compile(r"/lxc\.payload\.([^/\s]+)"), "container {}"),
)


def container_of(cgroup: str) -> str | None:
    for pattern, words in CONTAINER_RE:
        match = pattern.search(cgroup)
        if match:
            return words.format(match.group(1))
    return None


def describe_process(paths: Paths, process: Path) -> str:
    """A QEMU guest by its name; any other process as `command (pid N)`, with the
    container it runs in where its cgroup names one."""
    raw = reader.read_text(process / "cmdline", 1 << 16) or ""
    argv = [a for a in raw.split("\0") if a]
    guest = qemu_name(argv)
    if guest is not None:
        return guest
    command = (
        Path(argv[0]).name if argv else (reader.read_text(process / "comm", 256) or "?").strip()
    )
    container = container_of(reader.read_text(process / "cgroup", 1 << 16) or "")
    where = f" in {container}" if container else ""
    return f"{command} (pid {process.name}){where}"


DRM_MAJOR = 226  # include/uapi/drm/drm.h: every DRM node is a char device of this major


def drm_minor_of(target: Path, link_text: str) -> int | None:
    """The DRM minor a process's open file is, where it is a DRM node: by the device the
    link resolves to (the node a container mapped under another name included), else by
    the name in the link's text (a root other than /, where no device is resolved)."""
    try:
        found = target.stat()
    except OSError:
        found = None
    if found is not None and stat.S_ISCHR(found.st_mode):
        if os.major(found.st_rdev) == DRM_MAJOR:
            return os.minor(found.st_rdev)
        return None
    if link_text.startswith(f"{DRI_DIR}/"):
        return reader.drm_minor(link_text.rsplit("/", 1)[1])
    return None


def open_files(
    paths: Paths, want_vfio: bool, want_drm: frozenset[int]
) -> tuple[dict[int, list[User]], dict[int, list[User]]]:
    """One pass over /proc: IOMMU group -> processes holding /dev/vfio/<group> open (the
    guests using VFs), and DRM minor -> processes holding that node open (containers and
    host programs using a VF's render node), for the minors in `want_drm`."""
    vfio: dict[int, list[User]] = {}
    drm: dict[int, list[User]] = {}
    if not want_vfio and not want_drm:
        return vfio, drm
    for process in sorted(paths.processes.glob("[0-9]*"), key=lambda p: int(p.name)):
        groups: set[int] = set()
        minors: set[int] = set()
        try:
            descriptors = list((process / "fd").iterdir())
        except OSError:
            continue
        for descriptor in descriptors:
            try:
                text = str(descriptor.readlink())
            except OSError:
                continue
            if (
                want_vfio
                and text.startswith(f"{VFIO_DIR}/")
                and text[len(VFIO_DIR) + 1 :].isdigit()
            ):
                groups.add(int(text[len(VFIO_DIR) + 1 :]))
            elif want_drm and text.startswith(DEV_DIR):
                # at the host the magic link leads to the node itself (stat follows it);
                # under another root the link is resolved inside it
                target = descriptor if paths.at_host else paths.inside(descriptor)
                minor = drm_minor_of(target, text)
                if minor in want_drm:
                    minors.add(minor)
        if groups or minors:
            user = User(int(process.name), describe_process(paths, process))
            for group in groups:
                vfio.setdefault(group, []).append(user)
            for minor in minors:
                drm.setdefault(minor, []).append(user)
    return vfio, drm


def libvirt_users(paths: Paths) -> dict[str, list[str]]:
    """PCI address -> running libvirt domains whose live XML names it (one read each)."""
    users: dict[str, list[str]] = {}
    for status in sorted(paths.libvirt_running.glob("*.xml")):
        for address in libvirt_addresses(reader.read_text(status) or ""):
            users.setdefault(address, []).append(status.stem)
    return users


def read_usage(paths: Paths, vfs: Iterable[reader.PciFunction] = ()) -> Usage:
    """Who uses the VFs: /proc is read only when a VFIO group device exists or one of
    `vfs` has DRM nodes, in one pass."""
    want_vfio = any(paths.vfio_groups.glob("[0-9]*"))
    want_drm = frozenset(minor for vf in vfs for minor in vf.drm_minors)
    vfio, drm = open_files(paths, want_vfio, want_drm)
    return Usage(vfio, libvirt_users(paths), drm)
