"""irisxe-sriov-ctl: thin click commands over the irisxe_sriov modules.

Imports of jinja2 and python-debian stay inside the commands that need them, so the
read-only commands start fast (make bench).
"""

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from irisxe_sriov import __version__, errors
from irisxe_sriov.choices import Target
from irisxe_sriov.cli import failure, reports
from irisxe_sriov.paths import Paths
from irisxe_sriov.runtime.pvecluster import DEFAULT_MAPPING

ROOT_OPTION = "--root"
ROOT_VARIABLE = "IRISXE_SRIOV_ROOT"

if TYPE_CHECKING:  # types only: the modules load inside the commands that use them
    from irisxe_sriov.machine.snapshot import Cluster
    from irisxe_sriov.report.judgement import HoldRequest, Verdicts
    from irisxe_sriov.runtime.attach import Choice
    from irisxe_sriov.write.plan import Plan

PROG = failure.PROG


def echo(line: str) -> None:
    failure.Output.say(line)


print_json = reports.print_json


DRY_RUN = click.option(
    "--dry-run",
    "-n",
    is_flag=True,
    help="Print the changes as diffs and the commands; change nothing.",
)
# for the commands that change nothing but through a command of another tool
DRY_RUN_COMMANDS = click.option(
    "--dry-run",
    "-n",
    is_flag=True,
    help="Print the commands that would run; change nothing.",
)


class Interrupted(Exception):
    """Ctrl-C inside a command, carried past click's main, which would print an empty line
    on stderr before its Abort: failure.py's one line is all."""


def usage_problem(error: click.UsageError) -> str:
    """A usage error in our one style: click's words, what is allowed where click does not
    say it (the commands of a group), and where the help is."""
    message = error.format_message().rstrip(".")
    context = error.ctx
    if context is None:
        return message
    if isinstance(context.command, click.Group) and message.startswith("No such command"):
        commands = ", ".join(context.command.list_commands(context))
        message = f"{message}: the commands are {commands}"
    return f"{message} (see '{context.command_path} --help')"


def report_error(error: BaseException, paths: Paths | None, as_json: bool) -> int:
    """Every error as one line per problem (failure.report): click's usage errors in
    click's words (exit 2), everything else as failure.py words it."""
    if isinstance(error, click.UsageError):
        problems, code = [usage_problem(error)], error.exit_code
    elif isinstance(error, click.ClickException):
        problems, code = [error.format_message()], error.exit_code
    elif isinstance(error, click.Abort | Interrupted):
        problems, code = failure.classify(KeyboardInterrupt(), paths)
    else:
        problems, code = failure.classify(error, paths)
    failure.report(problems, int(code), as_json)
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
            result = super().main(
                argv, prog_name, complete_var, standalone_mode=False, **extra, obj=context
            )
            if not failure.Output.gone:
                return result
            code = int(errors.ExitStatus.FAILED)  # the work was done; its reader went away
        except click.exceptions.Exit as done:
            code = done.exit_code
        except SystemExit as done:
            # click's own: a reader gone (EPIPE) is exit 1 with stdout pacified, as
            # failure.reader_gone does
            raise done
        except BaseException as error:  # click's top-level handler: failure.py does the rest
            if failure.debugging():
                raise
            paths = context[0].obj if context and isinstance(context[0].obj, Paths) else None
            code = report_error(error, paths, as_json)
        if failure.Output.gone and code == 0:
            code = int(errors.ExitStatus.FAILED)
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
    ROOT_OPTION,
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    default="/",
    show_default=True,
    envvar=ROOT_VARIABLE,
    help=f"Work on the system under DIR (env {ROOT_VARIABLE}). Under a root other than / "
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
    reports.status(paths_of(context), as_json)


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Print the findings as JSON.")
@click.option("-v", "--verbose", is_flag=True, help="List the passed and skipped checks too.")
@click.pass_context
def doctor(context: click.Context, as_json: bool, verbose: bool) -> None:
    """Check every requirement and known trap: a summary line, then the problems with
    their fixes; exit 1 when a check fails."""
    reports.doctor(paths_of(context), as_json, verbose)


