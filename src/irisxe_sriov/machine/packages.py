"""Installed Debian packages, from dpkg's status file.

The status file is read as dpkg writes it (deb-control(5) stanzas, one per package and
architecture) by a reader of the three fields needed here: python-debian's deb822 module
would add about 60 ms to `doctor`'s start (it imports charset_normalizer and email; make
bench). Versions are compared by python-debian, imported only then: its version module
loads apt_pkg, about 12 ms of every command's start otherwise (python3 -X importtime).
"""

from irisxe_sriov.machine import reader
from irisxe_sriov.paths import Paths

# dpkg's status file is a few MB on a desktop with thousands of packages
STATUS_LIMIT = 64 << 20

# dpkg's "want flag status" triple ends in the status; these leave no installed package
GONE = ("not-installed", "config-files")


def stanza_fields(stanza: str) -> dict[str, str]:
    """The fields of one stanza; a continuation line (leading space or tab) joins the
    field before it after a newline, kept whole as python-debian keeps it. Pure."""
    fields: dict[str, str] = {}
    name = ""
    # "\n" only: splitlines() also splits at \f, \v and U+2028, which a value may hold
    for line in stanza.split("\n"):
        if line[:1] in (" ", "\t"):
            if name:
                fields[name] += "\n" + line
            continue
        name, sep, value = line.partition(":")
        if not sep:
            name = ""
            continue
        fields[name] = value.strip()
    return fields


def stanzas_naming(text: str, package: str) -> list[str]:
    """The stanzas of a status file whose Package line names `package`. Pure. The file
    runs to megabytes: only those stanzas are cut out and parsed."""
    marker = f"Package: {package}\n"
    found = []
    start = 0
    while (at := text.find(marker, start)) >= 0:
        start = at + len(marker)
        if at and text[at - 1] != "\n":
            continue  # the marker's text inside another field
        begin = text.rfind("\n\n", 0, at)
        end = text.find("\n\n", at)
        found.append(text[0 if begin < 0 else begin + 2 : len(text) if end < 0 else end])
    return found


def installed_version(paths: Paths, package: str) -> str | None:
    """Version of `package` when dpkg has it installed (any config state), else None."""
    text = reader.read_text(paths.dpkg_status, STATUS_LIMIT)
    if text is None:
        return None
    for stanza in stanzas_naming(text, package):
        fields = stanza_fields(stanza)
        status = fields.get("Status", "").split()
        if fields.get("Package") == package and status[-1:] and status[-1] not in GONE:
            return fields.get("Version")
    return None


def same_version(installed: str, wanted: str) -> bool:
    from debian.debian_support import Version

    return Version(installed) == Version(wanted)
