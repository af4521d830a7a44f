"""The scripted expert solves the tasks from privileged state (and an idle arm does not)."""

from __future__ import annotations

import numpy as np
import pytest

import vla_ros.sim  # noqa: F401  (selects the GL backend before mujoco is imported)
from vla_ros.sim.expert import StepRecord, run_expert_episode
from vla_ros.sim.model import DOF
from vla_ros.sim.tasks import all_tasks
from vla_ros.sim.world import ArmSim, SimConfig


@pytest.fixture(scope="module")
def sim() -> ArmSim:
    world = ArmSim(SimConfig(image_width=96, image_height=96), render=True)
    yield world
    world.close()


def test_when_expert_runs_ten_seeded_episodes_over_all_tasks_expect_at_least_nine_successes(sim: ArmSim) -> None:
    tasks = all_tasks()
    results = [run_expert_episode(sim, seed=1000 + i, task=tasks[i % len(tasks)]) for i in range(10)]
    assert sum(r.success for r in results) >= 9
    assert all(r.elapsed < sim.config.episode_time_limit for r in results if r.success)


def test_when_arm_stays_idle_expect_no_task_succeeds_before_the_time_limit(sim: ArmSim) -> None:
    for task in all_tasks():
        sim.reset(seed=3, task=task)
        sim.step(sim.config.episode_time_limit)
        status = sim.episode_status()
        assert status.done and not status.success


def test_when_recording_expert_episode_expect_images_states_and_actions_per_step(sim: ArmSim) -> None:
    records: list[StepRecord] = []
    status = run_expert_episode(sim, seed=5, control_period=0.1, render=True, on_step=records.append)
    assert status.success
    assert len(records) == pytest.approx(status.elapsed / 0.1, abs=1)
    assert all(r.image is not None and r.image.shape == (96, 96, 3) for r in records)
    actions = np.stack([r.action for r in records])
    assert actions.shape == (len(records), DOF)
    assert np.all(np.isfinite(actions))
    assert np.abs(np.diff(actions, axis=0)).max() < 0.3  # smooth targets, no jumps
