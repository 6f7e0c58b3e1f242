"""Guards over the source: claims that hold for every module, checked on the code itself."""

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "src" / "irisxe_sriov"
# host.py is the one bounded reader (open_regular, read_bytes, read_text, read_optional)
READER = "host.py"
# who may call os.open: the writer (files, the lock, the journal) and failure's /dev/null
OS_OPEN = {"apply.py", "failure.py", "host.py"}


def calls(tree: ast.AST) -> list[ast.Call]:
    return [node for node in ast.walk(tree) if isinstance(node, ast.Call)]


def test_every_read_goes_through_the_one_bounded_reader():
    """No module but host.py reads a file itself: no Path.read_text/read_bytes/open, no
    builtin open. A FIFO, a device or a giant file can then hang or exhaust nothing, and
    every read is confined to the root the way host.py's callers resolve it."""
    offences = []
    for module in sorted(PACKAGE.glob("*.py")):
        for call in calls(ast.parse(module.read_text())):
            function = call.func
            if isinstance(function, ast.Name) and function.id == "open":
                offences.append(f"{module.name}:{call.lineno} open()")
            if isinstance(function, ast.Attribute):
                name = function.attr
                base = function.value
                through_reader = isinstance(base, ast.Name) and base.id == "host"
                # host.read_text() is the reader itself
                if (
                    name in ("read_text", "read_bytes")
                    and module.name != READER
                    and not (through_reader)
                ):
                    offences.append(f"{module.name}:{call.lineno} .{name}()")
                if name == "open" and isinstance(base, ast.Name) and base.id == "os":
                    if module.name not in OS_OPEN:
                        offences.append(f"{module.name}:{call.lineno} os.open()")
                elif name == "open" and module.name != READER:
                    offences.append(f"{module.name}:{call.lineno} .open()")
    assert offences == []
