"""The contract of the JSON documents (`status`, `doctor`, `kernels` and `config show`
with --json, and the error object of any command with --json): each carries
`schema_version` and has a JSON Schema (draft 2020-12) installed under
/usr/share/irisxe-sriov/schema/ (conf/schema/ in the source; tests/unit/test_contract.py
validates every document of every fixture machine against it).

The version is semantic: a field added raises the minor number, a field changed or
removed the major one, and debian/NEWS says so. Absent values are null, never "" or a
missing key; a field has one type in every document. The documents' TypedDicts below type
their builders, and tests/unit/test_contract.py holds them to the schemas. Pure.
"""

from typing import TypedDict

from irisxe_sriov.choices import Closed

SCHEMA_VERSION = "1.1"


class Document(Closed):
    """The documents, by the name of their schema file (<name>.schema.json)."""

    STATUS = "status"
    DOCTOR = "doctor"
    KERNELS = "kernels"
    CONFIG = "config"
    ERROR = "error"


# The documents as types: each TypedDict has exactly its schema's properties, all of them
# required (tests/unit/test_contract.py compares them), and the builders are typed with them.


class StepDoc(TypedDict):
    text: str
    argv: list[str] | None


class PendingDoc(TypedDict):
    id: str
    what: str
    fix: str | None
    steps: list[StepDoc]
    reboot: bool


class PfDoc(TypedDict):
    address: str
    present: bool
    vendor: str | None
    device: str | None
    platform: str | None
    platform_name: str | None
    driver: str | None
    driver_override: str | None
    sriov_totalvfs: int | None
    sriov_numvfs: int | None
    sriov_drivers_autoprobe: bool | None
    iommu_group: int | None
    render_node: str | None


class ModuleDoc(TypedDict):
    name: str
    loaded: bool
    version: str | None
    dkms: bool
    parameters: dict[str, str]


class VfDoc(TypedDict):
    index: int
    address: str
    present: bool
    driver: str | None
    driver_override: str | None
    role: str | None
    expected_driver: str | None
    iommu_group: int | None
    render_node: str | None
    in_use_by: list[str]
    proxmox_mappings: list[str] | None


class SettingsDoc(TypedDict):
    driver: str
    num_vfs: int
    bootloader: str
    vf_roles: dict[str, str]
    pf: str
    machine_role: str
    kernel_hold: str
    file_exists: bool
    sched: str
    sched_exec_quantum_ms: dict[str, int]
    sched_preempt_timeout_us: dict[str, int]
    sched_pf_priority: str


class ConfigDoc(SettingsDoc):
    schema_version: str


class BootloaderDoc(TypedDict):
    configured: str
    detected: str | None
    evidence: str


class RunningKernelDoc(TypedDict):
    release: str | None
    cmdline: str | None
    wanted_parameters: list[str]
    missing_parameters: list[str] | None
    not_applied: str | None


class MachineDoc(TypedDict):
    role: str
    reason: str
    binds: bool


class GpuDoc(TypedDict):
    address: str
    device: str
    driver: str | None
    render_node: str | None


class KernelDoc(TypedDict):
    release: str
    provider: str | None
    drivers: list[str]
    state: str
    detail: str
    kernel_xe: str
    boots_next: bool | None
    held: bool


class ProvidersDoc(TypedDict):
    running: KernelDoc | None
    running_live: str | None
    running_conflict: str | None
    next_boot: KernelDoc | None
    next_boot_evidence: str


class HoldDoc(TypedDict):
    release: str | None
    kind: str | None
    reason: str | None
    natural: str | None
    blocked: bool


class FunctionScheduleDoc(TypedDict):
    function: str
    exec_quantum_ms: int | None
    preempt_timeout_us: int | None
    priority: str | None
    expected_exec_quantum_ms: int | None
    expected_preempt_timeout_us: int | None


class SchedulingDoc(TypedDict):
    interface: str | None
    auto_provisioning: bool | None
    not_applied: str | None
    functions: list[FunctionScheduleDoc]


class StatusDoc(TypedDict):
    schema_version: str
    pf: PfDoc
    module: ModuleDoc
    vfs: list[VfDoc]
    settings: SettingsDoc
    bootloader: BootloaderDoc
    kernel: RunningKernelDoc
    machine: MachineDoc
    gpus: list[GpuDoc]
    providers: ProvidersDoc
    hold: HoldDoc
    scheduling: SchedulingDoc
    pending: list[PendingDoc]
    reboot_pending: bool


class SummaryDoc(TypedDict):
    ok: int
    warn: int
    fail: int
    skip: int


class FindingDoc(TypedDict):
    id: str
    level: str
    message: str
    fix: str | None
    steps: list[StepDoc]


class DoctorDoc(TypedDict):
    schema_version: str
    summary: SummaryDoc
    findings: list[FindingDoc]


class NextBootDoc(TypedDict):
    release: str | None
    evidence: str


class KernelsDoc(TypedDict):
    schema_version: str
    kernels: list[KernelDoc]
    next_boot: NextBootDoc
    hold: HoldDoc


class ErrorDoc(TypedDict):
    schema_version: str
    error: str
    problems: list[str]
    exit_status: int


# Each document's type, by its schema.
TYPES: dict[Document, type] = {
    Document.STATUS: StatusDoc,
    Document.DOCTOR: DoctorDoc,
    Document.KERNELS: KernelsDoc,
    Document.CONFIG: ConfigDoc,
    Document.ERROR: ErrorDoc,
}
