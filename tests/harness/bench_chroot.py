"""make bench: the start-up benchmark (tests/harness/bench_startup.py) on the interpreter users
run: Debian 13's python3 with Debian 13's click, jinja2 and python-debian, inside an
overlay on the trixie package base (tests/harness/chroot.py), not on this machine's python. The
benchmark's paired, interleaved design is unchanged; its report is copied out."""

import argparse
import shutil
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from chroot import PACKAGE_BASE, SOURCE, Chroot, base_tree, run_with_proc


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=40)
    parser.add_argument("--output", type=Path)
    options = parser.parse_args()
    with tempfile.TemporaryDirectory() as directory:
        box = Chroot(base_tree("pkg", PACKAGE_BASE), Path(directory))
        try:
            for part in ("src", "tests"):
                shutil.copytree(
                    SOURCE / part,
                    box.path(f"/root/irisxe-sriov/{part}"),
                    ignore=shutil.ignore_patterns("__pycache__", "golden"),
                )
            done = run_with_proc(
                box,
                "python3 /root/irisxe-sriov/tests/harness/bench_startup.py "
                f"--runs {options.runs} --output /root/performance.md",
                timeout=1800,
            )
            print(done.stdout, end="")
            report = box.path("/root/performance.md")
            if options.output and report.exists():
                options.output.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy(report, options.output)
            return done.returncode
        finally:
            box.close()


if __name__ == "__main__":
    sys.exit(main())
