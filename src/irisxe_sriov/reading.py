"""The read-only commands: status, doctor and kernels, as plain functions of a Paths.

The commands of cli.py and the entry point's fast path (entry.py) both run these, so a
command behaves the same whichever way it was started. This module imports no command
line library, and the modules a command needs are imported inside it: these commands'
start-up is measured (make bench, docs/performance.md).
"""

import json
import sys
from collections.abc import Callable
from typing import Any

from irisxe_sriov import errors
from irisxe_sriov.paths import Paths


def echo(text: str) -> None:
    print(text, flush=True)


def print_json(document: object) -> None:
    echo(json.dumps(document, indent=2, sort_keys=True))


def vf_users(paths: Paths, state: Any) -> dict[str, list[str]]:
    """VF address -> the guests using it (cheap when no VFIO group is open)."""
    from irisxe_sriov import vfs as runtime

    known = runtime.usage(paths)
    return {vf.address: runtime.in_use(paths, vf, known) for vf in state.vfs}


def boot_verdict(paths: Paths, read: Any, boot: Any) -> Any:
    """Where missing kernel parameters got lost (bootcheck)."""
    from irisxe_sriov import bootcheck, cmdline

    wanted = cmdline.wanted_tokens(read.settings, read.machine.device, read.machine.role)
    return bootcheck.locate(bootcheck.read(paths, boot.name), wanted)


def status(paths: Paths, as_json: bool) -> None:
    """Show the PF, its VFs with driver and role, the settings, and what differs from
    what is running (a pending reboot)."""
    from irisxe_sriov import bootloader, host, providers, situation
    from irisxe_sriov import status as reporting

    read = situation.load(paths)
    boot = bootloader.resolve(read.settings.bootloader, paths)
    left_over = reporting.recorded(host.drift(paths), host.pending_refreshes(paths))
    document = reporting.report(
        read.host,
        read.settings,
        boot,
        boot_verdict(paths, read, boot),
        vf_users(paths, read.host),
        left_over,
        read.machine,
    )
    document["providers"] = providers.for_status(
        paths, read.host.kernel_release, read.machine.device, boot.name
    )
    if as_json:
        print_json(document)
    else:
        echo(reporting.format_text(document))


def doctor(paths: Paths, as_json: bool) -> None:
    """Check every requirement and known trap; exit 1 when a check fails."""
    from irisxe_sriov import (
        aptsources,
        bootloader,
        host,
        packages,
        pin,
        providers,
        secureboot,
        settings,
        situation,
    )
    from irisxe_sriov import doctor as diagnosis

    problems: tuple[str, ...] = ()
    try:
        read = situation.load(paths)
    except settings.SettingsError as error:
        # Diagnose with the defaults rather than refuse: a broken file is one finding.
        problems = tuple(error.problems)
        read = situation.with_defaults(paths)
    version = packages.installed_version(paths, pin.DRIVER_PACKAGE)
    boot = bootloader.resolve(read.settings.bootloader, paths)
    # doctor reads the kernels' own indexes, not every xe.ko (that is `kernels`, about
    # 75 ms a kernel): its start-up is measured (make bench)
    kernels, _ = providers.read_all(paths, read.machine.device, boot.name, thorough=False)
    evidence = diagnosis.Evidence(
        settings_problems=problems,
        driver_package_version=version,
        driver_package_matches=version is not None
        and packages.same_version(version, pin.DRIVER_VERSION),
        kernels=tuple(kernels),
        backports_steps=tuple(aptsources.backports_steps(aptsources.read(paths))),
        secure_boot=secureboot.read(paths),
        drift=tuple(host.drift(paths)),
        pending_refreshes=tuple(host.pending_refreshes(paths)),
        machine=read.machine,
    )
    verdict = boot_verdict(paths, read, boot)
    findings = diagnosis.diagnose(read.host, read.settings, boot, evidence, verdict)
    if as_json:
        print_json([finding.as_dict() for finding in findings])
    else:
        echo(diagnosis.format_text(findings))
    if diagnosis.failed(findings):
        sys.exit(errors.ExitStatus.FAILED)  # the findings say why: no error line


def kernels(paths: Paths, as_json: bool, notify: str | None = None) -> None:
    """Show every installed kernel with its SR-IOV provider (the pinned DKMS build or the
    kernel's own xe), the DKMS state of the pinned driver, and which kernel boots next."""
    from irisxe_sriov import bootloader, providers, situation
    from irisxe_sriov import settings as settings_module

    try:
        read = situation.load(paths)
        driver, device, configured = read.settings.driver, read.machine.device, read.settings
    except settings_module.SettingsError:
        if notify is None:
            raise
        # a kernel installation goes on whatever the settings file holds
        configured = settings_module.Settings()
        driver, device = configured.driver, None
    boot = bootloader.resolve(configured.bootloader, paths)
    found, evidence = providers.read_all(paths, device, boot.name)
    if notify is not None:
        notify_kernel(paths, found, notify, driver)
        return
    if as_json:
        print_json([kernel.as_dict() for kernel in found])
    else:
        echo(providers.format_text(found, evidence) or "no installed kernel found")


def notify_kernel(paths: Paths, found: list[Any], release: str, driver: str) -> None:
    """The kernel hooks' line: the provider of a newly installed kernel, or a warning."""
    kernel = next((k for k in found if k.release == release), None)
    if kernel is not None and driver in kernel.drivers:
        print(
            f"irisxe-sriov: kernel {release}: SR-IOV by {kernel.provider} "
            f"({', '.join(kernel.drivers)}; configured driver {driver})",
            file=sys.stderr,
        )
        return
    from irisxe_sriov import apply

    if kernel is None:
        why = "it is not installed"
    elif kernel.provider is None:
        why = f"no provider: DKMS {kernel.state}: {kernel.detail}; own xe: {kernel.kernel_xe}"
    else:
        why = f"{kernel.provider} offers {', '.join(kernel.drivers)}, {driver} is configured"
    print(
        f"irisxe-sriov: warning: kernel {release} will boot without an SR-IOV driver for "
        f"{driver} ({why}); see 'irisxe-sriov-ctl doctor'",
        file=sys.stderr,
    )
    apply.announce_reboot(paths)


# the read-only commands by name, as entry.py's fast path runs them (`--json` or not)
COMMANDS: dict[str, Callable[[Paths, bool], None]] = {
    "status": status,
    "doctor": doctor,
    "kernels": kernels,
}
