"""Give a VF to a guest: pick a free one, never the PF, and say or do what each stack needs.

Pure but for `read_assignments`, `incus_kind`, `read_group_file`, `read_proxmox_conf` and
`guest_plan`, which read the guests' and the system's files, and `to_libvirt`, which runs
virsh through the Runner it is given; everything else works on text.
"""

import re
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

from irisxe_sriov import errors
from irisxe_sriov.choices import Target, VfRole
from irisxe_sriov.machine import reader
from irisxe_sriov.paths import Paths, dri_node
from irisxe_sriov.settings import Settings

if TYPE_CHECKING:  # machine/users.py, and so gather for status, imports this module
    from irisxe_sriov.process import Runner

ADDRESS_RE = re.compile(r"(?:([0-9a-f]{4}):)?([0-9a-f]{2}):([0-9a-f]{2})\.([0-7])")


class AttachError(errors.BadInput):
    """A request that cannot be met; the message says why and what would work. Bad input
    (exit 2): a VF that is no VF, the PF, a target without a configuration."""


class Unavailable(AttachError):
    """A valid request the host cannot meet now (no free VF, no render node): a state, not
    bad input, so exit 1 (docs/irisxe-sriov-ctl.8, EXIT STATUS) in `snippet` and `attach` alike."""

    status = errors.ExitStatus.FAILED


class Choice(NamedTuple):
    number: int
    address: str
    role: str
    driver: str | None


# --- who already has which VF -------------------------------------------------------------


def libvirt_addresses(xml: str) -> list[str]:
    """PCI addresses of the <hostdev> sources in a libvirt domain XML."""
    found = []
    for hostdev in re.findall(r"<hostdev\b.*?</hostdev>", xml, re.S):
        source = re.search(r"<source>.*?</source>", hostdev, re.S)
        if source is None:
            continue
        match = re.search(
            r"domain=['\"](0x)?([0-9a-fA-F]+)['\"]\s+bus=['\"](0x)?([0-9a-fA-F]+)['\"]\s+"
            r"slot=['\"](0x)?([0-9a-fA-F]+)['\"]\s+function=['\"](0x)?([0-7])['\"]",
            source.group(0),
        )
        if match:
            domain, bus, slot, function = (int(match.group(i), 16) for i in (2, 4, 6, 8))
            found.append(f"{domain:04x}:{bus:02x}:{slot:02x}.{function}")
    return found


def normalize(address: str) -> str | None:
    match = ADDRESS_RE.fullmatch(address.strip().lower())
    if match is None:
        return None
    domain, bus, slot, function = match.groups()
    return f"{domain or '0000'}:{bus}:{slot}.{function}"


def proxmox_addresses(conf: str) -> list[str]:
    """hostpciN entries of a Proxmox VE VM config (the current section only)."""
    current = conf.split("\n[", 1)[0]
    found = []
    for match in re.finditer(r"^hostpci\d+:\s*([^,\s]+)", current, re.M):
        for item in match.group(1).split(";"):
            address = normalize(item)
            if address:
                found.append(address)
    return found


def incus_addresses(backup_yaml: str) -> list[str]:
    """PCI addresses an Incus instance's backup.yaml names: pci devices' `address`, and
    the VF that gputype=sriov took (volatile.<device>.last_state.pci.slot.name)."""
    found = []
    pattern = (
        r"^\s*(?:address|volatile\.[^:\s]+\.last_state\.pci\.slot\.name):\s*['\"]?([0-9a-fA-F:.]+)"
    )
    for match in re.finditer(pattern, backup_yaml, re.M):
        address = normalize(match.group(1))
        if address and address not in found:
            found.append(address)
    return found


def read_assignments(paths: Paths) -> dict[str, list[str]]:
    """VF address -> guests whose configuration names it: libvirt domain definitions,
    Proxmox VE VM configs, and Incus instances (the backup.yaml Incus keeps per instance)."""
    assigned: dict[str, list[str]] = {}
    incus = paths.incus
    sources = [
        (paths.libvirt_domains, "*.xml", libvirt_addresses, "libvirt"),
        (paths.proxmox_guests, "*.conf", proxmox_addresses, "proxmox"),
        (incus / "virtual-machines", "*/backup.yaml", incus_addresses, "incus"),
        (incus / "containers", "*/backup.yaml", incus_addresses, "incus"),
    ]
    for directory, pattern, parse, kind in sources:
        for path in sorted(directory.glob(pattern)):
            text = reader.read_text(path) or ""
            name = path.parent.name if path.name == "backup.yaml" else path.stem
            for address in parse(text):
                assigned.setdefault(address, []).append(f"{kind} {name}")
    return assigned