@cli.command()
@click.option(
    "--textfile",
    is_flag=True,
    help="Write them into node-exporter's textfile directory "
    "(/var/lib/prometheus/node-exporter/irisxe-sriov.prom), replaced whole; nothing is "
    "written where the directory does not exist.",
)
@click.pass_context
def metrics(context: click.Context, textfile: bool) -> None:
    """Print the SR-IOV health in Prometheus' text format: VFs configured and existing,
    each VF's driver against its role, the providers of the running and the next kernel,
    the kernel hold, a pending reboot and doctor's failed checks."""
    reports.metrics(paths_of(context), textfile)


@cli.group(invoke_without_command=True)
@click.option("--json", "as_json", is_flag=True, help="Print the kernels as JSON.")
@click.option(
    "--notify",
    metavar="RELEASE",
    help="For the kernel hooks: say which SR-IOV provider the newly installed kernel "
    "RELEASE has, warn on stderr when it has none for the configured driver, and hold the "
    "boot on the newest kernel that has one (kernel_hold=auto). Never asks for a reboot; "
    "always exits 0.",
)
@click.option(
    "--removed",
    metavar="RELEASE",
    help="For the kernel hooks: kernel RELEASE was removed; hold or release the boot "
    "again. Always exits 0.",
)
@click.option(
    "--boot",
    "at_boot",
    is_flag=True,
    help="For the boot unit irisxe-sriov-hold.service: release a kernel hold whose reason "
    "is gone (never take one). Always exits 0.",
)
@click.pass_context
def kernels(
    context: click.Context,
    as_json: bool,
    notify: str | None,
    removed: str | None,
    at_boot: bool,
) -> None:
    """Show every installed kernel with its SR-IOV provider (the pinned DKMS build or the
    kernel's own xe), the DKMS state of the pinned driver, and which kernel boots next and
    why (a kernel hold). `kernels hold RELEASE` and `kernels release` hold and release the
    boot by hand."""
    if context.invoked_subcommand is not None:
        return
    paths = paths_of(context)
    if notify is None and removed is None and not at_boot:
        reports.kernels(paths, as_json)
        return
    if notify is not None:
        reports.kernels(paths, as_json, notify)
    hold_in_hook(paths, release_only=at_boot)


def hold_in_hook(paths: Paths, release_only: bool = False) -> None:
    """The kernel hooks' hold: where the hold must change (taken, moved or released;
    `release_only`, at boot: released), what apply would write now, the hold included;
    nothing else otherwise. It never announces a reboot (the kernel's own hooks do, and
    the hold decides where it lands) and never fails the kernel's installation or removal,
    nor the boot: a problem is one warning line."""
    from irisxe_sriov.machine import gather, snapshot
    from irisxe_sriov.report import judgement

    try:
        verdicts = judgement.judge(gather.gather(paths, snapshot.Depth.CHANGE))
        if verdicts.hold.record == verdicts.snapshot.hold_record:
            return
        if release_only and verdicts.hold.record is not None:
            return
        carry_out(paths, False, None, quiet=True, announce=False)
    except Exception as error:
        problems, _ = failure.classify(error, paths)
        for line in problems:
            print(
                f"irisxe-sriov: warning: the kernel hold was not updated: {line}", file=sys.stderr
            )


@kernels.command("hold")
@click.argument("release")
@DRY_RUN
@click.pass_context
def kernels_hold(context: click.Context, release: str, dry_run: bool) -> None:
    """Hold the boot on installed kernel RELEASE (it must have an SR-IOV provider of the
    configured driver) until 'kernels release'."""
    from irisxe_sriov.report import judgement

    paths = paths_of(context)
    verdicts = verdicts_of(paths, "kernels")
    found = {k.release: k for k in verdicts.kernels}
    kernel = found.get(release)
    if kernel is None:
        listed = ", ".join(found) or "none"
        raise errors.BadInput(f"{release!r} is no installed kernel: installed are {listed}")
    if verdicts.settings.driver not in kernel.drivers:
        serving = [k.release for k in verdicts.kernels if verdicts.settings.driver in k.drivers]
        raise errors.BadInput(
            f"{release} has no SR-IOV provider for {verdicts.settings.driver}: hold on one "
            f"that has: {', '.join(serving) or 'none is installed'}"
        )
    carry_out(paths, dry_run, None, request=judgement.HoldRequest(release))


