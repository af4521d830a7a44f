"""Tasks: paraphrases, parsing and success checks from simulator state."""

from __future__ import annotations

import numpy as np
import pytest

from vla_ros.sim.model import OBJECTS
from vla_ros.sim.tasks import (
    Task,
    TaskKind,
    TaskObservation,
    all_tasks,
    is_success,
    parse_task,
    parse_tasks,
    task_from_instruction,
)

_START = {spec.name: np.array([0.45, 0.0, spec.half_height]) for spec in OBJECTS}


def _state(target_offset: tuple[float, float, float] = (0.0, 0.0, 0.0), contact: bool = False) -> TaskObservation:
    now = {name: pos.copy() for name, pos in _START.items()}
    now["red_cube"] = now["red_cube"] + np.array(target_offset)
    return TaskObservation(now, _START, contact)


def test_when_listing_tasks_expect_every_kind_for_every_object_with_three_distinct_objects() -> None:
    tasks = all_tasks()
    assert len(tasks) == len(TaskKind) * len(OBJECTS)
    assert len({spec.color for spec in OBJECTS}) == len({spec.shape for spec in OBJECTS}) == len(OBJECTS) >= 3


def test_when_asking_paraphrases_expect_at_least_three_distinct_ones_naming_the_target() -> None:
    for task in all_tasks():
        phrases = task.paraphrases
        assert len(set(phrases)) >= 3
        assert all(f"{task.object.color} {task.object.shape}" in p for p in phrases)


def test_when_instruction_sampled_with_rng_expect_all_paraphrases_used() -> None:
    task = Task(TaskKind.PUSH_LEFT, "blue_cylinder")
    rng = np.random.default_rng(0)
    assert {task.instruction(rng) for _ in range(200)} == set(task.paraphrases)


def test_when_instruction_is_a_paraphrase_expect_its_task_recovered() -> None:
    for task in all_tasks():
        for phrase in task.paraphrases:
            assert task_from_instruction(f"  {phrase.upper()}. ") == task
    assert task_from_instruction("make me a sandwich") is None


def test_when_parsing_task_names_expect_round_trip_and_clear_errors() -> None:
    assert parse_task("touch:red_cube") == Task(TaskKind.TOUCH, "red_cube")
    assert parse_tasks(["all"]) == all_tasks()
    with pytest.raises(ValueError, match="touch:red_cube"):
        parse_task("touch:purple_cone")


def test_when_touch_target_is_in_contact_expect_success_and_not_otherwise() -> None:
    task = Task(TaskKind.TOUCH, "red_cube")
    assert is_success(task, _state(contact=True))
    assert not is_success(task, _state(contact=False))


@pytest.mark.parametrize(("kind", "dy", "expected"), [
    (TaskKind.PUSH_LEFT, 0.09, True),
    (TaskKind.PUSH_LEFT, 0.05, False),
    (TaskKind.PUSH_LEFT, -0.09, False),
    (TaskKind.PUSH_RIGHT, -0.09, True),
    (TaskKind.PUSH_RIGHT, 0.09, False),
])
def test_when_target_moved_sideways_expect_push_success_only_in_the_asked_direction(kind: TaskKind, dy: float,
                                                                                     expected: bool) -> None:
    assert is_success(Task(kind, "red_cube"), _state((0.0, dy, 0.0))) is expected


def test_when_target_fell_off_the_table_expect_no_success() -> None:
    assert not is_success(Task(TaskKind.PUSH_LEFT, "red_cube"), _state((0.0, 0.2, -0.5)))
