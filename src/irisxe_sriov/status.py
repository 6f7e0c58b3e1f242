"""What is configured vs what is running. Pure: HostState + Settings -> a report.

Kept free of jinja2 and python-debian: `status` is the command people run most, and its
start-up time is measured (make bench).
"""

from typing import Any, NamedTuple, assert_never

from irisxe_sriov import cmdline, differences, pciids, pin
from irisxe_sriov.bootcheck import Verdict
from irisxe_sriov.bootloader import Detection
from irisxe_sriov.choices import Role
from irisxe_sriov.differences import Difference, Kind, machine_of
from irisxe_sriov.host import HostState
from irisxe_sriov.roles import Detected
from irisxe_sriov.settings import Settings

REBOOT_FIX = "reboot (run 'irisxe-sriov-ctl apply' first if the files are not written yet)"
RESTORE_FIX = "run 'irisxe-sriov-ctl vfs restore' (or reboot)"


class Pending(NamedTuple):
    what: str
    fix: str
    reboot: bool


def is_dkms_build(version: str | None) -> bool:
    return version == pin.MODULE_VERSION


def pending(
    state: HostState, settings: Settings, verdict: Verdict, machine: Detected | None = None
) -> list[Pending]:
    """Differences between configured and running (differences.find), one item each;
    `verdict` says where missing kernel parameters got lost (bootcheck.locate)."""
    found = differences.find(state, settings, machine_of(state, machine))
    return [item(difference, verdict) for difference in found]


def item(difference: Difference, verdict: Verdict) -> Pending:
    d = difference
    match d.kind:
        case Kind.MISSING_PARAMETERS:
            what = f"the running kernel command line lacks {d.expected}: {verdict.problem}"
            return Pending(what, verdict.steps, True)
        case Kind.DRIVER_MODULES:
            loaded = (d.found or "").split()
            others = " and ".join(name for name in loaded if name != d.expected)
            if not loaded:
                what = f"{d.expected} is configured and not loaded"
            elif d.expected in loaded:
                what = f"{others} is loaded beside {d.expected}, which is configured"
            else:
                what = f"{others} is loaded, {d.expected} is configured"
            return Pending(what, REBOOT_FIX, True)
        case Kind.MODULE_PARAMETER:
            driver, _, name = d.subject.partition(".")
            what = f"{driver} runs with {name}={d.found}, configured {d.expected}"
            return Pending(what, REBOOT_FIX, True)
        case Kind.GUEST_GPU_DRIVER:
            what = (
                f"the GPU function {d.subject} is on {d.found or 'no driver'}, "
                f"{d.expected} is configured"
            )
            return Pending(what, REBOOT_FIX, True)
        case Kind.PF_MISSING:
            return Pending(
                f"no PCI device at {d.subject}",
                "check 'lspci -Dnn' and set pf=ADDRESS if the GPU is elsewhere",
                False,
            )
        case Kind.PF_DRIVER:
            what = f"the PF {d.subject} is on {d.found or 'no driver'}, {d.expected} is configured"
            return Pending(what, pf_fix(d), True)
        case Kind.VF_COUNT:
            what = f"{d.found or 'no'} VFs exist, {d.expected} configured"
            return Pending(what, RESTORE_FIX, False)
        case Kind.VF_DRIVER:
            what = (
                f"VF {d.vf} ({d.subject}) is on {d.found or 'no driver'}, its role "
                f"{d.role} wants {d.expected or 'no driver'}"
            )
            return Pending(what, RESTORE_FIX, False)
    assert_never(d.kind)


def pf_fix(difference: Difference) -> str:
    """What puts the PF back on its GPU driver (status and doctor alike)."""
    if difference.found is None:
        # the module is loaded (differences.functions), so it refused the GPU
        return f"dmesg | grep -i {difference.expected} says why it did not take the PF; then reboot"
    # an override (driverctl's, or the VFs' id in vfio-pci's new_id) survives a reboot
    return f"driverctl unset-override {difference.subject}; reboot"


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
    found = differences.find(state, settings, machine)
    items = [item(difference, verdict) for difference in found] + (left_over or [])
    # the same missing parameters as the pending item, as a list
    lacking = [d.expected for d in found if d.kind == Kind.MISSING_PARAMETERS and d.expected]
    missing = None if state.cmdline is None else " ".join(lacking).split()
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