@kernels.command("release")
@DRY_RUN
@click.pass_context
def kernels_release(context: click.Context, dry_run: bool) -> None:
    """Release a kernel hold now: the newest kernel boots next. With kernel_hold=auto the
    next kernel installation or apply may hold again while the newest has no provider;
    kernel_hold=off keeps it released."""
    from irisxe_sriov.report import judgement

    # exactly what the admin asked for: the newest kernel boots, with SR-IOV or without
    carry_out(paths_of(context), dry_run, None, force=True, request=judgement.HoldRequest(None))


@cli.group()
def vfs() -> None:
    """Create, count and bind the VFs now, without a reboot."""


FORCE = click.option(
    "--force",
    is_flag=True,
    help="Go on even when a guest or a process uses a VF that would be destroyed or rebound.",
)


def verdicts_of(paths: Paths, depth: str, values: dict[str, str] | None = None) -> "Verdicts":
    """Gather the root at `depth` and judge it: what every command starts from."""
    from irisxe_sriov.machine import gather, snapshot
    from irisxe_sriov.report import judgement

    return judgement.judge(gather.gather(paths, snapshot.Depth(depth), values))


def restore_now(paths: Paths, force: bool, wait: float = 0.0) -> None:
    from irisxe_sriov import process
    from irisxe_sriov.runtime import vfs as runtime
    from irisxe_sriov.write import apply

    runner = process.Runner(live=paths.is_host, echo=echo)
    verdicts_of(paths, "restore")  # bad settings are refused before anything is touched
    with apply.locked(paths, echo):
        verdicts = verdicts_of(paths, "restore")
        pf = verdicts.host.pf
        # only while no driver has bound the GPU: any driver's bind ends the wait
        waits = (
            wait > 0
            and verdicts.machine.role == "host"
            and pf.present
            and pf.platform is not None
            and pf.driver is None
        )
        if waits and runtime.wait_for_driver(paths, pf.address, wait, echo):
            verdicts = verdicts_of(paths, "restore")
        runtime.restore(paths, verdicts, runner, echo, force=force)


@vfs.command("restore")
@FORCE
@click.option(
    "--wait",
    "wait",
    type=click.FloatRange(0, 600),
    default=0,
    metavar="SECONDS",
    help="When the GPU driver has not bound the PF yet, wait up to SECONDS for it (the "
    "boot unit waits 60, so that guests started after it find their VFs).",
)
@click.pass_context
def vfs_restore(context: click.Context, force: bool, wait: float) -> None:
    """Make the running VFs what the settings say: autoprobe off (on where every VF has
    role host), the configured number of VFs, their GPU time share (sched), each bound per
    its role, the PF pinned to its driver. Idempotent; the boot unit and the udev rule run
    it. Exits 1 naming each VF that could not be made and each scheduling write the driver
    refused."""
    restore_now(paths_of(context), force, wait)


def cluster_of(verdicts: "Verdicts") -> "Cluster":
    """This node's Proxmox VE cluster as the change depth read it (snapshot.PARTS)."""
    cluster = verdicts.snapshot.cluster
    if cluster is None:
        raise errors.Failed("internal error: the Proxmox VE cluster was not read")
    return cluster


def refuse_busy(verdicts: "Verdicts", numbers: list[int] | None, action: str) -> None:
    """Exit 1 naming the user when a VF (all of them for None) is in use."""
    from irisxe_sriov.machine.snapshot import Usage
    from irisxe_sriov.runtime import vfs as runtime

    chosen = [vf for vf in verdicts.host.vfs if numbers is None or vf.number in numbers]
    known = verdicts.snapshot.usage or Usage({}, {})
    runtime.refuse_if_in_use(chosen, known, False, action)


