"""The VM pool (tests/harness/vmpool.py) with jobs that are plain functions, and the VM modules'
tables, whose keys must name their tests as vmpool.selected gives them."""

import functools
import threading
import time

import pytest

import test_backports_vm
import test_boot_vm
import test_vm
import vmpool


@pytest.mark.parametrize(
    ("module", "table"),
    [
        (test_boot_vm, test_boot_vm.TESTS),
        (test_vm, test_vm.SCENARIOS),
        (test_backports_vm, {test_backports_vm.XE_BOOT: None}),
    ],
)
def test_every_table_key_is_a_test_of_its_module(module, table):
    tests = {name.removeprefix("test_") for name in vars(module) if name.startswith("test_")}
    assert set(table) <= tests, set(table) - tests
    assert set(table), module.__name__


def test_longest_job_first_and_each_result_to_its_test():
    order: list[str] = []

    def build(name: str) -> str:
        order.append(name)
        return name

    def fail(built: str) -> str:
        raise RuntimeError(f"{built} broke")

    pool = vmpool.Pool(
        {
            "short": vmpool.Job(lambda: build("short"), str.upper, 1),
            "long": vmpool.Job(lambda: build("long"), str.upper, 9),
            "broken": vmpool.Job(lambda: build("broken"), fail, 5),
        }
    )
    assert pool.result("short") == "SHORT"
    assert pool.result("long") == "LONG"
    with pytest.raises(RuntimeError, match="broken broke"):
        pool.result("broken")
    summary = pool.close()
    assert order == ["long", "broken", "short"]
    assert [line.split(":")[0] for line in summary if "image" in line] == order
    assert not [line for line in summary if "no test read it" in line]


def test_close_cancels_what_has_not_started_and_reports_unread_failures():
    started, release = threading.Event(), threading.Event()
    built: list[str] = []

    def slow_build() -> str:
        started.set()
        release.wait(10)
        built.append("first")
        return "first"

    def never_built() -> str:
        built.append("second")
        return "second"

    def broken_build() -> str:
        raise OSError("disk full")

    pool = vmpool.Pool(
        {
            "first": vmpool.Job(slow_build, str.upper, 3),
            "broken": vmpool.Job(broken_build, str.upper, 2),
            "second": vmpool.Job(never_built, str.upper, 1),
        }
    )
    assert started.wait(10)  # the builder is in slow_build; "broken" and "second" wait
    closing = threading.Thread(target=lambda: summary.extend(pool.close()))
    summary: list[str] = []
    closing.start()
    # close() cancels the queued builds before it waits for the running one
    waiting = [pool.jobs[name] for name in ("broken", "second")]
    deadline = time.monotonic() + 10
    while not all(job.cancelled() for job in waiting) and time.monotonic() < deadline:
        time.sleep(0.01)
    release.set()
    closing.join(10)
    assert not closing.is_alive()
    assert built == ["first"]  # the queued builds were cancelled, the running one ended
    assert not [line for line in summary if "broken" in line or "second" in line]
    assert not [line for line in summary if "no test read it" in line]

    reported = vmpool.Pool({"broken": vmpool.Job(broken_build, str.upper, 1)})
    while not reported.jobs["broken"].done():
        time.sleep(0.01)
    lines = reported.close()
    assert "broken: failed, and no test read it: OSError('disk full')" in lines


def test_never_more_builds_and_vms_than_cores_and_ready_vms_first():
    events: list[str] = []
    active = [0]
    most = [0]
    lock = threading.Lock()

    def step(what: str) -> str:
        with lock:
            active[0] += 1
            most[0] = max(most[0], active[0])
            events.append(what)
        time.sleep(0.05)
        with lock:
            active[0] -= 1
        return what

    jobs = {
        name: vmpool.Job(
            functools.partial(step, f"build {name}"),
            functools.partial(lambda what, _: step(what), f"run {name}"),
            s,
        )
        for name, s in (("a", 3), ("b", 2), ("c", 1))
    }
    pool = vmpool.Pool(jobs, cores=1)
    assert [pool.result(name) for name in "abc"] == ["run a", "run b", "run c"]
    pool.close()
    assert most[0] == 1
    # one core: each job's VMs run before the next image is built
    assert events == ["build a", "run a", "build b", "run b", "build c", "run c"]

    events.clear()
    most[0] = 0
    pool = vmpool.Pool(jobs, cores=2)
    assert [pool.result(name) for name in "abc"] == ["run a", "run b", "run c"]
    pool.close()
    assert most[0] == 2
    assert events[:3] == ["build a", "run a", "build b"]  # a's VMs beside b's build


def test_the_next_build_takes_a_core_left_free_at_once():
    """A job's VMs take one of two free cores: the next build takes the other then, not when
    some VM ends (it used to wait: the VF images of 2026-12-03 each started 43 s late)."""
    times: dict[str, float] = {}

    def step(what: str, seconds: float) -> str:
        times[f"{what} start"] = time.monotonic()
        time.sleep(seconds)
        times[f"{what} end"] = time.monotonic()
        return what

    jobs = {
        "a": vmpool.Job(lambda: step("build a", 0), lambda _: step("run a", 0), 3),
        # a's VMs end while b's image is built: both cores are free when it is ready
        "b": vmpool.Job(lambda: step("build b", 0.2), lambda _: step("run b", 1), 2),
        "c": vmpool.Job(lambda: step("build c", 0), lambda _: step("run c", 0), 1),
    }
    pool = vmpool.Pool(jobs, cores=2)
    assert [pool.result(name) for name in "abc"] == ["run a", "run b", "run c"]
    pool.close()
    assert times["build c start"] < times["run b end"], times
