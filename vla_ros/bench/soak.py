"""ROS-free simulated soak of the safety supervisor (`vla_bench soak`).

Simulated time at `rate_hz`, run as fast as possible. Each command interface gets an equal share of the
duration with a simulated robot that follows its commands. Faults are injected one at a time at random
moments (stale image, stale state, NaN joint state, NaN proposal, huge proposal, e-stop, inference
exception, inference stall, instruction cleared); an operator resets latched holds once their cause is
gone. Every tick is checked independently of the supervisor's own code:

- limits (rule ids of docs/safety_rules.md): finite, S4 (inside limits-margin or no further out), S5 velocity
  (and acceleration unless a position guard had to win), S6 delta cap, S7 speed / workspace caps, S13 hold
  commands;
- detection: each fault's hold appears at the first tick after its deadline (never more than one
  period late) and in the expected state; the supervisor recovers (by itself, or after ~/reset).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from vla_ros.core.config import JointLimits, SafetyConfig
from vla_ros.core.timing import timing_stats
from vla_ros.core.types import CommandInterface, NodeState
from vla_ros.safety.decision import SafetyDecision, SafetyInputs
from vla_ros.safety.limits import POSITION_CLAMPED, WORKSPACE_CLAMPED, quaternion_angle
from vla_ros.safety.rules import SafetyRule
from vla_ros.safety.supervisor import SafetySupervisor

FAULT_KINDS = ("stale_image", "stale_state", "nan_state", "nan_proposal", "huge_proposal", "estop",
               "inference_error", "inference_stall", "no_instruction")
CAMERA_PERIOD = 1.0 / 30.0  # the simulated camera publishes at 30 Hz
CHUNK_PERIOD = 0.1  # a new action chunk every 100 ms (10 Hz inference)
RESET_DELAY = 0.1  # the operator presses ~/reset this long after a latched cause is gone
_EPS = 1e-9
_MAX_EXAMPLES = 10


def soak_limits() -> JointLimits:
    """A 6-joint arm (UR-like ranges, conservative speeds)."""
    return JointLimits.from_lists([f"joint_{i}" for i in range(6)], lower=[-2.8] * 6, upper=[2.8] * 6,
                                  max_velocity=[1.5, 1.5, 2.0, 2.5, 2.5, 3.0],
                                  max_acceleration=[5.0, 5.0, 8.0, 10.0, 10.0, 12.0])


@dataclass
class _Fault:
    kind: str
    start: float
    end: float  # the cause stops here
    deadline: float | None  # the hold must be in place at the first tick after this (None: no hold expected)
    expected: NodeState | None
    latched: bool
    detected_at: float | None = None
    missed: bool = False
    reset_done: bool = False
    refusal_checked: bool = False


class _Report:
    def __init__(self) -> None:
        self.faults = dict.fromkeys(FAULT_KINDS, 0)
        self.detected = dict.fromkeys(FAULT_KINDS, 0)
        self.recovered = dict.fromkeys(FAULT_KINDS, 0)
        self.violations = 0
        self.late_detections = 0
        self.early_holds = 0
        self.unexpected_holds = 0
        self.reset_problems = 0
        self.examples: list[str] = []
        self.delays_ms: list[float] = []

    def problem(self, counter: str, message: str) -> None:
        setattr(self, counter, getattr(self, counter) + 1)
        if len(self.examples) < _MAX_EXAMPLES:
            self.examples.append(message)


def _outside(x: np.ndarray, low: np.ndarray, high: np.ndarray) -> np.ndarray:
    return np.maximum(0.0, np.maximum(low - x, x - high))


class _InterfaceSoak:
    """One interface's simulated robot, nominal proposal stream, fault injection and checks."""

    def __init__(self, interface: CommandInterface, config: SafetyConfig, limits: JointLimits, period: float,
                 rng: np.random.Generator, report: _Report, start_time: float,
                 supervisor_factory: Callable[..., SafetySupervisor]) -> None:
        self.interface = interface
        self.config = config
        self.limits = limits
        self.period = period
        self.rng = rng
        self.report = report
        self.supervisor = supervisor_factory(config, limits, interface, period)
        self.supervisor.activate(start_time)
        self.band_low = limits.lower + config.position_margin
        self.band_high = limits.upper - config.position_margin
        self.box_low = np.array(config.workspace_min)
        self.box_high = np.array(config.workspace_max)
        self.joints = np.zeros(limits.dof)
        self.ee_pose = np.array([0.0, 0.0, 0.75, 0.0, 0.0, 0.0, 1.0])
        self.phase = rng.uniform(0.0, 2.0 * math.pi, size=7)
        self.image_stamp = start_time
        self.state_stamp = start_time
        self.chunk_time = start_time
        self.fault: _Fault | None = None
        self.next_fault = start_time + rng.uniform(0.5, 1.5)
        self.previous: SafetyDecision | None = None
        self.last_valid_measured: np.ndarray | None = None
        self.step_times: list[float] = []

    # ------------------------------------------------------------ nominal stream
    def _nominal(self, now: float) -> np.ndarray:
        wave = np.sin(0.7 * now + self.phase)
        if self.interface is CommandInterface.JOINT_VELOCITY:
            return 3.5 * wave[:6]  # beyond the velocity limits at the peaks
        if self.interface is CommandInterface.TWIST:
            return np.concatenate([0.4 * wave[:3], 1.5 * wave[3:6]])  # beyond the EE speed caps
        if self.interface is CommandInterface.POSE:
            angle = 0.5 * wave[3]
            return np.array([1.2 * wave[0], 1.2 * wave[1], 0.75 + 0.9 * wave[2], 0.0, 0.0, math.sin(angle),
                             math.cos(angle)])  # partly outside the workspace box
        return 3.2 * wave[:6]  # beyond the joint limits at the peaks

    # ------------------------------------------------------------ faults
    def _start_fault(self, now: float) -> None:
        kind = str(self.rng.choice(FAULT_KINDS))
        c, rng = self.config, self.rng
        if kind == "stale_image":
            fault = _Fault(kind, now, now + rng.uniform(0.3, 0.8), self.image_stamp + c.image_timeout,
                           NodeState.HOLD_STALE_IMAGE, False)
        elif kind == "stale_state":
            fault = _Fault(kind, now, now + rng.uniform(0.15, 0.5), self.state_stamp + c.state_timeout,
                           NodeState.HOLD_STALE_STATE, False)
        elif kind == "nan_state":
            fault = _Fault(kind, now, now + rng.uniform(0.02, 0.3), now, NodeState.HOLD_STALE_STATE, False)
        elif kind == "nan_proposal":
            fault = _Fault(kind, now, now + self.period / 2, now, NodeState.HOLD_INVALID_ACTION, True)
        elif kind == "huge_proposal":
            fault = _Fault(kind, now, now + rng.uniform(0.1, 0.5), None, None, False)
        elif kind == "estop":
            fault = _Fault(kind, now, now + rng.uniform(0.05, 0.5), now, NodeState.ESTOP, True)
        elif kind == "inference_error":
            fault = _Fault(kind, now, now + self.period / 2, now, NodeState.FAULT, True)
        elif kind == "inference_stall":
            fault = _Fault(kind, now, now + rng.uniform(1.1, 2.0), self.chunk_time + c.inference_timeout,
                           NodeState.HOLD_INFERENCE_LATE, False)
        else:
            fault = _Fault(kind, now, now + rng.uniform(0.05, 0.5), now, NodeState.HOLD_NO_INSTRUCTION, False)
        self.fault = fault
        self.report.faults[kind] += 1

    def _active(self, kind: str, now: float) -> bool:
        return self.fault is not None and self.fault.kind == kind and now < self.fault.end

    # ------------------------------------------------------------ one tick
    def tick(self, now: float) -> None:
        if self.fault is None and now >= self.next_fault and self.supervisor.state is NodeState.RUNNING:
            self._start_fault(now)
        inputs = self._inputs(now)
        fault = self.fault
        if fault is not None and fault.latched and not fault.reset_done:
            self._operate_reset(inputs, fault, now)
        began = time.perf_counter()
        decision = self.supervisor.step(inputs)
        self.step_times.append(time.perf_counter() - began)
        measured = inputs.measured_positions
        if measured is not None and np.all(np.isfinite(measured)):
            self.last_valid_measured = measured
        self._check_limits(inputs, decision)
        self._check_detection(decision, now)
        self._move_robot(decision)
        self.previous = decision

    def _inputs(self, now: float) -> SafetyInputs:
        if not self._active("stale_image", now) and now - self.image_stamp >= CAMERA_PERIOD - _EPS:
            self.image_stamp = now
        if not self._active("stale_state", now):
            self.state_stamp = now
        if not self._active("inference_stall", now) and now - self.chunk_time >= CHUNK_PERIOD - _EPS:
            self.chunk_time = now
        measured = self.joints + self.rng.normal(0.0, 1e-4, size=self.joints.shape)
        if self._active("nan_state", now):
            measured[int(self.rng.integers(0, measured.size))] = np.nan
        proposed = self._nominal(now)
        if self._active("huge_proposal", now):
            proposed = self.rng.choice([-1e6, 1e6], size=proposed.shape)
        if self._active("nan_proposal", now):
            proposed = proposed.copy()
            proposed[int(self.rng.integers(0, proposed.size))] = np.nan
        return SafetyInputs(
            now=now, image_stamp=self.image_stamp, state_stamp=self.state_stamp, measured_positions=measured,
            instruction_active=not self._active("no_instruction", now), last_chunk_time=self.chunk_time,
            proposed=proposed, estop=self._active("estop", now),
            inference_error="RuntimeError: injected" if self._active("inference_error", now) else None,
            measured_ee_pose=None if self.interface is CommandInterface.POSE else self.ee_pose.copy())

    def _operate_reset(self, inputs: SafetyInputs, fault: _Fault, now: float) -> None:
        if fault.kind == "estop" and inputs.estop and fault.detected_at is not None and not fault.refusal_checked:
            fault.refusal_checked = True
            accepted, message = self.supervisor.reset(inputs)
            if accepted:
                self.report.problem("reset_problems", f"{self.interface.value} t={now:.2f}: reset accepted while "
                                                      f"the e-stop is pressed ({message})")
        if now >= fault.end + RESET_DELAY:
            accepted, message = self.supervisor.reset(inputs)
            fault.reset_done = True
            if not accepted:
                self.report.problem("reset_problems", f"{self.interface.value} t={now:.2f}: reset refused "
                                                      f"after {fault.kind} ended: {message}")

    def _check_detection(self, decision: SafetyDecision, now: float) -> None:
        fault = self.fault
        if fault is None:
            if decision.holding and self.previous is not None and not self.previous.holding:
                self.report.problem("unexpected_holds", f"{self.interface.value} t={now:.2f}: "
                                                        f"{decision.state.value} with no fault ({decision.reason})")
            return
        if fault.expected is not None and fault.detected_at is None and not fault.missed:
            if decision.state is fault.expected:
                fault.detected_at = now
                if now < fault.deadline - _EPS:
                    self.report.problem("early_holds", f"{self.interface.value} {fault.kind}: hold at t={now:.3f} "
                                                       f"before its deadline {fault.deadline:.3f}")
                else:
                    self.report.delays_ms.append(round((now - fault.deadline) * 1000.0, 6))
                    self.report.detected[fault.kind] += 1
            elif now > fault.deadline + self.period + _EPS:
                fault.missed = True
                self.report.problem("late_detections", f"{self.interface.value} {fault.kind}: no "
                                                       f"{fault.expected.value} by t={now:.3f} (deadline "
                                                       f"{fault.deadline:.3f}; state {decision.state.value})")
            elif decision.holding:
                self.report.problem("early_holds", f"{self.interface.value} {fault.kind}: {decision.state.value} "
                                                   f"at t={now:.3f} before the expected {fault.expected.value}")
        if fault.expected is None and decision.holding:
            self.report.problem("unexpected_holds", f"{self.interface.value} {fault.kind}: {decision.state.value} "
                                                    f"at t={now:.3f} ({decision.reason})")
        cause_gone = now >= fault.end and (not fault.latched or fault.reset_done)
        if cause_gone and decision.state is NodeState.RUNNING:
            self.report.recovered[fault.kind] += 1
            self.fault = None
            self.next_fault = now + self.rng.uniform(0.2, 1.5)
        elif cause_gone and now > fault.end + RESET_DELAY + 3.0:
            self.report.problem("reset_problems", f"{self.interface.value} {fault.kind}: still "
                                                  f"{decision.state.value} 3 s after the cause ended")
            self.fault = None
            self.next_fault = now + self.rng.uniform(0.2, 1.5)

    def _move_robot(self, decision: SafetyDecision) -> None:
        if not decision.publish:
            return
        if self.interface is CommandInterface.JOINT_VELOCITY:
            self.joints = self.joints + decision.command * self.period
        elif self.interface is CommandInterface.TWIST:
            self.ee_pose[:3] = self.ee_pose[:3] + decision.command[:3] * self.period
        elif self.interface is CommandInterface.POSE:
            self.ee_pose = decision.command.copy()
        else:
            # A position-controlled joint that covers 60% of the remaining error per tick: it lags, so the
            # delta cap and the re-anchoring on the measured state get exercised.
            self.joints = self.joints + 0.6 * (decision.command - self.joints)

    # ------------------------------------------------------------ limit checks
    def _violation(self, decision: SafetyDecision, what: str, rule: SafetyRule | None = None) -> None:
        if rule is not None:
            what = f"{what} ({rule.value})"
        self.report.problem("violations", f"{self.interface.value} t={self.supervisor._last_now:.3f} "
                                          f"{decision.state.value}: {what}; command {np.round(decision.command, 4)}")

    def _check_limits(self, inputs: SafetyInputs, decision: SafetyDecision) -> None:
        command = decision.command
        if not np.all(np.isfinite(command)):
            self._violation(decision, "non-finite command")
            return
        previous = self.previous
        if self.interface is CommandInterface.JOINT_VELOCITY:
            self._check_joint_velocity(decision, command, previous)
        elif self.interface is CommandInterface.TWIST:
            self._check_twist(decision, command, previous)
        elif self.interface is CommandInterface.POSE:
            self._check_pose(decision, command, previous)
        else:
            self._check_joint_position(inputs, decision, command, previous)

    def _check_joint_position(self, inputs: SafetyInputs, decision: SafetyDecision, command: np.ndarray,
                              previous: SafetyDecision | None) -> None:
        if not decision.publish:
            if self.last_valid_measured is not None:
                self._violation(decision, "not published although a measured state exists")
            return
        if decision.holding:
            if not np.array_equal(command, self.last_valid_measured):
                self._violation(decision, "hold command is not the measured position", SafetyRule.S13)
            return
        measured = inputs.measured_positions
        restart = previous is None or not previous.publish or previous.holding
        reference = measured if restart else previous.command
        delta = self.config.max_delta
        anchor = measured + np.clip(reference - measured, -delta, delta)
        allowed = np.maximum(_outside(measured, self.band_low, self.band_high),
                             _outside(reference, self.band_low, self.band_high))
        if np.any(_outside(command, self.band_low, self.band_high) > allowed + _EPS):
            self._violation(decision, "outside the joint limits less the margin", SafetyRule.S4)
        if np.any(np.abs(command - measured) > delta + _EPS):
            self._violation(decision, "step from the measured state above max_delta", SafetyRule.S6)
        if np.any(np.abs(command - anchor) > self.limits.max_velocity * self.period + _EPS):
            self._violation(decision, "joint velocity above the limit", SafetyRule.S5)

    def _check_joint_velocity(self, decision: SafetyDecision, command: np.ndarray,
                              previous: SafetyDecision | None) -> None:
        before = np.zeros_like(command) if previous is None else previous.command
        if np.any(np.abs(command) > self.limits.max_velocity + _EPS):
            self._violation(decision, "joint velocity above the limit", SafetyRule.S5)
        if np.any(np.abs(command) * self.period > self.config.max_delta + _EPS):
            self._violation(decision, "step above max_delta", SafetyRule.S6)
        if POSITION_CLAMPED not in decision.interventions and np.any(
                np.abs(command - before) > self.limits.max_acceleration * self.period + _EPS):
            self._violation(decision, "joint acceleration above the limit", SafetyRule.S5)
        after = self.joints + command * self.period
        if np.any(_outside(after, self.band_low, self.band_high) >
                  _outside(self.joints, self.band_low, self.band_high) + 1e-3):  # 1e-3: the measurement noise
            self._violation(decision, "drives a joint outside the limits less the margin", SafetyRule.S4)
        if decision.holding and (np.any(np.abs(command) > np.abs(before) + _EPS) or np.any(command * before < -_EPS)):
            self._violation(decision, "hold does not decelerate towards zero", SafetyRule.S13)

    def _check_twist(self, decision: SafetyDecision, command: np.ndarray, previous: SafetyDecision | None) -> None:
        before = np.zeros(6) if previous is None else previous.command
        if np.linalg.norm(command[:3]) > self.config.max_ee_speed + _EPS:
            self._violation(decision, "linear speed above max_ee_speed", SafetyRule.S7)
        if np.linalg.norm(command[3:]) > self.config.max_ee_angular_speed + _EPS:
            self._violation(decision, "angular speed above max_ee_angular_speed", SafetyRule.S7)
        if WORKSPACE_CLAMPED not in decision.interventions and (
                np.linalg.norm(command[:3] - before[:3]) > self.supervisor.max_ee_linear_accel * self.period + _EPS
                or np.linalg.norm(command[3:] - before[3:]) > self.supervisor.max_ee_angular_accel * self.period
                + _EPS):
            self._violation(decision, "end-effector acceleration above the limit", SafetyRule.S7)
        after = self.ee_pose[:3] + command[:3] * self.period
        if np.any(_outside(after, self.box_low, self.box_high) > _outside(self.ee_pose[:3], self.box_low,
                                                                          self.box_high) + _EPS):
            self._violation(decision, "drives the end effector out of the workspace box", SafetyRule.S7)
        if decision.holding and np.linalg.norm(command) > np.linalg.norm(before) + _EPS:
            self._violation(decision, "hold does not decelerate", SafetyRule.S13)

    def _check_pose(self, decision: SafetyDecision, command: np.ndarray, previous: SafetyDecision | None) -> None:
        if not decision.publish:
            return
        if np.any(command[:3] < self.box_low - _EPS) or np.any(command[:3] > self.box_high + _EPS):
            self._violation(decision, "pose outside the workspace box", SafetyRule.S7)
        if previous is not None and previous.publish:
            if np.linalg.norm(command[:3] - previous.command[:3]) > self.config.max_ee_speed * self.period + _EPS:
                self._violation(decision, "pose moves faster than max_ee_speed", SafetyRule.S7)
            if quaternion_angle(previous.command[3:], command[3:]) > (
                    self.config.max_ee_angular_speed * self.period + 1e-6):
                self._violation(decision, "pose turns faster than max_ee_angular_speed", SafetyRule.S7)
            if decision.holding and not np.array_equal(command, previous.command):
                self._violation(decision, "pose hold is not the last safe pose", SafetyRule.S13)


