"""The writer of the configuration: atomic file replacement, the one lock, the journal;
the commands a change needs run through process.Runner (under a root other than "/" it
prints "would run: ..." instead). Besides, the package writes the modinfo cache
(machine/modinfo.py) and attach's temporary XML for virsh; runtime/vfs.py writes sysfs.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import re
import shlex
import shutil
import stat
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import NamedTuple

from irisxe_sriov import errors
from irisxe_sriov.machine.reader import read_optional
from irisxe_sriov.paths import ETC, PACKAGE, TEMPORARY_SUFFIX, Paths
from irisxe_sriov.process import Echo, Runner
from irisxe_sriov.write import configure
from irisxe_sriov.write import plan as planning


class ApplyError(errors.Failed):
    """An operation failed (exit 1); the message says what and how to go on."""


# Test seam for the fault-injection tests (docs/notes.md, "Hostile input"): each hook is
# called after every single step that changes the disk, with a word saying which; a hook
# that kills the process there shows what the next run finds.
STEP_HOOKS: list[Callable[[str], None]] = []
TEMPORARY_RE = re.compile(r"\..+\.[A-Za-z0-9_]{8}" + re.escape(TEMPORARY_SUFFIX))


def step(what: str) -> None:
    for hook in STEP_HOOKS:
        hook(what)


def atomic_write(
    path: Path, text: str, mode: int = 0o644, keep: Attributes | None = None
) -> list[Path]:
    """Replace `path` with `text` through a temporary file in the same directory, with
    `mode`, or with the attributes `keep` of the file it replaces (an admin's file).

    Returns the directories that had to be created, outermost first. An error names
    `path`, never the temporary file; a temporary a kill leaves behind is removed by the
    next run (clean_temporaries).
    """
    try:
        return replace_file(path, text, mode, keep)
    except OSError as error:
        raise OSError(error.errno, error.strerror, str(path)) from error


DIRECTORY_MODE = 0o755  # every directory we create (Debian policy 10.9), whatever the umask


def make_dirs(path: Path) -> list[Path]:
    """Create the missing directories of `path` (itself included), outermost first, each
    with DIRECTORY_MODE set explicitly: mkdir's mode is masked by the caller's umask
    (0700 under umask 077, 0777 under 000). Returns those it created."""
    created: list[Path] = []
    for directory in (*reversed(path.parents), path):
        if not directory.exists():
            directory.mkdir()
            os.chmod(directory, DIRECTORY_MODE)  # noqa: PTH101 - not masked by the umask
            created.append(directory)
            step(f"mkdir {directory}")
    return created


class Attributes(NamedTuple):
    """What an admin's file keeps when we replace it: its mode, owner, extended attributes."""

    mode: int
    uid: int
    gid: int
    xattrs: tuple[tuple[str, bytes], ...]


def attributes_of(path: Path) -> Attributes | None:
    try:
        found = path.stat()
    except FileNotFoundError:
        return None
    xattrs: list[tuple[str, bytes]] = []
    try:
        for name in os.listxattr(path):
            with contextlib.suppress(OSError):
                xattrs.append((name, os.getxattr(path, name)))
    except OSError:
        pass  # a file system without xattrs
    return Attributes(stat.S_IMODE(found.st_mode), found.st_uid, found.st_gid, tuple(xattrs))


def replace_file(path: Path, text: str, mode: int, keep: Attributes | None = None) -> list[Path]:
    created = make_dirs(path.parent)
    descriptor, temporary = tempfile.mkstemp(
        prefix=f".{path.name}.", suffix=TEMPORARY_SUFFIX, dir=path.parent
    )
    try:
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            if keep is None:
                os.fchmod(handle.fileno(), mode)
            else:
                os.fchown(handle.fileno(), keep.uid, keep.gid)
                os.fchmod(handle.fileno(), keep.mode)
                for name, value in keep.xattrs:
                    with contextlib.suppress(OSError):  # what the file system refuses
                        os.setxattr(handle.fileno(), name, value)
            os.fsync(handle.fileno())
        step(f"temporary {temporary}")
        Path(temporary).replace(path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            Path(temporary).unlink()
        raise
    fsync_directory(path.parent)
    step(f"write {path}")
    return created


def remove_file(path: Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        path.unlink()
        step(f"remove {path}")


def clean_temporaries(directories: list[Path]) -> None:
    """Remove the temporary files a killed atomic_write left in these directories."""
    for directory in directories:
        try:
            names = [entry for entry in directory.iterdir() if TEMPORARY_RE.fullmatch(entry.name)]
        except OSError:
            continue
        for entry in names:
            if entry.is_file() and not entry.is_symlink():
                remove_file(entry)


LOCK_WAIT = 300.0  # seconds a run waits for another to finish: a dpkg run with its
# update-initramfs for every kernel takes minutes; anything longer is stuck
LOCK_STEP = 0.05


class LockBusy(errors.Failed):
    """Another run held the lock for longer than we wait (exit 1)."""


def lock_holder(paths: Paths, inode: int) -> str:
    """Who holds the flock on the lock file: the kernel's own table (paths.kernel_locks)."""
    try:
        text = read_optional(paths.kernel_locks)
    except (OSError, errors.Error):
        text = None
    for line in (text or "").splitlines():
        fields = line.split()
        # "1: FLOCK  ADVISORY  WRITE 1234 08:01:5678 0 EOF"; waiters' lines have "->"
        if len(fields) >= 6 and fields[1] == "FLOCK" and fields[5].endswith(f":{inode}"):
            pid = fields[4]
            try:
                command = read_optional(paths.kernel_process(pid) / "comm") or "?"
            except (OSError, errors.Error):
                command = "?"
            return f"process {pid} ({command.strip()})"
    return "another process"


@contextlib.contextmanager
def locked(paths: Paths, echo: Echo | None = None, timeout: float = LOCK_WAIT) -> Iterator[None]:
    """One run at a time; another waits for the first, says for what, and gives up after
    `timeout` seconds (LockBusy). The lock file is root's alone (0600 in a 0755
    directory): nobody else can open it, so nobody else can hold it."""
    make_dirs(paths.state_dir)
    flags = os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC
    descriptor = os.open(paths.lock, flags, 0o600)
    try:
        os.fchmod(descriptor, 0o600)  # one made by an older version under another umask
        deadline = time.monotonic() + timeout
        announced = False
        while True:
            try:
                fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                holder = lock_holder(paths, os.fstat(descriptor).st_ino)
                if not announced and echo is not None:
                    echo(
                        f"waiting for {holder}, which holds {paths.display(paths.lock)} "
                        f"(at most {timeout:g} s)"
                    )
                    announced = True
                if time.monotonic() >= deadline:
                    raise LockBusy(
                        f"{holder} held {paths.display(paths.lock)} for {timeout:g} s: "
                        "gave up; try again once it has finished"
                    ) from None
                time.sleep(LOCK_STEP)
        try:
            yield
        finally:
            fcntl.flock(descriptor, fcntl.LOCK_UN)
    finally:
        os.close(descriptor)


def announce_reboot(paths: Paths) -> None:
    """Debian's reboot notice (docs/notes.md, "Debian's boot paths"): touch reboot-required, list
    the package."""
    atomic_write(paths.reboot_required, "*** System restart required ***\n")
    listed = read_optional(paths.reboot_required_pkgs) or ""
    if PACKAGE not in listed.split():
        atomic_write(paths.reboot_required_pkgs, listed + PACKAGE + "\n")


class DirectWriter:
    """Writes files itself: irisxe-sriov-ctl, and every file outside /etc."""

    def write(self, path: Path, text: str, keep: Attributes | None = None) -> list[Path]:
        """Write `text` to `path`, with the attributes `keep` where given (the settings
        file, which an admin may have given their own mode or owner)."""
        return atomic_write(path, text, keep=keep)

    def remove(self, path: Path) -> None:
        remove_file(path)


class UcfWriter(DirectWriter):
    """Hands configuration files under /etc to ucf, as the postinst must (policy 10.7.3;
    docs/notes.md, "Debconf, ucf and the maintainer scripts"): a local edit survives,
    noninteractively as DEST.ucf-dist beside it.

    Only for the real root: ucf and ucfr act on host paths and their own registry.
    """

    def __init__(self, paths: Paths, runner: Runner, staging: Path) -> None:
        self.paths = paths
        self.runner = runner
        self.staging = staging

    def is_config(self, path: Path) -> bool:
        return self.paths.display(path).startswith(ETC)

    def written_by_us(self, path: Path) -> bool:
        """Whether the file on disk is what irisxe-sriov itself last wrote outside ucf:
        the settings file (config seeded debconf from it, so the new text carries every
        edit of it), or a file irisxe-sriov-ctl wrote (its copy under written/). ucf would
        take such a file for a local edit and keep it, so that a dpkg-reconfigure back
        to the packaged version could never land."""
        if path == self.paths.settings:
            return True
        host_path = self.paths.display(path)
        current = read_optional(path)
        if current is None or current == read_optional(self.paths.ucf_cache(host_path)):
            return False
        return current == read_optional(self.paths.written_copy(host_path))

    def write(self, path: Path, text: str, keep: Attributes | None = None) -> list[Path]:
        if not self.is_config(path):
            return atomic_write(path, text, keep=keep)
        created = make_dirs(path.parent)
        staged = self.staging / path.name
        atomic_write(staged, text)
        host_path = self.paths.display(path)
        if path.exists() and self.written_by_us(path):
            # ours, not the admin's: replace it, then let ucf record it afresh (an
            # unregistered file identical to the new version is just registered)
            atomic_write(path, text, keep=keep)
            self.check(["ucf", "--purge", host_path])
        self.check(["ucf", "--three-way", "--debconf-ok", str(staged), host_path], debconf=True)
        self.check(["ucfr", PACKAGE, host_path])
        return created

    def remove(self, path: Path) -> None:
        if self.is_config(path):
            host_path = self.paths.display(path)
            self.check(["ucf", "--purge", host_path])
            self.check(["ucfr", "--purge", PACKAGE, host_path])
            for leftover in path.parent.glob(f"{path.name}.ucf-*"):
                leftover.unlink()
        super().remove(path)

    def check(self, argv: list[str], debconf: bool = False) -> None:
        status = self.runner.run(argv, debconf=debconf, quiet=True)
        if status != 0:
            raise ApplyError(f"{shlex.join(argv)} failed with exit status {status}")


def show(plan: planning.Plan, echo: Echo) -> None:
    for change in plan.pending:
        echo(change.diff().rstrip("\n"))


def echo_outcome(
    change: planning.Change, before: str | None, after: str | None, echo: Echo
) -> None:
    """Say what happened on disk, which under ucf need not be what was planned."""
    if before == after:
        if after != change.new:
            echo(f"kept the local version of {change.path}; the new one is {change.path}.ucf-dist")
    elif after is None:
        echo(f"removed {change.path}")
    else:
        echo(f"{'created' if before is None else 'updated'} {change.path}")


# --- the journal: every multi-file change completes, or purge takes it back ---------------


class Entry(NamedTuple):
    """One file change of an apply: `before` is what was on disk when it was planned."""

    path: str  # host spelling
    before: str | None
    after: str | None  # None: remove
    owned: bool = True  # False: the admin's file (/etc/kernel/cmdline): never through ucf


class Journal(NamedTuple):
    """What an apply is about to do, on disk before its first change
    (/var/lib/irisxe-sriov/journal/, docs/notes.md, "The journal"): the next run carries
    it forward (recover), a purge takes it back (the postrm, in sh)."""

    entries: tuple[Entry, ...]
    manifest: str | None  # the manifest to write once the files are
    commands: tuple[tuple[str, ...], ...]
    reboot: bool
    dirs: tuple[str, ...] = ()  # directories the entries need that do not exist yet


# The journal's own layout, which the postrm reads too (debian/irisxe-sriov.postrm):
# `entries` has one "INDEX OWNED PATH" line per change in order; INDEX.before and
# INDEX.after hold the contents (absent: no file); `dirs` the directories to be made.
ENTRIES = "entries"
DIRS = "dirs"
MANIFEST = "manifest"
COMMANDS = "commands"
REBOOT = "reboot"


def dump(journal: Journal) -> dict[str, str]:
    """The journal as the files of its directory."""
    files: dict[str, str] = {}
    lines = []
    for index, entry in enumerate(journal.entries):
        lines.append(f"{index} {int(entry.owned)} {entry.path}\n")
        if entry.before is not None:
            files[f"{index}.before"] = entry.before
        if entry.after is not None:
            files[f"{index}.after"] = entry.after
    files[ENTRIES] = "".join(lines)
    files[DIRS] = "".join(f"{d}\n" for d in journal.dirs)
    files[COMMANDS] = planning.format_pending(list(journal.commands))
    if journal.manifest is not None:
        files[MANIFEST] = journal.manifest
    if journal.reboot:
        files[REBOOT] = ""
    return files


class UnsafeJournal(Exception):
    """A journal this package could not have written: a path it never writes, a command it
    never runs (a damaged or planted one). Nothing of it is carried out."""


def load(files: dict[str, str | None]) -> Journal:
    """The journal of the files of its directory, every path and command checked against
    what apply itself writes and runs (paths.is_replayable, planning.known_command)."""
    entries = []
    for line in (files.get(ENTRIES) or "").split("\n"):
        if not line:
            continue
        index, owned, path = [*line.split(" ", 2), "", ""][:3]
        if not index.isascii() or not index.isdigit() or owned not in ("0", "1"):
            raise UnsafeJournal(f"a malformed entry {line[:80]!r}")
        if not replayable(path):
            raise UnsafeJournal(f"{path[:80]!r}, not a file irisxe-sriov writes")
        entries.append(
            Entry(path, files.get(f"{index}.before"), files.get(f"{index}.after"), owned == "1")
        )
    dirs = [d for d in (files.get(DIRS) or "").split("\n") if d]
    for directory in dirs:
        if not directory.startswith("/") or "/." in directory or "//" in directory:
            raise UnsafeJournal(f"the directory {directory[:80]!r}")
    commands = []
    for line in planning.parse_pending(files.get(COMMANDS)):
        known = planning.parse_known(line)
        if not known:
            raise UnsafeJournal(f"the command {line[:80]!r}, not one irisxe-sriov runs")
        commands += known
    return Journal(
        entries=tuple(entries),
        manifest=files.get(MANIFEST),
        commands=tuple(commands),
        reboot=REBOOT in files,
        dirs=tuple(dirs),
    )


def replayable(host_path: str) -> bool:
    """A path an apply writes: a generated file, its .ucf-dist, our copy of it, or the
    admin's boot line it edits (paths.is_replayable)."""
    from irisxe_sriov.paths import is_replayable

    return is_replayable(host_path)


def write_journal(paths: Paths, journal: Journal) -> None:
    """The journal directory, whole or not at all: written as a temporary directory, each
    file synced, then renamed into place. An error names the journal, never the
    temporary."""
    try:
        write_journal_files(paths, journal)
    except OSError as error:
        raise OSError(error.errno, error.strerror, str(paths.journal)) from error


def write_journal_files(paths: Paths, journal: Journal) -> None:
    make_dirs(paths.state_dir)
    staging = Path(
        tempfile.mkdtemp(prefix=".journal.", suffix=TEMPORARY_SUFFIX, dir=paths.state_dir)
    )
    try:
        os.chmod(staging, 0o700)  # noqa: PTH101 - root's alone, like the lock
        for name, text in dump(journal).items():
            descriptor = os.open(staging / name, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
                handle.write(text)
                handle.flush()
                os.fsync(handle.fileno())
        step(f"journal files {staging}")
        staging.replace(paths.journal)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    fsync_directory(paths.state_dir)
    step(f"journal {paths.journal}")


def read_journal(paths: Paths) -> dict[str, str | None] | None:
    """The files of the journal directory, None when there is none."""
    directory = paths.journal
    if not directory.is_dir() or directory.is_symlink():
        return None
    files: dict[str, str | None] = {}
    for entry in sorted(directory.iterdir()):
        files[entry.name] = read_optional(entry, JOURNAL_FILE_LIMIT)
    return files


JOURNAL_FILE_LIMIT = 1 << 20  # the largest file apply writes is the settings file (64 KiB)


def remove_journal(paths: Paths) -> None:
    if paths.journal.is_dir() and not paths.journal.is_symlink():
        shutil.rmtree(paths.journal)
        step(f"remove {paths.journal}")
    else:
        remove_file(paths.journal)  # a file: an older version's journal, or a planted one


def fsync_directory(directory: Path) -> None:
    descriptor = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def entries_for(
    plan: planning.Plan, paths: Paths, manifest: list[str], echo: Echo, ucf: bool
) -> list[Entry]:
    """The file changes that carry out `plan`, local edits kept as ucf would: a generated
    /etc file that differs from the version apply last wrote keeps its content, and the
    new version lands beside it as FILE.ucf-dist (ucf itself does this for `ucf`)."""
    entries: list[Entry] = []
    for change in plan.pending:
        before = read_optional(paths.at(change.path))
        if change.owned and configure.apply_local_config(paths, change.path):
            copy_path = paths.display(paths.written_copy(change.path))
            copy = read_optional(paths.written_copy(change.path))
            edited = before is not None and (
                before != copy if copy is not None else change.path not in manifest
            )
            if edited and not ucf and before != change.new:
                dist = change.path + ".ucf-dist"
                if change.new is None:
                    echo(f"kept the locally edited {change.path} that is no longer needed")
                    entries.append(Entry(dist, read_optional(paths.at(dist)), None))
                else:
                    echo(f"kept the local version of {change.path}; the new one is {dist}")
                    entries.append(Entry(dist, read_optional(paths.at(dist)), change.new))
                entries.append(Entry(copy_path, copy, change.new))
                continue
            entries.append(Entry(copy_path, copy, change.new))
        entries.append(Entry(change.path, before, change.new, change.owned))
    # Our records of the admin's file first, the admin's file last: a run killed between
    # them leaves the journal, which the next run carries forward and a purge takes back.
    return sorted(entries, key=lambda entry: not entry.owned)


def missing_dirs(paths: Paths, entries: list[Entry]) -> list[str]:
    """The directories (host spelling) that writing `entries` will create."""
    missing: list[str] = []
    for entry in entries:
        if entry.after is None:
            continue
        target = paths.at(entry.path)
        for parent in reversed(target.parents):
            if parent != paths.root and paths.root not in parent.parents:
                continue  # above the root: never made by us
            shown = paths.display(parent)
            if not parent.exists() and shown not in missing:
                missing.append(shown)
    return missing


def target_of(paths: Paths, entry: Entry) -> Path:
    """Where an entry is written: through a symlink to the file it names, on the running
    system as under --root (where Paths resolves every link inside the root); a removal
    takes the link itself away."""
    target = paths.at(entry.path, follow=entry.after is not None)
    if entry.after is not None and paths.at_host and target.is_symlink():
        target = Path(os.path.realpath(target))
    return target


def carry(
    entry: Entry, paths: Paths, writer: DirectWriter, echo: Echo, announce: bool
) -> list[Path]:
    target = target_of(paths, entry)
    created: list[Path] = []
    if entry.after is None:
        writer.remove(target)
    elif not entry.owned:
        # the admin's files keep their mode, owner and extended attributes
        created = atomic_write(target, entry.after, keep=attributes_of(target))
    else:
        # so does the settings file, registered with ucf like every generated /etc file
        keep = attributes_of(target) if target == paths.settings else None
        created = writer.write(target, entry.after, keep)
    if announce:
        after = read_optional(paths.at(entry.path))
        echo_outcome(
            planning.compare(entry.path, entry.before, entry.after), entry.before, after, echo
        )
    return created


def write_manifest(paths: Paths, text: str | None, dirs: list[str]) -> None:
    """The manifest: `text` (the plan's) with every directory apply made, which purge
    removes when empty."""
    state_dir = paths.display(paths.state_dir)
    new_dirs = [d + "/" for d in dirs if d != state_dir and not d.startswith(state_dir + "/")]
    current = text if text is not None else read_optional(paths.manifest)
    entries = planning.parse_manifest(current)
    wanted = planning.format_manifest(entries + new_dirs)
    if text is not None or wanted != planning.format_manifest(entries):
        atomic_write(paths.manifest, wanted)


def read_pending(paths: Paths) -> list[tuple[str, ...]]:
    return planning.parse_known(read_optional(paths.pending_refresh))


def write_pending(paths: Paths, commands: list[tuple[str, ...]]) -> None:
    if commands:
        atomic_write(paths.pending_refresh, planning.format_pending(commands))
    else:
        remove_file(paths.pending_refresh)


def finish(paths: Paths, journal: Journal, echo: Echo, announce: bool = True) -> None:
    """After the files: the manifest, the refreshes still to run, the reboot notice (where
    `announce`), and only then the journal goes."""
    made = [d for d in journal.dirs if paths.at(d).is_dir()]
    write_manifest(paths, journal.manifest, made)
    pending = read_pending(paths)
    wanted = pending + [c for c in journal.commands if c not in pending]
    if wanted != pending:
        write_pending(paths, wanted)
    if journal.reboot and announce:
        announce_reboot(paths)
        echo("reboot needed: the kernel command line or module options changed")
    remove_journal(paths)


def recover(paths: Paths, echo: Echo) -> None:
    """Complete an apply that was killed (call under the lock, before planning).

    With the journal present, every entry is carried forward where the file is still as
    it was planned from (or already as planned); a file changed since by someone else is
    left alone, and our record of /etc/kernel/cmdline then goes back to what it was, so
    that the record always describes the line on disk and purge can give the admin's
    line back. A journal naming a path or a command apply never writes or runs is
    carried out in no part. Without a journal nothing had been written yet. Either way
    the temporaries a kill left are removed.
    """
    directories = [paths.state_dir, paths.written_dir, paths.reboot_required.parent]
    for leftover in paths.state_dir.glob(".journal.*" + TEMPORARY_SUFFIX):
        shutil.rmtree(leftover, ignore_errors=True)  # a journal never completed: nothing began
    files = read_journal(paths)
    if files is None and paths.journal.exists():
        echo(f"ignored {paths.display(paths.journal)}: not a journal of this version")
        remove_file(paths.journal)
    if files is not None:
        try:
            journal: Journal | None = load(files)
        except UnsafeJournal as error:
            echo(f"ignored {paths.display(paths.journal)}: it names {error}")
            remove_journal(paths)
            journal = None
        if journal is not None:
            echo("completing an interrupted apply")
            forward(paths, journal, echo)
            directories += [paths.at(entry.path).parent for entry in journal.entries]
    for line in planning.parse_manifest(read_optional(paths.manifest)):
        directories.append(paths.at(line) if line.endswith("/") else paths.at(line).parent)
    clean_temporaries(sorted(set(directories)))


def forward(paths: Paths, journal: Journal, echo: Echo) -> None:
    record = paths.display(paths.cmdline_record)
    admin = paths.display(paths.kernel_cmdline)
    skipped: set[str] = set()
    # the admin's file is the last entry: whether it was left alone decides the record
    for entry in journal.entries:
        current = read_optional(paths.at(entry.path))
        if current != entry.after and current != entry.before:
            skipped.add(entry.path)
    for entry in journal.entries:
        current = read_optional(paths.at(entry.path))
        if entry.path in skipped or current == entry.after:
            continue
        if entry.path == record and admin in skipped:
            continue
        carry(entry, paths, DirectWriter(), echo, announce=True)
    if admin in skipped:
        # someone else changed the admin's line since: our record goes back to what it
        # was, so that it describes the line on disk
        for entry in journal.entries:
            if entry.path == record:
                if entry.before is None:
                    remove_file(paths.at(entry.path))
                else:
                    atomic_write(paths.at(entry.path), entry.before)
    finish(paths, journal, echo)


def failure_text(error: OSError, paths: Paths) -> str:
    where = f": {paths.shown(error.filename)}" if error.filename else ""
    return f"{error.strerror or error}{where}"


def execute(
    plan: planning.Plan,
    paths: Paths,
    runner: Runner,
    echo: Echo,
    writer: DirectWriter | None = None,
    announce: bool = True,
) -> None:
    """Write every pending change, record what we own, run the commands the changes need.

    The journal is written first: from then on the next run completes the change
    whatever instant this one dies (recover), and a purge takes it back (the postrm).
    Commands are remembered as pending until they succeed, so a failed update-grub runs
    again with the next apply.
    """
    manifest = planning.parse_manifest(read_optional(paths.manifest))
    entries = entries_for(plan, paths, manifest, echo, ucf=isinstance(writer, UcfWriter))
    journal = Journal(
        tuple(entries),
        plan.manifest,
        plan.commands,
        plan.reboot,
        tuple(missing_dirs(paths, entries)),
    )
    write_journal(paths, journal)
    try:
        for entry in entries:
            chosen = (writer or DirectWriter()) if entry.owned else DirectWriter()
            quiet = entry.path.startswith(paths.display(paths.written_dir) + "/")
            carry(entry, paths, chosen, echo, not quiet and not entry.path.endswith(".ucf-dist"))
        finish(paths, journal, echo, announce)
    except OSError as error:
        # a full disk, a read-only remount: the journal holds the change, so the next
        # run completes it (recover) once the cause is gone
        raise ApplyError(
            f"{failure_text(error, paths)}; stopped half-way: once that is fixed, "
            "'irisxe-sriov-ctl apply' completes the change"
        ) from error
    failures = []
    pending = read_pending(paths)
    for command in plan.commands:
        status = runner.run(command, optional=True)
        if status != 0:
            failures.append(f"{shlex.join(command)} failed with exit status {status}")
        elif command in pending:
            pending.remove(command)
            try:
                write_pending(paths, pending)
            except OSError as error:
                raise ApplyError(
                    f"{failure_text(error, paths)}; the change is complete, and the next "
                    "'irisxe-sriov-ctl apply' runs its boot refresh once more"
                ) from error
    if failures:
        raise ApplyError(
            "; ".join(failures) + "; the files are written and the next apply runs it again"
        )
