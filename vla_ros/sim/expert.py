"""Scripted expert: privileged object positions -> joint position targets (7) through IK.

It moves a Cartesian "carrot" along a short list of waypoints at a bounded speed, solves IK for
the carrot with the tool pointing down, and returns the joint solution as the position target.
Waypoints are recomputed from the live object position every call (closed loop), so a pushed
object that drifts sideways is followed.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np

from vla_ros.sim.kinematics import TOOL_DOWN_QUAT_XYZW, ArmKinematics
from vla_ros.sim.model import ARM_DOF, DOF
from vla_ros.sim.tasks import Task, TaskKind

# Half-thickness of the closed finger pair along the push direction (world y with the tool down).
_FINGER_HALF_THICKNESS = 0.013


@dataclass(frozen=True)
class ExpertConfig:
    travel_speed: float = 0.25  # m/s of the carrot in free space
    push_speed: float = 0.10  # m/s while in contact
    travel_height: float = 0.12  # tip height (m) when moving above the objects
    push_height: float = 0.018  # tip height (m) while pushing
    push_gap: float = 0.02  # m between finger and object before the push starts
    push_overshoot: float = 0.14  # m past the object's start position the fingers are driven
    touch_press: float = 0.008  # m the touch target lies below the object's top (ensures contact)
    reached_tolerance: float = 0.012  # m between measured tip and waypoint to advance


@dataclass(frozen=True)
class _Waypoint:
    position: np.ndarray
    speed: float


class ScriptedExpert:
    """Call `reset` at the start of each episode, then `act` at the control rate."""

    def __init__(self, kinematics: ArmKinematics, config: ExpertConfig | None = None) -> None:
        self._kin = kinematics
        self.config = config or ExpertConfig()
        self._task: Task | None = None
        self._phase = 0
        self._carrot = np.zeros(3)
        self._q_target = np.zeros(DOF)
        self._push_start_y = 0.0

    def reset(self, task: Task, joint_positions: np.ndarray, object_positions: Mapping[str, np.ndarray]) -> None:
        self._task = task
        self._phase = 0
        self._q_target = np.asarray(joint_positions, dtype=float).copy()
        self._q_target[ARM_DOF:] = 0.0  # gripper closed: the fingers form one pushing paddle
        self._carrot, _ = self._kin.forward(self._q_target[:ARM_DOF])
        self._push_start_y = float(object_positions[task.target][1])

    @property
    def phase(self) -> int:
        return self._phase

    def _waypoints(self, target: np.ndarray) -> list[_Waypoint]:
        assert self._task is not None
        cfg, spec = self.config, self._task.object
        if self._task.kind == TaskKind.TOUCH:
            top = target[2] + spec.half_height
            return [_Waypoint(np.array([target[0], target[1], top + cfg.travel_height]), cfg.travel_speed),
                    _Waypoint(np.array([target[0], target[1], top - cfg.touch_press]), cfg.push_speed)]
        direction = self._task.push_direction
        behind = self._push_start_y - direction * (spec.radius + _FINGER_HALF_THICKNESS + cfg.push_gap)
        height = max(cfg.push_height, min(spec.half_height, 0.03))
        return [_Waypoint(np.array([target[0], behind, cfg.travel_height]), cfg.travel_speed),
                _Waypoint(np.array([target[0], behind, height]), cfg.travel_speed),
                _Waypoint(np.array([target[0], self._push_start_y + direction * cfg.push_overshoot, height]),
                          cfg.push_speed)]

    def act(self, joint_positions: np.ndarray, object_positions: Mapping[str, np.ndarray], dt: float) -> np.ndarray:
        """Joint position targets [joint_1..joint_6, gripper] for the next control period `dt`."""
        if self._task is None:
            raise RuntimeError("ScriptedExpert.act called before reset")
        waypoints = self._waypoints(np.asarray(object_positions[self._task.target], dtype=float))
        tip, _ = self._kin.forward(np.asarray(joint_positions, dtype=float)[:ARM_DOF])
        goal = waypoints[self._phase]
        carrot_there = np.linalg.norm(goal.position - self._carrot) < 1e-6
        if (carrot_there and np.linalg.norm(goal.position - tip) < self.config.reached_tolerance
                and self._phase < len(waypoints) - 1):
            self._phase += 1
            goal = waypoints[self._phase]
        step = goal.position - self._carrot
        distance = float(np.linalg.norm(step))
        max_step = goal.speed * dt
        self._carrot = goal.position.copy() if distance <= max_step else self._carrot + step * (max_step / distance)
        result = self._kin.solve_ik(self._carrot, TOOL_DOWN_QUAT_XYZW, self._q_target[:ARM_DOF])
        self._q_target[:ARM_DOF] = result.positions
        return self._q_target.copy()


@dataclass(frozen=True)
class StepRecord:
    """What a data generator stores per control step."""

    time: float
    joint_positions: np.ndarray
    action: np.ndarray  # the joint position targets sent
    image: np.ndarray | None


def run_expert_episode(sim: object, seed: int, control_period: float = 0.05, task: Task | None = None,
                       render: bool = False, on_step: Callable[[StepRecord], None] | None = None,
                       expert: ScriptedExpert | None = None) -> object:
    """Reset `sim` (an ArmSim) with `seed`, let the expert act every `control_period` until done.

    Returns the final EpisodeStatus. `on_step` receives each step's observation and action (the
    image is rendered before the action when `render` is True), which is what demonstrations need.
    """
    from vla_ros.sim.world import ArmSim  # local: world imports the renderer, expert users may not need it

    assert isinstance(sim, ArmSim)
    expert = expert or ScriptedExpert(sim.kinematics)
    episode = sim.reset(seed, task=task)
    expert.reset(episode.task, sim.joint_positions(), sim.object_positions())
    status = sim.episode_status()
    while not status.done:
        image = sim.render() if render else None
        q = sim.joint_positions()
        action = expert.act(q, sim.object_positions(), control_period)
        if on_step is not None:
            on_step(StepRecord(sim.time, q, action, image))
        sim.command_positions(action)
        sim.step(control_period)
        status = sim.episode_status()
    return status
