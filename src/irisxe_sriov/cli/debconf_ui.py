"""The debconf side of the maintainer scripts: the only importer of `debconf`.

The sh scripts source /usr/share/debconf/confmodule and then run
`python3 -m irisxe_sriov.cli.debconf_ui config|postinst`; this helper speaks the debconf
protocol on fd 3, where confmodule put the channel (apt-listchanges does it the same way;
docs/notes.md, "Debconf, ucf and the maintainer scripts").

debconf is not a registry: `config` first seeds every answer from
/etc/default/irisxe-sriov, so dpkg-reconfigure shows what is in force, including changes
made with `irisxe-sriov-ctl config set` or by hand.
"""

import os
import re
import sys
import tempfile
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Protocol

from irisxe_sriov import cmdline, errors, settings
from irisxe_sriov.choices import BootPath, Driver, MachineRole, Role, VfRole
from irisxe_sriov.cli import failure
from irisxe_sriov.machine import gather, snapshot
from irisxe_sriov.paths import Paths
from irisxe_sriov.report import judgement
from irisxe_sriov.sched import Priority, Profile
from irisxe_sriov.write.plan import Plan

Q_DRIVER = "irisxe-sriov/driver"
Q_NUM_VFS = "irisxe-sriov/num_vfs"
Q_BOOTLOADER = "irisxe-sriov/bootloader"
Q_KERNEL_HOLD = "irisxe-sriov/kernel_hold"
Q_SCHED = "irisxe-sriov/sched"
Q_SCHED_PF_PRIORITY = "irisxe-sriov/sched_pf_priority"
Q_VF_UNBOUND = "irisxe-sriov/vf_unbound"
Q_VF_HOST = "irisxe-sriov/vf_host"
Q_GPU_MISSING = "irisxe-sriov/gpu_missing"
Q_GPU_UNSUPPORTED = "irisxe-sriov/gpu_unsupported"
Q_KERNEL = "irisxe-sriov/kernel_unsupported"
Q_SETTINGS_INVALID = "irisxe-sriov/settings_invalid"

BACKUP = 30  # debconf's status for "go back" (with CAPB backup) and "not shown"
PACKAGE = "irisxe-sriov"

# the type of every question answers_from answers (debian/irisxe-sriov.templates), as
# debconf-set-selections wants it
QUESTION_TYPES = {
    Q_DRIVER: "select",
    Q_NUM_VFS: "select",
    Q_BOOTLOADER: "select",
    Q_KERNEL_HOLD: "select",
    Q_SCHED: "select",
    Q_SCHED_PF_PRIORITY: "select",
    Q_VF_UNBOUND: "multiselect",
    Q_VF_HOST: "multiselect",
}


# --- pure: settings <-> answers -----------------------------------------------------------


def multiselect(numbers: list[int]) -> str:
    return ", ".join(str(n) for n in numbers)


def parse_multiselect(text: str) -> list[int]:
    return [
        int(item) for item in re.split(r",\s*", text.strip()) if re.fullmatch("[0-9]{1,2}", item)
    ]


def answers_from(current: settings.Settings) -> dict[str, str]:
    """The debconf answers that describe `current`."""
    return {
        Q_DRIVER: current.driver,
        Q_NUM_VFS: str(current.num_vfs),
        Q_BOOTLOADER: current.bootloader,
        Q_KERNEL_HOLD: str(current.kernel_hold),
        Q_SCHED: str(current.scheduling.profile),
        Q_SCHED_PF_PRIORITY: str(current.scheduling.pf_priority),
        Q_VF_UNBOUND: multiselect([n for n, role in current.roles() if role == VfRole.NONE]),
        Q_VF_HOST: multiselect([n for n, role in current.roles() if role == VfRole.HOST]),
    }


