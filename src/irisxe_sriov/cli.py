"""irisxe-sriov-ctl: thin click commands over the irisxe_sriov modules.

Imports of jinja2 and python-debian stay inside the commands that need them, so the
read-only commands start fast (make bench).
"""

import sys
from pathlib import Path
from typing import Any

import click

from irisxe_sriov import __version__, entry, errors, failure, reading
from irisxe_sriov.choices import Target
from irisxe_sriov.paths import Paths

PROG = failure.PROG


def echo(line: str) -> None:
    click.echo(line)


print_json = reading.print_json


DRY_RUN = click.option(
    "--dry-run",
    "-n",
    is_flag=True,
    help="Print the changes as diffs and the commands; change nothing.",
)


class Interrupted(Exception):
    """Ctrl-C inside a command, carried past click's main, which would print an empty line
    on stderr before its Abort: the fast path prints none (entry.py, failure.py)."""


def report_error(error: BaseException, paths: Paths | None, as_json: bool) -> int:
    """click's own errors as click words them, everything else as failure.py does."""
    if isinstance(error, click.ClickException):
        problems, code = [error.format_message()], error.exit_code
    elif isinstance(error, click.Abort | Interrupted):
        problems, code = failure.classify(KeyboardInterrupt(), paths)
    else:
        problems, code = failure.classify(error, paths)
    shown = False
    if isinstance(error, click.UsageError) and not as_json:
        error.show()  # the usage line and the hint, as click shows it
        shown = True
    failure.report(problems, int(code), as_json, on_stderr=not shown)
    return int(code)


class Group(click.Group):
    """The top-level handler: every error of every command becomes one line per problem
    on stderr and its exit status; under --json, stdout gets a JSON object with an
    "error" field too, so a JSON reader always gets JSON."""

    def main(  # type: ignore[override]
        self,
        args: list[str] | None = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        **extra: Any,
    ) -> Any:
        argv = list(sys.argv[1:] if args is None else args)
        as_json = "--json" in argv[: argv.index("--")] if "--" in argv else "--json" in argv
        context: list[click.Context] = []
        try:
            return super().main(
                argv, prog_name, complete_var, standalone_mode=False, **extra, obj=context
            )
        except click.exceptions.Exit as done:
            code = done.exit_code
        except SystemExit as done:
            # click's own: a reader gone (EPIPE) is exit 1 with stdout pacified, as
            # failure.reader_gone does on the fast path
            raise done
        except BaseException as error:  # click's top-level handler: failure.py does the rest
            if failure.debugging():
                raise
            paths = context[0].obj if context and isinstance(context[0].obj, Paths) else None
            code = report_error(error, paths, as_json)
        if standalone_mode:
            sys.exit(code)
        return code

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except KeyboardInterrupt as error:
            raise Interrupted from error


@click.group(cls=Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name=PROG)
@click.option(
    entry.ROOT_OPTION,
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    default="/",
    show_default=True,
    envvar=entry.ROOT_VARIABLE,
    help=f"Work on the system under DIR (env {entry.ROOT_VARIABLE}). Under a root other than / "
    "no host command runs: it is printed as 'would run'.",
    metavar="DIR",
)
@click.pass_context
def cli(context: click.Context, root: Path) -> None:
    """Intel iGPU SR-IOV on Debian 13: status, diagnosis and configuration.

    Settings live in /etc/default/irisxe-sriov; every other file is derived from it.
    Exit status: 0 fine, 1 a failed check or operation, 2 bad input, 130 interrupted.
    """
    seen = context.obj
    context.obj = Paths(root)
    if isinstance(seen, list):  # Group.main's hook: the paths for its error messages
        seen.append(context)


def paths_of(context: click.Context) -> Paths:
    paths = context.obj
    assert isinstance(paths, Paths)
    return paths


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Print the status as JSON.")
@click.pass_context
def status(context: click.Context, as_json: bool) -> None:
    """Show the PF, its VFs with driver and role, the settings, and what differs from
    what is running (a pending reboot)."""
    reading.status(paths_of(context), as_json)


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Print the findings as JSON.")
@click.pass_context
def doctor(context: click.Context, as_json: bool) -> None:
    """Check every requirement and known trap; exit 1 when a check fails."""
    reading.doctor(paths_of(context), as_json)


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Print the kernels as JSON.")
@click.option(
    "--notify",
    metavar="RELEASE",
    help="For the kernel hooks: say which SR-IOV provider kernel RELEASE has; when it has "
    "none for the configured driver, warn on stderr and leave a reboot notice. Always "
    "exits 0.",
)
@click.pass_context
def kernels(context: click.Context, as_json: bool, notify: str | None) -> None:
    """Show every installed kernel with its SR-IOV provider (the pinned DKMS build or the
    kernel's own xe), the DKMS state of the pinned driver, and which kernel boots next."""
    reading.kernels(paths_of(context), as_json, notify)


@cli.group()
def vfs() -> None:
    """Create, count and bind the VFs now, without a reboot."""


