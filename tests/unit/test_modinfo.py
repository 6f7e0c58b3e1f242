"""modinfo.py: reading xe's .modinfo from a compressed module, and the cache that spares
the next command the 75 ms (docs/performance.md)."""

import gzip
import json
import lzma
import os

from fakesys import install_kernel
from irisxe_sriov.kernels import providers
from irisxe_sriov.machine import kernelfiles, modinfo
from irisxe_sriov.paths import Paths

RELEASE = "7.3.4+deb13-amd64"
MODULE = f"/usr/lib/modules/{RELEASE}/kernel/drivers/gpu/drm/xe/xe.ko.xz"


def kernel(fake, **options):
    install_kernel(fake.root, RELEASE, usr=True, **options)
    return Paths(fake.root), fake.root / MODULE.lstrip("/")


def cached(paths):
    return json.loads(paths.modinfo_cache.read_text())


def test_scan_reads_aliases_and_max_vfs_from_xz_gz_and_plain_modules(fake):
    _, module = kernel(fake, padding=200_000)
    expected = modinfo.ModuleFacts(frozenset({"a7a0", "4680", "46d0"}), True)
    assert modinfo.scan(module) == expected
    body = lzma.decompress(module.read_bytes())
    plain = module.with_suffix("")
    plain.write_bytes(body)
    assert modinfo.scan(plain) == expected
    packed = module.with_suffix(".gz")
    packed.write_bytes(gzip.compress(body))
    assert modinfo.scan(packed) == expected


def test_scan_says_so_when_it_cannot_read(fake):
    """Only a whole .modinfo without max_vfs is "no max_vfs"; an empty, truncated, damaged
    or non-ELF module is unknown, and the kernel's own xe then serves nobody on a guess."""
    paths, module = kernel(fake, max_vfs=False)
    assert modinfo.scan(module).max_vfs is False
    whole = lzma.decompress(module.read_bytes())
    for damaged in (
        b"",  # empty
        lzma.compress(b""),  # an empty module, compressed
        lzma.compress(whole[: whole.index(b"vermagic=")]),  # cut before its .modinfo ends
        lzma.compress(b"MZ" + whole[4:]),  # no ELF
        b"not xz",
    ):
        module.write_bytes(damaged)
        assert modinfo.scan(module).max_vfs is None, damaged[:20]
    module.write_bytes(b"")
    kernel_of = kernelfiles.read_xe_facts(paths, RELEASE)
    assert kernel_of.unreadable and kernel_of.max_vfs is None
    verdict = providers.xe_verdict(RELEASE, kernel_of, "a7a0")
    assert verdict == (False, "its xe.ko could not be read: whether xe has max_vfs is unknown")
    assert modinfo.scan(module.with_suffix(".zst")).max_vfs is None


def test_the_first_read_keeps_the_answer_and_the_next_one_uses_it(fake):
    paths, module = kernel(fake)
    first_body = module.read_bytes()
    first = modinfo.read(paths, module)
    assert first.max_vfs is True
    entry = cached(paths)[MODULE]
    stat = module.stat()
    assert entry["identity"] == [stat.st_size, stat.st_mtime_ns, stat.st_ino]
    assert oct(paths.modinfo_cache.stat().st_mode & 0o777) == "0o644"
    # The same file (size, mtime, inode) with bytes no scan can read: only the cache
    # can still answer.
    with module.open("r+b") as stream:
        stream.write(b"x" * stat.st_size)
    os.utime(module, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert modinfo.scan(module).max_vfs is None
    assert modinfo.read(paths, module) == first
    # A changed mtime is another file: read again; an unreadable one is not kept.
    os.utime(module, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1))
    assert modinfo.read(paths, module).max_vfs is None
    assert cached(paths)[MODULE]["identity"] == entry["identity"]
    without = lzma.compress(lzma.decompress(first_body).replace(b"max_vfs:", b"min_vfs:"))
    module.write_bytes(without)
    assert modinfo.read(paths, module).max_vfs is False
    assert cached(paths)[MODULE]["max_vfs"] is False


def test_a_damaged_cache_is_read_past_and_rewritten(fake):
    paths, module = kernel(fake)
    paths.modinfo_cache.parent.mkdir(parents=True)
    stat = module.stat()
    identity = [stat.st_size, stat.st_mtime_ns, stat.st_ino]
    for damage in (
        b"\xff\xfe",
        b"[1, 2]",
        b"[" * 100_000,
        json.dumps({MODULE: {"identity": identity, "aliases": "a7a0", "max_vfs": True}}).encode(),
        json.dumps({MODULE: {"identity": identity, "aliases": [], "max_vfs": "yes"}}).encode(),
        b" " * (modinfo.CACHE_LIMIT + 1),
    ):
        paths.modinfo_cache.write_bytes(damage)
        assert modinfo.read(paths, module).aliases == {"a7a0", "4680", "46d0"}
        assert cached(paths)[MODULE]["aliases"] == ["4680", "46d0", "a7a0"]


def test_damaged_names_in_the_cache_leave_it_with_the_next_write(fake):
    """Names that are no module file still there: a NUL (os.readlink refuses it), a
    relative name, a link loop, a directory."""
    paths, module = kernel(fake)
    loop = fake.root / "usr/lib/loop"
    loop.symlink_to("loop")
    damaged = ["/usr/lib/a\0b/xe.ko", "usr/lib/modules/xe.ko", "/usr/lib/loop/xe.ko", "/usr"]
    paths.modinfo_cache.parent.mkdir(parents=True)
    paths.modinfo_cache.write_text(json.dumps({name: {} for name in damaged}))
    assert modinfo.read(paths, module).max_vfs is True
    assert list(cached(paths)) == [MODULE]


def test_an_unwritable_cache_costs_only_the_time(fake):
    paths, module = kernel(fake)
    paths.modinfo_cache.parent.parent.mkdir(parents=True)
    paths.modinfo_cache.parent.write_text("a file where the directory belongs\n")
    assert modinfo.read(paths, module).max_vfs is True
    assert paths.modinfo_cache.parent.read_text() == "a file where the directory belongs\n"


def test_a_removed_kernel_leaves_the_cache_with_the_next_write(fake):
    paths, module = kernel(fake)
    modinfo.read(paths, module)
    install_kernel(fake.root, "7.2.1+deb13-amd64", usr=True)
    newer = fake.root / MODULE.lstrip("/").replace(RELEASE, "7.2.1+deb13-amd64")
    module.unlink()
    modinfo.read(paths, newer)
    assert list(cached(paths)) == [MODULE.replace(RELEASE, "7.2.1+deb13-amd64")]


def test_kernels_reads_a_module_only_where_the_verdict_turns_on_it(fake):
    """A 6.12 kernel's xe (not an SR-IOV PF for ADL/RPL) and a kernel without
    CONFIG_PCI_IOV are judged without opening xe.ko; 7.3.4's is read once."""
    install_kernel(fake.root, "6.12.118+deb13-amd64")
    install_kernel(fake.root, "7.1.0+deb13-amd64", usr=True, config="CONFIG_DRM_XE=m\n")
    paths, _ = kernel(fake)
    for release in ("6.12.118+deb13-amd64", "7.1.0+deb13-amd64", RELEASE):
        kernelfiles.read_xe_facts(paths, release, thorough=True)
    assert list(cached(paths)) == [MODULE]
