"""A fix: the steps that lead from a finding to a working state, in the order to take
them. Pure.

A step is a command where one exists (its argv, run as root, and the shell spelling a
person reads), or a manual step where none does (the firmware set-up, a boot menu). status
and doctor print the text; their JSON carries the argv too, so that a script can run the
commands without parsing sentences.
"""

import shlex
from collections.abc import Iterable
from typing import TYPE_CHECKING, NamedTuple

if TYPE_CHECKING:  # the JSON form's type
    from irisxe_sriov.report.contract import StepDoc


class Step(NamedTuple):
    text: str  # what a person reads: the shell spelling of argv, or the manual action
    argv: tuple[str, ...] | None = None  # None: a manual step, no command does it

    def as_dict(self) -> "StepDoc":
        return {"text": self.text, "argv": None if self.argv is None else list(self.argv)}


class Fix(NamedTuple):
    steps: tuple[Step, ...] = ()

    def __str__(self) -> str:
        return "; ".join(step.text for step in self.steps)

    def __bool__(self) -> bool:
        return bool(self.steps)

    def then(self, *more: "Fix | Step") -> "Fix":
        """This fix followed by more steps; a step already taken is not repeated."""
        steps = list(self.steps)
        for item in more:
            for step in item.steps if isinstance(item, Fix) else (item,):
                if step not in steps:
                    steps.append(step)
        return Fix(tuple(steps))

    def commands(self) -> list[list[str]]:
        """The argv of every step that is a command, in order."""
        return [list(step.argv) for step in self.steps if step.argv is not None]

    def as_list(self) -> list["StepDoc"]:
        return [step.as_dict() for step in self.steps]


def run(*argv: str) -> Step:
    """A command step."""
    return Step(shlex.join(argv), tuple(argv))


def manual(text: str) -> Step:
    """A step no command does."""
    return Step(text)


def of(*steps: Step) -> Fix:
    return Fix(tuple(steps))


def chain(fixes: Iterable[Fix]) -> Fix:
    result = Fix()
    for fix in fixes:
        result = result.then(fix)
    return result


NONE = Fix()
REBOOT = of(run("reboot"))
APPLY = of(run("irisxe-sriov-ctl", "apply"))
APPLY_AND_REBOOT = APPLY.then(REBOOT)
RESTORE = of(run("irisxe-sriov-ctl", "vfs", "restore"))
