"""Render and plan from the verdicts: everything `apply` needs, nothing written."""

from irisxe_sriov import sched, settings
from irisxe_sriov.boot import bootcheck
from irisxe_sriov.choices import BootPath
from irisxe_sriov.machine import bootfiles
from irisxe_sriov.machine.reader import read_optional
from irisxe_sriov.paths import ETC, Paths, is_generated
from irisxe_sriov.report.judgement import Verdicts
from irisxe_sriov.write import plan as planning
from irisxe_sriov.write import render

UPDATE_INITRAMFS = planning.UPDATE_INITRAMFS
TRIGGER_INITRAMFS = planning.TRIGGER_INITRAMFS


# The kernel takes at most 2048 bytes of command line on x86 (COMMAND_LINE_SIZE); a
# /etc/kernel/cmdline over 8 KiB is refused (exit 1), which also bounds purge's sed
# fallback (about a second for 8 KiB of managed tokens, measured; docs/notes.md, "Purge").
KERNEL_CMDLINE_LIMIT = 8 * 1024


def desired(paths: Paths, verdicts: Verdicts) -> render.Rendered:
    return render.render(
        verdicts.settings,
        paths,
        device=verdicts.machine.device or verdicts.host.pf.device,
        boot_path=verdicts.boot.name,
        kernel_cmdline=read_optional(paths.kernel_cmdline, KERNEL_CMDLINE_LIMIT),
        proc_cmdline=verdicts.host.cmdline,
        cmdline_record=read_optional(paths.cmdline_record),
        role=verdicts.machine.role,
        binds=verdicts.machine.binds,
        held=verdicts.hold.record,
    )


