"""The contract of the JSON documents (`status`, `doctor`, `kernels` and `config show`
with --json, and the error object of any command with --json): each carries
`schema_version` and has a JSON Schema (draft 2020-12) installed under
/usr/share/irisxe-sriov/schema/ (conf/schema/ in the source; tests/test_contract.py
validates every document of every fixture machine against it).

The version is semantic: a field added raises the minor number, a field changed or
removed the major one, and debian/NEWS says so. Absent values are null, never "" or a
missing key; a field has one type in every document. Pure.
"""

from typing import Any

from irisxe_sriov.choices import Closed

SCHEMA_VERSION = "1.1"


class Document(Closed):
    """The documents, by the name of their schema file (<name>.schema.json)."""

    STATUS = "status"
    DOCTOR = "doctor"
    KERNELS = "kernels"
    CONFIG = "config"
    ERROR = "error"


def versioned(body: dict[str, Any]) -> dict[str, Any]:
    """`body` with the schema version first."""
    return {"schema_version": SCHEMA_VERSION, **body}
