"""Why the running kernel lacks parameters: the first broken link from settings to boot.

Users' most common silent failure is parameters that never reach the kernel: the wrong
file edited, the boot configuration not regenerated, a later GRUB drop-in overriding the
value, systemd-boot or Proxmox instead of GRUB. Pure: machine/bootfiles.py gathers the
files, `locate` names the one that was not applied.
"""

import re
from typing import NamedTuple

from irisxe_sriov import cmdline, fixes
from irisxe_sriov.choices import BootPath
from irisxe_sriov.fixes import Fix
from irisxe_sriov.paths import GRUB_CFG, GRUB_DROPIN, KERNEL_CMDLINE
from irisxe_sriov.write.plan import PROXMOX_REFRESH, UPDATE_GRUB, UPDATE_INITRAMFS

APPLY = fixes.APPLY


class BootFiles(NamedTuple):
    """The files that carry the kernel parameters on the way to the kernel."""

    boot_path: BootPath | None
    dropin: str | None
    later_dropins: tuple[tuple[str, str], ...]  # (path, text) sorting after ours
    grub_cfg: str | None
    kernel_cmdline: str | None
    entries: tuple[tuple[str, str], ...]  # (path, text) of systemd-boot loader entries


class Verdict(NamedTuple):
    file: str | None  # the file that does not carry the parameters; None: all do
    problem: str
    fix: Fix  # the steps that mend this link

    @property
    def steps(self) -> Fix:
        """Everything still to do: the fix, then the reboot that brings it in."""
        return self.fix.then(fixes.REBOOT)


def overrides(text: str) -> bool:
    """Does a drop-in set GRUB_CMDLINE_LINUX_DEFAULT without keeping the earlier value?"""
    for line in text.splitlines():
        match = re.match(r"\s*(?:export\s+)?GRUB_CMDLINE_LINUX_DEFAULT=(.*)", line)
        if match and "GRUB_CMDLINE_LINUX_DEFAULT" not in match.group(1):
            return True
    return False


def kernel_lines(text: str, prefix: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if line.strip().startswith(prefix)]


def by_hand(wanted: list[str]) -> str:
    parameters = " ".join(wanted)
    return (
        f"add {parameters} yourself: for GRUB to GRUB_CMDLINE_LINUX_DEFAULT in /etc/default/grub, "
        f"then update-grub; for systemd-boot to /etc/kernel/cmdline, then update-initramfs -u -k "
        f"all; for Proxmox VE to /etc/kernel/cmdline, then proxmox-boot-tool refresh; or set "
        f"bootloader= so that irisxe-sriov does it"
    )


def by_hand_fix(wanted: list[str]) -> Fix:
    return fixes.of(fixes.manual(by_hand(wanted)))


def locate(files: BootFiles, wanted: list[str]) -> Verdict:
    """The first place on the boot path where `wanted` is missing."""
    path = files.boot_path
    if path in (None, BootPath.NONE):
        why = "bootloader=none" if path else "no boot path was found"
        return Verdict(None, f"nothing writes the kernel parameters ({why})", by_hand_fix(wanted))
    if path == BootPath.GRUB:
        dropin = GRUB_DROPIN
        # the blacklist and intel_iommu's options are merged when grub-mkconfig sources
        # the drop-in: not literally in it
        plain = [t for t in wanted if cmdline.key_of(t) not in cmdline.MEMBERS]
        if files.dropin is None or not all(t in files.dropin for t in plain):
            return Verdict(dropin, f"{dropin} is missing or out of date", APPLY)
        for name, text in files.later_dropins:
            if overrides(text):
                return Verdict(
                    name,
                    f"{name} sorts after {dropin} and sets GRUB_CMDLINE_LINUX_DEFAULT anew",
                    fixes.of(
                        fixes.manual(
                            f"make {name} append to GRUB_CMDLINE_LINUX_DEFAULT, or rename it "
                            "to sort before irisxe-sriov.cfg"
                        ),
                        fixes.run(*UPDATE_GRUB),
                    ),
                )
        lines = kernel_lines(files.grub_cfg or "", "linux")
        if not lines or any(cmdline.missing_from(line, wanted) for line in lines):
            return Verdict(
                GRUB_CFG,
                "/boot/grub/grub.cfg was not regenerated",
                fixes.of(fixes.run(*UPDATE_GRUB)),
            )
    else:
        text = files.kernel_cmdline or ""
        line = text.partition("\n")[0] if path == BootPath.PROXMOX else text
        if cmdline.missing_from(line, wanted):
            return Verdict(KERNEL_CMDLINE, f"{KERNEL_CMDLINE} lacks the parameters", APPLY)
        if path == BootPath.PROXMOX:
            return Verdict(
                None,
                "the boot entries may predate /etc/kernel/cmdline",
                fixes.of(fixes.run(*PROXMOX_REFRESH)),
            )
        for name, entry in files.entries:
            options = " ".join(kernel_lines(entry, "options"))
            if cmdline.missing_from(options, wanted):
                return Verdict(
                    name,
                    f"the loader entry {name} lacks the parameters",
                    fixes.of(fixes.run(*UPDATE_INITRAMFS)),
                )
    return Verdict(None, "the boot configuration has the parameters", fixes.NONE)
