"""Does apt know trixie-backports, and which mirror does this system use? Pure parsing of
/etc/apt/sources.list and sources.list.d (one-line and deb822 formats); aptdpkg.py reads
them.

Used to give the exact commands that install a kernel with its own SR-IOV xe
(docs/notes.md, "The kernel's own xe").
"""

import re
from typing import NamedTuple

from irisxe_sriov.paths import DEB822_SOURCES

BACKPORTS = "trixie-backports"


class AptSources(NamedTuple):
    backports: bool  # a deb source of trixie-backports is configured
    mirror: str | None  # the URI of the first Debian trixie deb source
    deb822: bool  # the system uses debian.sources (Debian 13's default layout)


def parse_one_line(text: str) -> list[tuple[str, list[str]]]:
    """`deb [options] URI SUITE COMPONENT...` lines -> (URI, [SUITE])."""
    found = []
    for line in text.splitlines():
        words = re.sub(r"\[[^]]*\]", " ", line.split("#", 1)[0]).split()
        if len(words) >= 3 and words[0] == "deb":
            found.append((words[1], [words[2]]))
    return found


def parse_deb822(text: str) -> list[tuple[str, list[str]]]:
    """deb822 stanzas of Types: deb -> (first URI, Suites)."""
    found = []
    for stanza in re.split(r"\n\s*\n", text):
        fields: dict[str, str] = {}
        for line in stanza.splitlines():
            if line.startswith("#") or ":" not in line or line[:1].isspace():
                continue
            key, _, value = line.partition(":")
            fields[key.strip().lower()] = value.strip()
        if "deb" in fields.get("types", "").split() and fields.get("enabled", "yes") != "no":
            uris = fields.get("uris", "").split()
            if uris:
                found.append((uris[0], fields.get("suites", "").split()))
    return found


def summarise(sources: list[tuple[str, list[str]]], deb822: bool) -> AptSources:
    mirror = next((uri for uri, suites in sources if "trixie" in suites), None)
    backports = any(BACKPORTS in suites for _, suites in sources)
    return AptSources(backports, mirror, deb822)


def backports_steps(sources: AptSources) -> list[str]:
    """The commands that install trixie-backports' kernel (its xe is an SR-IOV PF)."""
    steps = []
    if not sources.backports:
        if sources.deb822:
            steps.append(f"add {BACKPORTS} to the Suites: line of {DEB822_SOURCES}")
        else:
            mirror = sources.mirror or "<your Debian mirror>"
            steps.append(
                f"echo 'deb {mirror} {BACKPORTS} main' > /etc/apt/sources.list.d/{BACKPORTS}.list"
            )
        steps.append("apt update")
    steps.append(f"apt install -t {BACKPORTS} linux-image-amd64")
    return steps
