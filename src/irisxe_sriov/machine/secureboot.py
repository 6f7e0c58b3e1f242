"""Secure Boot and the dkms signing key: the most common silent failure of DKMS modules.

dkms signs what it builds with /var/lib/dkms/mok.key + mok.pub (made when openssl is
installed); under Secure Boot the kernel loads those modules only once mok.pub is enrolled
in the shim's MOK list ("Key was rejected by service" otherwise). The kernel's own modules
are signed by Debian's key and need nothing. Pure parsing: machine/bootfiles.py reads the
efivar and asks mokutil.
"""

from enum import StrEnum
from typing import NamedTuple

from irisxe_sriov.paths import DKMS_KEY

SECURE_BOOT_EFIVAR = "SecureBoot-8be4df61-93ca-11d2-aa0d-00e098032b8c"
ENROL_STEPS = (
    f"mokutil --import {DKMS_KEY} (choose a one-time password), reboot, choose "
    "'Enroll MOK' in MokManager and enter that password"
)


class Enrolment(StrEnum):
    ENROLLED = "enrolled"
    PENDING = "pending"  # imported, waiting for MokManager at the next boot
    NOT_ENROLLED = "not-enrolled"
    UNKNOWN = "unknown"


class SecureBoot(NamedTuple):
    enabled: bool | None  # None: not booted through UEFI, or efivarfs unreadable
    key_present: bool
    enrolment: Enrolment
    why_unknown: str = ""


def parse_secure_boot(raw: bytes) -> bool | None:
    """efivarfs content: 4 bytes of attributes, then one byte, 1 when enabled."""
    return None if len(raw) < 5 else raw[4] == 1


def parse_test_key(output: str) -> Enrolment:
    """`mokutil --test-key FILE` says what it found in words; its exit status differs
    between mokutil versions, its wording does not."""
    if "is already enrolled" in output:
        return Enrolment.ENROLLED
    if "already in the enrollment request" in output:
        return Enrolment.PENDING
    if "is not enrolled" in output:
        return Enrolment.NOT_ENROLLED
    return Enrolment.UNKNOWN