def preseed(current: settings.Settings) -> str:
    """debconf-set-selections lines that make a first install write `current`: every
    question's answer (debconf-set-selections marks each seen, so a noninteractive
    install takes it as given).
    PF, MACHINE_ROLE and a custom scheduling's values are no questions: a comment says so
    where they differ from the defaults (and custom is preseeded as default)."""
    answers = answers_from(current)
    scheduling = current.scheduling
    if scheduling.profile == Profile.CUSTOM:
        # the config script offers custom only where the file holds its values
        answers[Q_SCHED] = str(Profile.DEFAULT)
    lines = [
        f"{PACKAGE} {question} {QUESTION_TYPES[question]} {answer}"
        for question, answer in answers.items()
    ]
    defaults = settings.Settings()
    asked_for = [
        (name, value)
        for name, value in (("pf", current.pf), ("machine_role", current.machine_role))
        if value != getattr(defaults, name)
    ]
    if scheduling.profile == Profile.CUSTOM:
        asked_for.append(
            (
                "sched",
                f"custom sched_exec_quantum_ms='{scheduling.exec_quantum_ms}' "
                f"sched_preempt_timeout_us='{scheduling.preempt_timeout_us}'",
            )
        )
    for name, value in asked_for:
        lines.append(
            f"# {name}={value} is no debconf question: after the installation, "
            f"irisxe-sriov-ctl config set {name}={value}"
        )
    return "\n".join(lines) + "\n"


def values_from(answers: dict[str, str]) -> dict[str, str]:
    """Raw settings values (for settings.build) from debconf answers.

    VFs above num_vfs in the multiselects are dropped: they are leftovers of a larger
    count, and the role questions only offer 1..num_vfs.
    """
    count = answers[Q_NUM_VFS].strip(" ")
    limit = settings.ascii_int(count) or 0  # not isdigit(): int("²") raises
    roles = {n: VfRole.NONE for n in parse_multiselect(answers[Q_VF_UNBOUND]) if n <= limit}
    roles.update(
        {
            n: VfRole.HOST
            for n in parse_multiselect(answers[Q_VF_HOST])
            if n <= limit and n not in roles
        }
    )
    return {
        "driver": answers[Q_DRIVER],
        "num_vfs": count,
        "bootloader": answers[Q_BOOTLOADER],
        "vf_roles": settings.format_roles(roles),
        "kernel_hold": answers.get(Q_KERNEL_HOLD) or "auto",
        "sched": answers.get(Q_SCHED) or str(Profile.DEFAULT),
        "sched_pf_priority": answers.get(Q_SCHED_PF_PRIORITY) or str(Priority.AUTO),
    }


def custom_kept(values: dict[str, str], file: Mapping[str, str]) -> dict[str, str]:
    """The answers, with sched=custom given up for default where the file's per-function
    values do not cover the VF count answered (a larger one): the file stays valid, and a
    note on stderr says what to set. The values stay in the file."""
    if values.get("sched") != str(Profile.CUSTOM):
        return values
    try:
        settings.build({**file, **values})
    except settings.SettingsError as error:
        missing = [p for p in error.problems if "sched=custom needs" in p]
        if not missing:
            return values
        for problem in missing:
            print(f"irisxe-sriov: note: {problem}; sched=default until then", file=sys.stderr)
        return {**values, "sched": str(Profile.DEFAULT)}
    return values


def count_problem(text: str, sriov_totalvfs: int | None) -> str | None:
    """Why `text` is no valid VF count, or None."""
    try:
        settings.build({"num_vfs": text}, sriov_totalvfs)
    except settings.SettingsError as error:
        return error.problems[0].removeprefix("num_vfs: ")
    return None


# --- debconf I/O --------------------------------------------------------------------------


class Answers(Protocol):
    """Where the answers are read: GET (debconf-devel(7)), the reply's text."""

    def get(self, question: str) -> str: ...


class Debconf(Answers, Protocol):
    """The commands of python3-debconf's Debconf this module sends (debconf-devel(7)):
    each returns the reply's text or raises debconf.DebconfError."""

    def capb(self, *capabilities: str) -> str: ...
    def input(self, priority: str, question: str) -> str: ...
    def go(self) -> str: ...
    def set(self, question: str, value: str) -> str: ...
    def subst(self, question: str, key: str, value: str) -> str: ...
    def fget(self, question: str, flag: str) -> str: ...


def connect() -> Debconf:
    import debconf  # python3-debconf; only the maintainer scripts get here

    # confmodule moved the debconf channel to fd 3 and stdout to stderr.
    db: Debconf = debconf.Debconf(write=os.fdopen(3, "w"))
    return db


