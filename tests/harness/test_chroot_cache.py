"""The chroot base cache (tests/harness/chroot.py: base_tarball) follows the archive: a new
Release file on the mirror names a new base and removes the superseded ones nobody uses;
without the mirror the newest cached base serves. A local HTTP server plays the mirror;
existing files play bases already made, so mmdebstrap does not run here."""

import fcntl
import http.server
import os
import threading
from pathlib import Path

import pytest

import chroot

PACKAGES = ("python3",)


class Mirror:
    def __init__(self, root: Path) -> None:
        self.root = root
        handler = lambda *a: http.server.SimpleHTTPRequestHandler(  # noqa: E731
            *a, directory=str(root)
        )
        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/debian"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def release(self, suite: str, date: str, body: str = "") -> None:
        path = self.root / "debian/dists" / suite / "InRelease"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(f"Origin: Debian\nSuite: {suite}\nDate: {date}\nSHA256:\n{body}\n")


@pytest.fixture
def mirror(tmp_path, monkeypatch):
    served = Mirror(tmp_path / "www")
    monkeypatch.setattr(chroot, "MIRROR", served.url)
    monkeypatch.setattr(chroot, "CACHE", tmp_path / "cache")
    chroot.release_file.cache_clear()
    yield served
    served.server.shutdown()
    chroot.release_file.cache_clear()
    for handle in chroot.HELD.values():
        handle.close()
    chroot.HELD.clear()


def prefix() -> str:
    key = f"{chroot.SUITE} {chroot.MIRROR} {' '.join(PACKAGES)}"
    return f"pkg-trixie-{chroot.hashlib.sha256(key.encode()).hexdigest()[:12]}"


def made(name: str, tree: bool = True) -> Path:
    """A base as base_tarball leaves it: the tarball and its extracted tree."""
    chroot.CACHE.mkdir(parents=True, exist_ok=True)
    tarball = chroot.CACHE / name
    tarball.write_text("tar")
    if tree:
        (chroot.CACHE / name.removesuffix(".tar")).mkdir()
    return tarball


def test_the_stamp_names_the_release_date_and_changes_with_the_release(mirror):
    mirror.release("trixie", "Sat, 21 Nov 2026 09:15:44 UTC", "abc 1 main/binary-amd64")
    first = chroot.archive_stamp()
    assert first is not None and first.startswith("202611210915")
    mirror.release("trixie", "Sat, 21 Nov 2026 15:16:01 UTC", "def 2 main/binary-amd64")
    assert chroot.archive_stamp() == first  # fetched once per session
    chroot.release_file.cache_clear()
    assert (chroot.archive_stamp() or "").startswith("202611211516")


def test_backports_sources_add_their_release(mirror):
    mirror.release("trixie", "Sat, 21 Nov 2026 09:15:44 UTC")
    mirror.release("trixie-backports", "Tue, 24 Nov 2026 02:12:15 UTC")
    source = f"deb {mirror.url} trixie-backports main"
    assert chroot.suites_of((source,)) == [(mirror.url, "trixie"), (mirror.url, "trixie-backports")]
    assert (chroot.archive_stamp((source,)) or "").startswith("202611240212")
    chroot.release_file.cache_clear()
    (mirror.root / "debian/dists/trixie-backports/InRelease").unlink()
    assert chroot.archive_stamp((source,)) is None


def test_a_new_release_supersedes_the_old_bases(mirror):
    mirror.release("trixie", "Sat, 21 Nov 2026 09:15:44 UTC")
    stamp = chroot.archive_stamp()
    legacy = made(f"{prefix()}.tar")  # named before bases carried the archive's state
    old = made(f"{prefix()}-202611200300abcdef.tar")
    partial = made(f"{prefix()}-202611211500fedcba.partial.tar", tree=False)
    other = made("pkg-trixie-000000000000-202611200300abcdef.tar")  # another package list
    current = made(f"{prefix()}-{stamp}.tar")
    assert chroot.base_tarball("pkg", PACKAGES) == current
    assert current.exists() and current.with_suffix("").is_dir()
    for gone in (legacy, old):
        assert not gone.exists() and not gone.with_suffix("").exists()
    assert partial.exists() and other.exists() and other.with_suffix("").exists()


def test_a_base_another_session_holds_is_kept(mirror):
    mirror.release("trixie", "Sat, 21 Nov 2026 09:15:44 UTC")
    old = made(f"{prefix()}-202611200300abcdef.tar")
    with old.with_name(old.name + ".inuse").open("a") as held:
        fcntl.flock(held.fileno(), fcntl.LOCK_SH)
        made(f"{prefix()}-{chroot.archive_stamp()}.tar")
        chroot.base_tarball("pkg", PACKAGES)
        assert old.exists() and old.with_suffix("").is_dir()
    # released: the next refresh takes it
    chroot.base_tarball("pkg", PACKAGES)
    assert not old.exists()


def test_without_the_mirror_the_newest_cached_base_serves(mirror):
    older = made(f"{prefix()}-202611200300abcdef.tar")
    newer = made(f"{prefix()}-202611210915fedcba.tar")
    os.utime(older, (0, 0))
    assert chroot.base_tarball("pkg", PACKAGES) == newer  # no InRelease served: offline
    assert older.exists()  # nothing is removed on the word of a failed fetch
