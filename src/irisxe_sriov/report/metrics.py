"""`metrics`: the machine's SR-IOV health in Prometheus' text exposition format (version
0.0.4, https://prometheus.io/docs/instrumenting/exposition_formats/), for
node-exporter's textfile collector. Pure: rendered from the `status --json` document and
doctor's findings, both from one judgement of one read of the machine, so the metrics say
what status and doctor say.

Every series is a gauge. A VF is labelled with its number, address and role; a kernel
with which kernel it is (running, next_boot), its release and its provider ("none" where
it has none); a function's scheduling values with the function (pf, 1..7); a failing
doctor finding with its id.
"""

from collections.abc import Iterable
from typing import Literal, NamedTuple

from irisxe_sriov import __version__
from irisxe_sriov.report import contract

PREFIX = "irisxe_sriov_"


class Sample(NamedTuple):
    labels: tuple[tuple[str, str], ...]
    value: float


class Family(NamedTuple):
    name: str  # without PREFIX
    help: str
    samples: tuple[Sample, ...]


def escaped(value: str) -> str:
    """A label value as the format wants it: backslash, double quote and newline escaped."""
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(float(value))


def exposition(families: Iterable[Family]) -> str:
    """The text of `families`: HELP and TYPE, then one line per sample; a family with no
    sample is left out (its HELP would stand alone)."""
    lines = []
    for family in families:
        if not family.samples:
            continue
        name = PREFIX + family.name
        lines += [f"# HELP {name} {family.help}", f"# TYPE {name} gauge"]
        for sample in family.samples:
            labels = ",".join(f'{key}="{escaped(value)}"' for key, value in sample.labels)
            selector = f"{name}{{{labels}}}" if labels else name
            lines.append(f"{selector} {number(sample.value)}")
    return "\n".join(lines) + "\n"


def one(value: float, **labels: str) -> tuple[Sample, ...]:
    return (Sample(tuple(labels.items()), value),)


def families(status: contract.StatusDoc, doctor: contract.DoctorDoc) -> list[Family]:
    """The metrics of a `status --json` document and a `doctor --json` document."""
    settings = status["settings"]
    pf = status["pf"]
    configured = sum(1 for vf in status["vfs"] if vf["role"] is not None)
    vf_samples = tuple(
        Sample(
            (("vf", str(vf["index"])), ("address", vf["address"]), ("role", vf["role"])),
            1.0 if vf["present"] and vf["driver"] == vf["expected_driver"] else 0.0,
        )
        for vf in status["vfs"]
        if vf["role"] is not None
    )
    kernels = []
    providers = status["providers"]
    for which, kernel in (("running", providers["running"]), ("next_boot", providers["next_boot"])):
        # a running kernel that is not installed in this root has a release, no provider
        release = status["kernel"]["release"] if which == "running" else None
        if kernel is not None:
            release, provider = kernel["release"], kernel["provider"]
        else:
            provider = None
        if release is not None:
            labels = (("kernel", which), ("release", release), ("provider", provider or "none"))
            kernels.append(Sample(labels, 1.0))
    functions = status["scheduling"]["functions"]

    def timing(key: Literal["exec_quantum_ms", "preempt_timeout_us"]) -> tuple[Sample, ...]:
        return tuple(
            Sample((("function", f["function"]),), float(value))
            for f in functions
            if (value := f[key]) is not None
        )

    hold = status["hold"]
    summary = doctor["summary"]
    failed = tuple(
        Sample((("id", finding["id"]),), 1.0)
        for finding in doctor["findings"]
        if finding["level"] == "fail"
    )
    return [
        Family(
            "info",
            "The installed irisxe-sriov, the configured driver and the machine's role.",
            one(
                1,
                version=__version__,
                driver=settings["driver"],
                machine_role=status["machine"]["role"],
            ),
        ),
        Family(
            "vfs_configured",
            "VFs the settings make (NUM_VFS, within what the PF offers; 0 on a guest).",
            one(configured),
        ),
        Family(
            "vfs_existing",
            "VFs that exist now (the PF's sriov_numvfs); absent when it cannot be read.",
            () if pf["sriov_numvfs"] is None else one(pf["sriov_numvfs"]),
        ),
        Family(
            "vf_driver_ok",
            "1 where the VF exists on the driver its role asks for, else 0.",
            vf_samples,
        ),
        Family(
            "exec_quantum_ms",
            "A function's GPU execution quantum as read back (function pf or a VF number; "
            "0: unlimited).",
            timing("exec_quantum_ms"),
        ),
        Family(
            "preempt_timeout_us",
            "A function's GPU preemption timeout as read back (0: unlimited).",
            timing("preempt_timeout_us"),
        ),
        Family(
            "kernel_provider",
            "The SR-IOV provider of the running kernel and of the one that boots next.",
            tuple(kernels),
        ),
        Family(
            "kernel_hold",
            "1 where a kernel hold on the kernel of the release label is in place or due "
            "(apply and the kernel hooks write it), else 0.",
            one(1 if hold["release"] else 0, release=hold["release"] or ""),
        ),
        Family(
            "reboot_pending",
            "1 when what is configured needs a reboot to take effect, else 0.",
            one(1 if status["reboot_pending"] else 0),
        ),
        Family(
            "doctor_findings",
            "doctor's findings by level.",
            tuple(
                Sample((("level", level),), float(count))
                for level, count in (
                    ("ok", summary["ok"]),
                    ("warn", summary["warn"]),
                    ("fail", summary["fail"]),
                    ("skip", summary["skip"]),
                )
            ),
        ),
        Family("doctor_failed", "A doctor finding that fails, by its id.", failed),
    ]