FORCE = click.option(
    "--force",
    is_flag=True,
    help="Go on even when a guest uses a VF that would be destroyed or rebound.",
)


def restore_now(paths: Paths, force: bool) -> None:
    from irisxe_sriov import apply, process, situation
    from irisxe_sriov import vfs as runtime

    read = situation.load(paths)
    runner = process.Runner(live=paths.is_host, echo=echo)
    with apply.locked(paths):
        runtime.restore(paths, read.settings, runner, echo, force=force, machine=read.machine)


@vfs.command("restore")
@FORCE
@click.pass_context
def vfs_restore(context: click.Context, force: bool) -> None:
    """Make the running VFs what the settings say: autoprobe off, the configured number of
    VFs, each bound per its role, the PF pinned to its driver. Idempotent; the boot unit and
    the udev rule run it."""
    restore_now(paths_of(context), force)


def refuse_busy(paths: Paths, numbers: list[int] | None, action: str) -> None:
    """Exit 1 naming the guest when a VF (all of them for None) is in use."""
    from irisxe_sriov import situation
    from irisxe_sriov import vfs as runtime

    read = situation.load(paths)
    chosen = [vf for vf in read.host.vfs if numbers is None or vf.number in numbers]
    runtime.refuse_if_in_use(paths, chosen, False, action)


@vfs.command("set")
@click.argument("count", metavar="N")
@FORCE
@click.pass_context
def vfs_set(context: click.Context, count: str, force: bool) -> None:
    """Change the number of VFs now and in the settings (0-7). Changing the count destroys
    every VF first: refused while a guest uses one, unless --force."""
    from irisxe_sriov import settings, situation

    paths = paths_of(context)
    situation.load(paths, settings.parse_assignments([f"num_vfs={count}"]))
    if not force:
        refuse_busy(paths, None, f"change the VF count to {count}")
    carry_out(paths, False, {"num_vfs": count})
    restore_now(paths, force=True)


@vfs.command("roles")
@click.argument("roles", nargs=-1, metavar="[N:ROLE...]")
@FORCE
@click.pass_context
def vfs_roles(context: click.Context, roles: tuple[str, ...], force: bool) -> None:
    """Show the role of every VF, or set roles (vfio, host, none) and rebind now."""
    from irisxe_sriov import host, situation
    from irisxe_sriov import settings as settings_module

    paths = paths_of(context)
    read = situation.load(paths)
    if not roles:
        state = host.scan(paths, read.settings.pf)
        present = {vf.number: vf for vf in state.vfs}
        echo(f"{'VF':<3} {'address':<13} {'role':<5} {'driver':<9} expected")
        for number, role in read.settings.roles():
            vf = present.get(number)
            driver = (vf.driver or "-") if vf else "absent"
            expected = read.settings.expected_driver(number, state.pf.driver) or "-"
            address = read.settings.vf_address(number)
            echo(f"{number:<3} {address:<13} {role:<5} {driver:<9} {expected}")
        return
    problems: list[str] = []
    changes = settings_module.parse_roles(" ".join(roles), problems)
    if problems:
        raise settings_module.SettingsError(*problems)
    merged = {**read.settings.vf_roles, **changes}
    if not force:
        refuse_busy(paths, sorted(changes), "rebind it")
    carry_out(paths, False, {"vf_roles": settings_module.format_roles(merged)})
    restore_now(paths, force=True)


TARGET = click.argument("target", type=click.Choice(Target.values()))
VF_OPTION = click.option(
    "--vf",
    "requested",
    metavar="N|ADDRESS",
    help="The VF to use (number or PCI address); default: the lowest free "
    "VF of a suitable role. The PF and absent VFs are refused.",
)


def pick(paths: Paths, target: str, requested: str | None) -> tuple[Any, Any, Any]:
    from irisxe_sriov import attach, situation

    read = situation.load(paths)
    assigned = attach.read_assignments(paths)
    choice = attach.choose(read.settings, read.host, assigned, requested, target)
    return read.settings, read.host, choice


def snippet_text(paths: Paths, target: str, name: str | None, requested: str | None) -> str:
    """What `snippet` prints: the configuration or arguments that give the guest a VF."""
    import shlex

    from irisxe_sriov import attach

    if not Target(target).is_vm:
        from irisxe_sriov import situation

        read = situation.load(paths)
        node = attach.render_node_for_containers(read.settings, read.host)
        gid = attach.group_id(attach.read_group_file(paths), "render")
        return shlex.join(attach.container_flags(target, node, gid))
    current, _, choice = pick(paths, target, requested)
    if target == Target.LIBVIRT:
        return attach.hostdev_xml(choice).rstrip("\n")
    if target == Target.QEMU:
        return f"-device vfio-pci,host={choice.address}"
    if name is None:
        raise attach.AttachError(f"{target} needs the guest's name (Proxmox VE: the VM id)")
    return shlex.join(attach.guest_command(paths, target, name, choice, current.pf))


