"""`status`: what is configured, what runs, and what differs, as judgement found it.
Pure: Verdicts in, a document out.

Kept free of jinja2 and python-debian: `status` is the command people run most, and its
start-up time is measured (make bench).
"""

from irisxe_sriov import cmdline, pciids, pin, sched
from irisxe_sriov.choices import Role
from irisxe_sriov.kernels.providers import KernelProvider
from irisxe_sriov.report import contract
from irisxe_sriov.report.differences import Kind, capped_count
from irisxe_sriov.report.judgement import Problem, Verdicts
from irisxe_sriov.runtime import pvecluster


def is_dkms_build(version: str | None) -> bool:
    return version == pin.MODULE_VERSION


def pending_item(problem: Problem) -> contract.PendingDoc:
    return {
        "id": problem.id,
        "what": problem.what,
        "fix": str(problem.fix) or None,
        "steps": problem.fix.as_list(),
        "reboot": problem.reboot,
    }


def provider_document(kernel: KernelProvider | None) -> contract.KernelDoc | None:
    return None if kernel is None else kernel.as_dict()


def settings_document(verdicts: Verdicts) -> contract.SettingsDoc:
    """The settings in force, typed: what `config show --json` prints and `status --json`
    holds as `settings`."""
    current = verdicts.settings
    return {
        "driver": str(current.driver),
        "num_vfs": current.num_vfs,
        "bootloader": str(current.bootloader),
        "vf_roles": {str(index): str(role) for index, role in current.roles()},
        "pf": current.pf,
        "machine_role": str(current.machine_role),
        "kernel_hold": str(current.kernel_hold),
        "sched": str(current.scheduling.profile),
        "sched_exec_quantum_ms": per_function(current.scheduling.exec_quantum_ms),
        "sched_preempt_timeout_us": per_function(current.scheduling.preempt_timeout_us),
        "sched_pf_priority": str(current.scheduling.pf_priority),
        "file_exists": verdicts.snapshot.settings_file.text is not None,
    }


def per_function(values: sched.PerFunction) -> dict[str, int]:
    """Custom values by function ("pf", "vf" for every VF not named, "1".."7")."""
    return {key: values.values[key] for key in sched.KEY_ORDER if key in values.values}


def scheduling_document(verdicts: Verdicts) -> contract.SchedulingDoc:
    """The GPU time share: the interface, each function's values as read back beside
    the settings' (null: nothing is written, or it cannot be read), and why settings
    that write something are not applied."""
    current = verdicts.settings
    state = verdicts.host
    observed = state.scheduling
    count = capped_count(current, state.pf.sriov_totalvfs)
    wanted = current.scheduling.wanted(count) or {}
    not_applied = [d.found for d in verdicts.differences if d.kind == Kind.SCHED_NOT_APPLIED]
    return {
        "interface": None if observed.interface is None else str(observed.interface),
        "auto_provisioning": observed.auto_provisioning,
        "not_applied": "; ".join(x for x in not_applied if x) or None,
        "functions": [
            {
                "function": "pf" if f.number == 0 else str(f.number),
                "exec_quantum_ms": f.exec_quantum_ms,
                "preempt_timeout_us": f.preempt_timeout_us,
                "priority": None if f.priority is None else str(f.priority),
                "expected_exec_quantum_ms": None
                if f.number not in wanted
                else wanted[f.number].exec_quantum_ms,
                "expected_preempt_timeout_us": None
                if f.number not in wanted
                else wanted[f.number].preempt_timeout_us,
            }
            for f in observed.functions
        ],
    }


def proxmox_mappings(verdicts: Verdicts, address: str) -> list[str] | None:
    """The Proxmox VE cluster mappings with this node's entry for the VF at `address`;
    None where this is no Proxmox VE node with a mappings file."""
    cluster = verdicts.snapshot.cluster
    if cluster is None or cluster.config is None or cluster.node is None:
        return None
    return pvecluster.mappings_of(cluster.config, cluster.node, address)