# --- choosing -----------------------------------------------------------------------------


def choose(
    settings: Settings,
    state: reader.HostState,
    assigned: dict[str, list[str]],
    requested: str | None,
    target: str,
    for_vm: bool | None = None,
) -> Choice:
    """The VF asked for (number or address), else the lowest free VF of a suitable role:
    vfio or unbound for a VM, host for a container (`for_vm`: where the target alone does
    not say, an Incus instance)."""
    vfs = {vf.number: vf for vf in state.vfs}
    if requested is not None:
        # ASCII digits only: str.isdigit() takes '²', which int() then refuses.
        numeric = re.fullmatch(r"[0-9]{1,2}", requested) is not None
        address = settings.vf_address(int(requested)) if numeric else normalize(requested)
        if address is None:
            shown = repr(requested[:40]) + ("..." if len(requested) > 40 else "")
            raise AttachError(f"{shown} is neither a VF number nor a PCI address")
        if address == settings.pf or (numeric and int(requested) == 0):
            raise AttachError(
                f"{settings.pf} is the PF: giving it to a guest unbinds its driver, which "
                f"destroys every VF; pick a VF ({settings.vf_address(1)}-"
                f"{settings.vf_address(max(settings.num_vfs, 1))})"
            )
        number = next((n for n, _ in settings.roles() if settings.vf_address(n) == address), None)
        if number is None:
            raise AttachError(
                f"{requested!r} is not a configured VF: allowed 1-{settings.num_vfs}"
                f" or their addresses"
            )
        if address in assigned:
            raise Unavailable(
                f"VF {number} ({address}) is already given to {', '.join(assigned[address])}"
            )
        vf = vfs.get(number)
        if vf is None:
            # Like the automatic choice below: a guest defined with a device the host does
            # not have fails at its next start, not here, where the admin can fix it.
            raise Unavailable(
                f"VF {number} ({address}) is configured but absent: the PF has "
                f"{len(vfs)} VF(s) now; see 'irisxe-sriov-ctl status'"
            )
        return Choice(number, address, settings.role(number), vf.driver)
    vm = Target(target).is_vm if for_vm is None else for_vm
    suitable = (VfRole.VFIO, VfRole.NONE) if vm else (VfRole.HOST,)
    for number, role in settings.roles():
        address = settings.vf_address(number)
        if role in suitable and address not in assigned and number in vfs:
            return Choice(number, address, role, vfs[number].driver)
    raise Unavailable(
        f"no free VF with role {' or '.join(suitable)}: every one is given to a "
        f"guest or absent; see 'irisxe-sriov-ctl status'"
    )


# --- what each stack needs ----------------------------------------------------------------


def managed(choice: Choice) -> str:
    """libvirt's managed= from the VF's role: a vfio VF stays on vfio-pci for good, so
    libvirt leaves it alone ("no"); an unbound (none) or host VF needs libvirt to bind it
    to vfio-pci while the guest runs ("yes")."""
    return "no" if choice.role == "vfio" else "yes"


def hostdev_xml(choice: Choice) -> str:
    domain, bus, rest = choice.address.split(":")
    slot, function = rest.split(".")
    return (
        f'<hostdev mode="subsystem" type="pci" managed="{managed(choice)}">\n'
        f"  <source>\n"
        f'    <address domain="0x{domain}" bus="0x{bus}" slot="0x{slot}" '
        f'function="0x{function}"/>\n'
        f"  </source>\n"
        f"</hostdev>\n"
    )


