"""The pinned upstream driver release: the one place that names it (see facts.md: 1, 2).

debian/rules reads these values for the ${irisxe:Driver} substvar, so moving the pin is a
change to this file only.
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
