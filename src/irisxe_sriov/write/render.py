"""Settings + host state -> the content of every file this package manages. Pure.

Nothing here reads or writes the host's files (Jinja reads the package's own templates):
the caller passes what it read (the current
/etc/kernel/cmdline, the record of our earlier edits) and gets texts keyed by path.
"""

import shlex
from typing import NamedTuple

import jinja2

from irisxe_sriov import cmdline, pin, sched
from irisxe_sriov.choices import BootPath
from irisxe_sriov.kernels import hold
from irisxe_sriov.paths import DKMS_LAYER_DIR, Paths
from irisxe_sriov.settings import VFIO_DRIVER, Settings


class Rendered(NamedTuple):
    owned: dict[str, str]  # host path -> text, for files this package owns (purge deletes)
    edited: dict[str, str]  # host path -> text, for the admin's files edited in place
    tokens: tuple[str, ...]  # kernel parameters the configuration needs
    bootloader: BootPath | None  # the boot path written for, None when none was found


def environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("irisxe_sriov.write", "templates"),
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
        undefined=jinja2.StrictUndefined,
        autoescape=False,
    )
    env.filters["shell"] = shlex.quote
    return env


def dkms_override() -> str:
    """/etc/dkms/i915-sriov-dkms.conf, rendered from pin.HEADER_CHANGES at package build."""
    from irisxe_sriov.kernels import dkms

    return (
        environment()
        .get_template("dkms.conf.j2")
        .render(pin=pin, changes=dkms.CHANGES, layer=DKMS_LAYER_DIR)
    )


def postrm(text: str) -> str:
    """The postrm with what it may replay put in from the one source of each fact (debian/rules
    runs this at build): the case patterns of the files irisxe-sriov writes
    (paths.shell_patterns), the refresh commands apply records (plan.KNOWN_COMMANDS) and
    the globs of the temporaries a killed apply leaves (paths.temporary_globs) and the
    metrics file with its temporary (paths.METRICS_TEXTFILE).
    The postrm runs when this package's Python is gone, so it cannot ask."""
    from irisxe_sriov import paths
    from irisxe_sriov.write import plan

    files = "\t\t" + "|".join(paths.shell_patterns()) + ") return 0 ;;"
    commands = (
        "\t\t\t"
        + "|".join(f'"{shlex.join(command)}"' for command in sorted(plan.KNOWN_COMMANDS))
        + ") ;;"
    )
    temporaries = "\tset -- " + " ".join(paths.temporary_globs())  # unquoted: they expand
    metrics = f"\tset -- {paths.METRICS_TEXTFILE} {paths.temporary_glob(paths.METRICS_TEXTFILE)}"
    markers = (
        "#IRISXE_REPLAYABLE#",
        "#IRISXE_COMMANDS#",
        "#IRISXE_TEMPORARIES#",
        "#IRISXE_METRICS#",
    )
    for marker in markers:
        if text.count(marker) != 1:
            raise ValueError(f"the postrm has {text.count(marker)} {marker}, not one")
    return (
        text.replace("#IRISXE_REPLAYABLE#", files)
        .replace("#IRISXE_COMMANDS#", commands)
        .replace("#IRISXE_TEMPORARIES#", temporaries)
        .replace("#IRISXE_METRICS#", metrics)
    )


def settings_file(settings: Settings) -> str:
    """A fresh, commented /etc/default/irisxe-sriov."""
    profiles = {str(profile): timings for profile, timings in sched.PROFILES.items()}
    return (
        environment()
        .get_template("settings.j2")
        .render(values=settings.values(), pin=pin, profiles=profiles)
    )


def initial_cmdline(proc_cmdline: str | None) -> str:
    """/etc/kernel/cmdline made from the running one, without the boot loader's own
    BOOT_IMAGE= and initrd= (docs/notes.md, "Debian's boot paths")."""
    tokens = cmdline.split(proc_cmdline or "")
    kept = [t for t in tokens if cmdline.key_of(t) not in ("BOOT_IMAGE", "initrd")]
    return " ".join(kept) + "\n"


def edit_kernel_cmdline(
    current: str | None,
    proc_cmdline: str | None,
    record: str | None,
    wanted: list[str],
    first_line_only: bool,
) -> tuple[str, str]:
    """New /etc/kernel/cmdline text and the new record. Proxmox reads only the first line."""
    text = current if current is not None else initial_cmdline(proc_cmdline)
    first, newline, rest = text.partition("\n") if first_line_only else (text, "", "")
    result = cmdline.undo_then_apply(first, cmdline.parse_record(record), list(wanted))
    return result.line + newline + rest, cmdline.format_record(result.edits)


