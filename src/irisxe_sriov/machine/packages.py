"""Installed Debian packages, from dpkg's status file. Pure: aptdpkg.py reads the file.

The status file is parsed as dpkg writes it (deb-control(5) stanzas, one per package and
architecture) by a parser of the three fields needed here: python-debian's deb822 module
would add about 60 ms to `doctor`'s start (it imports charset_normalizer and email; make
bench). Versions are compared by python-debian, imported only then: its version module
loads apt_pkg, about 12 ms of every command's start otherwise (python3 -X importtime).
"""

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


def same_version(installed: str, wanted: str) -> bool:
    from debian.debian_support import Version

    return Version(installed) == Version(wanted)