def is_backup(error: Exception) -> bool:
    return bool(error.args) and error.args[0] == BACKUP


def ask(db: Debconf, priority: str, question: str) -> bool:
    """INPUT then GO; False when the person chose Back."""
    import debconf

    try:
        db.input(priority, question)
    except debconf.DebconfError as error:
        if not is_backup(error):  # 30 here: not shown (priority, seen, noninteractive)
            raise
    try:
        db.go()
    except debconf.DebconfError as error:
        if is_backup(error):
            return False
        raise
    return True


def notify(db: Debconf, question: str) -> None:
    """Show a note once per install; a note must not stop a noninteractive install."""
    ask(db, "high", question)


def unseen(db: Debconf, question: str) -> bool:
    """A question nobody answered yet (a first install, not preseeded), or any question
    under dpkg-reconfigure, whose defaults are proposals."""
    return db.fget(question, "seen") != "true" or bool(os.environ.get("DEBCONF_RECONFIGURE"))


def seed(db: Debconf, verdicts: judgement.Verdicts) -> None:
    """Load what is in force into debconf: the settings file's values, or, with no file,
    the defaults judgement gives this machine (the working set-up it found, else what the
    kernel that boots next offers) for every question not answered yet: exactly what
    `irisxe-sriov-ctl config show` says without a file."""
    file = verdicts.snapshot.settings_file
    if file.problems:
        notify(db, Q_SETTINGS_INVALID)  # config show names each problem
        return
    answers = answers_from(verdicts.settings)
    for question, value in answers.items():
        if file.text is not None or db.fget(question, "seen") != "true":
            db.set(question, value)


def host_notes(db: Debconf, verdicts: judgement.Verdicts) -> None:
    """Images are often built before the hardware exists, a machine may hold something
    else at the GPU's address, and a kernel may have no SR-IOV provider at all
    (docs/notes.md): say so once, and carry on. The notes take data only (addresses, ids,
    kernel releases): every word of them is in the templates, for translators."""
    machine = verdicts.machine
    state = verdicts.host
    kernels = verdicts.kernels
    pf = state.pf
    # a role the admin set (MACHINE_ROLE) is no detection to question
    detected = verdicts.settings.machine_role == MachineRole.AUTO
    if detected and (
        machine.role == Role.NONE or (machine.role == Role.HOST and not machine.binds)
    ):
        if pf.present:
            db.subst(Q_GPU_UNSUPPORTED, "address", pf.address)
            db.subst(Q_GPU_UNSUPPORTED, "vendor", pf.vendor or "?")
            db.subst(Q_GPU_UNSUPPORTED, "device", pf.device or "?")
            notify(db, Q_GPU_UNSUPPORTED)
        else:
            db.subst(Q_GPU_MISSING, "address", pf.address)
            notify(db, Q_GPU_MISSING)
    if any(k.provider for k in kernels) or not (kernels or state.kernel_release):
        return
    if not verdicts.advice:
        return
    releases = [k.release for k in kernels] or [state.kernel_release or ""]
    db.subst(Q_KERNEL, "kernels", ", ".join(releases))
    notify(db, Q_KERNEL)


def driver_default(db: Debconf, verdicts: judgement.Verdicts) -> None:
    """The driver question proposes what the kernel that boots next can serve (judgement's
    defaults): a kernel whose only provider is its own xe offers xe, so i915 is no choice
    there (the question's text says so). An answer given before (preseeded, or an earlier
    install) is a default only for dpkg-reconfigure; an upgrade keeps it."""
    target = verdicts.next_kernel or (verdicts.kernels[-1] if verdicts.kernels else None)
    if (
        unseen(db, Q_DRIVER)
        and target is not None
        and target.drivers
        and db.get(Q_DRIVER) not in target.drivers
    ):
        db.set(Q_DRIVER, str(target.drivers[0]))


def count_choices(totalvfs: int | None) -> list[str]:
    """The VF counts the num_vfs select offers, 1 up to what the PF offers, then 0: the
    readline frontend takes a typed number as the item of that number, so item N is the
    count N (a typed 0 is no item number, and matches the choice 0 itself)."""
    limit = settings.vf_limit(totalvfs)
    return [str(count) for count in range(1, limit + 1)] + ["0"]


