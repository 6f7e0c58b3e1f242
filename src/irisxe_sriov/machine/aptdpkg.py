"""What Debian's package tools say: the installed version of a package (dpkg's status
file) and apt's sources. Every read is bounded (reader.py); packages.py and
aptsources.py parse what is read here.
"""

import contextlib

from irisxe_sriov.machine import aptsources, packages, reader
from irisxe_sriov.paths import APT_SOURCES_DIR, APT_SOURCES_LIST, DEB822_SOURCES, Paths

# dpkg's status file is a few MB on a desktop with thousands of packages
STATUS_LIMIT = 64 << 20


def installed_version(paths: Paths, package: str) -> str | None:
    """Version of `package` when dpkg has it installed (any config state), else None."""
    text = reader.read_text(paths.dpkg_status, STATUS_LIMIT)
    if text is None:
        return None
    for stanza in packages.stanzas_naming(text, package):
        fields = packages.stanza_fields(stanza)
        status = fields.get("Status", "").split()
        if fields.get("Package") == package and status[-1:] and status[-1] not in packages.GONE:
            return fields.get("Version")
    return None


def read_apt_sources(paths: Paths) -> aptsources.AptSources:
    sources: list[tuple[str, list[str]]] = []
    candidates = [paths.at(APT_SOURCES_LIST)]
    directory = paths.at(APT_SOURCES_DIR)
    with contextlib.suppress(OSError):
        candidates += sorted(directory.iterdir())
    for candidate in candidates:
        text = reader.read_text(candidate)
        if text is None:
            continue
        if candidate.name.endswith(".sources"):
            sources += aptsources.parse_deb822(text)
        elif candidate.name.endswith(".list"):
            sources += aptsources.parse_one_line(text)
    return aptsources.summarise(sources, paths.at(DEB822_SOURCES).is_file())
