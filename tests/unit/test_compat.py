"""The kernel compatibility guard: dkms.judge in Python and the bash dkms override
rendered from the same table give the same verdict on the same header trees, and every
change the table calls bridged has its feature probe in the compat layer."""

import subprocess
from pathlib import Path
from typing import NamedTuple

import pytest

import fakesys
from irisxe_sriov import pin
from irisxe_sriov.kernels import dkms
from irisxe_sriov.machine import kernelfiles
from irisxe_sriov.paths import DKMS_LAYER_DIR, Paths
from irisxe_sriov.write import render

OLD_PCI = "int __must_check pci_resize_resource(struct pci_dev *dev, int i, int size);\n"
NEW_PCI = (
    "int __must_check pci_resize_resource(struct pci_dev *dev, int i, int size,\n"
    "\t\t\t\t\tint exclude_bars);\n"
)
RENAME = "copy_from_user_inatomic_nontemporal(void *to, const void __user *from,\n"
OLD_EXEC = "#define drm_exec_for_each_locked_object(exec, index, obj)\t\\\n"
NEW_EXEC = "#define drm_exec_for_each_locked_object(exec, obj)\t\t\t\\\n"
SCHED = (
    "struct drm_sched_init_args {\n\tconst struct drm_sched_backend_ops *ops;\n};\n"
    "int drm_sched_job_init(struct drm_sched_job *job,\n\t\t       struct drm_sched_entity "
    "*entity,\n\t\t       u32 credits, void *owner,\n\t\t       u64 drm_client_id);\n"
)
OLD_FB = (
    "struct fb_info *drm_fb_helper_alloc_info(struct drm_fb_helper *fb_helper);\n"
    "int drm_fb_helper_restore_fbdev_mode_unlocked(struct drm_fb_helper *fb_helper);\n"
)
NEW_FB = (
    "int drm_fb_helper_restore_fbdev_mode_unlocked(struct drm_fb_helper *fb_helper,\n"
    "\t\t\t\t\t      bool force);\n"
)
OLD_CLIENT = "\tint (*restore)(struct drm_client_dev *client);\n"
NEW_CLIENT = "\tint (*restore)(struct drm_client_dev *client, bool force);\n"
LAYER = Path(__file__).resolve().parents[2] / "conf" / "dkms" / "compat"


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
        "include/drm/drm_fb_helper.h": OLD_FB,
        "include/drm/drm_client.h": OLD_CLIENT,
    },
    "6.12.90-amd64": {
        "include/linux/pci.h": OLD_PCI,
        "include/drm/drm_exec.h": OLD_EXEC,
        "include/linux/uaccess.h": RENAME,
        "include/drm/drm_fb_helper.h": OLD_FB,
        "include/drm/drm_client.h": OLD_CLIENT,
    },
    "6.12.117+deb13-amd64": {
        "include/linux/pci.h": NEW_PCI,
        "include/drm/drm_exec.h": NEW_EXEC,
        "include/linux/uaccess.h": RENAME,
        "include/linux/gpu_buddy.h": "",
        "include/drm/gpu_scheduler.h": SCHED,
        "include/drm/drm_fb_helper.h": NEW_FB,
        "include/drm/drm_client.h": NEW_CLIENT,
    },
}


@pytest.fixture
def kernels(tmp_path):
    for release, files in TREES.items():
        headers(tmp_path, release, files)
    fakesys.install_dkms_source(tmp_path)
    return tmp_path


def python_verdict(root: Path, release: str) -> dkms.Judgement:
    found, texts = kernelfiles.read_headers(Paths(root), release)
    return dkms.judge(release, found, texts)


class Verdict(NamedTuple):
    exclusive: str  # BUILD_EXCLUSIVE_KERNEL after the override
    make: str  # MAKE[0]
    pre_build: str  # PRE_BUILD


