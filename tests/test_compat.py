"""The kernel compatibility guard: compat.judge in Python and the bash dkms override
rendered from the same table give the same verdict on the same header trees."""

import subprocess
from pathlib import Path

import pytest

from irisxe_sriov import compat, pin, render
from irisxe_sriov.paths import Paths

OLD_PCI = "int __must_check pci_resize_resource(struct pci_dev *dev, int i, int size);\n"
NEW_PCI = (
    "int __must_check pci_resize_resource(struct pci_dev *dev, int i, int size,\n"
    "\t\t\t\t\tint exclude_bars);\n"
)
RENAME = "copy_from_user_inatomic_nontemporal(void *to, const void __user *from,\n"
OLD_EXEC = "#define drm_exec_for_each_locked_object(exec, index, obj)\t\\\n"
NEW_EXEC = "#define drm_exec_for_each_locked_object(exec, obj)\t\t\t\\\n"
SCHED = "struct drm_sched_init_args {\n\tconst struct drm_sched_backend_ops *ops;\n"


def headers(root: Path, release: str, files: dict[str, str]) -> None:
    """Debian's layout: build/ (the -amd64 half) and source/ (the -common half)."""
    modules = root / "lib/modules" / release
    (modules / "kernel").mkdir(parents=True)
    (modules / "build" / "include").mkdir(parents=True)
    for path, text in files.items():
        target = modules / "source" / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text)


TREES = {
    "6.12.40-amd64": {
        "include/linux/pci.h": OLD_PCI,
        "include/drm/drm_exec.h": OLD_EXEC,
        "include/linux/uaccess.h": "static inline int x;\n",
    },
    "6.12.90-amd64": {
        "include/linux/pci.h": OLD_PCI,
        "include/drm/drm_exec.h": OLD_EXEC,
        "include/linux/uaccess.h": RENAME,
    },
    "6.12.117+deb13-amd64": {
        "include/linux/pci.h": NEW_PCI,
        "include/drm/drm_exec.h": NEW_EXEC,
        "include/linux/uaccess.h": RENAME,
        "include/linux/gpu_buddy.h": "",
        "include/drm/gpu_scheduler.h": SCHED,
    },
}


@pytest.fixture
def kernels(tmp_path):
    for release, files in TREES.items():
        headers(tmp_path, release, files)
    return tmp_path


def python_verdict(root: Path, release: str) -> compat.Judgement:
    found, texts = compat.read_headers(Paths(root), release)
    return compat.judge(release, found, texts)


def bash_verdict(root: Path, release: str) -> tuple[str, str]:
    override = root / "override.conf"
    override.write_text(render.dkms_override())
    script = (
        f"kernelver={release}; kernel_source_dir={root}/lib/modules/{release}/build; "
        'BUILD_EXCLUSIVE_KERNEL="^6\\.1[2-8]"; MAKE[0]="make modules"; '
        f'. {override}; printf "%s|%s|%s" "$BUILD_EXCLUSIVE_KERNEL" "${{MAKE[0]}}" '
        '"$(declare -F | grep -c irisxe; set | grep -c ^irisxe_sriov)"'
    )
    done = subprocess.run(["bash", "-c", script], capture_output=True, text=True, check=True)
    exclusive, make, leftovers = done.stdout.split("|")
    assert leftovers == "0\n0"  # the override leaves no function or variable behind
    return exclusive, make


def test_old_kernel_builds_unchanged(kernels):
    judgement = python_verdict(kernels, "6.12.40-amd64")
    assert judgement.buildable and judgement.blocking == () and judgement.bridged == ()
    assert bash_verdict(kernels, "6.12.40-amd64") == ("^6\\.1[2-8]", "make modules")


def test_rename_only_is_bridged(kernels):
    judgement = python_verdict(kernels, "6.12.90-amd64")
    assert judgement.buildable and judgement.bridged == (compat.CHANGES[0].name,)
    exclusive, make = bash_verdict(kernels, "6.12.90-amd64")
    assert exclusive == "^6\\.1[2-8]"
    assert make == (
        "make modules "
        "KCFLAGS=-D__copy_from_user_inatomic_nocache=copy_from_user_inatomic_nontemporal"
    )


def test_current_debian_13_headers_are_skipped(kernels):
    judgement = python_verdict(kernels, "6.12.117+deb13-amd64")
    assert not judgement.buildable
    assert len(judgement.blocking) == 4  # every unbridgeable change of facts.md section 2
    exclusive, _ = bash_verdict(kernels, "6.12.117+deb13-amd64")
    assert exclusive.startswith("^irisxe-sriov:")


def test_kernel_states(kernels):
    dkms = compat.dkms_tree(Paths(kernels))
    (dkms / "6.12.90-amd64" / "x86_64" / "module").mkdir(parents=True)
    installed = kernels / "lib/modules/6.12.40-amd64/updates/dkms"
    installed.mkdir(parents=True)
    (installed / "i915.ko.xz").write_text("")
    (kernels / "lib/modules/6.19.1-amd64/kernel").mkdir(parents=True)
    states = {s.release: (s.state, s.detail) for s in compat.kernel_states(Paths(kernels))}
    assert states["6.12.40-amd64"][0] == "installed"
    assert states["6.12.90-amd64"][0] == "built"
    assert states["6.12.117+deb13-amd64"] == (
        "skipped",
        "headers the pinned release cannot build against: "
        + "; ".join(c.name for c in compat.CHANGES[1:]),
    )
    assert states["6.19.1-amd64"] == (
        "no-headers",
        "no headers: install linux-headers-6.19.1-amd64",
    )
    assert list(states) == [
        "6.12.40-amd64",
        "6.12.90-amd64",
        "6.12.117+deb13-amd64",
        "6.19.1-amd64",
    ]


def test_failed_build_reports_the_first_compiler_error(kernels):
    log = compat.dkms_tree(Paths(kernels)) / "build" / "make.log"
    log.parent.mkdir(parents=True)
    log.write_text(
        f"DKMS (dkms-3.2.2) make.log for {pin.DRIVER_PACKAGE}/{pin.DRIVER_VERSION} "
        "for kernel 6.12.90-amd64 (x86_64)\nmake -C ...\n"
        "standin.c:5:10: fatal error: drm/drm_buddy.h: No such file or directory\n"
        "standin.c:9:1: error: implicit declaration\n"
    )
    state = {s.release: s for s in compat.kernel_states(Paths(kernels))}["6.12.90-amd64"]
    assert state.state == "failed"
    assert state.detail.startswith(
        "the build failed: standin.c:5:10: fatal error: drm/drm_buddy.h: No such file or directory"
    )