def make_plan(
    paths: Paths,
    verdicts: Verdicts,
    settings_text: str | None,
    initramfs: tuple[str, ...] = UPDATE_INITRAMFS,
    through_ucf: bool = False,
) -> planning.Plan:
    """The plan for the configuration in `verdicts`; `settings_text` is the settings file
    to write (None: keep the file, or write the defaults when there is none).

    `initramfs` is what a changed modprobe.d file runs: inside a dpkg run the postinst
    activates initramfs-tools' trigger instead of rebuilding at once.

    `through_ucf`: owned files under /etc are compared with the version last handed to
    ucf, not with the file on disk, so that an admin's local edit alone is no change
    (ucf keeps it) and a real change reaches ucf for its three-way merge.
    """
    rendered = desired(paths, verdicts)
    grub = paths.display(paths.grub_dropin)
    kernel_cmdline = paths.display(paths.kernel_cmdline)
    modprobe = paths.display(paths.modprobe_conf)
    commands: dict[str, tuple[str, ...]] = {
        # mkinitramfs copies /etc/modprobe.d into every initrd (docs/notes.md, "Debian's boot
        # paths").
        modprobe: initramfs,
    }
    # A drop-in that is written or removed both need grub.cfg regenerated.
    grub_refresh = bootfiles.refresh_command(BootPath.GRUB, paths)
    if grub_refresh is not None:
        commands[grub] = tuple(grub_refresh)
    if rendered.bootloader in (BootPath.SYSTEMD_BOOT, BootPath.PROXMOX):
        refresh = bootfiles.refresh_command(rendered.bootloader, paths)
        commands[kernel_cmdline] = tuple(refresh or ())
    settings_path = paths.display(paths.settings)
    if settings_text is not None and len(settings_text.encode()) > settings.MAX_FILE_SIZE:
        # every later command would refuse the file, the boot unit included
        raise settings.SettingsError(
            f"{settings_path} would be {len(settings_text.encode())} bytes, more than the "
            f"{settings.MAX_FILE_SIZE} allowed: shorten its comments first"
        )
    if settings_text is None:
        settings_text = verdicts.snapshot.settings_file.text or render.settings_file(
            verdicts.settings
        )
    owned = {settings_path: settings_text, **rendered.owned}
    # Purge takes our drop-in and our /etc/kernel/cmdline tokens away: the same refreshes
    # must follow, decided here because the postrm cannot import this package. Our
    # modprobe.d options leave the initrds too: systemd-boot's update-initramfs -u -k all
    # rebuilds them all; elsewhere initramfs-tools' trigger rebuilds the newest at the end
    # of the dpkg run (a trigger activated from the triggers file as well would rebuild
    # it a second time after -k all: 1.5 minutes of a purge in the boot VM).
    purge_refresh = [
        commands[name]
        for name in (grub, kernel_cmdline)
        if commands.get(name) and (name in rendered.owned or name in rendered.edited)
    ]
    if modprobe in rendered.owned and UPDATE_INITRAMFS not in purge_refresh:
        purge_refresh.append(TRIGGER_INITRAMFS)
    # The hold outside GRUB is a boot loader setting, not a file: a change of our record
    # runs the command that sets or releases it, and purge releases it (docs/notes.md,
    # "The kernel hold").
    record = paths.display(paths.kernel_hold)
    held = verdicts.hold.record
    if held is not None and held.boot in planning.HOLD_COMMANDS:
        commands[record] = planning.hold_command(held.boot, held.target)
    recorded = verdicts.snapshot.hold_record
    if held is None and recorded is not None and recorded.boot in planning.HOLD_COMMANDS:
        commands[record] = planning.RELEASE_COMMANDS[recorded.boot]
    if held is not None and held.boot in planning.RELEASE_COMMANDS:
        purge_refresh.append(planning.RELEASE_COMMANDS[held.boot])
    if purge_refresh:
        owned[paths.display(paths.purge_refresh)] = planning.format_pending(purge_refresh)
    manifest_text = read_optional(paths.manifest)
    names = {*owned, *rendered.edited, *planning.parse_manifest(manifest_text)}
    on_disk = {name: read_optional(paths.at(name)) for name in names if not name.endswith("/")}
    if through_ucf:
        for name in on_disk:
            cached = paths.ucf_cache(name)
            # The settings file and files irisxe-sriov-ctl wrote are ours, not local edits
            # (apply.UcfWriter.written_by_us): compared as they are on disk.
            ours = name == settings_path or on_disk[name] == read_optional(paths.written_copy(name))
            if (
                not ours
                and name.startswith(ETC)
                and name not in rendered.edited
                and cached.exists()
            ):
                on_disk[name] = read_optional(cached)
    else:
        # A local edit alone is no change: compare with what apply last wrote (its copy),
        # as ucf compares with its cache; apply keeps the edit (docs/notes.md, "Hostile input").
        for name in on_disk:
            if apply_local_config(paths, name):
                copy = read_optional(paths.written_copy(name))
                if copy is not None:
                    on_disk[name] = copy

    notes: tuple[str, ...] = ()
    if rendered.bootloader in (None, BootPath.NONE):
        why = "bootloader=none" if rendered.bootloader else "no boot path was found"
        notes = (
            f"kernel parameters not written ({why}): {bootcheck.by_hand(list(rendered.tokens))}",
        )
    unused = sched.unused_values(verdicts.settings.scheduling)
    if unused is not None:
        notes = (*notes, unused)
    return planning.from_files(
        pending_commands=tuple(planning.parse_known(read_optional(paths.pending_refresh))),
        notes=notes,
        owned=owned,
        edited=rendered.edited,
        on_disk=on_disk,
        manifest_text=manifest_text,
        reboot_files=frozenset(
            {kernel_cmdline, modprobe} | boot_line_changes(grub, owned, on_disk)
        ),
        commands_by_file=commands,
    )


def boot_line_changes(grub: str, owned: dict[str, str], on_disk: dict[str, str | None]) -> set[str]:
    """{grub} where the drop-in's change is more than its GRUB_DEFAULT line: a kernel hold
    moves the next boot to another kernel, which needs no reboot of its own (the record
    of the hold needs none either)."""

    def without_default(text: str | None) -> list[str] | None:
        if text is None:
            return None
        hold = ("GRUB_DEFAULT=", "# The kernel hold")  # the hold's lines (grub.cfg.j2)
        return [line for line in text.splitlines() if line and not line.startswith(hold)]

    if without_default(owned.get(grub)) == without_default(on_disk.get(grub)):
        return set()
    return {grub}


def apply_local_config(paths: Paths, host_path: str) -> bool:
    """Generated /etc files kept per ucf's rules (the rule apply.entries_for applies,
    without importing the writer)."""
    return (
        host_path.startswith(ETC)
        and host_path != paths.display(paths.settings)
        and is_generated(host_path)
    )