def ask_count(db: Debconf, totalvfs: int | None) -> bool:
    """Ask for num_vfs from the counts the PF offers; False on Back. A value outside them
    (preseeded, or a larger count on a PF that offers fewer) is proposed as the largest
    one, and a warning on stderr names it when the answer is that largest one (as it is,
    unasked, in a noninteractive installation)."""
    choices = count_choices(totalvfs)
    largest = str(settings.vf_limit(totalvfs))
    db.subst(Q_NUM_VFS, "choices", ", ".join(choices))
    db.subst(Q_NUM_VFS, "max", largest)
    before = db.get(Q_NUM_VFS).strip(" ")
    if before not in choices:
        db.set(Q_NUM_VFS, largest)
    if not ask(db, "high", Q_NUM_VFS):
        return False
    if before not in choices and db.get(Q_NUM_VFS) == largest:
        problem = count_problem(before, totalvfs)
        print(
            f"irisxe-sriov: num_vfs {before!r} is invalid ({problem}); using {largest}",
            file=sys.stderr,
        )
    return True


def role_choices(db: Debconf, count: int, question: str, exclude: list[int]) -> bool:
    """Offer VFs 1..count (minus `exclude`) in a multiselect; skip it when none is left."""
    numbers = [n for n in range(1, count + 1) if n not in exclude]
    if not numbers:
        db.set(question, "")
        return True
    db.subst(question, "choices", multiselect(numbers))
    kept = [n for n in parse_multiselect(db.get(question)) if n in numbers]
    db.set(question, multiselect(kept))
    return ask(db, "medium", question)


def config(db: Debconf, paths: Paths) -> None:
    db.capb("backup")
    verdicts = judgement.judge(gather.gather(paths, snapshot.Depth.DEBCONF), strict=False)
    seed(db, verdicts)
    state, machine, boot = verdicts.host, verdicts.machine, verdicts.boot
    host_notes(db, verdicts)
    if machine.role == Role.NONE:
        return  # nothing of ours to configure here: the note said why
    driver_default(db, verdicts)
    totalvfs = state.pf.sriov_totalvfs
    detected = boot if verdicts.settings.bootloader == "auto" else verdicts.snapshot.boot.decide()
    # data only: the boot path's name as Choices-C spells it (choices.BootPath)
    db.subst(Q_BOOTLOADER, "detected", detected.name or str(BootPath.NONE))

    def driver() -> bool:
        return ask(db, "high", Q_DRIVER)

    def count() -> bool:
        return ask_count(db, totalvfs)

    def boot_path() -> bool:
        current = settings.Settings(driver=Driver.of(db.get(Q_DRIVER)) or Driver.I915)
        tokens = cmdline.wanted_tokens(current, machine.device, machine.role)
        db.subst(Q_BOOTLOADER, "parameters", " ".join(tokens))
        return ask(db, "medium", Q_BOOTLOADER)

    def unbound() -> bool:
        return role_choices(db, vf_count(db), Q_VF_UNBOUND, [])

    def kernel_hold() -> bool:
        return ask(db, "medium", Q_KERNEL_HOLD)

    def scheduling() -> bool:
        # custom only where the file holds its values: debconf does not ask for them
        offered = [p for p in Profile.values() if p != Profile.CUSTOM]
        if verdicts.settings.scheduling.profile == Profile.CUSTOM:
            offered.append(str(Profile.CUSTOM))
        db.subst(Q_SCHED, "choices", ", ".join(offered))
        if db.get(Q_SCHED) not in offered:
            db.set(Q_SCHED, str(Profile.DEFAULT))
        return ask(db, "low", Q_SCHED)

    def pf_priority() -> bool:
        if db.get(Q_DRIVER) == Driver.I915:
            return True  # the DKMS i915 has no priority: nothing to ask
        return ask(db, "low", Q_SCHED_PF_PRIORITY)

    def host_role() -> bool:
        exclude = parse_multiselect(db.get(Q_VF_UNBOUND))
        return role_choices(db, vf_count(db), Q_VF_HOST, exclude)

    # a guest makes no VFs: it needs the driver and where its parameters go, nothing else
    steps: list[Callable[[], bool]] = (
        [driver, boot_path]
        if machine.role == Role.GUEST
        else [driver, count, boot_path, unbound, host_role, kernel_hold, scheduling, pf_priority]
    )
    position = 0
    while 0 <= position < len(steps):
        position += 1 if steps[position]() else -1


