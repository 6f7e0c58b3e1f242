"""The pinned upstream driver release: the one place that names it (docs/notes.md, "The pinned
driver" and "The compat layer").

debian/rules reads these values for the ${irisxe:Driver} substvar and the dkms override,
and the tests take them from here; docs/HACKING.md ("Releases and the pin") lists what
moves with the pin beside this file. Pure: data.
"""

DRIVER_PACKAGE = "i915-sriov-dkms"
DRIVER_VERSION = "2025.12.10"
DRIVER_COMMIT = "2482f8fa4b1aabf10c5c9e5c1d4e37a84f2cdf57"
# What /sys/module/{i915,xe}/version reads when the DKMS build is the loaded one.
MODULE_VERSION = "2025.12.10-sriov"
# BUILD_EXCLUSIVE_KERNEL of the pinned dkms.conf.
KERNEL_PATTERN = r"^6\.1[2-8]"
KERNEL_RANGE_TEXT = "6.12 to 6.18"
# The hardware limit and upstream's recommended max_vfs; VF numbers run 1..MAX_VFS.
MAX_VFS = 7
# i915.enable_guc value upstream requires: GuC submission + HuC (7 is rejected).
I915_ENABLE_GUC = 3

# API changes Debian backported into its 6.12 kernels (upstream stable updates) that this
# release does not know (docs/notes.md, "The compat layer"). Each is
# recognised in the kernel headers: `probe` is a path below the headers tree
# (/lib/modules/<release>/build or .../source, which on Debian are the -amd64 and -common
# halves), `marker` an extended regular expression matched with the file's newlines folded
# to spaces (None: the file's existence is the marker; a leading "!": the file exists and
# does not match). `bridge` names the compat layer's feature probe
# (conf/dkms/compat/probes/<bridge>.c) whose mapping lets the build through; None means
# nothing bridges the change and dkms must skip the kernel. This table is the one place
# that names the changes: dkms.judge and the rendered dkms override both read it.
HEADER_CHANGES: tuple[tuple[str, str, str, str | None, str | None], ...] = (
    # (name, first Debian release with it, probe, marker, bridge)
    (
        "__copy_from_user_inatomic_nocache renamed to copy_from_user_inatomic_nontemporal",
        "6.12.85",
        "include/linux/uaccess.h",
        r"copy_from_user_inatomic_nontemporal",
        "copy_from_user_inatomic_nontemporal",
    ),
    (
        "pci_resize_resource takes a 4th argument",
        "6.12.100",
        "include/linux/pci.h",
        r"pci_resize_resource\([^)]*,[^)]*,[^)]*,[^)]*\)",
        "pci_resize_resource_exclude_bars",
    ),
    (
        "the DRM buddy allocator moved to <linux/gpu_buddy.h>",
        "6.12.101",
        "include/linux/gpu_buddy.h",
        None,
        "gpu_buddy",
    ),
    (
        "drm_sched_job_init takes a client id",
        "6.12.103",
        "include/drm/gpu_scheduler.h",
        r"drm_sched_job_init\([^)]*drm_client_id[[:space:]]*\)",
        "drm_sched_job_init_client_id",
    ),
    (
        "the fbdev core allocates fb_info (drm_fb_helper_alloc_info is gone)",
        "6.12.103",
        "include/drm/drm_fb_helper.h",
        r"!drm_fb_helper_alloc_info",
        "drm_fb_helper_core_allocates_info",
    ),
    (
        "drm_exec_for_each_locked_object takes 2 arguments",
        "6.12.105",
        "include/drm/drm_exec.h",
        r"define drm_exec_for_each_locked_object\("
        r"[[:space:]]*exec[[:space:]]*,[[:space:]]*obj[[:space:]]*\)",
        "drm_exec_for_each_locked_object_2args",
    ),
    (
        "the drm client restore callback takes bool force",
        "6.12.112",
        "include/drm/drm_client.h",
        r"\(\*restore\)\([^)]*,[[:space:]]*bool[[:space:]]+force[[:space:]]*\)",
        "drm_client_restore_force",
    ),
    (
        "drm_fb_helper_restore_fbdev_mode_unlocked takes bool force",
        "6.12.113",
        "include/drm/drm_fb_helper.h",
        r"drm_fb_helper_restore_fbdev_mode_unlocked\([^)]*,[[:space:]]*bool[[:space:]]+force",
        "drm_fb_helper_restore_force",
    ),
    (
        "drm_sched_init takes an argument struct",
        "6.12.115",
        "include/drm/gpu_scheduler.h",
        r"struct drm_sched_init_args[[:space:]]*\{",
        "drm_sched_init_args",
    ),
)
