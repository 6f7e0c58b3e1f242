"""One pool for the VMs of every VM module in the session (tests/vm/test_boot_vm.py,
tests/vm/test_vm.py, the backports VM of tests/package/test_backports_chroot.py), so that no core
idles while VMs are still to run.

Each module registers a provider (`@provider`) that names the jobs of its selected
tests: a `build` (an image or a disk: disk-bound, made one at a time in a thread of its
own) and a `run` (the VM or the VMs booted one after another: one core while it runs).
The first test starts the pool (the `vm_pool` fixture in conftest.py): every image is
built in turn, longest job first, and each job's VMs start as soon as its image is ready
and a core is free. A build counts as one core too (dpkg, mkfs and tar keep one busy), and
VMs that are ready go before the next build: never more builds and VMs at once than the
machine has cores (TCG keeps one core busy per guest CPU), since more only slow each
other down. The pool starts with the session's first test and its tests run last
(conftest.py): the chroot tier, mostly one process at a time, runs beside the VMs on
what they leave (a core while a VM waits for the next image, their I/O waits) instead
of after them, when one core idled for its whole length (about 900 s of a 2050 s run
here). A test waits for its own job only. Before the pool, the boot VMs' module left a core
idle for about 2.5 of its 8 minutes while the VF VMs waited for their own module; outside
it, the backports VM ran after the pool's last VM, while a core had been free for 87 s
(docs/testing.md has the figures).

The pool's timeline (when each image was ready, each job's VMs started and ended) is
printed in pytest's terminal summary (conftest.py), not from the threads, whose output
would land in whichever test's capture was active.
"""

import os
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any, NamedTuple

import pytest


class Job(NamedTuple):
    build: Callable[[], Any]  # the image; its result goes to run
    run: Callable[[Any], Any]  # the VMs; the result is what the tests read
    seconds: float  # about how long run takes: longer jobs start first


# (session, the .deb, a scratch directory) -> that module's jobs by name
Provider = Callable[[pytest.Session, Path, Path], dict[str, Job]]
PROVIDERS: list[Provider] = []


def provider(function: Provider) -> Provider:
    PROVIDERS.append(function)
    return function


class Cores:
    """The machine's cores, shared by the build thread and the VMs: VMs that are ready
    (expected) take a free core before the next build does."""

    def __init__(self, count: int) -> None:
        self.free = count
        self.expected_runs = 0
        self.condition = threading.Condition()

    def expect_run(self) -> None:
        """Called by the builder before it hands a built job to the runners, so that its
        next build cannot take the core first."""
        with self.condition:
            self.expected_runs += 1

    def take_for_run(self) -> None:
        with self.condition:
            self.condition.wait_for(lambda: self.free > 0)
            self.free -= 1
            self.expected_runs -= 1
            # the builder waits for expected_runs == 0: where a core is still free, its
            # next build starts now, not when some VM ends and gives its core back
            self.condition.notify_all()

    def take_for_build(self) -> None:
        with self.condition:
            self.condition.wait_for(lambda: self.free > 0 and self.expected_runs == 0)
            self.free -= 1

    def give(self) -> None:
        with self.condition:
            self.free += 1
            self.condition.notify_all()


class Pool:
    def __init__(self, jobs: dict[str, Job], cores: int | None = None) -> None:
        count = cores or len(os.sched_getaffinity(0))
        self.cores = Cores(count)
        self.builder = ThreadPoolExecutor(max_workers=1, thread_name_prefix="vm-build")
        self.runner = ThreadPoolExecutor(max_workers=count, thread_name_prefix="vm-run")
        self.started = time.monotonic()
        self.timeline: list[str] = []  # list.append is atomic: the threads share it
        self.read: set[str] = set()
        self.jobs: dict[str, Future[Future[Any]]] = {}
        for name, job in sorted(jobs.items(), key=lambda item: -item[1].seconds):
            self.jobs[name] = self.builder.submit(self.build_then_start, name, job)

    def now(self) -> float:
        return time.monotonic() - self.started

    def build_then_start(self, name: str, job: Job) -> Future[Any]:
        self.cores.take_for_build()
        began = self.now()
        try:
            built = job.build()
        finally:
            self.timeline.append(f"{name}: image from {began:.0f} s to {self.now():.0f} s")
            self.cores.give()
        self.cores.expect_run()
        return self.runner.submit(self.timed, name, job.run, built)

    def timed(self, name: str, run: Callable[[Any], Any], built: Any) -> Any:
        self.cores.take_for_run()
        began = self.now()
        try:
            return run(built)
        finally:
            self.timeline.append(f"{name}: VMs from {began:.0f} s to {self.now():.0f} s")
            self.cores.give()

    def result(self, name: str) -> Any:
        """The job's result; its build's or run's exception is raised here, in its test."""
        self.read.add(name)
        return self.jobs[name].result().result()

    def close(self) -> list[str]:
        """Stop what has not started (after -x or a failed setup no test waits for it),
        wait for what runs (each VM has its own timeout), and say what failed unread."""
        self.builder.shutdown(wait=True, cancel_futures=True)
        self.runner.shutdown(wait=True, cancel_futures=True)
        unread = []
        for name, building in self.jobs.items():
            if name in self.read or building.cancelled():
                continue
            error = building.exception() or (
                None if building.result().cancelled() else building.result().exception()
            )
            if error is not None:
                unread.append(f"{name}: failed, and no test read it: {error!r}")
        return [*self.timeline, *unread]


def start(session: pytest.Session, package: Path, scratch: Path) -> Pool:
    jobs: dict[str, Job] = {}
    for provide in PROVIDERS:
        jobs |= provide(session, package, scratch)
    return Pool(jobs)


def selected(session: pytest.Session, module_name: str, names: dict[str, Any]) -> list[str]:
    """The keys of `names` (test names without "test_") whose test is selected in the
    module, in the order the tests run."""
    found = []
    for item in session.items:
        name = getattr(item, "originalname", item.name).removeprefix("test_")
        module = getattr(item, "module", None)
        if (
            module is not None
            and module.__name__ == module_name
            and name in names
            and name not in found
        ):
            found.append(name)
    return found