@vfs.command("set")
@click.argument("count", metavar="N")
@FORCE
@click.pass_context
def vfs_set(context: click.Context, count: str, force: bool) -> None:
    """Change the number of VFs now and in the settings (0-7). Changing the count destroys
    every VF first: refused while a guest or a process uses one, unless --force."""
    from irisxe_sriov import settings

    paths = paths_of(context)
    values = settings.parse_assignments([f"num_vfs={count}"])
    verdicts = verdicts_of(paths, "change", values)
    if not force:
        refuse_busy(verdicts, None, f"change the VF count to {count}")
    carry_out(paths, False, values, force)
    restore_now(paths, force=True)


@vfs.command("roles")
@click.argument("roles", nargs=-1, metavar="[N:ROLE...]")
@FORCE
@click.pass_context
def vfs_roles(context: click.Context, roles: tuple[str, ...], force: bool) -> None:
    """Show the role of every VF, or set roles (vfio, host, none) and rebind now."""
    from irisxe_sriov import settings as settings_module

    paths = paths_of(context)
    verdicts = verdicts_of(paths, "change")
    current = verdicts.settings
    if not roles:
        present = {vf.number: vf for vf in verdicts.host.vfs}
        echo(f"{'VF':<3} {'address':<13} {'role':<5} {'driver':<9} expected")
        for number, role in current.roles():
            vf = present.get(number)
            driver = (vf.driver or "-") if vf else "absent"
            expected = current.expected_driver(number, verdicts.host.pf.driver) or "-"
            address = current.vf_address(number)
            echo(f"{number:<3} {address:<13} {role:<5} {driver:<9} {expected}")
        return
    problems: list[str] = []
    changes = settings_module.parse_roles(" ".join(roles), problems)
    if problems:
        raise settings_module.SettingsError(*problems)
    merged = {**current.vf_roles, **changes}
    if not force:
        refuse_busy(verdicts, sorted(changes), "rebind it")
    carry_out(paths, False, {"vf_roles": settings_module.format_roles(merged)}, force)
    restore_now(paths, force=True)


TARGET = click.argument("target", metavar="TARGET", type=click.Choice(Target.values()))
VF_OPTION = click.option(
    "--vf",
    "requested",
    metavar="N|ADDRESS",
    help="The VF to use (number or PCI address); default: the lowest free "
    "VF of a suitable role. The PF and absent VFs are refused.",
)


def pick_for(
    paths: Paths, target: str, name: str | None, requested: str | None
) -> tuple["Verdicts", "Choice"]:
    """The verdicts and the VF for guest `name` of `target` (an Incus container takes a
    host-role VF, a VM a vfio or unbound one)."""
    from irisxe_sriov.runtime import attach

    verdicts = verdicts_of(paths, "change")
    assigned = attach.read_assignments(paths)
    for_vm = None
    if target == Target.INCUS and name is not None:
        for_vm = attach.incus_kind(paths, name).is_vm
    choice = attach.choose(
        verdicts.settings, verdicts.host, assigned, requested, target, for_vm=for_vm
    )
    return verdicts, choice


