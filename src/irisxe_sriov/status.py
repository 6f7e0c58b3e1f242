"""What is configured vs what is running. Pure: HostState + Settings -> a report.

Kept free of jinja2 and python-debian: `status` is the command people run most, and its
start-up time is measured (make bench).
"""

from typing import Any, NamedTuple

from irisxe_sriov import cmdline, pciids, pin
from irisxe_sriov.bootcheck import Verdict
from irisxe_sriov.bootloader import Detection
from irisxe_sriov.host import HostState
from irisxe_sriov.roles import Detected, Role
from irisxe_sriov.settings import Settings

REBOOT_FIX = "reboot (run 'irisxe-sriov-ctl apply' first if the files are not written yet)"


class Pending(NamedTuple):
    what: str
    fix: str
    reboot: bool


def is_dkms_build(version: str | None) -> bool:
    return version == pin.MODULE_VERSION


def machine_of(state: HostState, machine: Detected | None) -> Detected:
    """The machine's role; without one, a host whose PF is what the scan found."""
    if machine is not None:
        return machine
    return Detected(Role.HOST, "", state.pf.platform is not None, state.pf.device)


def pending(
    state: HostState, settings: Settings, verdict: Verdict, machine: Detected | None = None
) -> list[Pending]:
    """Differences between configured and running; `verdict` says where missing kernel
    parameters got lost (bootcheck.locate). A guest has no VFs of its own to compare;
    a machine of role none has nothing."""
    machine = machine_of(state, machine)
    items: list[Pending] = []
    if machine.role == Role.NONE:
        return items
    wanted = cmdline.wanted_tokens(settings, machine.device, machine.role)
    if state.cmdline is not None:
        missing = cmdline.missing_from(state.cmdline, wanted)
        if missing:
            items.append(
                Pending(
                    f"the running kernel command line lacks {' '.join(missing)}: {verdict.problem}",
                    verdict.steps,
                    True,
                )
            )
    module = state.modules[settings.driver]
    other = next(
        m for name, m in state.modules.items() if name in ("i915", "xe") and name != settings.driver
    )
    if other.loaded and not module.loaded:
        items.append(
            Pending(f"{other.name} is loaded, {settings.driver} is configured", REBOOT_FIX, True)
        )
    if machine.role == Role.GUEST:
        for gpu in machine.gpus:
            if gpu.driver != settings.driver:
                items.append(
                    Pending(
                        f"the GPU function {gpu.address} is on {gpu.driver or 'no driver'}, "
                        f"{settings.driver} is configured",
                        REBOOT_FIX,
                        True,
                    )
                )
        return items
    max_vfs = module.parameters.get("max_vfs")
    if module.loaded and max_vfs is not None and max_vfs != str(pin.MAX_VFS):
        items.append(
            Pending(
                f"{settings.driver} runs with max_vfs={max_vfs}, configured {pin.MAX_VFS}",
                REBOOT_FIX,
                True,
            )
        )
    pf = state.pf
    if not pf.present:
        items.append(
            Pending(
                f"no PCI device at {pf.address}",
                "check 'lspci -Dnn' and set pf=ADDRESS if the GPU is elsewhere",
                False,
            )
        )
    if pf.present and pf.sriov_numvfs is not None and pf.sriov_numvfs != settings.num_vfs:
        items.append(
            Pending(
                f"{pf.sriov_numvfs} VFs exist, {settings.num_vfs} configured",
                "run 'irisxe-sriov-ctl vfs restore' (or reboot)",
                False,
            )
        )
    for vf in state.vfs:
        if vf.number > settings.num_vfs:
            continue
        role = settings.role(vf.number)
        expected = settings.expected_driver(vf.number, pf.driver)
        if vf.driver != expected:
            items.append(
                Pending(
                    f"VF {vf.number} ({vf.address}) is on {vf.driver or 'no driver'}, its role "
                    f"{role} wants {expected or 'no driver'}",
                    "run 'irisxe-sriov-ctl vfs restore' (or reboot)",
                    False,
                )
            )
    return items


