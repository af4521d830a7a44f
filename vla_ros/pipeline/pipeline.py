"""The ROS-free heart of vla_node: inputs -> policy -> chunk scheduler -> safety -> command.

Two loops share this object:
- the inference thread (`run_inference_once`) turns the newest synchronized observation into an ActionChunk;
- the control timer (`control_tick`) samples the scheduler for *now*, passes the proposal through the safety
  supervisor and returns the one command to publish.
The control tick never waits for inference: they share only small lock-protected values.
The ROS adapter (vla_ros/ros/node.py) converts messages and publishes; everything that decides lives here.
"""

from __future__ import annotations

import logging
import threading
import time
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from vla_ros.commands.trajectory import guard_horizon
from vla_ros.core.parameters import NodeConfig
from vla_ros.core.types import ActionChunk, CommandInterface, NodeState, Observation, Policy
from vla_ros.execution.scheduler import ChunkScheduler
from vla_ros.execution.synthesis import CommandSynthesizer
from vla_ros.inputs.frames import Frame, FrameStore
from vla_ros.inputs.joint_state import JointStateError, JointStateReorderer
from vla_ros.model import InputError, ModelPackage, PolicyUnavailable
from vla_ros.pipeline.checks import (
    check_model_matches_robot,
    check_plausible,
    command_dim_of_chunk,
    real_time_chunking_planner,
)
from vla_ros.pipeline.chunk_report import chunk_reports
from vla_ros.pipeline.inference_thread import InferenceThread, blank_observation
from vla_ros.pipeline.injected_delay import InjectedDelay
from vla_ros.pipeline.pacing import InferencePacing, pacing_advice
from vla_ros.pipeline.resume import ResumeRule
from vla_ros.safety import DeadlineMonitor, SafetyDecision, SafetyInputs, SafetySupervisor, validate_chunk
from vla_ros.safety import validate_instruction as clean_instruction

Clock = Callable[[], float]


@dataclass
class ControlOutput:
    """What the control tick decided; the adapter publishes it when `decision.publish`."""

    decision: SafetyDecision
    trajectory: list[tuple[float, np.ndarray]] = field(default_factory=list)  # JTC only
    # Set on the first tick that commands from a newly arrived chunk: the chunk (targets, observation stamp,
    # instruction) and where its time went. Published on /vla/action_chunk for recording and the latency bench.
    chunk_report: dict[str, object] | None = None


@dataclass
class _Instruction:
    text: str
    instruction_id: int


