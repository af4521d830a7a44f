"""Language-conditioned tasks on the three objects: touch, push left, push right.

"Left" and "right" are the robot's (and the camera's, which looks over the robot's shoulder):
left is +y in the base frame. Success is judged from the simulator state only.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import Enum

import numpy as np

from vla_ros.sim.model import OBJECTS, ObjectSpec


class TaskKind(str, Enum):
    TOUCH = "touch"
    PUSH_LEFT = "push_left"
    PUSH_RIGHT = "push_right"


# {obj} is e.g. "red cube". Each kind has >= 3 paraphrases; the first is the canonical one.
PARAPHRASES: dict[TaskKind, tuple[str, ...]] = {
    TaskKind.TOUCH: ("touch the {obj}", "tap the {obj}", "put the gripper on the {obj}",
                     "reach for the {obj} and touch it"),
    TaskKind.PUSH_LEFT: ("push the {obj} to the left", "slide the {obj} left", "move the {obj} to the left side",
                         "nudge the {obj} leftwards"),
    TaskKind.PUSH_RIGHT: ("push the {obj} to the right", "slide the {obj} right",
                          "move the {obj} to the right side", "nudge the {obj} rightwards"),
}

_OBJECTS_BY_NAME: dict[str, ObjectSpec] = {spec.name: spec for spec in OBJECTS}


@dataclass(frozen=True)
class SuccessCriteria:
    push_distance: float = 0.08  # m the target must move along y in the asked direction
    push_max_sideways: float = 0.10  # m it may drift along x while doing so
    table_height_min: float = -0.01  # m; below this the object fell off the table (failure)


@dataclass(frozen=True)
class Task:
    kind: TaskKind
    target: str  # object name, e.g. "red_cube"

    def __post_init__(self) -> None:
        if self.target not in _OBJECTS_BY_NAME:
            raise ValueError(f"task target={self.target!r}: expected one of {sorted(_OBJECTS_BY_NAME)}")

    @property
    def name(self) -> str:
        """Stable identifier, e.g. 'push_left:red_cube' (used in parameters and results)."""
        return f"{self.kind.value}:{self.target}"

    @property
    def object(self) -> ObjectSpec:
        return _OBJECTS_BY_NAME[self.target]

    @property
    def paraphrases(self) -> tuple[str, ...]:
        words = f"{self.object.color} {self.object.shape}"
        return tuple(t.format(obj=words) for t in PARAPHRASES[self.kind])

    def instruction(self, rng: np.random.Generator | None = None) -> str:
        """The canonical instruction, or a random paraphrase when `rng` is given."""
        options = self.paraphrases
        return options[0] if rng is None else options[int(rng.integers(len(options)))]

    @property
    def push_direction(self) -> float:
        return {TaskKind.PUSH_LEFT: 1.0, TaskKind.PUSH_RIGHT: -1.0}.get(self.kind, 0.0)


def all_tasks() -> tuple[Task, ...]:
    return tuple(Task(kind, spec.name) for kind in TaskKind for spec in OBJECTS)


def parse_task(name: str) -> Task:
    """'touch:red_cube' -> Task; the error lists what exists."""
    kind, _, target = name.partition(":")
    try:
        return Task(TaskKind(kind), target)
    except ValueError as exc:
        valid = [t.name for t in all_tasks()]
        raise ValueError(f"task {name!r}: expected one of {valid}") from exc


def parse_tasks(names: Sequence[str]) -> tuple[Task, ...]:
    """Task names, or 'all' / an empty list for every task."""
    if not names or list(names) == ["all"]:
        return all_tasks()
    return tuple(parse_task(n) for n in names)


def task_from_instruction(text: str) -> Task | None:
    """Recover the task an instruction (one of the paraphrases, any case/spacing) asks for."""
    normalized = re.sub(r"\s+", " ", text.strip().lower()).rstrip(".!")
    for task in all_tasks():
        if normalized in task.paraphrases:
            return task
    return None


@dataclass(frozen=True)
class TaskObservation:
    """The privileged state a success check needs."""

    object_positions: Mapping[str, np.ndarray]
    initial_object_positions: Mapping[str, np.ndarray]
    target_in_contact_with_robot: bool


def is_success(task: Task, state: TaskObservation, criteria: SuccessCriteria | None = None) -> bool:
    criteria = criteria or SuccessCriteria()
    now = state.object_positions[task.target]
    if now[2] < criteria.table_height_min:
        return False
    if task.kind == TaskKind.TOUCH:
        return state.target_in_contact_with_robot
    start = state.initial_object_positions[task.target]
    moved_y = (now[1] - start[1]) * task.push_direction
    return bool(moved_y >= criteria.push_distance and abs(now[0] - start[0]) <= criteria.push_max_sideways)
