"""Guards over the source: claims that hold for every module, checked on the code itself."""

import ast
import re
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "src" / "irisxe_sriov"
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


# --- the pure modules ---------------------------------------------------------------------

# What a pure module may not call: the methods that look at or change the file system
# (pathlib's, and os.* through the import rule below).
DISK_METHODS = frozenset(
    {
        "chmod", "exists", "glob", "is_dir", "is_file", "is_symlink", "iterdir", "lstat",
        "mkdir", "open", "read_bytes", "read_text", "readlink", "rename", "replace_file",
        "rglob", "rmdir", "stat", "touch", "unlink", "write_bytes", "write_text",
    }
)  # fmt: skip
# Standard modules that reach the system: a pure module imports none of them.
SYSTEM_MODULES = frozenset({"fcntl", "glob", "io", "os", "shutil", "subprocess", "tempfile"})
# paths.py names files: Paths.at resolves a path under a root as a chroot would, reading
# the links on its way (docs/HACKING.md, "Layout"). It is how a pure module names the
# files it renders or plans, and the one system touch it makes.
NAMING = "irisxe_sriov.paths"
# Modules that must stay pure: the judgement and everything it is made of.
MUST_BE_PURE = frozenset(
    {
        "irisxe_sriov.boot.bootcheck",
        "irisxe_sriov.boot.bootloader",
        "irisxe_sriov.boot.nextboot",
        "irisxe_sriov.kernels.dkms",
        "irisxe_sriov.kernels.hold",
        "irisxe_sriov.kernels.providers",
        "irisxe_sriov.machine.roles",
        "irisxe_sriov.machine.snapshot",
        "irisxe_sriov.report.differences",
        "irisxe_sriov.report.doctor",
        "irisxe_sriov.report.judgement",
        "irisxe_sriov.report.status",
        "irisxe_sriov.write.plan",
        "irisxe_sriov.write.render",
    }
)
PURE_CLAIM = re.compile(r"\bPure\b(?P<but> but for (?P<names>[^;]*))?")


def dotted(name: str) -> str:
    """machine/reader.py -> irisxe_sriov.machine.reader (a package by its __init__)."""
    parts = ["irisxe_sriov", *name.removesuffix(".py").split("/")]
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def type_checking_nodes(tree: ast.AST) -> set[int]:
    """The nodes under `if TYPE_CHECKING:`: imports for annotations, never run."""
    inside: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and ast.unparse(node.test).endswith("TYPE_CHECKING"):
            inside.update(id(child) for child in ast.walk(node))
    return inside


def runtime_imports(name: str, tree: ast.AST, known: set[str]) -> set[str]:
    """Every module `name` imports when it runs (function-level imports included), the
    package's own by their dotted names (`from a import b` is the module a.b where that
    is one of ours), the others by their top-level package."""
    skipped = type_checking_nodes(tree)
    package = dotted(name) if name.endswith("__init__.py") else dotted(name).rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                up = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*up, base] if base else up)
            for alias in node.names:
                full = f"{base}.{alias.name}"
                found.add(full if full in known else base)
    return {
        module if module.startswith("irisxe_sriov") else module.split(".")[0] for module in found
    }


def disk_calls(tree: ast.AST) -> list[tuple[int, str]]:
    """(line, call) of each call that looks at or changes the file system."""
    found = []
    for call in calls(tree):
        function = call.func
        if isinstance(function, ast.Name) and function.id == "open":
            found.append((call.lineno, "open()"))
        elif isinstance(function, ast.Attribute) and function.attr in DISK_METHODS:
            found.append((call.lineno, f".{function.attr}()"))
    return found


def claims() -> dict[str, tuple[ast.AST, str, list[str] | None]]:
    """Module -> (tree, the claim, the functions it excepts) for each module whose
    docstring says it is pure; None: wholly pure."""
    found: dict[str, tuple[ast.AST, str, list[str] | None]] = {}
    for name, tree in modules():
        assert isinstance(tree, ast.Module)
        match = PURE_CLAIM.search(ast.get_docstring(tree) or "")
        if match:
            names = re.findall(r"`(\w+)`", match["names"]) if match["but"] else None
            found[dotted(name)] = (tree, name, names)
    return found


def test_the_judgement_and_what_it_is_made_of_claim_to_be_pure():
    """The claim is the docstring's: a module that lost it is no longer guarded."""
    wholly = {module for module, (_, _, but) in claims().items() if but is None}
    assert MUST_BE_PURE - wholly == set()


def test_pure_modules_read_nothing_run_nothing_and_import_only_pure_modules():
    """docs/notes.md, "Gather once, judge once": the readers (machine/) gather, the rest
    judges. A pure module calls no file system method, imports no system module and,
    when it runs, imports only pure modules of ours (and paths.py, to name files): so no
    reader or process code is reached from one, directly or through another."""
    found = claims()
    pure = {module for module, (_, _, but) in found.items() if but is None}
    known = {dotted(name) for name, _ in modules()}
    offences = []
    for module in sorted(pure):
        tree, name, _ = found[module]
        offences += [f"{name}:{line} {call}" for line, call in disk_calls(tree)]
        for imported in sorted(runtime_imports(name, tree, known)):
            if imported in SYSTEM_MODULES:
                offences.append(f"{name} imports {imported}")
            elif imported.startswith("irisxe_sriov") and imported not in pure | {NAMING}:
                offences.append(f"{name} imports {imported}, which is not pure")
    assert offences == []


def test_partly_pure_modules_touch_the_system_only_where_they_say():
    """ "Pure but for `a`, `b`": only those functions call file system methods."""
    offences = []
    for tree, name, excepted in claims().values():
        if excepted is None:
            continue
        assert excepted, f"{name}: 'Pure but for' names no function"
        assert isinstance(tree, ast.Module)
        allowed: set[int] = set()
        for node in tree.body:
            if isinstance(node, ast.FunctionDef) and node.name in excepted:
                allowed.update(range(node.lineno, (node.end_lineno or node.lineno) + 1))
        defined = {n.name for n in tree.body if isinstance(n, ast.FunctionDef)}
        offences += [
            f"{name}: `{function}` is no function"
            for function in excepted
            if function not in defined
        ]
        offences += [
            f"{name}:{line} {call}" for line, call in disk_calls(tree) if line not in allowed
        ]
    assert offences == []


# --- host paths ---------------------------------------------------------------------------

# A host path as a value: a string that is a path below one of the host's top directories
# and nothing else (a message naming a file has words around it).
HOST_PATH = re.compile(
    r"/(boot|dev|efi|etc|home|lib|opt|proc|root|run|srv|sys|tmp|usr|var)(/[^\s'\"]*)?"
)


def test_host_paths_are_spelt_only_in_paths_py():
    """paths.py's claim: every file the package touches or names to a tool is named there,
    so that `--root` and the tests' fake roots reach every one of them. An f-string's
    leading part counts: f"/usr/src/{name}" spells /usr/src."""
    offences = []
    for name, tree in modules():
        if name == "paths.py":
            continue
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Constant)
                and isinstance(node.value, str)
                and HOST_PATH.fullmatch(node.value)
            ):
                offences.append(f"{name}:{node.lineno} {node.value!r}")
    assert offences == []
