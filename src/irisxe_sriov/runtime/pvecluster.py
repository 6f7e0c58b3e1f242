"""Proxmox VE cluster-wide PCI resource mappings for this node's VFs. Pure.

A mapping (Datacenter > Resource Mappings) names a device on every node of a cluster, so
that a VM given `hostpci0: mapping=NAME` can start, migrate and fail over on any node
that has one. Proxmox VE keeps them in /etc/pve/mapping/pci.cfg, a section config
(pve-guest-common, src/PVE/Mapping/PCI.pm,
https://git.proxmox.com/?p=pve-guest-common.git;a=blob;f=src/PVE/Mapping/PCI.pm): a
section header line with the mapping's id, then tab-indented `map` lines, one property
string per node's device (node, path, id = vendor:device, iommugroup, subsystem-id, the
last two checked against the device by Proxmox VE before a guest starts) and an optional
`description`. machine/gather.py reads that file and `parse` parses it; it is written
only through `pvesh` (pve-manager,
PVE/API2/Cluster/Mapping/PCI.pm: POST /cluster/mapping/pci creates, PUT
/cluster/mapping/pci/{id} replaces the `map` list, refused when `digest`, the SHA-1 of the
file read, no longer matches), which takes the cluster lock.
"""

import re
from collections.abc import Sequence
from typing import NamedTuple

from irisxe_sriov import errors

DEFAULT_MAPPING = "intel-igpu-vf"
DESCRIPTION = "Intel iGPU SR-IOV VFs, one per node entry (irisxe-sriov-ctl cluster proxmox sync)"
# pve-configid (pve-common, PVE::JSONSchema::pve_verify_configid)
CONFIG_ID_RE = re.compile(r"[a-z][a-z0-9_-]+", re.IGNORECASE)
NODE_RE = re.compile(r"[a-zA-Z0-9]([a-zA-Z0-9-]*[a-zA-Z0-9])?")  # pve-node


class MappingError(errors.BadInput):
    """A mapping name or node name Proxmox VE would refuse."""


class Mapping(NamedTuple):
    id: str
    map: tuple[str, ...]  # property strings, as written
    description: str | None

    def entries_of(self, node: str) -> list[dict[str, str]]:
        """The entries of `node`, as their properties."""
        return [found for found in map(properties, self.map) if found.get("node") == node]


class Config(NamedTuple):
    mappings: dict[str, Mapping]
    digest: str  # SHA-1 of the file's text, as Proxmox VE's SectionConfig computes it


EMPTY_DIGEST = "da39a3ee5e6b4b0d3255bfef95601890afd80709"  # SHA-1 of "": no file yet


class Entry(NamedTuple):
    """One node's device in a mapping."""

    node: str
    path: str
    id: str  # vendor:device
    iommugroup: int | None = None
    subsystem_id: str | None = None

    def property_string(self) -> str:
        parts = [f"node={self.node}", f"path={self.path}", f"id={self.id}"]
        if self.iommugroup is not None:
            parts.append(f"iommugroup={self.iommugroup}")
        if self.subsystem_id is not None:
            parts.append(f"subsystem-id={self.subsystem_id}")
        return ",".join(parts)


def properties(text: str) -> dict[str, str]:
    """A property string (`node=pve1,path=0000:00:02.1,...`) as a dict."""
    found = {}
    for part in text.split(","):
        key, sign, value = part.partition("=")
        if sign:
            found[key.strip()] = value.strip()
    return found


def parse(text: str) -> Config:
    """/etc/pve/mapping/pci.cfg as Proxmox VE's SectionConfig reads it: a header line
    (the id) starts a section, indented `key value` lines belong to it, `map` repeats."""
    mappings: dict[str, Mapping] = {}
    current: str | None = None
    entries: dict[str, list[str]] = {}
    described: dict[str, str] = {}
    for line in text.splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        if not line[0].isspace():
            current = line.strip()
            entries[current] = []
            continue
        if current is None:
            continue
        key, _, value = line.strip().partition(" ")
        if key == "map":
            entries[current].append(value.strip())
        elif key == "description":
            described[current] = value.strip()
    for name, found in entries.items():
        mappings[name] = Mapping(name, tuple(found), described.get(name))
    import hashlib  # here: about 3 ms of every status start otherwise (python3 -X importtime)

    return Config(mappings, hashlib.sha1(text.encode()).hexdigest())


def check_name(name: str) -> str:
    if not CONFIG_ID_RE.fullmatch(name) or len(name) > 64:
        raise MappingError(
            f"mapping {name!r} is no Proxmox VE id: allowed a letter, then letters, digits,"
            " '-' and '_' (2-64 characters)"
        )
    return name


def check_node(node: str | None) -> str:
    if node is None:
        raise MappingError("/etc/hostname names no host: no Proxmox VE node name to map")
    if not NODE_RE.fullmatch(node):
        raise MappingError(
            f"node name {node!r} (from /etc/hostname) is no Proxmox VE node name: allowed "
            "letters, digits and '-'"
        )
    return node


def new_map(current: Mapping | None, node: str, pf: str, ours: Sequence[Entry]) -> list[str]:
    """The mapping's entries after a sync of this node: every other node's entries and
    this node's entries for other devices (its PF included, which an admin may map on
    purpose) as they were, in their places; this node's entries for VFs of `pf` replaced
    by `ours`, in VF order, where the first of them was (at the end where none was). So
    a VF no longer of role vfio, or gone, leaves the mapping."""
    slot = pf[:-1]  # 0000:00:02.
    kept: list[str] = []
    place = None
    for text in current.map if current is not None else ():
        found = properties(text)
        path = found.get("path", "")
        if found.get("node") == node and path[:-1] == slot and path[-1:] in set("1234567"):
            place = len(kept) if place is None else place
            continue
        kept.append(text)
    place = len(kept) if place is None else place
    return kept[:place] + [entry.property_string() for entry in ours] + kept[place:]


def sync_argv(
    name: str, config: Config, node: str, pf: str, ours: Sequence[Entry]
) -> list[str] | None:
    """The pvesh command that makes mapping `name` hold exactly `ours` for this node's VFs
    of `pf`, or None where it does already: a second sync changes nothing, whichever node
    synced in between."""
    current = config.mappings.get(name)
    wanted = new_map(current, node, pf, ours)
    maps = [arg for text in wanted for arg in ("--map", text)]
    if current is None:
        if not ours:
            return None
        return ["pvesh", "create", "/cluster/mapping/pci", "--id", name, *maps,
                "--description", DESCRIPTION]  # fmt: skip
    if sorted(current.map) == sorted(wanted):
        return None  # the same entries: their order means nothing to Proxmox VE
    if not wanted:
        return ["pvesh", "set", f"/cluster/mapping/pci/{name}", "--delete", "map",
                "--digest", config.digest]  # fmt: skip
    return ["pvesh", "set", f"/cluster/mapping/pci/{name}", *maps, "--digest", config.digest]


def mappings_of(config: Config, node: str, address: str) -> list[str]:
    """The ids of the mappings with an entry of this node for the device at `address`."""
    return sorted(
        mapping.id
        for mapping in config.mappings.values()
        if any(address in e.get("path", "").split(";") for e in mapping.entries_of(node))
    )