def recorded(drift: list[tuple[str, str]], refreshes: list[str]) -> list[Pending]:
    """What apply left for later: local edits of generated files it kept (host.drift) and
    boot refreshes that failed (host.pending_refreshes)."""
    items = [
        Pending(
            f"{path} was edited locally; irisxe-sriov's version is {path}.ucf-dist"
            if how == "edited"
            else f"{path} was removed locally",
            f"merge {path}.ucf-dist into it by hand, or remove {path} and run "
            "'irisxe-sriov-ctl apply'"
            if how == "edited"
            else "run 'irisxe-sriov-ctl apply' to write it again",
            False,
        )
        for path, how in drift
    ]
    items += [
        Pending(
            f"the boot refresh '{command}' failed or was cut off",
            "fix its cause, then run 'irisxe-sriov-ctl apply' (it runs it again)",
            True,
        )
        for command in refreshes
    ]
    return items


def report(
    state: HostState,
    settings: Settings,
    boot: Detection,
    verdict: Verdict,
    users: dict[str, list[str]] | None = None,
    left_over: list[Pending] | None = None,
    machine: Detected | None = None,
) -> dict[str, Any]:
    """The `status --json` document (schema in README.md). `left_over`: what apply left
    for later (recorded); `machine`: host, guest or none (roles.decide)."""
    pf = state.pf
    machine = machine_of(state, machine)
    module = state.modules[settings.driver]
    wanted = cmdline.wanted_tokens(settings, machine.device, machine.role)
    items = pending(state, settings, verdict, machine) + (left_over or [])
    missing = None if state.cmdline is None else cmdline.missing_from(state.cmdline, wanted)
    present = {vf.number: vf for vf in state.vfs}
    vfs = []
    # a guest or a machine of role none makes no VFs: only ones that exist are listed
    count = settings.num_vfs if machine.role == Role.HOST else 0
    for index in sorted({*present, *range(1, count + 1)}):
        vf = present.get(index)
        role = settings.role(index) if index <= count else None
        vfs.append(
            {
                "index": index,
                "address": vf.address if vf else settings.vf_address(index),
                "present": vf is not None,
                "driver": vf.driver if vf else None,
                "driver_override": vf.driver_override if vf else None,
                "role": role,
                "expected_driver": None
                if role is None
                else settings.expected_driver(index, pf.driver),
                "iommu_group": vf.iommu_group if vf else None,
                "render_node": vf.render_node if vf else None,
                "in_use_by": (users or {}).get(vf.address, []) if vf else [],
            }
        )
    platform = pf.platform
    return {
        "pf": {
            "address": pf.address,
            "present": pf.present,
            "vendor": pf.vendor,
            "device": pf.device,
            "platform": platform,
            "platform_name": pciids.description_of(platform) if platform else None,
            "driver": pf.driver,
            "driver_override": pf.driver_override,
            "sriov_totalvfs": pf.sriov_totalvfs,
            "sriov_numvfs": pf.sriov_numvfs,
            "sriov_drivers_autoprobe": pf.sriov_drivers_autoprobe,
            "iommu_group": pf.iommu_group,
            "render_node": pf.render_node,
        },
        "module": {
            "name": module.name,
            "loaded": module.loaded,
            "version": module.version,
            "dkms": is_dkms_build(module.version),
            "parameters": dict(module.parameters),
        },
        "vfs": vfs,
        "settings": {
            "driver": settings.driver,
            "num_vfs": settings.num_vfs,
            "bootloader": settings.bootloader,
            "vf_roles": {str(index): role for index, role in settings.roles()},
            "pf": settings.pf,
        },
        "bootloader": {
            "configured": settings.bootloader,
            "detected": boot.name,
            "evidence": boot.evidence,
        },
        "kernel": {
            "release": state.kernel_release,
            "cmdline": state.cmdline,
            "wanted_parameters": wanted,
            "missing_parameters": missing,
            # the file that does not carry the parameters, when the running kernel lacks them
            "not_applied": verdict.file if missing else None,
        },
        "machine": {"role": str(machine.role), "reason": machine.reason, "binds": machine.binds},
        "gpus": [
            {
                "address": gpu.address,
                "device": gpu.device,
                "driver": gpu.driver,
                "render_node": gpu.render_node,
            }
            for gpu in machine.gpus
        ],
        "pending": [{"what": p.what, "fix": p.fix, "reboot": p.reboot} for p in items],
        "reboot_pending": any(p.reboot for p in items),
    }