@cli.command()
@TARGET
@click.argument("name", required=False)
@VF_OPTION
@click.pass_context
def snippet(context: click.Context, target: str, name: str | None, requested: str | None) -> None:
    """Print what gives a guest a VF: libvirt <hostdev> XML, QEMU's -device argument, the qm
    or incus command (NAME: the VM id or instance), or docker/podman flags for the render
    node (containers share the host kernel: they get no PCI device)."""
    echo(snippet_text(paths_of(context), target, name, requested))


@cli.command("attach")
@TARGET
@click.argument("name")
@VF_OPTION
@click.option("--connect", "uri", metavar="URI", help="libvirt connection URI (virsh -c).")
@DRY_RUN
@click.pass_context
def attach_command(
    context: click.Context,
    target: str,
    name: str,
    requested: str | None,
    uri: str | None,
    dry_run: bool,
) -> None:
    """Give guest NAME a VF: libvirt (virsh attach-device --config, and --live when it
    runs), Proxmox VE (qm set --hostpciN, the next free N) or Incus (incus config device
    add). QEMU, docker and podman have no configuration to change: see 'snippet'."""
    from irisxe_sriov import attach, process

    paths = paths_of(context)
    if target == Target.QEMU or not Target(target).is_vm:
        raise attach.AttachError(
            f"{target} has no configuration to attach to: use 'irisxe-sriov-ctl snippet "
            f"{target}' and add the arguments to the command line"
        )
    current, _, choice = pick(paths, target, requested)
    # test:/// connections never touch this machine, so they run under any root
    live = not dry_run and (paths.is_host or (uri or "").startswith("test:///"))
    runner = process.Runner(live=live, echo=echo)
    if target == Target.LIBVIRT:
        attach.to_libvirt(runner, ["virsh", *(["-c", uri] if uri else [])], name, choice)
    else:
        command = attach.guest_command(paths, target, name, choice, current.pf)
        if runner.run(command) != 0:
            raise errors.Failed(f"{command[0]} failed")
    echo(f"VF {choice.number} ({choice.address}) attached to {name}")


@cli.group()
def config() -> None:
    """Show or change the settings in /etc/default/irisxe-sriov."""


@config.command("show")
@click.option("--json", "as_json", is_flag=True, help="Print the settings as JSON.")
@click.pass_context
def config_show(context: click.Context, as_json: bool) -> None:
    """Show the settings (defaults where the file is missing)."""
    from irisxe_sriov import situation

    paths = paths_of(context)
    read = situation.load(paths)
    values = read.settings.values()
    if as_json:
        exists = read.settings_text is not None
        print_json({**values, "num_vfs": read.settings.num_vfs, "file_exists": exists})
        return
    for name, value in values.items():
        echo(f"{name}={value}")
    if read.settings_text is None:
        echo(f"# {paths.display(paths.settings)} does not exist: these are the defaults")


def carry_out(paths: Paths, dry_run: bool, values: dict[str, str] | None) -> None:
    """Validate, plan and (unless dry_run) write: the common part of apply and config set."""
    from irisxe_sriov import apply, configure, process, render, situation
    from irisxe_sriov import settings as settings_file

    def plan_now() -> Any:
        read = situation.load(paths, values)
        text = None
        if values:
            if read.settings_text is None:
                text = render.settings_file(read.settings)
            else:
                text = settings_file.update_text(read.settings_text, values)
        return configure.make_plan(paths, read, text)

    plan = plan_now()
    runner = process.Runner(live=paths.is_host and not dry_run, echo=echo)
    for note in plan.notes:
        echo(f"note: {note}")
    if dry_run:
        apply.show(plan, echo)
        for command in plan.commands:
            runner.run(command)
        if plan.empty:
            echo("nothing to change")
        elif plan.reboot:
            echo("a reboot would be needed")
        return
    with apply.locked(paths):
        apply.recover(paths, echo)  # an apply killed midway completes first
        plan = plan_now()  # again under the lock: another apply may have run meanwhile
        if plan.empty:
            echo("nothing to change")
            return
        apply.execute(plan, paths, runner, echo)


@config.command("set")
@click.argument("assignments", nargs=-1, required=True, metavar="KEY=VALUE...")
@DRY_RUN
@click.pass_context
def config_set(context: click.Context, assignments: tuple[str, ...], dry_run: bool) -> None:
    """Change settings and apply them.

    Keys: driver (i915|xe), num_vfs (0-7), bootloader (auto|grub|systemd-boot|proxmox|none),
    vf_roles ("N:ROLE ..." with ROLE vfio|host|none), pf (PCI address of the GPU).
    Every value is checked first; on any error nothing is written.
    """
    from irisxe_sriov import settings

    values = settings.parse_assignments(list(assignments))
    carry_out(paths_of(context), dry_run, values)


@cli.command("apply")
@DRY_RUN
@click.pass_context
def apply_command(context: click.Context, dry_run: bool) -> None:
    """Write every file derived from the settings, then run what the changes need
    (update-grub, update-initramfs, proxmox-boot-tool)."""
    carry_out(paths_of(context), dry_run, None)


def main() -> None:
    cli(prog_name=PROG)
