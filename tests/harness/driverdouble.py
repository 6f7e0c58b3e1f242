"""Test doubles of the two GPU drivers' scheduling ABI (the Intel GPU cannot exist here),
modelling what docs/notes.md, "Per-VF scheduling", records of the pinned DKMS i915
(prelim_iov) and of the kernel's xe 7.3 (sriov_admin).

Each lays its files out in a FakeSystem with the driver's modes and serves as vfs.Sysfs's
writer: a write goes through `store`, which applies the driver's rules and raises
OSError with the driver's errno where it refuses. `events` records every write that
reached the driver, in order, for the order tests.
"""

import errno
import os
import stat
from pathlib import Path

from fakesys import PF, FakeSystem, write
from irisxe_sriov.paths import Paths
from irisxe_sriov.runtime import vfs

U32_MAX = 0xFFFFFFFF
TOTAL_VFS = 7


def u32(text: str) -> int:
    """kstrtou32(buf, 0, ...): EINVAL for no number, ERANGE above u32."""
    value = text.strip()
    if not value.isascii() or not value.isdigit():
        raise OSError(errno.EINVAL, os.strerror(errno.EINVAL))
    if int(value) > U32_MAX:
        raise OSError(errno.ERANGE, os.strerror(errno.ERANGE))
    return int(value)


def refuse(number: int) -> None:
    raise OSError(number, os.strerror(number))


class Double(vfs.Sysfs):
    """The common part: the files, their modes, and sriov_numvfs."""

    def __init__(self, fake: FakeSystem, log: vfs.Log) -> None:
        super().__init__(Paths(fake.root), log)
        self.fake = fake
        self.pf_dir = fake.device_dir(PF)
        self.numvfs = 0
        self.events: list[tuple[str, str]] = []
        self.refusing: dict[str, int] = {}  # attribute -> errno the GuC answers with

    def lay(self, relative: str, mode: int, text: str = "") -> None:
        path = write(self.pf_dir / relative, text)
        path.chmod(mode)

    def value_file(self, relative: str, value: object) -> None:
        path = self.pf_dir / relative
        mode = stat.S_IMODE(path.stat().st_mode)
        path.chmod(0o644)
        path.write_text(f"{value}\n")
        path.chmod(mode)

    def store(self, path: Path, value: str) -> None:
        target = self.paths.inside(path)
        relative = os.path.relpath(target, self.pf_dir)
        if target.name == "sriov_numvfs":
            self.events.append((relative, value))
            self.set_numvfs(u32(value))
            super().store(path, value)
            return
        if not relative.startswith(self.anchor):
            super().store(path, value)
            return
        # root ignores modes on a plain file; the kernel's sysfs does not
        if not stat.S_IMODE(target.stat().st_mode) & 0o200:
            refuse(errno.EACCES)
        self.events.append((relative, value))
        if relative in self.refusing:
            refuse(self.refusing[relative])
        self.attribute(relative.removeprefix(self.anchor + "/"), value)

    def set_numvfs(self, count: int) -> None:
        if count and self.numvfs:
            refuse(errno.EBUSY)  # the PCI core: back to 0 first
        if count:
            self.enable(count)
        elif self.numvfs:
            self.disable()
        self.numvfs = count
        self.fake.set_vfs(count)

    anchor = ""

    def attribute(self, name: str, value: str) -> None:
        raise NotImplementedError

    def enable(self, count: int) -> None:
        raise NotImplementedError

    def disable(self) -> None:
        raise NotImplementedError


class I915Double(Double):
    """The DKMS i915: prelim_iov under the PF's DRM card (card0, one GT: gt0).

    - The quantum and timeout take any u32 (no clamp in i915's own code), VFs enabled or
      not; a nonzero VF value turns auto_provisioning off.
    - auto_provisioning=1 is refused with ESTALE unless every VF configuration is empty.
    - Enable: an empty configuration is auto-provisioned while auto_provisioning is on;
      with it off the VF comes up with an empty configuration (`empty_enabled`).
    - Disable: an auto-provisioned set is zeroed, quantum and timeout included; the PF's
      values stay.
    """

    anchor = "drm/card0/prelim_iov"

    def __init__(self, fake: FakeSystem, log: vfs.Log) -> None:
        super().__init__(fake, log)
        self.auto_provisioning = True
        self.auto_mode = False  # the configurations were auto-provisioned
        self.provisioned = dict.fromkeys(range(1, TOTAL_VFS + 1), False)
        self.quantum = dict.fromkeys(range(TOTAL_VFS + 1), 0)
        self.timeout = dict.fromkeys(range(TOTAL_VFS + 1), 0)
        self.empty_enabled: list[int] = []  # VFs enabled with an empty configuration
        self.lay(f"{self.anchor}/pf/auto_provisioning", 0o644, "1\n")
        for number in range(TOTAL_VFS + 1):
            name = "pf" if number == 0 else f"vf{number}"
            for attribute in ("exec_quantum_ms", "preempt_timeout_us"):
                self.lay(f"{self.anchor}/{name}/gt0/{attribute}", 0o644, "0\n")
            if number:
                self.lay(f"{self.anchor}/{name}/gt0/ggtt_quota", 0o644, "0\n")
        self.sync()

    def empty(self, number: int) -> bool:
        return (
            not self.provisioned[number] and not self.quantum[number] and not self.timeout[number]
        )

    def sync(self) -> None:
        self.value_file(f"{self.anchor}/pf/auto_provisioning", int(self.auto_provisioning))
        for number in range(TOTAL_VFS + 1):
            name = "pf" if number == 0 else f"vf{number}"
            self.value_file(f"{self.anchor}/{name}/gt0/exec_quantum_ms", self.quantum[number])
            self.value_file(f"{self.anchor}/{name}/gt0/preempt_timeout_us", self.timeout[number])

    def attribute(self, name: str, value: str) -> None:
        if name == "pf/auto_provisioning":
            wanted = value.strip() in ("1", "y", "Y", "on")
            configured = not all(self.empty(n) for n in self.provisioned)
            if wanted and not self.auto_provisioning and configured:
                refuse(errno.ESTALE)
            self.auto_provisioning = wanted
        else:
            function, _gt, attribute = name.split("/")
            number = 0 if function == "pf" else int(function.removeprefix("vf"))
            table = self.quantum if attribute == "exec_quantum_ms" else self.timeout
            table[number] = u32(value)
            if table[number] and number:
                self.auto_provisioning = False
        self.sync()

    def enable(self, count: int) -> None:
        for number in range(1, count + 1):
            if self.provisioned[number]:
                continue
            if self.auto_provisioning:
                self.provisioned[number] = True
                self.auto_mode = True
            else:
                self.empty_enabled.append(number)
        self.sync()

    def disable(self) -> None:
        if self.auto_mode:
            for number in self.provisioned:
                self.provisioned[number] = False
                self.quantum[number] = self.timeout[number] = 0
            self.auto_mode = False
        self.sync()


