"""Every host path, resolved under a root directory.

No other module spells a host path: every file the package reads, lists, writes, renders or
hands to a tool is named here, so tests and `--root` work on a fake root and the real host
is just root "/" (tests/unit/test_guards.py holds this to the code). Messages may name a file
in words ("no /boot/grub/grub.cfg").
"""

import functools
import os
import re
from pathlib import Path

PACKAGE = "irisxe-sriov"
# The kernel gives up after 40 links (ELOOP); so does the resolution under a root.
MAX_LINKS = 40
# systemd-boot's loader identity (docs/notes.md, "Debian's boot paths").
SYSTEMD_BOOT_VENDOR = "4a67b082-0a4c-41cf-b6c7-440b29bb8c4f"  # its EFI variables' GUID
LOADER_INFO_EFIVAR = f"LoaderInfo-{SYSTEMD_BOOT_VENDOR}"
LOADER_ENTRY_DEFAULT_EFIVAR = f"LoaderEntryDefault-{SYSTEMD_BOOT_VENDOR}"
# Where Debian mounts an ESP (or XBOOTLDR), in the order bootctl looks (docs/notes.md,
# "Debian's boot paths"): systemd-boot's loader entries are searched there.
ESP_MOUNTS = ("/efi", "/boot/efi", "/boot")


# Files apply may delete when the configuration no longer needs them: nothing else, whatever
# a (damaged or hostile) manifest lists (docs/notes.md, "Hostile input").
GENERATED = (
    "/etc/default/irisxe-sriov",
    "/etc/default/grub.d/irisxe-sriov.cfg",
    "/etc/modprobe.d/irisxe-sriov.conf",
    "/etc/sysfs.d/irisxe-sriov.conf",
    "/etc/udev/rules.d/70-irisxe-sriov.rules",
    "/var/lib/irisxe-sriov/kernel-cmdline",
    "/var/lib/irisxe-sriov/kernel-cmdline.written",
    "/var/lib/irisxe-sriov/kernel-cmdline.purge",
    "/var/lib/irisxe-sriov/kernel-cmdline.undo.sed",
    "/var/lib/irisxe-sriov/purge-refresh",
    "/var/lib/irisxe-sriov/kernel-hold",
)
DRIVERCTL_OVERRIDE_RE = re.compile(
    r"/etc/driverctl\.d/pci-[0-9a-f]{4}:[0-9a-f]{2}:[0-9a-f]{2}\.[1-7]"
)


def is_generated(host_path: str) -> bool:
    """Is `host_path` (host spelling) one of the files this package renders? Pure."""
    return host_path in GENERATED or DRIVERCTL_OVERRIDE_RE.fullmatch(host_path) is not None


KERNEL_CMDLINE = "/etc/kernel/cmdline"
GRUB_DROPIN = "/etc/default/grub.d/irisxe-sriov.cfg"
GRUB_CFG = "/boot/grub/grub.cfg"
# The admin's files apply edits in place: only our tokens of them (docs/notes.md, "The
# admin's own files").
EDITED = (KERNEL_CMDLINE,)
# The admin's configuration, where ucf and local edits are (a host spelling's prefix).
ETC = "/etc/"
# What a unified diff names for a file that does not exist on one side.
DEV_NULL = "/dev/null"
# Where the package installs the dkms compat layer (conf/dkms/compat; docs/notes.md, "The
# compat layer").
DKMS_LAYER_DIR = "/usr/share/irisxe-sriov/dkms/compat"
# dkms signs its modules with this key; Secure Boot loads them once it is enrolled.
DKMS_KEY = "/var/lib/dkms/mok.pub"
APT_SOURCES_LIST = "/etc/apt/sources.list"
APT_SOURCES_DIR = "/etc/apt/sources.list.d"
DEB822_SOURCES = APT_SOURCES_DIR + "/debian.sources"  # Debian 13's own, in deb822
# Proxmox VE's cluster-wide PCI resource mappings (pmxcfs: the same on every node).
PVE_PCI_MAPPINGS = "/etc/pve/mapping/pci.cfg"
# Debian 7.x kernels keep their modules in /usr/lib/modules, older ones in /lib/modules.
MODULE_TREES = ("/lib/modules", "/usr/lib/modules")
DRI_DIR = "/dev/dri"  # DRM nodes: cardN, renderDN
VFIO_DIR = "/dev/vfio"  # VFIO group devices, by IOMMU group number
DEV_DIR = "/dev/"


