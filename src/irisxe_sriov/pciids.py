"""Supported GPUs: device ids of the pinned driver's pciids.h (docs/notes.md, "The pinned driver").
Pure data."""

INTEL_VENDOR = "8086"

# group -> (description, device ids as 4 lowercase hex digits)
PLATFORMS: dict[str, tuple[str, tuple[str, ...]]] = {
    "ADL-S": (
        "Alder Lake-S, UHD Graphics 710/730/770",
        ("4680", "4682", "4688", "468a", "468b", "4690", "4692", "4693"),
    ),
    "ADL-P": (
        "Alder Lake-P/U/M, Iris Xe / UHD Graphics",
        (
            "46a0",
            "46a1",
            "46a2",
            "46a3",
            "46a6",
            "46a8",
            "46aa",
            "462a",
            "4626",
            "4628",
            "46b0",
            "46b1",
            "46b2",
            "46b3",
            "46c0",
            "46c1",
            "46c2",
            "46c3",
        ),
    ),
    "ADL-N": ("Alder Lake-N, UHD Graphics", ("46d0", "46d1", "46d2", "46d3", "46d4")),
    "RPL-S": (
        "Raptor Lake-S (13th/14th gen), UHD Graphics 770",
        ("a780", "a781", "a782", "a783", "a788", "a789", "a78a", "a78b"),
    ),
    "RPL-U": ("Raptor Lake-U, Iris Xe / UHD Graphics", ("a721", "a7a1", "a7a9", "a7ac", "a7ad")),
    "RPL-P": ("Raptor Lake-P, Iris Xe Graphics", ("a720", "a7a0", "a7a8", "a7aa", "a7ab")),
}


def platform_of(vendor: str | None, device: str | None) -> str | None:
    """The platform group of an Intel device id, or None when it is not a supported GPU."""
    if vendor != INTEL_VENDOR or device is None:
        return None
    for group, (_, ids) in PLATFORMS.items():
        if device in ids:
            return group
    return None


def description_of(group: str) -> str:
    return PLATFORMS[group][0]


# Every supported device id, for checks that have no GPU to look at (an image built before
# the hardware exists).
ALL_IDS: frozenset[str] = frozenset(i for _, ids in PLATFORMS.values() for i in ids)
