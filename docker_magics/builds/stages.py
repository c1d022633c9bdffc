"""Pure: how many of the Dockerfile's instructions a BuildKit build ran, for its summary.

BuildKit's own steps are not the Dockerfile's: it adds internal ones (loading the Dockerfile,
the context, metadata; exporting the image), numbers only the instructions that make a
layer (``[stage n/m]``, m per stage), and builds only the stages the target needs. The
summary counts what the user wrote: every instruction of each stage the build ran, as the
classic builder's ``Step N/M`` counts every instruction. A stage ran when one of its steps
shows in BuildKit's progress (its name is the stage's ``AS`` name, or ``stage-N`` for the
N-th stage, or nothing when the Dockerfile has one stage); the target stage always runs.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from docker_magics.builds.dockerfile import Instruction

_STEP = re.compile(r"^\[(?:(?P<stage>[^\]\s]+) )?\d+/\d+\] ")


def split(instructions: Iterable[Instruction]) -> list[list[Instruction]]:
    """The stages: each FROM and the instructions up to the next (ARGs before the first
    FROM belong to no stage)."""
    stages: list[list[Instruction]] = []
    for ins in instructions:
        if ins.keyword == "FROM":
            stages.append([ins])
        elif stages:
            stages[-1].append(ins)
    return stages


def stage_name(from_: Instruction) -> str | None:
    """The ``AS`` name of a stage (lower case, as BuildKit names it), if it has one."""
    words = from_.arguments.split()  # FROM [--platform=X] IMAGE [AS NAME]
    if len(words) >= 3 and words[-2].lower() == "as":
        return words[-1].lower()
    return None


def instructions_run(
    instructions: Iterable[Instruction], step_names: Iterable[str], target: str | None = None
) -> int:
    """The instructions of the stages a BuildKit build ran, given the names of its steps."""
    stages = split(instructions)
    if not stages:
        return 0
    names = [stage_name(stage[0]) for stage in stages]
    ran: set[int] = set()
    if target and target.lower() in names:
        ran.add(names.index(target.lower()))
    else:
        ran.add(len(stages) - 1)
    for name in step_names:
        m = _STEP.match(name)
        label = (m["stage"] or "").lower() if m else ""
        if label in names:
            ran.add(names.index(label))
        elif label.startswith("stage-") and label[6:].isdigit() and int(label[6:]) < len(stages):
            ran.add(int(label[6:]))
        # No label: a Dockerfile of one stage, the target, counted already.
    return sum(len(stages[i]) for i in ran)