def kernel_headers(release: str) -> list[str]:
    """The host spellings of a kernel's two header halves (build is the -amd64 one, source
    the -common one on Debian)."""
    return [f"{MODULE_TREES[0]}/{release}/{name}" for name in ("build", "source")]


def dri_node(name: str) -> str:
    return f"{DRI_DIR}/{name}"


STATE_DIR = "/var/lib/irisxe-sriov"
WRITTEN_DIR = STATE_DIR + "/written"


# node-exporter's textfile collector directory, as Debian's prometheus-node-exporter
# sets it (--collector.textfile.directory in /etc/default/prometheus-node-exporter):
# `metrics --textfile` writes there, only where it exists; remove and purge delete it
METRICS_DIR = "/var/lib/prometheus/node-exporter"
METRICS_TEXTFILE = METRICS_DIR + "/irisxe-sriov.prom"


def written_name(host_path: str) -> str:
    """The name of apply's copy of a generated file under WRITTEN_DIR."""
    return host_path.strip("/").replace("/", ":")


def is_replayable(host_path: str) -> bool:
    """Is `host_path` one apply may write or remove: a generated file, its .ucf-dist, our
    copy of one, or an admin's file it edits? The journal and the postrm's purge replay
    nothing else, whatever their records say (a damaged or planted journal). Pure."""
    if host_path in EDITED:
        return True
    base = host_path.removesuffix(".ucf-dist")
    if is_generated(base):
        return True
    prefix = WRITTEN_DIR + "/"
    if host_path.startswith(prefix):
        name = host_path[len(prefix) :]
        return name in {written_name(g) for g in GENERATED} or (
            WRITTEN_DRIVERCTL_RE.fullmatch(name) is not None
        )
    return False


# written_name of a driverctl override: its PCI address keeps its own colons
WRITTEN_DRIVERCTL_RE = re.compile(
    r"etc:driverctl\.d:pci-[0-9a-f]{4}:[0-9a-f]{2}:[0-9a-f]{2}\.[1-7]"
)


def shell_patterns() -> list[str]:
    """sh case patterns that match what is_replayable accepts, for the postrm, which has
    no Python (debian/rules puts them in; tests/unit/test_packaging.py compares the two)."""
    hex_ = "[0-9a-f]"
    driverctl = f"/etc/driverctl.d/pci-{hex_ * 4}:{hex_ * 2}:{hex_ * 2}.[1-7]"
    generated = [*GENERATED, driverctl]
    patterns = [*EDITED, *generated, *(f"{g}.ucf-dist" for g in generated)]
    patterns += [f"{WRITTEN_DIR}/{written_name(g)}" for g in generated]
    return patterns


TEMPORARY_SUFFIX = ".irisxe-tmp"  # apply's temporary beside a file: .NAME.XXXXXXXX.irisxe-tmp


def temporary_globs() -> list[str]:
    """sh globs of the temporaries a killed apply can leave beside our files outside the
    state directory (apply.replace_file), for the postrm's purge; the state directory
    goes whole."""
    files = [f for f in (*EDITED, *GENERATED) if not f.startswith(STATE_DIR + "/")]
    files.append("/etc/driverctl.d/pci-*")
    return [temporary_glob(f) for f in files]


def temporary_glob(host_path: str) -> str:
    """The sh glob of apply.replace_file's temporaries beside `host_path`."""
    path = Path(host_path)
    return f"{path.parent}/.{path.name}.{'?' * 8}{TEMPORARY_SUFFIX}"


