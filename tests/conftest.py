import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))

from fakesys import FakeSystem


@pytest.fixture
def fake(tmp_path: Path) -> FakeSystem:
    root = tmp_path / "root"
    root.mkdir()
    return FakeSystem(root)


def tree(root: Path) -> dict[str, tuple[str, int]]:
    """Every file and link under root with its content and mtime: for "nothing changed"."""
    listing: dict[str, tuple[str, int]] = {}
    for path in sorted(root.rglob("*")):
        relative = str(path.relative_to(root))
        if path.is_symlink():
            listing[relative] = ("-> " + str(path.readlink()), 0)
        elif path.is_file():
            listing[relative] = (path.read_text(errors="replace"), path.stat().st_mtime_ns)
        else:
            listing[relative + "/"] = ("", 0)
    return listing


@pytest.fixture
def snapshot():
    return tree
