"""Start-up benchmark of the read-only commands (make bench).

Times `status --json`, `doctor --json` and `kernels --json` on a fixture root against two
baselines measured in the same run on the same interpreter: a bare `python3 -c pass` and
`python3 -c 'import click'` (click's import is the floor for any click program). Runs are
interleaved so that machine noise hits every command alike. Writes the figures as Markdown.
"""

import argparse
import datetime
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from fakesys import FakeSystem, install_kernel  # noqa: E402

CONSOLE_SCRIPT = """\
import sys
from irisxe_sriov.cli.entry import main
if __name__ == "__main__":
    sys.exit(main())
"""
COLD = "kernels --json, cache cold"  # the first run after a kernel is installed
# median budgets in ms (docs/notes.md, "Test tiers and budgets")
TARGETS = {"status --json": 150.0, "doctor --json": 150.0, COLD: 400.0}


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.partition(":")[2].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def system_name() -> str:
    for line in Path("/etc/os-release").read_text().splitlines():
        if line.startswith("PRETTY_NAME="):
            return line.partition("=")[2].strip('"')
    return "unknown"


def measure(
    commands: dict[str, list[str]], runs: int, env: dict[str, str], cache: Path
) -> dict[str, list[float]]:
    times: dict[str, list[float]] = {name: [] for name in commands}
    for _ in range(runs):
        for name, argv in commands.items():
            if name == COLD:
                cache.unlink(missing_ok=True)
            start = time.perf_counter()
            subprocess.run(
                argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env, check=False
            )
            times[name].append(time.perf_counter() - start)
    return times


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=40)
    parser.add_argument("--output", type=Path)
    options = parser.parse_args()

    python = sys.executable
    with tempfile.TemporaryDirectory() as directory:
        # Byte-compiled, as dh_python3 leaves the installed package: without .pyc files
        # every run would time the compiler, which no installed user pays for.
        source = Path(directory) / "src"
        shutil.copytree(HERE.parents[1] / "src", source)
        subprocess.run([python, "-m", "compileall", "-q", str(source)], check=True)
        env = {**os.environ, "PYTHONPATH": str(source), "PYTHONDONTWRITEBYTECODE": "1"}
        fake = FakeSystem(Path(directory))
        fake.healthy(numvfs=7)
        # A host with the stock kernel (DKMS installed) and a trixie-backports kernel whose
        # xe.ko.xz is as large as Debian's 7.3.4 one (11.6 MB, .modinfo 3 MB in), which
        # doctor and kernels read for the max_vfs parameter.
        install_kernel(fake.root, "6.12.118+deb13-amd64", dkms=True)
        install_kernel(fake.root, "7.3.4+deb13-amd64", usr=True, padding=2_980_000)
        fake.grub()
        root = str(fake.root)
        # The console script as the .deb installs it (/usr/bin/irisxe-sriov-ctl).
        script = Path(directory) / "irisxe-sriov-ctl"
        script.write_text(CONSOLE_SCRIPT)
        ctl = [python, str(script), "--root", root]
        commands = {
            "python3 -c pass": [python, "-c", "pass"],
            "python3 -c 'import click'": [python, "-c", "import click"],
            "status --json": [*ctl, "status", "--json"],
            "doctor --json": [*ctl, "doctor", "--json"],
            "kernels --json": [*ctl, "kernels", "--json"],
            COLD: [*ctl, "kernels", "--json"],
        }
        cache = fake.root / "var/cache/irisxe-sriov/modinfo.json"
        # one warm-up round so that every file is in the page cache
        measure(commands, 2, env, cache)
        times = measure(commands, options.runs, env, cache)

    medians = {name: statistics.median(values) * 1000 for name, values in times.items()}
    floor = medians["python3 -c 'import click'"]
    missed = [name for name, budget in TARGETS.items() if medians[name] > budget]
    lines = [
        "# Performance: start-up of the read-only commands",
        "",
        "Measured by `make bench` (tests/harness/bench_startup.py, in the trixie package chroot): "
        f"each command run {options.runs} times, interleaved, after a warm-up; fixture root "
        "with 7 VFs; the package byte-compiled and run through a console script, as the .deb "
        "installs it. `kernels` keeps what it read from each xe.ko in "
        "/var/cache/irisxe-sriov/modinfo.json; the cold row deletes it before each run.",
        "",
        f"- date: {datetime.date.today().isoformat()}",
        f"- machine: {cpu_model()}, {os.cpu_count()} cores",
        f"- system: {system_name()}",
        f"- interpreter: {python} (Python {platform.python_version()})",
        "",
        "| command | median ms | min ms | x python3 -c pass | x import click |",
        "|---|---|---|---|---|",
    ]
    bare = medians["python3 -c pass"]
    for name, values in times.items():
        lines.append(
            f"| `{name}` | {medians[name]:.1f} | {min(values) * 1000:.1f} | "
            f"{medians[name] / bare:.2f} | {medians[name] / floor:.2f} |"
        )
    lines.append("")
    for name, budget in TARGETS.items():
        verdict = "MISSES" if name in missed else "meets"
        lines.append(
            f"- `{name}`: median under {budget:.0f} ms: {medians[name]:.1f} ms, "
            f"{verdict} the budget."
        )
    lines.append("")
    report = "\n".join(lines)
    print(report)
    if options.output:
        options.output.parent.mkdir(parents=True, exist_ok=True)
        options.output.write_text(report)
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