def run_soak(duration_s: float, rate_hz: float = 100.0, seed: int = 0,
             interfaces: tuple[CommandInterface, ...] = tuple(CommandInterface),
             config: SafetyConfig | None = None,
             supervisor_factory: Callable[..., SafetySupervisor] = SafetySupervisor) -> dict:
    """Simulate `duration_s` of control ticks at `rate_hz` (split evenly over `interfaces`) with random fault
    injection; return counts per fault type, violations and detection delays. `passed` sums it up.
    `supervisor_factory(config, limits, interface, period)` lets a test check that the soak catches a bad one."""
    if not (math.isfinite(duration_s) and duration_s > 0):
        raise ValueError(f"duration_s={duration_s!r}: expected a finite number > 0")
    if not (math.isfinite(rate_hz) and rate_hz > 0):
        raise ValueError(f"rate_hz={rate_hz!r}: expected a finite number > 0")
    config = config or SafetyConfig()
    period = 1.0 / rate_hz
    rng = np.random.default_rng(seed)
    report = _Report()
    limits = soak_limits()
    ticks_per_interface = max(1, round(duration_s * rate_hz / len(interfaces)))
    counters: dict[str, int] = {}
    step_times: list[float] = []
    started = time.perf_counter()
    for index, interface in enumerate(interfaces):
        start_time = 1000.0 * (index + 1)  # an arbitrary ROS clock origin per segment
        soak = _InterfaceSoak(CommandInterface(interface), config, limits, period, rng, report, start_time,
                              supervisor_factory)
        for k in range(ticks_per_interface):
            soak.tick(start_time + k * period)
        for name, count in soak.supervisor.counters.items():
            counters[name] = counters.get(name, 0) + count
        step_times.extend(soak.step_times)
    wall = time.perf_counter() - started
    delays = np.asarray(report.delays_ms) if report.delays_ms else np.zeros(1)
    problems = (report.violations + report.late_detections + report.early_holds + report.unexpected_holds
                + report.reset_problems)
    return {
        "duration_s": duration_s,
        "rate_hz": rate_hz,
        "seed": seed,
        "interfaces": [CommandInterface(i).value for i in interfaces],
        "ticks": ticks_per_interface * len(interfaces),
        "wall_s": wall,
        "faults": report.faults,
        "holds_detected": report.detected,
        "recovered": report.recovered,
        "limit_violations": report.violations,
        "late_detections": report.late_detections,
        "early_holds": report.early_holds,
        "unexpected_holds": report.unexpected_holds,
        "reset_problems": report.reset_problems,
        "max_detection_delay_ms": float(delays.max()),
        "detection_delay_bound_ms": period * 1000.0,
        "supervisor_counters": counters,
        "step_time": timing_stats(np.asarray(step_times) * 1000.0),
        "problem_examples": report.examples,
        "passed": problems == 0,
    }
