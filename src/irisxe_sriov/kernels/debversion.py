"""Debian's version ordering, for kernel releases. Pure.

Kernel release names are not numbers: `6.12.38+deb13-amd64` sits beside
`6.12.38-1-liquorix-amd64` and `7.3.4+deb13-rt-amd64`. Debian's own tools order them with
dpkg's version comparison (linux-base's `linux-version sort` does), so this is dpkg's
algorithm (dpkg lib/dpkg/version.c, verrevcmp) applied to the whole string. It is written
here rather than imported from python-debian to keep `status` from importing it (its
start-up time is measured by make bench).
"""

import functools
import re
from collections.abc import Callable
from typing import Any


def _order(char: str) -> int:
    """dpkg's weight of one non-digit character: ~ sorts before everything, even the end."""
    if char == "~":
        return -1
    if char.isascii() and char.isalpha():
        return ord(char)
    return ord(char) + 256


def _compare_part(left: str, right: str) -> int:
    """verrevcmp: alternate non-digit runs (by _order, the end weighing 0) and digit runs
    (numerically)."""
    i = j = 0
    while i < len(left) or j < len(right):
        difference = 0
        while (i < len(left) and not left[i].isdigit()) or (
            j < len(right) and not right[j].isdigit()
        ):
            a = _order(left[i]) if i < len(left) and not left[i].isdigit() else 0
            b = _order(right[j]) if j < len(right) and not right[j].isdigit() else 0
            if a != b:
                return -1 if a < b else 1
            i += 1
            j += 1
        while i < len(left) and left[i] == "0":
            i += 1
        while j < len(right) and right[j] == "0":
            j += 1
        while i < len(left) and left[i].isdigit() and j < len(right) and right[j].isdigit():
            if not difference:
                difference = ord(left[i]) - ord(right[j])
            i += 1
            j += 1
        if i < len(left) and left[i].isdigit():
            return 1
        if j < len(right) and right[j].isdigit():
            return -1
        if difference:
            return -1 if difference < 0 else 1
    return 0


_ASCII_DIGITS = re.compile(r"[0-9]")


def _ascii_digits_only(text: str) -> str:
    # str.isdigit() accepts "²" and "٣": fold anything but ASCII digits to a non-digit
    # so that such a name sorts deterministically instead of crashing.
    return "".join(c if not c.isdigit() or _ASCII_DIGITS.fullmatch(c) else "_" for c in text)


def compare(left: str, right: str) -> int:
    """-1, 0 or 1 as `dpkg --compare-versions` orders `left` and `right`: the part after
    the last hyphen is the revision, compared after the rest (kernel releases carry no
    epoch)."""
    left_upstream, _, left_revision = _ascii_digits_only(left).rpartition("-")
    right_upstream, _, right_revision = _ascii_digits_only(right).rpartition("-")
    if not left_upstream:
        left_upstream, left_revision = left_revision, ""
    if not right_upstream:
        right_upstream, right_revision = right_revision, ""
    return _compare_part(left_upstream, right_upstream) or _compare_part(
        left_revision, right_revision
    )


release_key: Callable[[str], Any] = functools.cmp_to_key(compare)


def upstream_at_least(release: str, major: int, minor: int) -> bool:
    """Whether a kernel release ("7.3.4+deb13-amd64", "6.18-rc1") is major.minor or later."""
    match = re.match(r"([0-9]{1,4})\.([0-9]{1,4})", release)
    return match is not None and (int(match.group(1)), int(match.group(2))) >= (major, minor)
