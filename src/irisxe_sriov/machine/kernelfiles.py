"""What each installed kernel's files say: which kernels are installed, the pinned DKMS
build's tree, its make log and the probed header files, and the kernel's own xe (its
config, modules.alias and, where the verdict turns on it, xe.ko's modinfo). Every read is
bounded (reader.py); what the files mean is judged by kernels/dkms.py and
kernels/providers.py.
"""

import re
from pathlib import Path

from irisxe_sriov import pin
from irisxe_sriov.kernels import debversion, dkms, providers
from irisxe_sriov.machine import modinfo, reader
from irisxe_sriov.paths import MODULE_TREES, Paths, kernel_headers

PROBE_LIMIT = 1 << 20  # a header file is a few kB; a larger one is no header of ours


def read_headers(paths: Paths, release: str) -> tuple[bool, dict[str, str | None]]:
    """Whether headers exist for `release`, and each probed file's text (first found).
    Every file is resolved from its host spelling, so a link below the headers tree
    resolves inside the root as the link to the tree does."""
    directories = [d for d in kernel_headers(release) if paths.at(d).is_dir()]
    texts: dict[str, str | None] = {}
    for change in dkms.CHANGES:
        texts[change.probe] = None
        for directory in directories:
            text = reader.read_text(paths.at(f"{directory}/{change.probe}"), PROBE_LIMIT)
            if text is not None:
                texts[change.probe] = text
                break
    return bool(directories), texts


def installed_kernels(paths: Paths) -> list[str]:
    """Releases with a kernel image in /boot or a modules tree with kernel modules (Debian
    7.x packages keep theirs in /usr/lib/modules), oldest first in Debian's version order
    (release names need not compare as numbers: debversion)."""
    releases = {p.name.removeprefix("vmlinuz-") for p in paths.boot.glob("vmlinuz-*")}
    for modules in MODULE_TREES:
        releases |= {p.parent.name for p in paths.at(modules).glob("*/kernel")}
    return sorted(releases, key=debversion.release_key)


def dkms_tree(paths: Paths) -> Path:
    return paths.dkms_trees / pin.DRIVER_PACKAGE / pin.DRIVER_VERSION


def first_error(make_log: str) -> str | None:
    for line in make_log.splitlines():
        if "error:" in line:
            return line.strip()
    return None


MAKE_LOG_LIMIT = 16 << 20  # a failed build's log is some hundred kB


def read_make_log(paths: Paths) -> str:
    """dkms's log of the last build of the pinned driver ("" when there is none)."""
    return reader.read_text(dkms_tree(paths) / "build" / "make.log", MAKE_LOG_LIMIT) or ""


def read_dkms(paths: Paths, release: str, make_log: str) -> dkms.DkmsFiles:
    """What the files say about the pinned build on `release`; `make_log` is
    read_make_log's text (one file for every kernel: read once)."""
    updates = paths.module_trees(release)[0] / "updates"
    installed = any(updates.glob("**/i915.ko*")) or any(updates.glob("**/xe.ko*"))
    headers, texts = read_headers(paths, release)
    failure = None
    if f"for kernel {release} " in make_log:
        failure = first_error(make_log) or "see the log"
    source = (dkms_tree(paths) / "source").exists() or (
        paths.driver_source(pin.DRIVER_PACKAGE, pin.DRIVER_VERSION) / "dkms.conf"
    ).is_file()
    return dkms.DkmsFiles(
        release=release,
        headers=headers,
        texts=texts,
        installed=installed,
        built=(dkms_tree(paths) / release / dkms.ARCH / "module").is_dir(),
        source=source,
        log=paths.display(dkms_tree(paths) / "build" / "make.log"),
        failure=failure,
    )


# depmod's modules.alias of Debian's 7.3.4 is about 1.4 MB
MODULES_ALIAS_LIMIT = 32 << 20


def module_trees(paths: Paths, release: str) -> list[Path]:
    """Debian 7.x kernels keep their files in /usr/lib/modules, older ones in /lib/modules
    (the same directory on a merged-/usr system, two on a fake root)."""
    trees = paths.module_trees(release)
    return [tree for tree in trees if tree.is_dir()]


def read_config(paths: Paths, release: str) -> str | None:
    """The kernel's config: /boot/config-<release>, or the copy in its module tree that
    Debian 7.x packages ship (linux-base copies it to /boot)."""
    candidates = [paths.boot / f"config-{release}"]
    candidates += [tree / "config" for tree in module_trees(paths, release)]
    for candidate in candidates:
        text = reader.read_text(candidate)
        if text is not None:
            return text
    return None


def xe_module_file(paths: Paths, release: str) -> Path | None:
    for tree in module_trees(paths, release):
        for suffix in ("", ".xz", ".gz"):
            candidate = tree / (providers.XE_MODULE + suffix)
            if candidate.is_file():
                return candidate
        if (tree / (providers.XE_MODULE + ".zst")).is_file():
            return tree / (providers.XE_MODULE + ".zst")
    return None


def aliases_from_index(paths: Paths, release: str) -> frozenset[str] | None:
    """Device ids that depmod's modules.alias maps to xe; None when there is no index."""
    for tree in module_trees(paths, release):
        try:
            data = reader.read_bytes(tree / "modules.alias", MODULES_ALIAS_LIMIT)
        except (OSError, reader.UnreadableFile):
            continue
        lines = re.findall(rb"^alias pci:v00008086d0000([0-9A-F]{4})\S* xe$", data, re.M)
        return frozenset(line.decode().lower() for line in lines)
    return None


def read_xe_facts(paths: Paths, release: str, thorough: bool = True) -> providers.XeFacts:
    """The kernel's own xe. `thorough` reads xe.ko's modinfo for max_vfs (modinfo.py: about
    75 ms for Debian's xe.ko.xz the first time) where the verdict can turn on it; without
    it, max_vfs is not read (the 6.18 rule implies it) and the module is only opened when
    depmod's modules.alias is missing."""
    config = read_config(paths, release)
    values = providers.config_values(config or "", ("CONFIG_DRM_XE", "CONFIG_PCI_IOV"))
    drm_xe = values.get("CONFIG_DRM_XE") in ("y", "m")
    pci_iov = values.get("CONFIG_PCI_IOV") == "y"
    module = xe_module_file(paths, release)
    aliases = aliases_from_index(paths, release)
    # xe_verdict looks at max_vfs only for an SR-IOV capable xe from 6.18 on
    decisive = drm_xe and pci_iov and debversion.upstream_at_least(release, *providers.XE_PF_SINCE)
    max_vfs: bool | None = None
    unreadable = False
    if module is not None and ((thorough and decisive) or aliases is None):
        found = modinfo.read(paths, module)
        max_vfs = found.max_vfs
        unreadable = found.max_vfs is None
        aliases = found.aliases if aliases is None else aliases
    return providers.XeFacts(
        config_found=config is not None,
        drm_xe=drm_xe,
        pci_iov=pci_iov,
        module=module is not None,
        aliases=aliases or frozenset(),
        max_vfs=max_vfs if module is not None else False,
        unreadable=unreadable,
    )