class Pipeline:
    def __init__(self, config: NodeConfig, package: ModelPackage, policy: Policy, backend_name: str,
                 clock: Clock, logger: logging.Logger | None = None) -> None:
        self.config = config
        self._clock = clock
        self.package = package
        self.policy = policy
        self.backend_name = backend_name
        self.log = logger or logging.getLogger("vla_ros.pipeline")
        check_model_matches_robot(config, package)

        self.synthesizer = CommandSynthesizer(package.semantics, config.interface, config.execution.control_period,
                                              package.control_period, absolute_dims=package.absolute_dims)
        self.scheduler = ChunkScheduler(config.execution, command_dim_of_chunk(package))
        self.supervisor = SafetySupervisor(config.safety, config.limits, config.interface,
                                           config.execution.control_period,
                                           max_ee_linear_accel=config.safety.max_ee_linear_accel,
                                           max_ee_angular_accel=config.safety.max_ee_angular_accel)
        self.deadlines = DeadlineMonitor(config.execution.control_period)
        self.frames = FrameStore([c.name for c in config.inputs.cameras], config.inputs.sync_tolerance)
        self.joint_reorderer = JointStateReorderer(config.joint_names)

        self._lock = threading.Lock()
        self.injected_delay = InjectedDelay(config.execution.injected_delay_s)
        self.rtc = real_time_chunking_planner(config, package)
        self.pacing = InferencePacing(config.execution.inference_interval_s,
                                      (package.horizon - 1) * package.control_period, package.control_period,
                                      config.safety.inference_timeout)
        if advice := pacing_advice(config):
            self.log.warning(advice)
        self._inference = InferenceThread(lambda: self.run_inference_once(self._clock()), self.log)
        self._active = False
        self._estop = False
        self._instruction: _Instruction | None = None
        self._next_instruction_id = 1
        self._measured: np.ndarray | None = None
        self._state_stamp: float | None = None
        self.joint_states_received = 0  # in /vla/status: is the state topic arriving (vla_replay waits on it)
        # Reasons reported to safety on the next tick; cleared when a good input replaces them.
        self._input_error: str | None = None
        self._last_rejection = ""  # the latest rejected instruction, reported until a valid one arrives
        self._heartbeat_stamp: float | None = None
        self._heartbeat_may_move = False
        self.resume_rule = ResumeRule(config.safety.auto_resume_max_s)
        self._state_error: str | None = None
        # The inference thread pauses while a model fault is unacknowledged (until ~/reset).
        self._inference_error: str | None = None
        # Why the policy cannot be reached (a remote server away); added to the late-inference hold's reason.
        self._policy_unavailable = ""
        # Events for the supervisor, handed over on the next tick only ("since the last tick"); it latches them.
        self._inference_error_event: str | None = None
        self._invalid_action_event: str | None = None
        self._logged_fault = False
        self._last_chunk_time: float | None = None
        self._policy_needs_reset = False
        self._last_decision: SafetyDecision | None = None
        self._unreported_chunk: dict[str, object] | None = None
        self.timings_ms: dict[str, float] = {}
        self.inference_count = 0

    # ----- inputs (called from subscription callbacks) -----
    def on_image(self, camera: str, image: np.ndarray, stamp: float, received: float) -> None:
        expected = self.package.expected_image_size(camera)
        if expected is not None and image.shape[:2] != tuple(expected):
            self.on_input_error(f"camera {camera!r}: image {image.shape[1]}x{image.shape[0]} but the model expects "
                                f"{expected[1]}x{expected[0]}")
            return
        # A zero or future stamp (misconfigured driver clock) would break chunk timing: use arrival time instead.
        if stamp <= 0.0 or stamp > received + 1.0:
            stamp = received
        self.frames.put(camera, Frame(image, stamp, received))
        with self._lock:
            self._input_error = None
        self._inference.wake()

    def on_input_error(self, reason: str) -> None:
        with self._lock:
            self._input_error = reason

    def on_joint_state(self, names: Sequence[str], positions: Sequence[float], received: float) -> None:
        self.joint_states_received += 1
        try:
            measured = self.joint_reorderer.reorder(names, positions)
            check_plausible(measured, self.config.limits, self.config.joint_names)
        except JointStateError as error:
            with self._lock:
                self._state_error = f"joint state rejected: {error}"
            return
        with self._lock:
            self._measured = measured
            self._state_stamp = received
            self._state_error = None

    def on_instruction(self, raw: bytes | str) -> tuple[bool, str]:
        """A new instruction (or '' = stop). Returns (accepted, reason)."""
        text, reason = clean_instruction(raw, self.config.safety.max_instruction_length)
        if text is None:
            # The robot keeps doing what it was told: a garbled message must not be able to change the task.
            self.log.warning(f"instruction rejected: {reason}")
            with self._lock:
                self._last_rejection = f"instruction rejected: {reason}"
            return False, reason
        with self._lock:
            self._last_rejection = ""
            self._set_instruction_locked(text or None)
            self.resume_rule.new_instruction()
        self._inference.wake()
        return True, ""

    def _set_instruction_locked(self, text: str | None) -> None:
        instruction_id = self._next_instruction_id
        self._next_instruction_id += 1
        replaced = self._instruction is not None and text is not None
        self._instruction = _Instruction(text, instruction_id) if text else None
        if replaced:
            self.supervisor.new_instruction()  # clears a latched invalid-action hold, blends in again
        # Queued actions of the old instruction go at once, and the old chunks' ids can no longer enter.
        self.scheduler.set_instruction(instruction_id)
        if self.rtc is not None:
            self.rtc.clear()  # the new instruction's first chunk starts from the measured state
        self._last_chunk_time = None
        # The policy is reset by the inference thread before its next inference, never under its feet.
        self._policy_needs_reset = True

    def on_estop(self, engaged: bool) -> None:
        with self._lock:
            self._estop = bool(engaged)
            if engaged:
                self.scheduler.clear()

    def on_heartbeat(self, may_move: bool, received: float) -> None:
        """The operator's heartbeat (S14): `may_move` true lets the robot move while it keeps arriving."""
        with self._lock:
            self._heartbeat_stamp = received
            self._heartbeat_may_move = bool(may_move)

    def request_hold(self) -> None:
        """~/hold: stop and hold until a new instruction."""
        with self._lock:
            self.resume_rule.new_instruction()
            self._set_instruction_locked(None)

    def request_reset(self, now: float) -> tuple[bool, str]:
        """~/reset: re-arm after a latched fault or e-stop; refused with the reason while a cause persists."""
        with self._lock:
            inputs = self._safety_inputs_locked(now, None)
        ok, reason = self.supervisor.reset(inputs)
        if ok:
            with self._lock:
                self._inference_error = None
                self._logged_fault = False
                # Re-arming never restarts motion by itself (S15): the robot waits for a new instruction.
                self._set_instruction_locked(None)
                self.resume_rule.rearmed(reason)
        return ok, reason

    # ----- lifecycle -----
    def warm_up(self, count: int) -> None:
        """Run the model on a blank observation so the first real inference is not a cold start."""
        blank = blank_observation(self.package, len(self.config.joint_names))
        for _ in range(count):
            self.policy.infer(blank)
        self.policy.reset()

    def activate(self, now: float, hand_driven: bool = False) -> None:
        """Start commanding. The inference thread starts too, unless `hand_driven`: then the caller runs
        `run_inference_once(now)` and `control_tick(now)` itself, on a clock of its choosing (tests, replays,
        offline evaluation), and the pipeline starts no thread at all."""
        with self._lock:
            self._active = True
            self.scheduler.clear()
            self._last_chunk_time = now if self._instruction else None
            self.supervisor.activate(now)
        if hand_driven:
            return
        self._inference.start(self.config.io_thread_priority if self.config.inference_process else 0)

    def deactivate(self) -> None:
        self.injected_delay.clear()
        with self._lock:
            self._active = False
            self.scheduler.clear()
            self.supervisor.deactivate()
        self._inference.stop()

    # ----- inference -----
    def run_inference_once(self, now: float) -> bool:
        """Infer on the newest observation if there is a new one; returns whether the model ran."""
        if self.injected_delay.busy():
            return self.injected_delay.release_due(now)
        with self._lock:
            if not self._active or self._estop or self._instruction is None or self._inference_error:
                return False
            instruction = self._instruction
            reset_policy, self._policy_needs_reset = self._policy_needs_reset, False
        if reset_policy:
            self.policy.reset()
        frame_set, _why = self.frames.synchronized()
        if frame_set is None:
            return False
        # The state is read after the frame, so it is at least as new as the frame's arrival: a state published
        # with the frame (as a simulator does) is never paired with the frame before it.
        with self._lock:
            measured = None if self._measured is None else self._measured.copy()
        if not self.pacing.due(frame_set.sequence, instruction.instruction_id, frame_set.stamp):
            return False
        if now - frame_set.stamp > self.config.safety.max_observation_age:
            return False  # S2: too old to act on; the stale-image hold covers the robot meanwhile
        if self.package.state_dim is not None and measured is None:
            return False
        self.pacing.started(frame_set.sequence, instruction.instruction_id, frame_set.stamp)
        observation = Observation({name: f.image for name, f in frame_set.frames.items()}, frame_set.stamp,
                                  instruction.text, measured,
                                  None if self.rtc is None else self.rtc.frozen_for(frame_set.stamp))
        started = time.perf_counter()
        try:
            actions = self.policy.infer(observation)
        except InputError as error:
            self.on_input_error(f"observation rejected by the model: {error}")
            return True
        except PolicyUnavailable as error:
            # Transient (a remote policy server out of reach or too slow): no chunk comes, so the inference-timeout
            # hold (S8) stops the robot; no fault is latched, and the next observation tries again.
            if not self._policy_unavailable:
                self.log.warning(f"policy unavailable: {error}")
            self._policy_unavailable = str(error)
            return True
        except Exception as error:  # a model fault must never take the node down: hold + FAULT
            with self._lock:
                self._inference_error = f"inference raised {type(error).__name__}: {error}"
                self._inference_error_event = self._inference_error
                if not self._logged_fault:
                    self.log.error(f"inference failed; holding until ~/reset\n{traceback.format_exc()}")
                    self._logged_fault = True
            return True
        inference_ms = (time.perf_counter() - started) * 1e3
        self._policy_unavailable = ""
        if self.injected_delay.enabled:
            self.injected_delay.hold(frame_set.stamp, lambda: self._accept_actions(
                actions, frame_set, instruction, measured, inference_ms))
            self.injected_delay.release_due(self._clock())
            return True
        self._accept_actions(actions, frame_set, instruction, measured, inference_ms)
        return True

    def _accept_actions(self, actions: np.ndarray, frame_set, instruction: _Instruction,
                        measured: np.ndarray | None, inference_ms: float) -> None:
        reason = validate_chunk(np.asarray(actions), (self.package.horizon, self.package.action_dim))
        if reason:
            with self._lock:
                self._invalid_action_event = reason
            return
        targets = self.synthesizer.to_targets(np.asarray(actions, dtype=float), measured)
        timings = dict(self.policy.timings_ms)
        timings["inference_total"] = inference_ms
        chunk = ActionChunk(targets, frame_set.stamp, self.package.control_period, self.package.semantics,
                            instruction.instruction_id, measured, timings)
        now = self._clock()
        with self._lock:
            if self._instruction is None or self._instruction.instruction_id != instruction.instruction_id:
                return  # the instruction changed while the model ran: this chunk belongs to the old one
            result = self.scheduler.add(chunk, now)
            if result.accepted:
                if self.rtc is not None:
                    self.rtc.on_chunk(np.asarray(actions, dtype=float), frame_set.stamp, now)
                self.pacing.chunk_accepted(frame_set.stamp, now)
                self._last_chunk_time = now
                self.inference_count += 1
                self.timings_ms, self._unreported_chunk = chunk_reports(chunk, frame_set, instruction.text, now,
                                                                        result.skipped_steps)

    # ----- control tick -----
    def control_tick(self, now: float) -> ControlOutput:
        self.deadlines.tick(now)
        if self.scheduler.observe_clock(now):
            self.log.warning("clock jumped backwards (simulation reset?): action queue cleared")
            self.injected_delay.clear()
            if self.rtc is not None:
                self.rtc.clear()
            self.pacing.clear()
            self.frames.clear()
            with self._lock:
                self._measured = None
                self._state_stamp = None
                self._last_chunk_time = None
        self.injected_delay.release_due(now)
        with self._lock:
            running = self._instruction is not None and self._active and not self._estop
            sample = self.scheduler.sample(now) if running else None
            measured = self._measured
            proposed = None if sample is None else self.synthesizer.to_command(sample, measured)
            inputs = self._safety_inputs_locked(now, proposed)
            self._inference_error_event = self._invalid_action_event = None
        decision = self.supervisor.step(inputs)
        self._apply_resume_rule(decision, now)
        self._last_decision = decision
        output = ControlOutput(decision)
        if sample is not None and not decision.holding and self._unreported_chunk is not None:
            output.chunk_report, self._unreported_chunk = self._unreported_chunk, None
            output.chunk_report["tick"] = now
        if self.config.interface is CommandInterface.JOINT_TRAJECTORY and decision.publish:
            output.trajectory = self._trajectory(now, decision)
        return output

    def _apply_resume_rule(self, decision: SafetyDecision, now: float) -> None:
        """S15: drop an instruction whose motion a recoverable hold interrupted for too long; say why."""
        with self._lock:
            drop_reason = self.resume_rule.after_tick(decision.state, now, self._instruction is not None)
            if drop_reason is not None:
                self.log.warning(drop_reason)
                self._set_instruction_locked(None)
            if decision.state is NodeState.HOLD_NO_INSTRUCTION and self.resume_rule.dropped_reason:
                decision.reason = self.resume_rule.dropped_reason
            if decision.state is NodeState.HOLD_INFERENCE_LATE and self._policy_unavailable:
                decision.reason = f"{decision.reason}; {self._policy_unavailable}"

    def _trajectory(self, now: float, decision: SafetyDecision) -> list[tuple[float, np.ndarray]]:
        period = self.config.execution.control_period
        future = [] if decision.holding else self.scheduler.trajectory(now)
        return guard_horizon(decision.command, period, future, self.config.limits,
                             self.config.safety.position_margin)

    def _safety_inputs_locked(self, now: float, proposed: np.ndarray | None) -> SafetyInputs:
        return SafetyInputs(
            now=now,
            image_stamp=self.frames.newest_stamp(),
            state_stamp=self._state_stamp,
            measured_positions=self._measured,
            instruction_active=self._instruction is not None,
            last_chunk_time=self._last_chunk_time,
            proposed=proposed,
            estop=self._estop,
            inference_error=self._inference_error_event,
            invalid_action=self._invalid_action_event,
            input_error=self._input_error or self._state_error,
            heartbeat_stamp=self._heartbeat_stamp,
            heartbeat_may_move=self._heartbeat_may_move,
        )

    # ----- reporting -----
    def status_instruction(self) -> str:
        instruction = self._instruction
        return instruction.text if instruction else ""

    def status(self, now: float) -> dict[str, object]:
        decision = self._last_decision
        with self._lock:
            instruction = self._instruction
            active = self._active
            state = decision.state.value if decision is not None and active else NodeState.IDLE.value
            reason = decision.reason if decision is not None and active else "not active"
            return {
                "state": state,
                "reason": reason,
                "instruction": instruction.text if instruction else "",
                "last_rejection": self._last_rejection,
                # Counts every accepted instruction, the empty "stop" included, so clients can tell them apart.
                "instruction_id": self._next_instruction_id - 1,
                "model": self.package.name,
                "backend": self.backend_name,
                "interface": self.config.interface.value,
                "inferences": self.inference_count,
                "joint_states_received": self.joint_states_received,
                "timings_ms": {k: round(v, 3) for k, v in self.timings_ms.items()},
                "deadlines": self.deadlines.snapshot(),
                "safety": dict(self.supervisor.counters),
                "scheduler": dict(self.scheduler.stats),
                "stamp": now,
            }

    def hold_for_exit(self, now: float) -> ControlOutput | None:
        """The node is exiting: drop the instruction and decide one last tick, a hold at the measured position
        (`decision.publish` is False when no state was ever measured). None when not active: nothing was
        commanded. Call it with the control thread stopped."""
        with self._lock:
            if not self._active:
                return None
        self.request_hold()
        return self.control_tick(now)