def bash_verdict(root: Path, release: str) -> Verdict:
    """Source the rendered override as dkms 3.2.2 does, with dkms.conf's values set."""
    override = root / "override.conf"
    override.write_text(render.dkms_override())
    (root / "dkms").mkdir(exist_ok=True)
    script = (
        f"kernelver={release}; kernel_source_dir={root}/lib/modules/{release}/build; "
        f"dkms_tree={root}/dkms; parallel_jobs=2; PACKAGE_NAME={pin.DRIVER_PACKAGE}; "
        f"PACKAGE_VERSION={pin.DRIVER_VERSION}; "
        'BUILD_EXCLUSIVE_KERNEL="^6\\.1[2-8]"; MAKE[0]="make modules"; PRE_BUILD=; '
        f'. {override}; printf "%s|%s|%s|%s" "$BUILD_EXCLUSIVE_KERNEL" "${{MAKE[0]}}" '
        '"$PRE_BUILD" "$(declare -F | grep -c irisxe; set | grep -c ^irisxe_sriov)"'
    )
    done = subprocess.run(["bash", "-c", script], capture_output=True, text=True, check=True)
    exclusive, make, pre_build, leftovers = done.stdout.split("|")
    assert leftovers == "0\n0"  # the override leaves no function or variable behind
    return Verdict(exclusive, make, pre_build)


def layer_flags(root: Path) -> str:
    generated = f"{root}/dkms/{pin.DRIVER_PACKAGE}/{pin.DRIVER_VERSION}/build/.irisxe-compat"
    return (
        f"KCFLAGS='-include {DKMS_LAYER_DIR}/include/irisxe-compat.h' "
        f"NOSTDINC_FLAGS='-nostdinc -I{DKMS_LAYER_DIR}/include -I{generated}'"
    )


def test_old_kernel_builds_unchanged(kernels):
    judgement = python_verdict(kernels, "6.12.40-amd64")
    assert judgement.buildable and judgement.blocking == () and judgement.bridged == ()
    assert bash_verdict(kernels, "6.12.40-amd64") == ("^6\\.1[2-8]", "make modules", "")


def test_rename_only_is_bridged_by_the_layer(kernels):
    judgement = python_verdict(kernels, "6.12.90-amd64")
    assert judgement.buildable and judgement.bridged == (dkms.CHANGES[0].name,)
    verdict = bash_verdict(kernels, "6.12.90-amd64")
    assert verdict.exclusive == "^6\\.1[2-8]"
    assert verdict.make == f"make modules {layer_flags(kernels)}"


def test_current_debian_13_headers_build_with_the_layer(kernels):
    judgement = python_verdict(kernels, "6.12.117+deb13-amd64")
    assert judgement.buildable and judgement.blocking == ()
    assert judgement.bridged == tuple(c.name for c in dkms.CHANGES)  # all nine
    verdict = bash_verdict(kernels, "6.12.117+deb13-amd64")
    assert verdict.exclusive == "^6\\.1[2-8]"
    assert verdict.make == f"make modules {layer_flags(kernels)}"
    # dkms runs PRE_BUILD as a path below its build directory (<tree>/<name>/<version>/build)
    climb = "../" * (len(kernels.parts) + 3)  # root's parts include "/", plus dkms/name/version
    generated = f"{kernels}/dkms/{pin.DRIVER_PACKAGE}/{pin.DRIVER_VERSION}/build/.irisxe-compat"
    assert verdict.pre_build == (
        f"{climb}{DKMS_LAYER_DIR.lstrip('/')}/irisxe-build "
        f"{kernels}/lib/modules/6.12.117+deb13-amd64/build {generated} -j2 "
        f"6.12.117+deb13-amd64 make modules {layer_flags(kernels)}"
    )


def test_an_unbridged_change_makes_dkms_skip(kernels, monkeypatch):
    """A change the table knows but nothing bridges: both sides skip the kernel."""
    unbridged = dkms.CHANGES[1]._replace(bridge=None)
    monkeypatch.setattr(dkms, "CHANGES", (dkms.CHANGES[0], unbridged, *dkms.CHANGES[2:]))
    judgement = python_verdict(kernels, "6.12.117+deb13-amd64")
    assert not judgement.buildable and judgement.blocking == (unbridged.name,)
    verdict = bash_verdict(kernels, "6.12.117+deb13-amd64")
    assert verdict.exclusive.startswith("^irisxe-sriov:")
    assert verdict.pre_build == ""


