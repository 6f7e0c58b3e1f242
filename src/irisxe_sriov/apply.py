"""The writer of the configuration: atomic file replacement, the one lock, the journal;
the commands a change needs run through process.Runner (under a root other than "/" it
prints "would run: ..." instead). The one other file the package writes is a cache
(modinfo.py), and vfs.py writes sysfs.
"""

import contextlib
import fcntl
import json
import os
import re
import shlex
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import NamedTuple

from irisxe_sriov import configure, errors
from irisxe_sriov import plan as planning
from irisxe_sriov.host import read_optional
from irisxe_sriov.paths import PACKAGE, Paths
from irisxe_sriov.process import Echo, Runner


class ApplyError(errors.Failed):
    """An operation failed (exit 1); the message says what and how to go on."""


# Test seam for the fault-injection test (issue 11): each hook is called after every single
# step that changes the disk, with a word saying which; a hook that kills the process there
# shows what the next run finds.
STEP_HOOKS: list[Callable[[str], None]] = []
TEMPORARY_SUFFIX = ".irisxe-tmp"
TEMPORARY_RE = re.compile(r"\..+\.[A-Za-z0-9_]{8}" + re.escape(TEMPORARY_SUFFIX))


def step(what: str) -> None:
    for hook in STEP_HOOKS:
        hook(what)


def atomic_write(path: Path, text: str, mode: int = 0o644) -> list[Path]:
    """Replace `path` with `text` through a temporary file in the same directory.

    Returns the directories that had to be created, outermost first. An error names
    `path`, never the temporary file; a temporary a kill leaves behind is removed by the
    next run (clean_temporaries).
    """
    try:
        return replace_file(path, text, mode)
    except OSError as error:
        raise OSError(error.errno, error.strerror, str(path)) from error


def replace_file(path: Path, text: str, mode: int) -> list[Path]:
    created: list[Path] = []
    for parent in reversed(path.parents):
        if not parent.exists():
            parent.mkdir(mode=0o755)
            created.append(parent)
            step(f"mkdir {parent}")
    descriptor, temporary = tempfile.mkstemp(
        prefix=f".{path.name}.", suffix=TEMPORARY_SUFFIX, dir=path.parent
    )
    try:
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fchmod(handle.fileno(), mode)
            os.fsync(handle.fileno())
        step(f"temporary {temporary}")
        Path(temporary).replace(path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            Path(temporary).unlink()
        raise
    directory = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)
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


@contextlib.contextmanager
def locked(paths: Paths) -> Iterator[None]:
    """One apply at a time; a second one waits for the first."""
    paths.state_dir.mkdir(parents=True, exist_ok=True)
    with paths.lock.open("a") as handle:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


def announce_reboot(paths: Paths) -> None:
    """Debian's reboot notice (docs/notes.md, "Debian's boot paths"): touch reboot-required, list
    the package."""
    atomic_write(paths.reboot_required, "*** System restart required ***\n")
    listed = read_optional(paths.reboot_required_pkgs) or ""
    if PACKAGE not in listed.split():
        atomic_write(paths.reboot_required_pkgs, listed + PACKAGE + "\n")


class DirectWriter:
    """Writes files itself: irisxe-sriov-ctl, and every file outside /etc."""

    def write(self, path: Path, text: str) -> list[Path]:
        return atomic_write(path, text)

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
        return self.paths.display(path).startswith("/etc/")

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

    def write(self, path: Path, text: str) -> list[Path]:
        if not self.is_config(path):
            return atomic_write(path, text)
        created = [parent for parent in reversed(path.parents) if not parent.exists()]
        for parent in created:
            parent.mkdir(mode=0o755)
        staged = self.staging / path.name
        atomic_write(staged, text)
        host_path = self.paths.display(path)
        if path.exists() and self.written_by_us(path):
            # ours, not the admin's: replace it, then let ucf record it afresh (an
            # unregistered file identical to the new version is just registered)
            atomic_write(path, text)
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


# --- the journal: every multi-file change completes or is rolled back (issue 11) ----------


class Entry(NamedTuple):
    """One file change of an apply: `before` is what was on disk when it was planned."""

    path: str  # host spelling
    before: str | None
    after: str | None  # None: remove
    owned: bool = True  # False: the admin's file (/etc/kernel/cmdline): never through ucf


class Journal(NamedTuple):
    entries: tuple[Entry, ...]
    manifest: str | None  # the manifest to write once the files are
    commands: tuple[tuple[str, ...], ...]
    reboot: bool

    def dump(self) -> str:
        return json.dumps(
            {
                "entries": [entry._asdict() for entry in self.entries],
                "manifest": self.manifest,
                "commands": [list(command) for command in self.commands],
                "reboot": self.reboot,
            }
        )

    @classmethod
    def load(cls, text: str) -> "Journal":
        data = json.loads(text)
        return cls(
            entries=tuple(Entry(**entry) for entry in data["entries"]),
            manifest=data["manifest"],
            commands=tuple(tuple(command) for command in data["commands"]),
            reboot=bool(data["reboot"]),
        )


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
    # The admin's file first, our record of it after (see recover for why the order
    # no longer matters once the journal exists).
    return sorted(entries, key=lambda entry: entry.owned)