def snippet_text(paths: Paths, target: str, name: str | None, requested: str | None) -> str:
    """What `snippet` prints: the configuration or arguments that give the guest a VF."""
    import shlex

    from irisxe_sriov.runtime import attach

    if not Target(target).is_vm:
        verdicts = verdicts_of(paths, "change")
        node = attach.render_node_for_containers(verdicts.settings, verdicts.host)
        gid = attach.group_id(attach.read_group_file(paths), "render")
        return shlex.join(attach.container_flags(target, node, gid))
    verdicts, choice = pick_for(paths, target, name, requested)
    if target == Target.LIBVIRT:
        return attach.hostdev_xml(choice).rstrip("\n")
    if target == Target.QEMU:
        return f"-device vfio-pci,host={choice.address}"
    if name is None:
        raise attach.AttachError(f"{target} needs the guest's name (Proxmox VE: the VM id)")
    plan = attach.guest_plan(paths, target, name, choice, verdicts.settings.pf)
    return "\n".join([shlex.join(plan.argv), *(f"# {note}" for note in plan.notes)])


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
@click.option(
    "--mapping",
    metavar="M",
    help="Proxmox VE: the cluster-wide PCI mapping M instead of a VF of this node "
    "(see 'cluster proxmox sync'), so that the VM may start on any node of the mapping.",
)
@DRY_RUN_COMMANDS
@click.pass_context
def attach_command(
    context: click.Context,
    target: str,
    name: str,
    requested: str | None,
    uri: str | None,
    mapping: str | None,
    dry_run: bool,
) -> None:
    """Give guest NAME a VF: libvirt (virsh attach-device --config, and --live when it
    runs), Proxmox VE (qm set --hostpciN, the next free N; with --mapping a cluster
    mapping) or Incus (incus config device add). QEMU, docker and podman have no
    configuration to change: see 'snippet'."""
    from irisxe_sriov import process
    from irisxe_sriov.runtime import attach

    paths = paths_of(context)
    if target == Target.QEMU or not Target(target).is_vm:
        raise attach.AttachError(
            f"{target} has no configuration to attach to: use 'irisxe-sriov-ctl snippet "
            f"{target}' and add the arguments to the command line"
        )
    if mapping is not None:
        if uri is not None:
            raise attach.AttachError("--connect is for libvirt, --mapping for proxmox")
        attach_mapping(paths, target, name, requested, mapping, dry_run)
        return
    verdicts, choice = pick_for(paths, target, name, requested)
    # test:/// connections never touch this machine, so they run under any root
    live = not dry_run and (paths.is_host or (uri or "").startswith("test:///"))
    runner = process.Runner(live=live, echo=echo)
    if target == Target.LIBVIRT:
        attach.to_libvirt(runner, ["virsh", *(["-c", uri] if uri else [])], name, choice)
    else:
        plan = attach.guest_plan(paths, target, name, choice, verdicts.settings.pf)
        for note in plan.notes:
            echo(f"note: {note}")
        if runner.run(plan.argv) != 0:
            raise errors.Failed(f"{plan.argv[0]} failed")
    done = "attached" if live else "would attach"
    if live:
        echo(f"VF {choice.number} ({choice.address}) attached to {name}")
    else:
        echo(f"{done} VF {choice.number} ({choice.address}) to {name}: nothing was changed")


def attach_mapping(
    paths: Paths, target: str, vmid: str, requested: str | None, name: str, dry_run: bool
) -> None:
    """attach proxmox VMID --mapping NAME: the mapping must hold this node's VFs."""
    import re

    from irisxe_sriov import process
    from irisxe_sriov.runtime import attach, pvecluster

    if target != Target.PROXMOX or requested is not None:
        raise attach.AttachError(
            "--mapping is for proxmox alone, without --vf: Proxmox VE picks a free device "
            "of the mapping on the node the VM starts on"
        )
    pvecluster.check_name(name)
    cluster = cluster_of(verdicts_of(paths, "change"))
    node = pvecluster.check_node(cluster.node)
    found = cluster.config.mappings.get(name) if cluster.config else None
    if found is None or not found.entries_of(node):
        raise attach.AttachError(
            f"mapping {name!r} has no entry for node {node}: run 'irisxe-sriov-ctl cluster "
            f"proxmox sync --mapping {name}' on it first"
        )
    conf = attach.read_proxmox_conf(paths, vmid)
    if re.search(rf"^hostpci\d+:\s*mapping={re.escape(name)}(,|\s*$)", conf.split("\n[")[0], re.M):
        raise attach.Unavailable(f"VM {vmid} has mapping {name} already")
    plan = attach.proxmox_plan(vmid, f"mapping={name}", conf)
    for note in plan.notes:
        echo(f"note: {note}")
    live = not dry_run and paths.is_host
    if process.Runner(live=live, echo=echo).run(plan.argv) != 0:
        raise errors.Failed(f"{plan.argv[0]} failed")
    if live:
        echo(f"mapping {name} attached to {vmid}")
    else:
        echo(f"would attach mapping {name} to {vmid}: nothing was changed")


