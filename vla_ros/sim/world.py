"""The simulated robot world: physics, seeded episodes, commands, camera and task success.

`ArmSim` is everything the ROS adapter, the expert, data generation and the tests use; it imports
no rclpy. Time is simulation time in seconds (what the node publishes on /clock).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import mujoco
import numpy as np

from vla_ros.sim.commands import CommandController, JointTrajectoryCommand
from vla_ros.sim.kinematics import ArmKinematics
from vla_ros.sim.model import (
    CAMERA_NAME,
    DOF,
    EE_SITE,
    HOME_POSITIONS,
    JOINT_LOWER,
    JOINT_MAX_ACCELERATION,
    JOINT_MAX_VELOCITY,
    JOINT_NAMES,
    JOINT_UPPER,
    OBJECTS,
    build_mjcf,
)
from vla_ros.sim.render import CameraRenderer
from vla_ros.sim.tasks import SuccessCriteria, Task, TaskObservation, all_tasks, is_success

# Where objects may be placed (base frame, m) and how far apart their centres must be.
PLACEMENT_X = (0.33, 0.55)
PLACEMENT_Y = (-0.17, 0.17)
MIN_OBJECT_SEPARATION = 0.11


class SimConfigError(ValueError):
    """A SimConfig field is invalid; the message names it."""


@dataclass(frozen=True)
class SimConfig:
    physics_dt: float = 0.002  # s; 500 Hz
    image_width: int = 224
    image_height: int = 224
    camera: str = CAMERA_NAME
    cmd_timeout: float = 0.5  # s without a velocity/twist command -> hold
    episode_time_limit: float = 12.0  # s of sim time
    tasks: tuple[Task, ...] = field(default_factory=all_tasks)
    randomize_home: float = 0.05  # rad of uniform noise on the arm's start configuration
    criteria: SuccessCriteria = field(default_factory=SuccessCriteria)

    def __post_init__(self) -> None:
        def need(ok: bool, name: str, value: object, expectation: str) -> None:
            if not ok:
                raise SimConfigError(f"{name}={value!r}: expected {expectation}")

        need(0 < self.physics_dt <= 0.01, "physics_dt", self.physics_dt, "a step in (0, 0.01] s")
        for name in ("image_width", "image_height"):
            value = getattr(self, name)
            need(isinstance(value, int) and 16 <= value <= 1920, name, value, "an integer in [16, 1920] px")
        need(self.cmd_timeout > 0, "cmd_timeout", self.cmd_timeout, "a number > 0 s")
        need(self.episode_time_limit > 0, "episode_time_limit", self.episode_time_limit, "a number > 0 s")
        need(len(self.tasks) > 0, "tasks", self.tasks, "at least one task")
        need(0 <= self.randomize_home <= 0.5, "randomize_home", self.randomize_home, "a number in [0, 0.5] rad")


@dataclass(frozen=True)
class Episode:
    episode_id: int
    seed: int
    task: Task
    instruction: str
    start_time: float  # sim time of the reset


@dataclass(frozen=True)
class EpisodeStatus:
    episode_id: int
    task: str
    instruction: str
    success: bool
    elapsed: float  # s of sim time since the reset
    done: bool  # success, or the time limit ran out

    def as_dict(self) -> dict[str, object]:
        return {"episode_id": self.episode_id, "task": self.task, "instruction": self.instruction,
                "success": self.success, "elapsed": round(self.elapsed, 4), "done": self.done}


def sample_object_positions(rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Non-overlapping placements on the table (rejection sampling; always terminates quickly)."""
    for _ in range(1000):
        xy = np.column_stack((rng.uniform(*PLACEMENT_X, len(OBJECTS)), rng.uniform(*PLACEMENT_Y, len(OBJECTS))))
        gaps = [np.linalg.norm(xy[i] - xy[j]) for i in range(len(xy)) for j in range(i + 1, len(xy))]
        if min(gaps) >= MIN_OBJECT_SEPARATION:
            return {spec.name: np.array([x, y, spec.half_height]) for spec, (x, y) in zip(OBJECTS, xy)}
    raise RuntimeError("could not place the objects without overlap")