def add_hostdev(domain_xml: str, hostdev: str) -> str:
    """A domain XML with `hostdev` added at the end of <devices>. libvirt writes a
    <devices> element into every definition it prints; text without one is no
    definition, and defining it would lose the domain's devices."""
    if "</devices>" not in domain_xml:
        raise errors.Failed(
            f"the libvirt definition has no <devices> element to add the VF to: "
            f"{domain_xml.strip()[:200]!r}"
        )
    indented = "".join(f"    {line}\n" for line in hostdev.splitlines())
    return domain_xml.replace("</devices>", f"{indented}  </devices>", 1)


# How libvirt says that a connection cannot attach a device to a definition: Debian 12's
# test driver has no attach-device at all, Debian 13's (libvirt 11) refuses --config.
NO_ATTACH_DEVICE = ("not supported by the connection driver", "unsupported flags")


def to_libvirt(runner: "Runner", virsh: Sequence[str], name: str, choice: Choice) -> None:
    """Give libvirt domain `name` the VF: `virsh attach-device --config`, and --live when
    the domain runs. A connection that cannot attach to a definition (NO_ATTACH_DEVICE)
    gets its persistent definition edited instead: dumpxml --inactive, the <hostdev>
    added, define. `virsh` is the command with its connection (virsh -c URI).

    Every virsh failure is an errors.Failed naming it; a definition is only ever built
    from a dumpxml that succeeded, never from its error message."""
    import tempfile

    with tempfile.TemporaryDirectory(prefix="irisxe-sriov.") as directory:
        device_xml = hostdev_xml(choice)
        hostdev = Path(directory) / "hostdev.xml"
        hostdev.write_text(device_xml)
        status, state = runner.capture([*virsh, "domstate", name])
        if status != 0:
            raise errors.Failed(f"libvirt domain {name!r}: {state.strip()}")
        running = state.strip() == "running"
        flags = ["--config", *(["--live"] if running else [])]
        status, output = runner.capture([*virsh, "attach-device", name, str(hostdev), *flags])
        if status == 0:
            return
        if not any(reason in output for reason in NO_ATTACH_DEVICE):
            raise errors.Failed(f"virsh attach-device failed: {output.strip()}")
        # a connection without attach-device: edit the persistent definition
        status, xml = runner.capture([*virsh, "dumpxml", "--inactive", name])
        if status != 0:
            raise errors.Failed(f"virsh dumpxml failed: {xml.strip()}")
        domain = Path(directory) / "domain.xml"
        domain.write_text(add_hostdev(xml, device_xml))
        status, output = runner.capture([*virsh, "define", str(domain)])
        if status != 0:
            raise errors.Failed(f"virsh define failed: {output.strip()}")
        if running:
            runner.echo(
                f"{name} runs: the VF is in its definition and comes with its next start "
                f"(this connection cannot attach live)"
            )


class GuestPlan(NamedTuple):
    """The command that gives a guest the VF, and what a person should know about it."""

    argv: list[str]
    notes: tuple[str, ...] = ()


# Proxmox VE's VM configs have hostpci0 .. hostpci15 (qemu-server, PVE::QemuServer::PCI:
# MAX_HOSTPCI_DEVICES is 16).
MAX_HOSTPCI = 16


def next_hostpci(vmid: str, conf: str) -> int:
    current = conf.split("\n[", 1)[0]
    used = {int(n) for n in re.findall(r"^hostpci(\d+):", current, re.M)}
    free = [n for n in range(MAX_HOSTPCI) if n not in used]
    if not free:
        raise Unavailable(
            f"VM {vmid} uses every hostpci slot (hostpci0-hostpci{MAX_HOSTPCI - 1}): "
            f"remove one with 'qm set {vmid} --delete hostpciN' first"
        )
    return free[0]


def proxmox_machine(conf: str) -> str:
    """The VM's machine type: `machine:` of its config (q35, pc-q35-9.2+pve1, pc,
    pc-i440fx-...), i440fx where the line is absent (qemu-server's default)."""
    current = conf.split("\n[", 1)[0]
    match = re.search(r"^machine:\s*(?:type=)?([^,\s]+)", current, re.M)
    return match.group(1) if match else "i440fx"