@cli.group()
def cluster() -> None:
    """Share this machine's VFs with a cluster."""


@cluster.group("proxmox")
def cluster_proxmox() -> None:
    """Proxmox VE cluster-wide PCI resource mappings."""


@cluster_proxmox.command("sync")
@click.option(
    "--mapping",
    "name",
    metavar="M",
    default=DEFAULT_MAPPING,
    show_default=True,
    help="The mapping to hold this node's VFs of role vfio.",
)
@DRY_RUN_COMMANDS
@click.pass_context
def cluster_proxmox_sync(context: click.Context, name: str, dry_run: bool) -> None:
    """Make mapping M hold this node's VFs of role vfio, one entry each (node, path,
    vendor:device, IOMMU group, subsystem id), through pvesh; other nodes' entries,
    this node's other devices and other mappings stay as they are. A second run changes
    nothing."""
    from irisxe_sriov import process
    from irisxe_sriov.choices import VfRole
    from irisxe_sriov.machine import reader
    from irisxe_sriov.runtime import pvecluster

    paths = paths_of(context)
    pvecluster.check_name(name)
    verdicts = verdicts_of(paths, "change")
    cluster = cluster_of(verdicts)
    if cluster.problem:
        raise errors.Failed(f"{cluster.problem}: the mappings cannot be read")
    node = pvecluster.check_node(cluster.node)
    roles = dict(verdicts.settings.roles())
    ours = []
    for vf in verdicts.host.vfs:
        if roles.get(vf.number) != VfRole.VFIO or not vf.present:
            continue
        where = paths.pci_device(vf.address)
        vendor = reader.parse_hex_id(reader.read_text(where / "subsystem_vendor", 64))
        device = reader.parse_hex_id(reader.read_text(where / "subsystem_device", 64))
        ours.append(
            pvecluster.Entry(
                node=node,
                path=vf.address,
                id=f"{vf.vendor}:{vf.device}",
                iommugroup=vf.iommu_group,
                subsystem_id=f"{vendor}:{device}" if vendor and device else None,
            )
        )
    config = cluster.config or pvecluster.Config({}, pvecluster.EMPTY_DIGEST)
    argv = pvecluster.sync_argv(name, config, node, verdicts.settings.pf, ours)
    if argv is None:
        echo(f"mapping {name} holds node {node}'s {len(ours)} VFs of role vfio: nothing to change")
        return
    live = not dry_run and paths.is_host
    if process.Runner(live=live, echo=echo).run(argv) != 0:
        raise errors.Failed(f"pvesh failed: mapping {name} is as it was")
    done = "holds" if live else "would hold"
    echo(f"mapping {name} {done} node {node}'s {len(ours)} VFs of role vfio")


def settings_keys() -> list[str]:
    from irisxe_sriov.settings import KEYS

    return list(KEYS)


@cli.group()
def config() -> None:
    """Show or change the settings in /etc/default/irisxe-sriov."""


@config.command("export")
@click.option(
    "--preseed",
    is_flag=True,
    required=True,
    help="As debconf-set-selections lines (the only format so far).",
)
@click.pass_context
def config_export(context: click.Context, preseed: bool) -> None:
    """Print the settings as the debconf selections that give another machine the same
    ones at its first install (debconf-set-selections, Ansible's debconf module)."""
    from irisxe_sriov.cli import debconf_ui

    echo(debconf_ui.preseed(verdicts_of(paths_of(context), "change").settings).rstrip("\n"))