class ArmSim:
    """MuJoCo arm + table + objects, stepped by `step(duration)` with commands applied every physics step."""

    def __init__(self, config: SimConfig | None = None, render: bool = True) -> None:
        self.config = config or SimConfig()
        self.model = mujoco.MjModel.from_xml_string(build_mjcf(self.config.physics_dt))
        self.data = mujoco.MjData(self.model)
        self.kinematics = ArmKinematics(self.model)
        joint_ids = [self.model.joint(n).id for n in JOINT_NAMES]
        self._qpos_adr = np.array([self.model.jnt_qposadr[j] for j in joint_ids])
        self._dof_adr = np.array([self.model.jnt_dofadr[j] for j in joint_ids])
        mirror = self.model.joint("gripper_mirror").id
        self._mirror_qpos, self._mirror_dof = self.model.jnt_qposadr[mirror], self.model.jnt_dofadr[mirror]
        self._pos_actuators = np.array([self.model.actuator(f"{n}_pos").id for n in JOINT_NAMES])
        self._vel_actuators = np.array([self.model.actuator(f"{n}_vel").id for n in JOINT_NAMES])
        self._site_id = self.model.site(EE_SITE).id
        self._object_qpos = {s.name: self.model.jnt_qposadr[self.model.joint(f"{s.name}_free").id] for s in OBJECTS}
        self._object_geoms = {s.name: self.model.geom(f"{s.name}_geom").id for s in OBJECTS}
        robot_bodies = {self.model.body(b).id for b in ("link_1", "link_2", "link_3", "link_4", "link_5",
                                                       "link_6", "finger_left", "finger_right")}
        self._robot_geoms = {g for g in range(self.model.ngeom) if self.model.geom_bodyid[g] in robot_bodies}
        self.controller = CommandController(self.kinematics, HOME_POSITIONS, self.config.cmd_timeout)
        self._renderer = (CameraRenderer(self.model, self.config.camera, self.config.image_width,
                                         self.config.image_height) if render else None)
        self._episode: Episode | None = None
        self._initial_objects: dict[str, np.ndarray] = {}
        self._success_latched = False
        self._episode_count = -1  # the reset in __init__ makes episode 0
        self.reset(seed=0)

    # --------------------------------------------------------------- episode
    def reset(self, seed: int, task: Task | None = None, instruction: str | None = None) -> Episode:
        """Seeded reset: arm near home, objects placed at random, task and paraphrase drawn from the seed.

        Sim time keeps running across resets (like /clock on a real sim); `elapsed` is per episode.
        """
        rng = np.random.default_rng(seed)
        if task is None:
            task = self.config.tasks[int(rng.integers(len(self.config.tasks)))]
        text = instruction if instruction is not None else task.instruction(rng)
        placements = sample_object_positions(rng)
        home = HOME_POSITIONS.copy()
        home[:6] += rng.uniform(-self.config.randomize_home, self.config.randomize_home, 6)
        home = np.clip(home, JOINT_LOWER, JOINT_UPPER)
        sim_time = self.data.time
        mujoco.mj_resetData(self.model, self.data)
        self.data.time = sim_time
        self.data.qpos[self._qpos_adr] = home
        self.data.qpos[self._mirror_qpos] = home[-1]
        for name, pos in placements.items():
            adr = self._object_qpos[name]
            yaw = rng.uniform(-math.pi, math.pi)
            self.data.qpos[adr:adr + 3] = pos
            self.data.qpos[adr + 3:adr + 7] = (math.cos(yaw / 2), 0.0, 0.0, math.sin(yaw / 2))
        self.controller.reset(home)
        self._apply_setpoint(home, np.zeros(DOF))
        mujoco.mj_forward(self.model, self.data)
        self._initial_objects = {n: p.copy() for n, p in placements.items()}
        self._success_latched = False
        self._episode_count += 1
        self._episode = Episode(self._episode_count, int(seed), task, text, float(self.data.time))
        return self._episode

    @property
    def episode(self) -> Episode:
        assert self._episode is not None
        return self._episode

    def task_observation(self) -> TaskObservation:
        return TaskObservation(self.object_positions(), self._initial_objects, self._target_touched())

    def episode_status(self) -> EpisodeStatus:
        """Success latches: once achieved it stays achieved for the rest of the episode."""
        ep = self.episode
        if not self._success_latched and is_success(ep.task, self.task_observation(), self.config.criteria):
            self._success_latched = True
        elapsed = self.time - ep.start_time
        # Half a step of slack: sim time accumulates float rounding over thousands of steps.
        done = self._success_latched or elapsed >= self.config.episode_time_limit - 0.5 * self.model.opt.timestep
        return EpisodeStatus(ep.episode_id, ep.task.name, ep.instruction, self._success_latched, elapsed, done)

    def _target_touched(self) -> bool:
        target = self._object_geoms[self.episode.task.target]
        for i in range(self.data.ncon):
            contact = self.data.contact[i]
            pair = (contact.geom1, contact.geom2)
            if target in pair and (pair[0] in self._robot_geoms or pair[1] in self._robot_geoms):
                return True
        return False

    # --------------------------------------------------------------- physics
    @property
    def time(self) -> float:
        return float(self.data.time)

    def _apply_setpoint(self, q: np.ndarray, qd: np.ndarray) -> None:
        self.data.ctrl[self._pos_actuators] = q
        self.data.ctrl[self._vel_actuators] = qd

    def step(self, duration: float | None = None) -> None:
        """Advance sim time by `duration` (default one physics step), updating the setpoint every step."""
        dt = self.model.opt.timestep
        steps = 1 if duration is None else max(1, round(duration / dt))
        for _ in range(steps):
            q, qd = self.controller.step(self.time + dt, dt)
            self._apply_setpoint(q, qd)
            mujoco.mj_step(self.model, self.data)

    # ----------------------------------------------------------------- state
    def joint_positions(self) -> np.ndarray:
        return self.data.qpos[self._qpos_adr].copy()

    def joint_velocities(self) -> np.ndarray:
        return self.data.qvel[self._dof_adr].copy()

    def joint_efforts(self) -> np.ndarray:
        return self.data.qfrc_actuator[self._dof_adr].copy()

    def tool_pose(self) -> tuple[np.ndarray, np.ndarray]:
        """Tool site position and quaternion [x y z w] in the base frame (measured)."""
        return self.kinematics.forward(self.joint_positions()[:6])

    def object_positions(self) -> dict[str, np.ndarray]:
        return {n: self.data.qpos[adr:adr + 3].copy() for n, adr in self._object_qpos.items()}

    # -------------------------------------------------------------- commands
    def command_positions(self, positions: Sequence[float], joint_names: Sequence[str] | None = None) -> None:
        self.controller.command_positions(positions, self.time, joint_names)

    def command_velocities(self, velocities: Sequence[float], joint_names: Sequence[str] | None = None) -> None:
        self.controller.command_velocities(velocities, self.time, joint_names)

    def command_trajectory(self, trajectory: JointTrajectoryCommand) -> None:
        self.controller.command_trajectory(trajectory, self.time)

    def command_twist(self, twist: Sequence[float]) -> None:
        self.controller.command_twist(twist, self.time)

    def command_pose(self, position: Sequence[float], quat_xyzw: Sequence[float]) -> bool:
        return self.controller.command_pose(position, quat_xyzw, self.time)

    # ---------------------------------------------------------------- camera
    def render(self) -> np.ndarray:
        if self._renderer is None:
            raise RuntimeError("this ArmSim was created with render=False")
        return self._renderer.render(self.data)

    def close(self) -> None:
        if self._renderer is not None:
            self._renderer.close()
            self._renderer = None


def joint_limits_table() -> dict[str, dict[str, float]]:
    """Per-joint limits (what config/sim.yaml should say), keyed by joint name."""
    return {name: {"lower": float(lo), "upper": float(hi), "max_velocity": float(v), "max_acceleration": float(a)}
            for name, lo, hi, v, a in zip(JOINT_NAMES, JOINT_LOWER, JOINT_UPPER, JOINT_MAX_VELOCITY,
                                          JOINT_MAX_ACCELERATION)}