def vf_count(db: Debconf) -> int:
    return settings.ascii_int(db.get(Q_NUM_VFS).strip(" ")) or 0


def postinst(db: Debconf, paths: Paths) -> None:
    """Write the settings file from the answers and every derived file through ucf."""
    from irisxe_sriov import process
    from irisxe_sriov.write import apply

    def echo(line: str) -> None:
        print(f"irisxe-sriov: {line}", file=sys.stderr)

    runner = process.Runner(live=paths.is_host, echo=echo)
    with tempfile.TemporaryDirectory(prefix="irisxe-sriov.") as staging, apply.locked(paths, echo):
        # an apply killed half-way (by a person or a power cut) is completed first, so
        # that the plan starts from a consistent state (apply.recover)
        apply.recover(paths, echo)
        plan = postinst_plan(db, paths)
        for note in plan.notes:
            echo(f"note: {note}")
        if plan.empty:
            return
        writer = apply.UcfWriter(paths, runner, Path(staging)) if paths.is_host else None
        apply.execute(plan, paths, runner, echo, writer)


def postinst_plan(db: Answers, paths: Paths) -> Plan:
    """The plan for the debconf answers: the settings file updated and every file
    derived from it. A broken settings file is kept (ucf will too); the answers are
    applied over the defaults."""
    from irisxe_sriov.write import configure, render

    questions = (
        Q_DRIVER,
        Q_NUM_VFS,
        Q_BOOTLOADER,
        Q_VF_UNBOUND,
        Q_VF_HOST,
        Q_KERNEL_HOLD,
        Q_SCHED,
        Q_SCHED_PF_PRIORITY,
    )
    answers = {q: db.get(q) for q in questions}
    values = custom_kept(values_from(answers), gather.read_settings_file(paths).values)
    verdicts = judgement.judge(gather.gather(paths, snapshot.Depth.CHANGE, values), strict=False)
    current = verdicts.snapshot.settings_file
    text = None
    if current.text and not current.problems:
        text = settings.update_text(current.text, values)
    text = text or render.settings_file(verdicts.settings)
    # Inside a dpkg run, initramfs-tools' trigger rebuilds once at the end. A
    # dpkg-reconfigure is no dpkg run (a trigger would wait for the next one), so it
    # rebuilds at once; it sets DPKG_MAINTSCRIPT_PACKAGE too, but also DEBCONF_RECONFIGURE.
    in_dpkg = "DPKG_MAINTSCRIPT_PACKAGE" in os.environ and not os.environ.get("DEBCONF_RECONFIGURE")
    return configure.make_plan(
        paths,
        verdicts,
        text,
        configure.TRIGGER_INITRAMFS if in_dpkg else configure.UPDATE_INITRAMFS,
        through_ucf=paths.is_host,
    )


def main(argv: list[str]) -> int:
    if len(argv) < 2 or argv[1] not in ("config", "postinst"):
        print("usage: python3 -m irisxe_sriov.cli.debconf_ui config|postinst", file=sys.stderr)
        return errors.ExitStatus.BAD_INPUT
    # Always the running system: tests run the maintainer scripts inside a chroot.
    paths = Paths("/")
    os.umask(0o022)
    try:
        db = connect()
        if argv[1] == "config":
            config(db, paths)
        else:
            postinst(db, paths)
    except Exception as error:
        if failure.debugging():
            raise
        # the same lines and status as irisxe-sriov-ctl's handler, so the maintainer
        # script fails with the problem named, never a traceback
        problems, status = failure.classify(error, paths)
        for line in problems:
            print(f"irisxe-sriov: error: {line}", file=sys.stderr)
        return status
    return errors.ExitStatus.OK


if __name__ == "__main__":
    sys.exit(main(sys.argv))