class Paths:
    """Host paths under `root`. `display()` gives the spelling a person sees on the host.

    Under a root other than "/", every path is resolved as a chroot to the root would
    resolve it: absolute symlinks and ".." are taken against the root, never the host, so
    nothing read, written or deleted is outside it. Debian itself has such links
    (/lib/modules/<release>/build -> /usr/src/linux-headers-<release>).
    """

    def __init__(self, root: str | Path = "/") -> None:
        # absolute, so that every path made from it compares by its text (inside())
        self.root = Path(root).absolute()
        # resolved path -> the host spelling it was asked for, so that display() says
        # "/etc/..." even where /etc is a link to elsewhere in the root
        self.spellings: dict[Path, str] = {}
        self.root_text = os.fspath(self.root).rstrip("/") or "/"
        # the running system, spelt as such: no resolution under a root is needed
        self.at_host = self.root_text == "/"
        self.components: dict[str, tuple[str | None, bool]] = {}

    @functools.cached_property
    def is_host(self) -> bool:
        """True when the root is the running system, so host commands may run."""
        return self.root.resolve() == Path("/")

    def at(self, host_path: str, follow: bool = True) -> Path:
        """`host_path` under the root; `follow=False` leaves a symlink in the last
        component unresolved (to remove the link, not what it points to)."""
        spelling = "/" + host_path.strip("/")
        resolved = self.inside(self.root / spelling.lstrip("/"), follow)
        if resolved != self.root / spelling.lstrip("/"):
            self.spellings[resolved] = spelling
        return resolved

    def inside(self, path: Path, follow: bool = True) -> Path:
        """A path under the root, resolved as a chroot would (see the class)."""
        if self.at_host:
            return path  # the running system: the kernel resolves as it will later
        root = self.root_text
        text = os.fspath(path)
        if text != root and not text.startswith(root + "/"):
            raise ValueError(f"{text} is not under {root}")
        pending = text[len(root) :].split("/")
        pending.reverse()  # popped from the end
        done = ""  # the resolved part, "/a/b", relative to the root
        links = 0
        exists = True
        while pending:
            part = pending.pop()
            if part in ("", "."):
                continue
            if part == "..":
                done = done.rpartition("/")[0]
                continue
            candidate = f"{done}/{part}"
            target = None
            if exists and (follow or pending):
                target, exists = self.link_of(root + candidate, final=not pending)
            if target is None:
                done = candidate
                continue
            links += 1
            if links > MAX_LINKS:
                raise OSError(40, "Too many levels of symbolic links", text)
            if target.startswith("/"):
                done = ""
            pending.extend(reversed(target.split("/")))
        return Path(root + done) if done else self.root

    def link_of(self, location: str, final: bool) -> tuple[str | None, bool]:
        """(link target or None, exists) of one component. A component with more to come
        is a directory (or a link to one) that nothing here replaces, so its answer is
        kept: status resolves some 60 paths that share their first components (make
        bench). A last component is read each time: apply removes and writes those."""
        known = self.components.get(location)
        if known is not None:
            return known
        try:
            # a string, not a Path: some 250 components for status (make bench)
            answer: tuple[str | None, bool] = (os.readlink(location), True)  # noqa: PTH115
        except FileNotFoundError:
            return None, False
        except OSError:
            answer = (None, True)  # not a link (EINVAL), or a file where a directory belongs
        if not final:
            self.components[location] = answer
        return answer

    def display(self, path: Path) -> str:
        """The host spelling of a path under the root ("/etc/..."): as it was asked for
        from at(), where a link made it resolve elsewhere in the root."""
        if self.spellings:
            for known in (path, *path.parents):
                spelling = self.spellings.get(known)
                if spelling is not None:
                    rest = path.relative_to(known).as_posix()
                    return spelling if rest == "." else f"{spelling.rstrip('/')}/{rest}"
        relative = path.relative_to(self.root).as_posix()
        return "/" if relative == "." else "/" + relative

    def shown(self, path: Path | str) -> str:
        """The host spelling where `path` lies under the root, else the path as given."""
        try:
            return self.display(Path(path))
        except ValueError:
            return str(path)

    # --- settings and state -----------------------------------------------------------
    @property
    def settings(self) -> Path:
        return self.at("/etc/default/irisxe-sriov")

    @property
    def state_dir(self) -> Path:
        return self.at(STATE_DIR)

    @property
    def manifest(self) -> Path:
        """Files (and directories, ending in "/") that apply created; purge removes them."""
        return self.state_dir / "managed"

    @property
    def cmdline_record(self) -> Path:
        """Kernel command line tokens this package added or replaced (docs/notes.md, "Debian's boot
        paths")."""
        return self.state_dir / "kernel-cmdline"

    @property
    def cmdline_written(self) -> Path:
        """/etc/kernel/cmdline as apply last wrote it: purge recognises its own line."""
        return self.state_dir / "kernel-cmdline.written"

    @property
    def cmdline_purge(self) -> Path:
        """/etc/kernel/cmdline with our edits taken back, computed when it was written:
        what purge puts in place while the file is still as we wrote it (the sh postrm
        replays what Python decided; docs/notes.md, "Purge")."""
        return self.state_dir / "kernel-cmdline.purge"

    @property
    def cmdline_undo_sed(self) -> Path:
        """The sed script that takes our recorded edits back from a line edited since
        apply wrote it: purge's fallback (cmdline.undo_sed)."""
        return self.state_dir / "kernel-cmdline.undo.sed"

    @property
    def purge_refresh(self) -> Path:
        """The boot refresh commands purge runs once our lines are gone, one a line,
        decided when apply wrote them (the postrm replays; docs/notes.md, "Purge")."""
        return self.state_dir / "purge-refresh"

    @property
    def lock(self) -> Path:
        return self.state_dir / "lock"

    @property
    def journal(self) -> Path:
        """The changes of an apply in progress, a directory (apply.Journal): the next run
        completes them, a purge takes them back."""
        return self.state_dir / "journal"

    @property
    def pending_refresh(self) -> Path:
        """Boot refresh commands (update-grub, ...) still to run, one a line."""
        return self.state_dir / "pending-refresh"

    @property
    def written_dir(self) -> Path:
        """A copy of the version of each generated /etc file that apply last wrote: a file
        that differs from its copy was edited locally (ucf's cache, for the CLI)."""
        return self.at(WRITTEN_DIR)

    def written_copy(self, host_path: str) -> Path:
        return self.written_dir / written_name(host_path)

    @property
    def reboot_required(self) -> Path:
        return self.at("/run/reboot-required")

    @property
    def reboot_required_pkgs(self) -> Path:
        return self.at("/run/reboot-required.pkgs")

    def ucf_cache(self, host_path: str) -> Path:
        """ucf's copy of the version last handed to it (its three-way merge base)."""
        return self.at("/var/lib/ucf/cache") / host_path.replace("/", ":")

    # --- files this package renders ---------------------------------------------------
    @property
    def grub_dropin(self) -> Path:
        # Sorts after cloud images' 50-cloudimg-settings.cfg (docs/notes.md, "Debian's boot paths").
        return self.at(GRUB_DROPIN)

    @property
    def modprobe_conf(self) -> Path:
        return self.at("/etc/modprobe.d/irisxe-sriov.conf")

    @property
    def sysfs_dropin(self) -> Path:
        return self.at("/etc/sysfs.d/irisxe-sriov.conf")

    @property
    def udev_rule(self) -> Path:
        return self.at("/etc/udev/rules.d/70-irisxe-sriov.rules")

    @property
    def driverctl_dir(self) -> Path:
        return self.at("/etc/driverctl.d")

    def driverctl_override(self, address: str) -> Path:
        return self.driverctl_dir / f"pci-{address}"

    # --- boot loaders -----------------------------------------------------------------
    @property
    def kernel_cmdline(self) -> Path:
        return self.at(KERNEL_CMDLINE)

    @property
    def proxmox_boot_uuids(self) -> Path:
        return self.at("/etc/kernel/proxmox-boot-uuids")

    @property
    def proxmox_boot_pin(self) -> Path:
        """proxmox-boot-tool's pinned kernel (`proxmox-boot-tool kernel pin`)."""
        return self.at("/etc/kernel/proxmox-boot-pin")

    @property
    def kernel_hold(self) -> Path:
        """Our kernel hold, as recorded (hold.Record): ours to release, purge's to undo."""
        return self.state_dir / "kernel-hold"

    @property
    def grub_cfg(self) -> Path:
        return self.at(GRUB_CFG)

    def efivar(self, name: str) -> Path:
        """An EFI variable's file in efivarfs (name: Name-VendorGUID)."""
        return self.at("/sys/firmware/efi/efivars") / name

    @property
    def loader_info_efivar(self) -> Path:
        return self.efivar(LOADER_INFO_EFIVAR)

    @property
    def grub_defaults(self) -> Path:
        return self.at("/etc/default/grub")

    @property
    def grubenv(self) -> Path:
        return self.at("/boot/grub/grubenv")

    @property
    def boot(self) -> Path:
        return self.at("/boot")

    # --- read-only host state ---------------------------------------------------------
    @property
    def pci_devices(self) -> Path:
        return self.at("/sys/bus/pci/devices")

    def pci_device(self, address: str) -> Path:
        """The device's directory: the link in /sys/bus/pci/devices resolved in the root."""
        return self.at(f"/sys/bus/pci/devices/{address}")

    @property
    def pci_drivers_probe(self) -> Path:
        return self.at("/sys/bus/pci/drivers_probe")

    def pci_driver(self, name: str) -> Path:
        return self.at("/sys/bus/pci/drivers") / name

    @property
    def sys_class(self) -> Path:
        return self.at("/sys/class")

    @property
    def dmi(self) -> Path:
        return self.at("/sys/class/dmi/id")

    @property
    def cpuinfo(self) -> Path:
        return self.at("/proc/cpuinfo")

    @property
    def processes(self) -> Path:
        """/proc under the root, each process a numbered directory."""
        return self.at("/proc")

    @property
    def vfio_groups(self) -> Path:
        return self.at(VFIO_DIR)

    @property
    def libvirt_running(self) -> Path:
        """libvirt's live domain XML, one file per running domain."""
        return self.at("/run/libvirt/qemu")

    @property
    def libvirt_domains(self) -> Path:
        return self.at("/etc/libvirt/qemu")

    @property
    def proxmox_guests(self) -> Path:
        return self.at("/etc/pve/qemu-server")

    @property
    def incus(self) -> Path:
        return self.at("/var/lib/incus")

    @property
    def group_file(self) -> Path:
        return self.at("/etc/group")

    @property
    def hostname(self) -> Path:
        return self.at("/etc/hostname")

    @property
    def dkms_trees(self) -> Path:
        return self.at("/var/lib/dkms")

    def driver_source(self, package: str, version: str) -> Path:
        """Where a Debian DKMS package puts its source (`/usr/src/<package>-<version>`)."""
        return self.at(f"/usr/src/{package}-{version}")

    def module_trees(self, release: str) -> list[Path]:
        return [self.at(tree) / release for tree in MODULE_TREES]

    def module(self, name: str) -> Path:
        return self.at("/sys/module") / name

    @property
    def iommu_class(self) -> Path:
        return self.at("/sys/class/iommu")

    @property
    def kernel_locks(self) -> Path:
        """The running kernel's table of file locks, whatever the root: a lock taken on a
        file under the root is the running kernel's too."""
        return Path("/proc/locks")

    def kernel_process(self, pid: str) -> Path:
        """A process of the running kernel (the holder of a lock), whatever the root."""
        return Path("/proc") / pid

    @property
    def proc_cmdline(self) -> Path:
        return self.at("/proc/cmdline")

    @property
    def kernel_release(self) -> Path:
        return self.at("/proc/sys/kernel/osrelease")

    @property
    def os_release(self) -> tuple[Path, Path]:
        return self.at("/etc/os-release"), self.at("/usr/lib/os-release")

    @property
    def sysfs_conf(self) -> Path:
        # sysfsutils' unit has ConditionPathExists on it (docs/notes.md, "VFs at boot and their
        # bindings").
        return self.at("/etc/sysfs.conf")

    @property
    def driverctl_bin(self) -> Path:
        return self.at("/usr/sbin/driverctl")

    @property
    def modinfo_cache(self) -> Path:
        """What modinfo.py read from kernel modules (FHS /var/cache: safe to delete)."""
        return self.at(f"/var/cache/{PACKAGE}/modinfo.json")

    @property
    def dpkg_status(self) -> Path:
        return self.at("/var/lib/dpkg/status")
