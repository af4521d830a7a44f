"""Validated configuration dataclasses for the ROS-free core.

Every dataclass checks itself at construction and names the offending field and value, so a
wrong YAML value fails at configure time rather than mid-motion.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import Enum

import numpy as np


class ConfigError(ValueError):
    """A configuration value is invalid; the message names the field and the value."""


def _require(condition: bool, field_name: str, value: object, expectation: str) -> None:
    if not condition:
        raise ConfigError(f"{field_name}={value!r}: expected {expectation}")


def _positive(field_name: str, value: float) -> None:
    _require(isinstance(value, (int, float)) and math.isfinite(value) and value > 0, field_name, value,
             "a finite number > 0")


def _non_negative(field_name: str, value: float) -> None:
    _require(isinstance(value, (int, float)) and math.isfinite(value) and value >= 0, field_name, value,
             "a finite number >= 0")


@dataclass(frozen=True)
class JointLimits:
    """Per-joint limits in `names` order (rad, rad/s, rad/s^2; m for prismatic joints)."""

    names: tuple[str, ...]
    lower: np.ndarray
    upper: np.ndarray
    max_velocity: np.ndarray
    max_acceleration: np.ndarray

    @classmethod
    def from_lists(cls, names: Sequence[str], lower: Sequence[float], upper: Sequence[float],
                   max_velocity: Sequence[float], max_acceleration: Sequence[float]) -> JointLimits:
        return cls(tuple(names), np.asarray(lower, dtype=float), np.asarray(upper, dtype=float),
                   np.asarray(max_velocity, dtype=float), np.asarray(max_acceleration, dtype=float))

    def __post_init__(self) -> None:
        n = len(self.names)
        _require(n > 0, "joint_names", list(self.names), "at least one joint")
        _require(len(set(self.names)) == n, "joint_names", list(self.names), "unique names")
        for label, arr in (("lower", self.lower), ("upper", self.upper),
                           ("max_velocity", self.max_velocity), ("max_acceleration", self.max_acceleration)):
            _require(arr.shape == (n,), f"joint_limits.{label}", arr.tolist(), f"{n} values (one per joint)")
            _require(bool(np.all(np.isfinite(arr))), f"joint_limits.{label}", arr.tolist(), "finite values")
        _require(bool(np.all(self.lower < self.upper)), "joint_limits.lower/upper",
                 (self.lower.tolist(), self.upper.tolist()), "lower < upper for every joint")
        _require(bool(np.all(self.max_velocity > 0)), "joint_limits.max_velocity", self.max_velocity.tolist(),
                 "values > 0")
        _require(bool(np.all(self.max_acceleration > 0)), "joint_limits.max_acceleration",
                 self.max_acceleration.tolist(), "values > 0")

    @property
    def dof(self) -> int:
        return len(self.names)


class OutOfWorkspace(str, Enum):
    CLAMP = "clamp"
    REJECT = "reject"


@dataclass(frozen=True)
class SafetyConfig:
    """The `safety.*` parameter group (see vla_ros/ros/parameters.py for descriptions)."""

    image_timeout: float = 0.25  # s, S1 (rule ids as in docs/safety_rules.md)
    state_timeout: float = 0.1  # s, S1
    max_observation_age: float = 0.5  # s, S2
    inference_timeout: float = 1.0  # s without a new chunk while running, S8
    position_margin: float = 0.1  # rad inside the joint limits, S4
    max_delta: float = 0.05  # rad per control step relative to the measured state, S6
    max_ee_speed: float = 0.25  # m/s, S7 (ISO 10218 reduced speed)
    max_ee_angular_speed: float = 1.0  # rad/s, S7
    max_ee_linear_accel: float = 2.5  # m/s^2: twist acceleration cap (S7) and deceleration on hold (S13)
    max_ee_angular_accel: float = 10.0  # rad/s^2
    workspace_min: tuple[float, float, float] = (-1.0, -1.0, 0.0)  # m, base frame, S7
    workspace_max: tuple[float, float, float] = (1.0, 1.0, 1.5)
    out_of_workspace: OutOfWorkspace = OutOfWorkspace.CLAMP
    blend_in_s: float = 0.5  # S9
    max_instruction_length: int = 512  # characters
    # Operator heartbeat (enabling device), S14: "" = not required. While required and missing, older than
    # heartbeat_timeout or false, the node holds in HOLD_NO_HEARTBEAT.
    heartbeat_topic: str = ""
    heartbeat_timeout: float = 0.5  # s
    # S15: a recoverable hold (stale inputs, late inference, no heartbeat) that lasts longer than this drops
    # the instruction, so motion needs a new one; a shorter one resumes by itself when its cause clears.
    auto_resume_max_s: float = 2.0  # s

    def __post_init__(self) -> None:
        for name in ("image_timeout", "state_timeout", "max_observation_age", "inference_timeout",
                     "max_delta", "max_ee_speed", "max_ee_angular_speed", "max_ee_linear_accel",
                     "max_ee_angular_accel", "heartbeat_timeout"):
            _positive(f"safety.{name}", getattr(self, name))
        _non_negative("safety.position_margin", self.position_margin)
        _non_negative("safety.blend_in_s", self.blend_in_s)
        _non_negative("safety.auto_resume_max_s", self.auto_resume_max_s)
        _require(isinstance(self.heartbeat_topic, str), "safety.heartbeat_topic", self.heartbeat_topic,
                 "a topic name, or '' for no heartbeat")
        _require(isinstance(self.max_instruction_length, int) and self.max_instruction_length > 0,
                 "safety.max_instruction_length", self.max_instruction_length, "an integer > 0")
        _require(len(self.workspace_min) == 3 and len(self.workspace_max) == 3, "safety.workspace_min/max",
                 (self.workspace_min, self.workspace_max), "3 values each (x, y, z)")
        _require(all(lo < hi for lo, hi in zip(self.workspace_min, self.workspace_max)),
                 "safety.workspace_min/max", (self.workspace_min, self.workspace_max), "min < max on every axis")
        _require(isinstance(self.out_of_workspace, OutOfWorkspace), "safety.out_of_workspace",
                 self.out_of_workspace, "'clamp' or 'reject'")


@dataclass(frozen=True)
class RemoteConfig:
    """How to reach the policy server of a remote model package (`backend: remote`; `remote_url`, `remote.*`)."""

    url: str = ""  # overrides the package's remote.url when set
    api_key_env: str = ""  # the environment variable with the API key; "" = none
    ca_file: str = ""  # PEM CA bundle for wss://; "" = the system's
    timeout_s: float = 1.0  # connect and per-reply timeout, s
    max_message_bytes: int = 4 << 20  # largest accepted message from the server

    def __post_init__(self) -> None:
        _require(self.url == "" or self.url.startswith(("ws://", "wss://")), "remote_url", self.url,
                 "a ws:// or wss:// URL, or '' for the package's own")
        _positive("remote.timeout_s", self.timeout_s)
        _require(isinstance(self.max_message_bytes, int) and self.max_message_bytes > 0,
                 "remote.max_message_bytes", self.max_message_bytes, "an integer > 0")


class Blending(str, Enum):
    ENSEMBLE = "ensemble"  # ACT temporal ensembling: exponential weights over overlapping chunks
    LATEST = "latest"  # the newest chunk wins, cross-faded in over crossfade_s
    # Real-time chunking: the newest chunk wins at once. The model was given the actions that run while it
    # infers (Observation.frozen_actions) and continues from them, so there is nothing to fade.
    RTC = "rtc"


@dataclass(frozen=True)
class ExecutionConfig:
    """How chunks become a command stream at the control rate."""

    control_rate_hz: float = 100.0
    blending: Blending = Blending.LATEST
    ensemble_decay: float = 0.01  # ACT's m: weight_i = exp(-m * i), i = 0 for the oldest chunk
    crossfade_s: float = 0.1
    trajectory_horizon_s: float = 0.5  # JTC: how much future we send as points
    trajectory_points: int = 5
    # Experiments only: hold each chunk until the clock reaches its observation stamp + this (vla_bench delay).
    injected_delay_s: float = 0.0
    # The least time between the observations of consecutive inferences, so each chunk runs at least about this long
    # (the RTC paper's execution horizon); 0 infers on every new frame.
    inference_interval_s: float = 0.0

    def __post_init__(self) -> None:
        _require(isinstance(self.control_rate_hz, (int, float)) and 1.0 <= self.control_rate_hz <= 1000.0,
                 "control_rate_hz", self.control_rate_hz, "a rate in [1, 1000] Hz")
        _require(isinstance(self.blending, Blending), "execution.blending", self.blending,
                 "'ensemble', 'latest' or 'rtc'")
        _non_negative("execution.ensemble_decay", self.ensemble_decay)
        _non_negative("execution.crossfade_s", self.crossfade_s)
        _positive("execution.trajectory_horizon_s", self.trajectory_horizon_s)
        _require(isinstance(self.trajectory_points, int) and 1 <= self.trajectory_points <= 100,
                 "execution.trajectory_points", self.trajectory_points, "an integer in [1, 100]")
        _require(isinstance(self.injected_delay_s, (int, float)) and 0.0 <= self.injected_delay_s <= 5.0,
                 "execution.injected_delay_s", self.injected_delay_s, "a delay in [0, 5] s")
        _require(isinstance(self.inference_interval_s, (int, float)) and 0.0 <= self.inference_interval_s <= 10.0,
                 "execution.inference_interval_s", self.inference_interval_s, "an interval in [0, 10] s")

    @property
    def control_period(self) -> float:
        return 1.0 / self.control_rate_hz

    @property
    def effective_crossfade_s(self) -> float:
        """The crossfade the newest-chunk-wins modes apply: none under real-time chunking."""
        return 0.0 if self.blending is Blending.RTC else self.crossfade_s


@dataclass(frozen=True)
class CameraSpec:
    """One camera input: its name (matching the manifest) and topic."""

    name: str
    topic: str
    compressed: bool = False


@dataclass(frozen=True)
class InputConfig:
    cameras: tuple[CameraSpec, ...] = field(default_factory=lambda: (CameraSpec("front", "/camera/image_raw"),))
    sync_tolerance: float = 0.05  # s between camera stamps to count as one observation

    def __post_init__(self) -> None:
        _require(len(self.cameras) > 0, "cameras", self.cameras, "at least one camera")
        names = [c.name for c in self.cameras]
        _require(len(set(names)) == len(names), "cameras", names, "unique camera names")
        _non_negative("camera_sync_tolerance", self.sync_tolerance)