def unknown(value: object) -> str:
    return "unknown" if value is None else str(value)


def provider_lines(providers: dict[str, Any] | None) -> list[str]:
    """Who makes the VFs on the running kernel and on the one that boots next."""
    if not providers:
        return []
    lines = []
    for label, key in (("running kernel", "running"), ("next boot", "next_boot")):
        kernel = providers.get(key)
        if kernel is None:
            if key == "next_boot":
                lines.append(f"{label}: unknown ({providers.get('next_boot_evidence')})")
            continue
        if kernel["provider"]:
            what = f"{kernel['provider']} ({', '.join(kernel['drivers'])})"
        else:
            what = f"no SR-IOV provider (DKMS {kernel['state']}; own xe: {kernel['kernel_xe']})"
        lines.append(f"{label}: {kernel['release']}, {what}")
    return lines


def format_text(doc: dict[str, Any]) -> str:
    pf, module, settings = doc["pf"], doc["module"], doc["settings"]
    machine = doc["machine"]
    lines = [f"{machine['role']}: {machine['reason']}"] if machine["reason"] else []
    if machine["role"] == "guest":
        lines += [
            f"GPU {gpu['address']}  8086:{gpu['device']}  driver {gpu['driver'] or 'none'}  "
            f"render node {gpu['render_node'] or 'none'}"
            for gpu in doc["gpus"]
        ] or ["no GPU function yet: give this virtual machine a VF"]
    elif machine["role"] == "none":
        pass
    elif pf["present"]:
        name = f"{pf['platform']} ({pf['platform_name']})" if pf["platform"] else "unsupported GPU"
        driver = pf["driver"] or "no driver"
        build = "pinned DKMS build" if module["dkms"] else f"version {unknown(module['version'])}"
        if pf["driver"] == module["name"]:
            driver += f" ({build})"
        lines.append(f"PF {pf['address']}  {unknown(pf['vendor'])}:{unknown(pf['device'])} {name}")
        lines.append(f"   driver {driver}")
        autoprobe = {True: "on", False: "off", None: "unknown"}[pf["sriov_drivers_autoprobe"]]
        lines.append(
            f"   SR-IOV: {unknown(pf['sriov_numvfs'])} of {unknown(pf['sriov_totalvfs'])} VFs, "
            f"autoprobe {autoprobe}"
        )
    else:
        lines.append(f"PF {pf['address']}: no such PCI device")
    if doc["vfs"]:
        lines.append("")
        lines.append(
            f"{'VF':<3} {'address':<13} {'role':<5} {'driver':<9} {'expected':<9} "
            f"{'group':<6} {'render':<10} in use by"
        )
        for vf in doc["vfs"]:
            driver = vf["driver"] or ("-" if vf["present"] else "absent")
            group = "-" if vf["iommu_group"] is None else vf["iommu_group"]
            lines.append(
                f"{vf['index']:<3} {vf['address']:<13} {vf['role'] or '-':<5} {driver:<9} "
                f"{vf['expected_driver'] or '-':<9} {group:<6} "
                f"{vf['render_node'] or '-':<10} {', '.join(vf['in_use_by']) or '-'}"
            )
    boot = doc["bootloader"]
    detected = boot["detected"] or "none found"
    lines.append("")
    lines.append(
        f"settings: driver={settings['driver']} num_vfs={settings['num_vfs']} "
        f"bootloader={settings['bootloader']} ({detected}) pf={settings['pf']}"
    )
    lines += provider_lines(doc.get("providers"))
    if doc["pending"]:
        lines.append("differs from what is running:")
        lines += [f"  - {item['what']}: {item['fix']}" for item in doc["pending"]]
    else:
        lines.append("running as configured")
    return "\n".join(lines)