def proxmox_plan(vmid: str, device: str, conf: str) -> GuestPlan:
    """qm set --hostpciN with `device` (a VF's address, or `mapping=NAME` for a cluster
    mapping); pcie=1 only on a q35 machine: qemu-server's hostpci format says of pcie
    "Choose the PCI-express bus (needs the 'q35' machine model)" (PVE/QemuServer/PCI.pm)."""
    slot = f"--hostpci{next_hostpci(vmid, conf)}"
    machine = proxmox_machine(conf)
    if "q35" in machine:
        return GuestPlan(["qm", "set", vmid, slot, f"{device},pcie=1"])
    return GuestPlan(
        ["qm", "set", vmid, slot, device],
        (
            f"VM {vmid} has the {machine} machine type: the VF is a conventional PCI device "
            f"there; for PCI Express, 'qm set {vmid} --machine q35' (while it is stopped) "
            "and attach again",
        ),
    )


class IncusKind(NamedTuple):
    is_vm: bool | None  # None: no such instance in /var/lib/incus
    words: str


def incus_kind(paths: Paths, name: str) -> IncusKind:
    """A VM or a container: Incus keeps each instance under virtual-machines/ or
    containers/ of /var/lib/incus."""
    base = paths.incus
    if (base / "virtual-machines" / name).is_dir():
        return IncusKind(True, f"Incus instance {name} is a virtual machine")
    if (base / "containers" / name).is_dir():
        return IncusKind(False, f"Incus instance {name} is a container")
    return IncusKind(None, f"Incus instance {name} is not in /var/lib/incus here")


def incus_plan(name: str, choice: Choice, pf: str, kind: IncusKind) -> GuestPlan:
    """A VM gets the VF as a pci device (VM only), or, when the VF is unbound, Incus' own
    pick with gputype=sriov (VM only; it takes only VFs with no driver: docs/notes.md,
    "VFs at boot and their bindings"); a container gets a host-role VF's DRM nodes as a
    gpu device of gputype physical (containers and VMs; Incus' devices_gpu reference)."""
    device = f"igpu-vf{choice.number}"
    notes = (kind.words,)
    base = ["incus", "config", "device", "add", name, device]
    if kind.is_vm is False:
        return GuestPlan([*base, "gpu", "gputype=physical", f"pci={choice.address}"], notes)
    if choice.role == "none":
        return GuestPlan([*base, "gpu", "gputype=sriov", f"pci={pf}"], notes)
    return GuestPlan([*base, "pci", f"address={choice.address}"], notes)


def container_flags(tool: str, render_node: str, render_gid: int | None) -> list[str]:
    """Containers share the host kernel: they get a render node, not a PCI device."""
    flags = ["--device", dri_node(render_node)]
    if tool == Target.PODMAN:
        return [*flags, "--group-add", "keep-groups"]
    return [*flags, "--group-add", str(render_gid) if render_gid is not None else "render"]


def group_id(group_file: str, name: str) -> int | None:
    for line in group_file.splitlines():
        fields = line.split(":")
        if len(fields) >= 3 and fields[0] == name and fields[2].isdigit():
            return int(fields[2])
    return None


def render_node_for_containers(settings: Settings, state: reader.HostState) -> str:
    """The PF's render node, or that of a host-role VF."""
    for vf in state.vfs:
        if settings.role(vf.number) == "host" and vf.render_node:
            return vf.render_node
    if state.pf.render_node:
        return state.pf.render_node
    raise Unavailable(
        f"no render node: {settings.pf} has no DRM render node (is its driver "
        f"loaded?) and no host-role VF has one"
    )


def read_group_file(paths: Paths) -> str:
    return reader.read_text(paths.group_file) or ""


def proxmox_conf(paths: Paths, vmid: str) -> Path:
    return paths.proxmox_guests / f"{vmid}.conf"


def read_proxmox_conf(paths: Paths, vmid: str) -> str:
    return reader.read_text(proxmox_conf(paths, vmid)) or ""


def guest_plan(paths: Paths, target: str, name: str, choice: Choice, pf: str) -> GuestPlan:
    """The qm or incus command that gives guest `name` the chosen VF."""
    if target == Target.PROXMOX:
        return proxmox_plan(name, choice.address, read_proxmox_conf(paths, name))
    return incus_plan(name, choice, pf, incus_kind(paths, name))