def report(verdicts: Verdicts) -> contract.StatusDoc:
    """The `status --json` document (conf/schema/status.schema.json)."""
    state = verdicts.host
    current = verdicts.settings
    machine = verdicts.machine
    pf = state.pf
    module = state.modules[current.driver]
    wanted = cmdline.wanted_tokens(current, machine.device, machine.role)
    lacking = [
        d.expected for d in verdicts.differences if d.kind == Kind.MISSING_PARAMETERS and d.expected
    ]
    missing = None if state.cmdline is None else " ".join(lacking).split()
    boot_files = verdicts.snapshot.boot_files
    not_applied = None
    if missing and boot_files is not None:
        from irisxe_sriov.boot import bootcheck

        not_applied = bootcheck.locate(boot_files, wanted).file
    present = {vf.number: vf for vf in state.vfs}
    usage = verdicts.snapshot.usage
    vfs: list[contract.VfDoc] = []
    # a guest or a machine of role none makes no VFs: only ones that exist are listed
    count = capped_count(current, pf.sriov_totalvfs) if machine.role == Role.HOST else 0
    for index in sorted({*present, *range(1, count + 1)}):
        vf = present.get(index)
        role = current.role(index) if index <= count else None
        vfs.append(
            {
                "index": index,
                "address": vf.address if vf else current.vf_address(index),
                "present": vf is not None,
                "driver": vf.driver if vf else None,
                "driver_override": vf.driver_override if vf else None,
                "role": role,
                "expected_driver": None
                if role is None
                else current.expected_driver(index, pf.driver),
                "iommu_group": vf.iommu_group if vf else None,
                "render_node": vf.render_node if vf else None,
                "in_use_by": usage.users_of(vf) if vf and usage else [],
                "proxmox_mappings": proxmox_mappings(verdicts, current.vf_address(index)),
            }
        )
    platform = pf.platform
    running = verdicts.running
    return {
        "schema_version": contract.SCHEMA_VERSION,
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
        "settings": settings_document(verdicts),
        "bootloader": {
            "configured": current.bootloader,
            "detected": verdicts.boot.name,
            "evidence": verdicts.boot.evidence,
        },
        "kernel": {
            "release": state.kernel_release,
            "cmdline": state.cmdline,
            "wanted_parameters": wanted,
            "missing_parameters": missing,
            # the file that does not carry the parameters, when the running kernel lacks them
            "not_applied": not_applied,
        },
        "machine": {
            "role": str(machine.role),
            "reason": machine.reason,
            "binds": machine.binds,
        },
        "gpus": [
            {
                "address": gpu.address,
                "device": gpu.device,
                "driver": gpu.driver,
                "render_node": gpu.render_node,
            }
            for gpu in machine.gpus
        ],
        "providers": {
            "running": provider_document(running.kernel),
            "running_live": None if running.live is None else str(running.live),
            "running_conflict": running.conflict,
            "next_boot": provider_document(verdicts.next_kernel),
            "next_boot_evidence": verdicts.snapshot.next_boot.evidence,
        },
        "hold": verdicts.hold.as_dict(),
        "scheduling": scheduling_document(verdicts),
        "pending": [pending_item(p) for p in verdicts.problems],
        "reboot_pending": any(p.reboot for p in verdicts.problems),
    }


def unknown(value: object) -> str:
    return "unknown" if value is None else str(value)


def provider_lines(providers: contract.ProvidersDoc) -> list[str]:
    """Who makes the VFs on the running kernel and on the one that boots next."""
    lines = []
    for label, kernel in (
        ("running kernel", providers["running"]),
        ("next boot", providers["next_boot"]),
    ):
        if kernel is None:
            if label == "next boot":
                lines.append(f"{label}: unknown ({providers['next_boot_evidence']})")
            continue
        if kernel["provider"]:
            what = f"{kernel['provider']} ({', '.join(kernel['drivers'])})"
        else:
            what = f"no SR-IOV provider (DKMS {kernel['state']}; own xe: {kernel['kernel_xe']})"
        lines.append(f"{label}: {kernel['release']}, {what}")
    if providers["running_conflict"]:
        lines.append(f"running kernel: {providers['running_conflict']}")
    return lines


def scheduling_lines(
    settings: contract.SettingsDoc, scheduling: contract.SchedulingDoc
) -> list[str]:
    """The settings' profile, then each function's values as read back."""
    words = sched.in_words(settings["sched"], settings["sched_pf_priority"])
    if scheduling["interface"] is None:
        why = scheduling["not_applied"]
        return [f"scheduling: {words}" + (f", not applied: {why}" if why else "")]
    lines = [
        f"scheduling: {words} through {scheduling['interface']} "
        "(execution quantum ms / preemption timeout us, 0: unlimited)"
    ]
    for function in scheduling["functions"]:
        name = "PF" if function["function"] == "pf" else f"VF {function['function']}"
        quantum = unknown(function["exec_quantum_ms"])
        timeout = unknown(function["preempt_timeout_us"])
        priority = f"  priority {function['priority']}" if function["priority"] else ""
        lines.append(f"   {name:<5} {quantum:>6} / {timeout:<9}{priority}")
    return lines


def format_text(doc: contract.StatusDoc) -> str:
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
    mapped = [vf for vf in doc["vfs"] if vf["proxmox_mappings"] is not None]
    if mapped:
        lines.append(
            "Proxmox VE cluster mappings: "
            + "; ".join(
                f"VF {vf['index']} {', '.join(vf['proxmox_mappings'] or []) or 'in none'}"
                for vf in mapped
            )
        )
    boot = doc["bootloader"]
    detected = boot["detected"] or "none found"
    lines.append("")
    lines.append(
        f"settings: driver={settings['driver']} num_vfs={settings['num_vfs']} "
        f"bootloader={settings['bootloader']} ({detected}) pf={settings['pf']}"
        + ("" if settings["file_exists"] else "  (no settings file: the defaults)")
    )
    lines += scheduling_lines(settings, doc["scheduling"])
    lines += provider_lines(doc.get("providers"))
    hold = doc.get("hold") or {}
    if hold.get("release"):
        lines.append(
            f"kernel hold: {hold['release']} boots next ({hold['reason']}); "
            "'irisxe-sriov-ctl kernels release' releases it"
        )
    elif hold.get("reason"):
        lines.append(f"kernel hold: none ({hold['reason']})")
    if doc["pending"]:
        lines.append("differs from what is running:")
        lines += [
            f"  - {item['what']}" + (f": {item['fix']}" if item["fix"] else "")
            for item in doc["pending"]
        ]
    else:
        lines.append("running as configured")
    return "\n".join(lines)