XE_FAIR = (16, 16000)  # what xe 7.3.4 gives every function at enable while untouched


class XeDouble(Double):
    """The kernel's xe 7.3: sriov_admin under the PF.

    - {pf,vfN}/profile/{exec_quantum_ms,preempt_timeout_us} 0644; pf's sched_priority 0644
      (low, normal, high; read as "low [normal] high"), a VF's 0444; .bulk_profile/* 0200,
      setting the PF and VFs 1..totalvfs.
    - u32 values; above 100000 ms / 100000000 us silently clamped; an unknown priority word
      EINVAL.
    - Enable: the PF and the enabled VFs get 16 ms / 16000 us, but only while every
      function is at 0 and sched_if_idle is off.
    - Disable: the VFs' values zeroed; the PF's quantum, timeout and sched_if_idle reset.
    """

    anchor = "sriov_admin"
    PRIORITIES = ("low", "normal", "high")

    def __init__(self, fake: FakeSystem, log: vfs.Log) -> None:
        super().__init__(fake, log)
        self.quantum = dict.fromkeys(range(TOTAL_VFS + 1), 0)
        self.timeout = dict.fromkeys(range(TOTAL_VFS + 1), 0)
        self.priority = "low"  # the PF's (the double's start value)
        self.sched_if_idle = False
        for number in range(TOTAL_VFS + 1):
            name = "pf" if number == 0 else f"vf{number}"
            for attribute in ("exec_quantum_ms", "preempt_timeout_us"):
                self.lay(f"{self.anchor}/{name}/profile/{attribute}", 0o644, "0\n")
            self.lay(f"{self.anchor}/{name}/profile/sched_priority", 0o444 if number else 0o644)
        for attribute in ("exec_quantum_ms", "preempt_timeout_us", "sched_priority"):
            self.lay(f"{self.anchor}/.bulk_profile/{attribute}", 0o200)
        self.sync()

    def sync(self) -> None:
        for number in range(TOTAL_VFS + 1):
            name = "pf" if number == 0 else f"vf{number}"
            profile = f"{self.anchor}/{name}/profile"
            self.value_file(f"{profile}/exec_quantum_ms", self.quantum[number])
            self.value_file(f"{profile}/preempt_timeout_us", self.timeout[number])
            words = self.PRIORITIES if number == 0 else self.PRIORITIES[:2]
            current = self.priority if number == 0 else "low"
            shown = " ".join(f"[{w}]" if w == current else w for w in words)
            self.value_file(f"{profile}/sched_priority", shown)

    def attribute(self, name: str, value: str) -> None:
        function, _, attribute = name.rpartition("/")
        if attribute == "sched_priority":
            word = value.strip()
            if word not in self.PRIORITIES or (function.startswith(".bulk") and word == "high"):
                refuse(errno.EINVAL)
            if function.startswith(".bulk"):
                self.sched_if_idle = word == "normal"
            else:
                self.priority = word
            self.sync()
            return
        number = u32(value)
        limit = 100_000 if attribute == "exec_quantum_ms" else 100_000_000
        number = min(number, limit)
        table = self.quantum if attribute == "exec_quantum_ms" else self.timeout
        if function == ".bulk_profile":
            for n in table:
                table[n] = number
        else:
            table[0 if function == "pf/profile" else int(function[2:].split("/")[0])] = number
        self.sync()

    def enable(self, count: int) -> None:
        untouched = not any(self.quantum.values()) and not any(self.timeout.values())
        if untouched and not self.sched_if_idle:
            for number in range(count + 1):
                self.quantum[number], self.timeout[number] = XE_FAIR
        self.sync()

    def disable(self) -> None:
        for number in self.quantum:
            self.quantum[number] = self.timeout[number] = 0
        self.sched_if_idle = False
        self.sync()
