"""What a kernel module's .modinfo says about xe: the Intel device ids among its PCI
aliases, and whether it has a max_vfs parameter. Read once per module file.

Reading means decompressing the module up to its .modinfo: about 75 ms for Debian's 7.3.4
xe.ko.xz, whose .modinfo sits some 3 of its 11.6 MB in (docs/performance.md). A kernel
package never rewrites its files in place, so the answer is kept in
/var/cache/irisxe-sriov/modinfo.json, keyed by the module's host path, and trusted only
while the file's size, mtime and inode are the ones it was read at. The cache is written
when it can be (as root, on a writable disk) and never needed: it may be deleted at any
time (FHS, /var/cache), and purge deletes it.
"""

import contextlib
import json
import os
import re
from collections.abc import Callable
from pathlib import Path
from typing import NamedTuple

from irisxe_sriov.machine import reader
from irisxe_sriov.paths import Paths

# Reading a compressed module stops after this much output: .modinfo sits in the first
# third of xe.ko (about 3 of 11.6 MB in Debian's 7.3.4).
SCAN_LIMIT = 16 << 20
ALIAS_RE = re.compile(rb"alias=pci:v00008086d0000([0-9A-F]{4})")
ELF_MAGIC = b"\x7fELF"
CACHE_LIMIT = 1 << 20  # a cache larger than this is not ours to parse: read the modules


class ModuleFacts(NamedTuple):
    aliases: frozenset[str]  # Intel device ids the module claims, lowercase
    max_vfs: bool | None  # None: the module could not be read (or is zstd, see scan)


def scan(module: Path) -> ModuleFacts:
    """The module's .modinfo strings, streamed through its decompressor until the answers
    are in: max_vfs found, or the whole .modinfo read without it (kbuild puts
    `vermagic=` last). A file that is no ELF module, or ends before its .modinfo does
    (empty, truncated, damaged), is unknown (None), never "no max_vfs". zstd is not in
    Python's standard library: such a module is not read."""
    if module.suffix == ".zst":
        return ModuleFacts(frozenset(), None)
    import lzma  # here, not at the top: status and doctor read a module only where
    # modules.alias is missing (kernelfiles.read_xe_facts), and start faster without it

    aliases: set[str] = set()
    max_vfs = False
    complete = False
    tail = b""
    read = 0
    try:
        with reader.open_regular(module) as raw:
            decompress: Callable[[bytes], bytes] | None = None
            if module.suffix == ".xz":
                decompress = lzma.LZMADecompressor().decompress
            elif module.suffix == ".gz":
                import zlib

                decompress = zlib.decompressobj(wbits=31).decompress
            while read < SCAN_LIMIT:
                chunk = raw.read(1 << 16)
                if not chunk:
                    break
                data = decompress(chunk) if decompress else chunk
                if not read and not data.startswith(ELF_MAGIC):
                    return ModuleFacts(frozenset(), None)
                read += len(data)
                window = tail + data
                aliases.update(match.decode().lower() for match in ALIAS_RE.findall(window))
                max_vfs = max_vfs or b"parm=max_vfs:" in window or b"parmtype=max_vfs:" in window
                complete = complete or b"vermagic=" in window
                if (max_vfs and aliases) or complete:
                    break
                tail = window[-64:]
    except (OSError, reader.UnreadableFile, lzma.LZMAError, EOFError, ValueError):
        return ModuleFacts(frozenset(aliases), None)
    if not (max_vfs or complete):
        return ModuleFacts(frozenset(aliases), None)
    return ModuleFacts(frozenset(aliases), max_vfs)


def identity(module: Path) -> list[int] | None:
    """What says the file is the one that was read: size, mtime (ns), inode."""
    try:
        found = module.stat()
    except OSError:
        return None
    return [found.st_size, found.st_mtime_ns, found.st_ino]


def from_entry(entry: object, expected: list[int]) -> ModuleFacts | None:
    """A cache entry's facts when it is well formed and about this very file. Pure."""
    if not isinstance(entry, dict) or entry.get("identity") != expected:
        return None
    aliases, max_vfs = entry.get("aliases"), entry.get("max_vfs")
    if not isinstance(aliases, list) or not all(isinstance(a, str) for a in aliases):
        return None
    if not isinstance(max_vfs, bool):
        return None
    return ModuleFacts(frozenset(aliases), max_vfs)


def load_cache(path: Path) -> dict[str, object]:
    try:
        document = json.loads(reader.read_bytes(path, CACHE_LIMIT))
    except (OSError, reader.UnreadableFile, ValueError, RecursionError):
        return {}
    return document if isinstance(document, dict) else {}


def store_cache(path: Path, entries: dict[str, object]) -> None:
    """Write the cache whole, through a temporary file and a rename, so that a reader (or
    an interruption) never sees half of it; give up quietly where it cannot be written.
    Not apply's writer: that one imports the renderer, and a cache needs no fsync (a
    cache lost in a crash is read again). A temporary file a kill leaves behind goes
    with the directory on purge."""
    import tempfile

    with contextlib.suppress(OSError):
        path.parent.mkdir(mode=0o755, parents=True, exist_ok=True)
        descriptor, temporary = tempfile.mkstemp(dir=path.parent, prefix=".modinfo.")
        try:
            with os.fdopen(descriptor, "w", encoding="utf-8") as stream:
                json.dump(entries, stream, indent=1, sort_keys=True)
                os.fchmod(stream.fileno(), 0o644)
            Path(temporary).replace(path)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise


def still_there(paths: Paths, name: str) -> bool:
    """Whether a cached name is a module file still there; a damaged cache's names (not
    absolute, a NUL, a link loop) are not."""
    if not name.startswith("/") or "\0" in name:
        return False
    try:
        return paths.at(name).is_file()
    except (OSError, ValueError):
        return False


def read(paths: Paths, module: Path) -> ModuleFacts:
    """The module's facts, from the cache where it knows this file, else read and kept."""
    expected = identity(module)
    if expected is None:
        return ModuleFacts(frozenset(), None)
    cache = paths.modinfo_cache
    entries = load_cache(cache)
    key = paths.display(module)
    known = from_entry(entries.get(key), expected)
    if known is not None:
        return known
    facts = scan(module)
    if facts.max_vfs is None:
        return facts  # nothing certain to keep: read again next time
    # entries of modules that are gone (a removed kernel) leave with this write
    kept = {name: entry for name, entry in entries.items() if still_there(paths, name)}
    kept[key] = {"identity": expected, "aliases": sorted(facts.aliases), "max_vfs": facts.max_vfs}
    store_cache(cache, kept)
    return facts