@config.command("show")
@click.option("--json", "as_json", is_flag=True, help="Print the settings as JSON.")
@click.pass_context
def config_show(context: click.Context, as_json: bool) -> None:
    """Show the settings (where the file is missing: the defaults this machine gets, as
    debconf would propose them)."""
    from irisxe_sriov.report import contract, status

    paths = paths_of(context)
    verdicts = verdicts_of(paths, "change")
    values = verdicts.settings.values()
    exists = verdicts.snapshot.settings_file.text is not None
    if as_json:
        shown: contract.ConfigDoc = {
            "schema_version": contract.SCHEMA_VERSION,
            **status.settings_document(verdicts),
        }
        print_json(shown)
        return
    for name, value in values.items():
        echo(f"{name}={value}")
    if not exists:
        echo(f"# {paths.display(paths.settings)} does not exist: these are the defaults")


FORCE_BOOT = click.option(
    "--force",
    is_flag=True,
    help="Write the configuration even where the kernel that boots next could then make "
    "no VFs (a driver it does not offer).",
)


class Refused(errors.Failed):
    """A change refused because the next boot would make fewer VFs (docs/notes.md, "Never take
    working VFs away"); --force writes it anyway."""


def carry_out(
    paths: Paths,
    dry_run: bool,
    values: dict[str, str] | None,
    force: bool = False,
    request: "HoldRequest | None" = None,
    quiet: bool = False,
    announce: bool = True,
) -> None:
    """Validate, plan and (unless dry_run) write: the common part of apply, config set and
    the kernel hold. A configuration the kernel that boots next cannot serve is refused
    unless `force`; `request` is the admin's `kernels hold`/`release`; `quiet`: say
    nothing when there is nothing to change (the kernel hooks); `announce`: whether a
    change that needs a reboot leaves Debian's reboot notice (the hooks leave none)."""
    from irisxe_sriov import process
    from irisxe_sriov import settings as settings_file
    from irisxe_sriov.machine import gather, snapshot
    from irisxe_sriov.report import judgement
    from irisxe_sriov.write import apply, configure, render

    def plan_now() -> tuple["Plan", str | None, bool]:
        gathered = gather.gather(paths, snapshot.Depth.CHANGE, values)
        verdicts = judgement.judge(gathered, request=request)
        text = None
        if values:
            existing = verdicts.snapshot.settings_file.text
            if existing is None:
                text = render.settings_file(verdicts.settings)
            else:
                text = settings_file.update_text(existing, values)
        plan = configure.make_plan(paths, verdicts, text)
        # only a change of what the next boot loads can lose VFs there
        refusal = None if not plan.reboot or force else judgement.refusal_to_boot(verdicts)
        return plan, refusal, judgement.reboot_lands_on_vfs(verdicts)

    plan, refusal, _ = plan_now()
    runner = process.Runner(live=paths.is_host and not dry_run, echo=echo)
    for note in plan.notes:
        echo(f"note: {note}")
    if dry_run:
        if refusal is not None:
            echo(f"note: refused without --force: {refusal}")
        apply.show(plan, echo)
        for command in plan.commands:
            runner.run(command)
        if plan.empty:
            echo("nothing to change")
        elif plan.reboot:
            echo("a reboot would be needed")
        return
    if refusal is not None:
        raise Refused(refusal)
    with apply.locked(paths, echo):
        apply.recover(paths, echo)  # an apply killed midway completes first
        plan, refusal, lands = plan_now()  # again under the lock: another run may have been
        if refusal is not None:
            raise Refused(refusal)
        if plan.empty:
            if not quiet:
                echo("nothing to change")
            return
        if plan.reboot and not lands:
            echo("no reboot notice: the kernel that boots next has no SR-IOV provider")
        apply.execute(plan, paths, runner, echo, announce=announce and lands)