def purge_kernel_cmdline(text: str, record: str, first_line_only: bool) -> str:
    """What purge leaves of `text` (as just written with `record`): the admin's line."""
    first, newline, rest = text.partition("\n") if first_line_only else (text, "", "")
    return undo_kernel_cmdline(first, record) + newline + rest


def undo_kernel_cmdline(current: str, record: str | None) -> str:
    """/etc/kernel/cmdline with our recorded edits taken back."""
    return cmdline.undo(current, cmdline.parse_record(record))


def render(
    settings: Settings,
    paths: Paths,
    *,
    device: str | None,
    boot_path: BootPath | None,
    kernel_cmdline: str | None,
    proc_cmdline: str | None,
    cmdline_record: str | None,
    role: str = "host",
    binds: bool = True,
    held: hold.Record | None = None,
) -> Rendered:
    """Every file for `role` (roles.Role): a host gets the driver's options, the udev rule
    and, where `binds` (its PF is a supported Intel GPU: roles.Detected.binds), the VF
    count and driverctl bindings; a guest gets the driver's guest options and parameters
    only; a machine of role none gets nothing, and earlier files go (plan). `held`: the
    kernel hold, GRUB's GRUB_DEFAULT and our record of it (judgement.decide_hold)."""
    env = environment()
    wanted = cmdline.wanted_tokens(settings, device, role)
    other = settings.other_driver
    force_probe = next((t.partition("=")[2] for t in wanted if t.startswith("xe.force_probe=")), "")
    owned: dict[str, str] = {}
    edited: dict[str, str] = {}

    def put(path: str, template: str, **values: object) -> None:
        owned[path] = env.get_template(template).render(pin=pin, **values)

    if role != "none":
        put(
            paths.display(paths.modprobe_conf),
            "modprobe.conf.j2",
            driver=settings.driver,
            other=other,
            force_probe=force_probe,
            guest=role == "guest",
        )
    if role == "host":
        put(paths.display(paths.udev_rule), "udev.rules.j2", pf=settings.pf, driver=settings.driver)
    roles = settings.roles()
    if role == "host" and binds:
        # Autoprobe stays on only when every VF is meant for the host driver (docs/notes.md, "VFs at
        # boot and their bindings").
        autoprobe = int(all(role == "host" for _, role in roles))
        put(
            paths.display(paths.sysfs_dropin),
            "sysfs.conf.j2",
            pf=settings.pf,
            num_vfs=settings.num_vfs,
            autoprobe=autoprobe,
        )
        for index, vf_role in roles:
            if vf_role == "vfio":
                # driverctl reads the file's content as the driver name (docs/notes.md, "VFs at boot
                # and their bindings").
                owned[paths.display(paths.driverctl_override(settings.vf_address(index)))] = (
                    VFIO_DRIVER + "\n"
                )

    if boot_path == BootPath.GRUB and wanted:
        # appended after the admin's: the kernel goes by the last value (grub.cfg.j2)
        put(
            paths.display(paths.grub_dropin),
            "grub.cfg.j2",
            tokens=[t for t in wanted if cmdline.key_of(t) != cmdline.BLACKLIST_KEY],
            blacklist=other,
            driver=settings.driver,
            held=held if held is not None and held.boot == BootPath.GRUB else None,
        )
    if boot_path in (BootPath.SYSTEMD_BOOT, BootPath.PROXMOX):
        text, record = edit_kernel_cmdline(
            kernel_cmdline,
            proc_cmdline,
            cmdline_record,
            wanted,
            first_line_only=boot_path == BootPath.PROXMOX,
        )
        edited[paths.display(paths.kernel_cmdline)] = text
        owned[paths.display(paths.cmdline_record)] = record
        owned[paths.display(paths.cmdline_written)] = text
        owned[paths.display(paths.cmdline_purge)] = purge_kernel_cmdline(
            text, record, first_line_only=boot_path == BootPath.PROXMOX
        )
        owned[paths.display(paths.cmdline_undo_sed)] = cmdline.undo_sed(
            cmdline.parse_record(record), first_line_only=boot_path == BootPath.PROXMOX
        )
    elif kernel_cmdline is not None and cmdline.parse_record(cmdline_record):
        # The boot path changed away from /etc/kernel/cmdline: give the admin's line back.
        edited[paths.display(paths.kernel_cmdline)] = undo_kernel_cmdline(
            kernel_cmdline, cmdline_record
        )
    if held is not None:
        owned[paths.display(paths.kernel_hold)] = hold.format_record(held)
    return Rendered(owned=owned, edited=edited, tokens=tuple(wanted), bootloader=boot_path)