def test_every_bridge_is_a_probe_of_the_layer():
    probes = {p.stem for p in (LAYER / "probes").glob("*.c")}
    assert {c.bridge for c in dkms.CHANGES} == probes
    header = (LAYER / "include" / "irisxe-compat.h").read_text()
    wrapper = (LAYER / "include" / "drm" / "drm_exec.h").read_text()
    for probe in probes:
        assert f"IRISXE_HAVE_{probe.upper()}" in header + wrapper, probe


def kernel_states(root: Path) -> list[dkms.KernelState]:
    """Each installed kernel's state, read as the snapshot reads it."""
    paths = Paths(root)
    log = kernelfiles.read_make_log(paths)
    return [
        dkms.state_of(kernelfiles.read_dkms(paths, r, log))
        for r in kernelfiles.installed_kernels(paths)
    ]


def test_kernel_states(kernels):
    tree = kernelfiles.dkms_tree(Paths(kernels))
    (tree / "6.12.90-amd64" / "x86_64" / "module").mkdir(parents=True)
    installed = kernels / "lib/modules/6.12.40-amd64/updates/dkms"
    installed.mkdir(parents=True)
    (installed / "i915.ko.xz").write_text("")
    (kernels / "lib/modules/6.19.1-amd64/kernel").mkdir(parents=True)
    (kernels / "lib/modules/6.12.118-amd64/kernel").mkdir(parents=True)  # no headers
    found = {s.release: s for s in kernel_states(kernels)}
    states = {release: (s.state, s.detail, str(s.fix)) for release, s in found.items()}
    ref = f"{pin.DRIVER_PACKAGE}/{pin.DRIVER_VERSION}"
    assert states["6.12.40-amd64"][0] == "installed"
    assert states["6.12.90-amd64"] == (
        "built",
        "built but not installed",
        f"dkms install {ref} -k 6.12.90-amd64",
    )
    assert states["6.12.117+deb13-amd64"] == (
        "not-built",
        "buildable but not built",
        f"dkms install {ref} -k 6.12.117+deb13-amd64",
    )
    assert states["6.12.118-amd64"] == (
        "no-headers",
        "no headers",
        "apt install linux-headers-6.12.118-amd64",
    )
    # outside the pin's range: nothing builds there, so no headers are asked for
    assert states["6.19.1-amd64"] == ("skipped", "outside the pin's range 6.12 to 6.18", "")
    assert list(states) == [
        "6.12.40-amd64",
        "6.12.90-amd64",
        "6.12.117+deb13-amd64",
        "6.12.118-amd64",
        "6.19.1-amd64",
    ]


def test_failed_build_reports_the_first_compiler_error(kernels):
    log = kernelfiles.dkms_tree(Paths(kernels)) / "build" / "make.log"
    log.parent.mkdir(parents=True)
    log.write_text(
        f"DKMS (dkms-3.2.2) make.log for {pin.DRIVER_PACKAGE}/{pin.DRIVER_VERSION} "
        "for kernel 6.12.90-amd64 (x86_64)\nmake -C ...\n"
        "standin.c:5:10: fatal error: drm/drm_buddy.h: No such file or directory\n"
        "standin.c:9:1: error: implicit declaration\n"
    )
    state = {s.release: s for s in kernel_states(kernels)}["6.12.90-amd64"]
    assert state.state == "failed"
    assert state.detail.startswith(
        "the build failed: standin.c:5:10: fatal error: drm/drm_buddy.h: No such file or directory"
    )
    # the fix is manual: report it, and keep booting a kernel the pinned build serves
    assert str(state.fix).endswith("keep booting a kernel whose state is installed meanwhile")