def carry(
    entry: Entry, paths: Paths, writer: DirectWriter, echo: Echo, announce: bool
) -> list[Path]:
    target = paths.at(entry.path, follow=entry.after is not None)
    created: list[Path] = []
    if entry.after is None:
        writer.remove(target)
    else:
        created = writer.write(target, entry.after)
    if announce:
        after = read_optional(paths.at(entry.path))
        echo_outcome(
            planning.compare(entry.path, entry.before, entry.after), entry.before, after, echo
        )
    return created


def write_manifest(paths: Paths, text: str | None, created: list[Path]) -> None:
    state_dir = paths.state_dir
    new_dirs = [
        paths.display(d) + "/" for d in created if d != state_dir and state_dir not in d.parents
    ]
    if text is not None or new_dirs:
        current = text if text is not None else read_optional(paths.manifest)
        entries = planning.parse_manifest(current) + new_dirs
        atomic_write(paths.manifest, planning.format_manifest(entries))


def read_pending(paths: Paths) -> list[tuple[str, ...]]:
    return [
        tuple(shlex.split(line))
        for line in planning.parse_pending(read_optional(paths.pending_refresh))
    ]


def write_pending(paths: Paths, commands: list[tuple[str, ...]]) -> None:
    if commands:
        atomic_write(paths.pending_refresh, planning.format_pending(commands))
    else:
        remove_file(paths.pending_refresh)


def finish(paths: Paths, journal: Journal, created: list[Path], echo: Echo) -> None:
    """After the files: the manifest, the refreshes still to run, the reboot notice, and
    only then the journal goes."""
    write_manifest(paths, journal.manifest, created)
    pending = read_pending(paths)
    wanted = pending + [c for c in journal.commands if c not in pending]
    if wanted != pending:
        write_pending(paths, wanted)
    if journal.reboot:
        announce_reboot(paths)
        echo("reboot needed: the kernel command line or module options changed")
    remove_file(paths.journal)


def recover(paths: Paths, echo: Echo) -> None:
    """Complete an apply that was killed (call under the lock, before planning).

    With the journal present, every entry is carried forward where the file is still as
    it was planned from (or already as planned); a file changed since by someone else is
    left alone, and our record of /etc/kernel/cmdline then goes back to what it was, so
    that the record always describes the line on disk and purge can give the admin's
    line back. Without a journal nothing had been written yet. Either way the
    temporaries a kill left are removed.
    """
    directories = [paths.state_dir, paths.written_dir, paths.reboot_required.parent]
    text = read_optional(paths.journal)
    if text is not None:
        try:
            journal = Journal.load(text)
        except (ValueError, KeyError, TypeError):
            echo(f"ignored a damaged {paths.display(paths.journal)}")
            remove_file(paths.journal)
            journal = None
        if journal is not None:
            echo("completing an interrupted apply")
            record = paths.display(paths.cmdline_record)
            skipped: set[str] = set()
            created: list[Path] = []
            for entry in journal.entries:
                current = read_optional(paths.at(entry.path))
                if current == entry.after:
                    continue
                if current != entry.before or (
                    entry.path == record and paths.display(paths.kernel_cmdline) in skipped
                ):
                    skipped.add(entry.path)
                    continue
                created += carry(entry, paths, DirectWriter(), echo, announce=True)
            for entry in journal.entries:
                if entry.path == record and paths.display(paths.kernel_cmdline) in skipped:
                    if entry.before is None:
                        remove_file(paths.at(entry.path))
                    else:
                        atomic_write(paths.at(entry.path), entry.before)
            finish(paths, journal, created, echo)
            directories += [paths.at(entry.path).parent for entry in journal.entries]
    for line in planning.parse_manifest(read_optional(paths.manifest)):
        directories.append(paths.at(line) if line.endswith("/") else paths.at(line).parent)
    clean_temporaries(sorted(set(directories)))


def execute(
    plan: planning.Plan,
    paths: Paths,
    runner: Runner,
    echo: Echo,
    writer: DirectWriter | None = None,
) -> None:
    """Write every pending change, record what we own, run the commands the changes need.

    The journal is written first: from then on the next run completes the change
    whatever instant this one dies (recover). Commands are remembered as pending until
    they succeed, so a failed update-grub runs again with the next apply.
    """
    manifest = planning.parse_manifest(read_optional(paths.manifest))
    entries = entries_for(plan, paths, manifest, echo, ucf=isinstance(writer, UcfWriter))
    journal = Journal(tuple(entries), plan.manifest, plan.commands, plan.reboot)
    atomic_write(paths.journal, journal.dump())
    created: list[Path] = []
    for entry in entries:
        chosen = (writer or DirectWriter()) if entry.owned else DirectWriter()
        quiet = entry.path.startswith(paths.display(paths.written_dir) + "/")
        announce = not quiet and not entry.path.endswith(".ucf-dist")
        created += carry(entry, paths, chosen, echo, announce)
    finish(paths, journal, created, echo)
    failures = []
    pending = read_pending(paths)
    for command in plan.commands:
        status = runner.run(command, optional=True)
        if status != 0:
            failures.append(f"{shlex.join(command)} failed with exit status {status}")
        elif command in pending:
            pending.remove(command)
            write_pending(paths, pending)
    if failures:
        raise ApplyError(
            "; ".join(failures) + "; the files are written and the next apply runs it again"
        )
