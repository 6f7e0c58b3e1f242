"""Guards over the source: claims that hold for every module, checked on the code itself."""

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "src" / "irisxe_sriov"
# machine/reader.py is the one bounded reader (open_regular, read_bytes, read_text, read_optional)
READER = "machine/reader.py"
# who may call os.open: the writer (files, the lock, the journal) and failure's /dev/null
OS_OPEN = {"write/apply.py", "cli/failure.py", READER}


def modules() -> list[tuple[str, ast.AST]]:
    """Every module of the package, by its path under the package, parsed."""
    return [
        (module.relative_to(PACKAGE).as_posix(), ast.parse(module.read_text()))
        for module in sorted(PACKAGE.rglob("*.py"))
    ]


def calls(tree: ast.AST) -> list[ast.Call]:
    return [node for node in ast.walk(tree) if isinstance(node, ast.Call)]


def test_every_read_goes_through_the_one_bounded_reader():
    """No module but machine/reader.py reads a file itself: no Path.read_text/read_bytes/open, no
    builtin open. A FIFO, a device or a giant file can then hang or exhaust nothing, and
    every read is confined to the root the way reader.py's callers resolve it."""
    offences = []
    for name, tree in modules():
        for call in calls(tree):
            function = call.func
            if isinstance(function, ast.Name) and function.id == "open":
                offences.append(f"{name}:{call.lineno} open()")
            if isinstance(function, ast.Attribute):
                attribute = function.attr
                base = function.value
                through_reader = isinstance(base, ast.Name) and base.id == "reader"
                # reader.read_text() is the reader itself
                if (
                    attribute in ("read_text", "read_bytes")
                    and name != READER
                    and not (through_reader)
                ):
                    offences.append(f"{name}:{call.lineno} .{attribute}()")
                if attribute == "open" and isinstance(base, ast.Name) and base.id == "os":
                    if name not in OS_OPEN:
                        offences.append(f"{name}:{call.lineno} os.open()")
                elif attribute == "open" and name != READER:
                    offences.append(f"{name}:{call.lineno} .open()")
    assert offences == []