def complete_assignment(
    context: click.Context, parameter: click.Parameter, incomplete: str
) -> list[str]:
    """Shell completion of KEY=VALUE: the keys, and the values of a key with a closed set
    (settings.closed_values). bash splits "driver=x" into the words driver, = and x
    (COMP_WORDBREAKS holds "="), so the key is the word before an "=" word, or the last
    word when the one completed is that "="; shells that do not split get whole KEY=VALUE
    words."""
    from irisxe_sriov.settings import KEYS, closed_values

    values = closed_values()
    before = list(context.params.get("assignments") or ())
    if not incomplete and before[-1:] and before[-1] in KEYS:
        # right after "KEY=": bash's current word is "=", which click hands over as ""
        key, partial, prefix = before[-1], "", ""
    elif before[-2:-1] and before[-1] == "=":
        key, partial, prefix = before[-2], incomplete, ""
    elif "=" in incomplete:
        key, _, partial = incomplete.partition("=")
        prefix = f"{key}="
    else:
        # a key with a closed set completes to its KEY=VALUE words: their common prefix,
        # "KEY=", is what bash inserts, and a second TAB offers the values
        return [
            f"{key}={value}" if key in values else f"{key}="
            for key in KEYS
            if key.startswith(incomplete)
            for value in values.get(key, ("",))
        ]
    return [prefix + value for value in values.get(key, ()) if value.startswith(partial)]


@config.command("get")
@click.argument("key", metavar="KEY", type=click.Choice(settings_keys()))
@click.pass_context
def config_get(context: click.Context, key: str) -> None:
    """Print the value of setting KEY (where the file is missing: its default, as
    config show shows it)."""
    echo(verdicts_of(paths_of(context), "change").settings.values()[key])


@config.command("set")
@click.argument(
    "assignments",
    nargs=-1,
    required=True,
    metavar="KEY=VALUE...",
    shell_complete=complete_assignment,
)
@DRY_RUN
@FORCE_BOOT
@click.pass_context
def config_set(
    context: click.Context, assignments: tuple[str, ...], dry_run: bool, force: bool
) -> None:
    """Change settings and apply them.

    Keys: driver (i915|xe), num_vfs (0-7), bootloader (auto|grub|systemd-boot|proxmox|none),
    vf_roles ("N:ROLE ..." with ROLE vfio|host|none), pf (PCI address of the GPU),
    machine_role (auto|host|guest|none), kernel_hold (auto|off), sched
    (default|fair|pf-limited|custom), sched_exec_quantum_ms and sched_preempt_timeout_us
    (for custom: "pf:MS vf:MS N:MS ..."), sched_pf_priority (auto|low|normal|high). Every
    value is checked first; on any error nothing is written. A driver the kernel that
    boots next does not offer is refused (exit 1) unless --force. The sched keys also
    apply to the running PF and VFs at once, without touching the VF count.
    """
    from irisxe_sriov import settings

    values = settings.parse_assignments(list(assignments))
    # kernel_hold=off asks for exactly this: the newest kernel boots, SR-IOV or not
    asked = values.get("kernel_hold") == "off"
    paths = paths_of(context)
    carry_out(paths, dry_run, values, force or asked)
    if any(name.startswith("sched") for name in values):
        schedule_now(paths, dry_run, values)


def schedule_now(paths: Paths, dry_run: bool, values: dict[str, str]) -> None:
    """The scheduling settings, applied to the running functions at once."""
    from irisxe_sriov.runtime import vfs as runtime
    from irisxe_sriov.write import apply

    if dry_run:
        runtime.schedule_running(paths, verdicts_of(paths, "restore", values), echo, True)
        return
    with apply.locked(paths, echo):
        runtime.schedule_running(paths, verdicts_of(paths, "restore"), echo)


@cli.command("apply")
@DRY_RUN
@FORCE_BOOT
@click.pass_context
def apply_command(context: click.Context, dry_run: bool, force: bool) -> None:
    """Write every file derived from the settings, then run what the changes need
    (update-grub, update-initramfs, proxmox-boot-tool). A driver the kernel that boots
    next does not offer is refused (exit 1) unless --force."""
    carry_out(paths_of(context), dry_run, None, force)


def main() -> None:
    cli(prog_name=PROG)
