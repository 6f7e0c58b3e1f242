"""Installed Debian packages, from dpkg's status file (python-debian does the parsing)."""

from debian import deb822
from debian.debian_support import Version

from irisxe_sriov.paths import Paths


def installed_version(paths: Paths, package: str) -> str | None:
    """Version of `package` when dpkg has it installed (any config state), else None."""
    try:
        text = paths.dpkg_status.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None
    marker = f"Package: {package}\n"
    # Parse only the stanza that names the package: the status file runs to megabytes.
    for stanza in text.split("\n\n"):
        if stanza.startswith(marker) or f"\n{marker}" in stanza:
            fields = deb822.Deb822(stanza)
            status = fields.get("Status", "").split()
            if (
                fields.get("Package") == package
                and status[-1:] != ["not-installed"]
                and (status[-1:] != ["config-files"])
            ):
                return fields.get("Version")
    return None


def same_version(installed: str, wanted: str) -> bool:
    return Version(installed) == Version(wanted)
