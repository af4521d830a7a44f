"""vla_node: the lifecycle ROS 2 adapter around vla_ros.pipeline.pipeline.Pipeline.

It converts messages to numpy, hands them to the pipeline, and publishes what the pipeline decides. Threads:
- the control loop on its own thread with absolute deadlines (never queued behind executor callbacks);
- camera reception in a child process (camera_process, the default) that hands frames over in shared memory,
  read by a small thread here; or on a helper node with its own executor thread in this process;
- other subscriptions, services and status on the main executor thread;
- inference in the pipeline's own thread, which hands each observation to the model's process (ProcessPolicy)
  or, with inference_process false, runs the model itself.
All of them share the GIL with the control thread; io_thread_priority keeps the others from being preempted
by ordinary processes while they hold it (the control thread would wait for them).
"""

from __future__ import annotations

import gc
import json
import os
import sys
import threading
import time

import rclpy
from rclpy.clock import Clock, ClockType
from rclpy.executors import SingleThreadedExecutor
from rclpy.lifecycle import LifecycleNode, LifecycleState, TransitionCallbackReturn
from rclpy.qos import qos_profile_sensor_data
from rclpy.time import Time
from sensor_msgs.msg import JointState
from std_msgs.msg import Bool, String
from std_srvs.srv import Trigger

from vla_ros.commands import build_command
from vla_ros.core.config import ConfigError
from vla_ros.core.parameters import build_node_config
from vla_ros.execution.control_loop import ControlLoopHooks, ControlLoopThread, run_control_loop
from vla_ros.execution.realtime import set_fifo_priority
from vla_ros.inputs.cdr import CdrError, string_payload_bytes
from vla_ros.inputs.images import ImageError
from vla_ros.model import create_policy, load_model_package
from vla_ros.model.options import RuntimeOptions
from vla_ros.model.process_policy import create_process_policy
from vla_ros.pipeline.pipeline import ControlOutput, Pipeline
from vla_ros.ros import messages
from vla_ros.ros.camera_process import CameraProcess
from vla_ros.ros.camera_receiver import (
    CameraReceiverRequest,
    CameraTopic,
    decode_image_message,
)
from vla_ros.ros.camera_reception import InNodeCameraReceiver
from vla_ros.ros.model_path import resolve_model_path
from vla_ros.ros.parameters import current_values, declare_schema, validate_parameter_changes
from vla_ros.ros.qos import COMMAND_QOS, HEARTBEAT_QOS, RELIABLE, RELIABLE_LATCHED
from vla_ros.ros.spin import install_shutdown_signals, spin_until_shutdown
from vla_ros.ros.status import StatusPublisher, node_status


class VlaNode(LifecycleNode):
    def __init__(self, **kwargs) -> None:
        super().__init__("vla_node", **kwargs)
        declare_schema(self)
        self.pipeline: Pipeline | None = None
        self._entities: list = []
        self._camera_thread_receiver: InNodeCameraReceiver | None = None
        self._camera_process: CameraProcess | None = None
        self._command_publisher = None
        self._control_loop = ControlLoopThread("vla_control")
        self._configure_error = ""
        # Topic names are relative so `namespace:=arm` moves them all (/arm/vla/status, ...); without a namespace
        # they are the names of docs/interface.md. /diagnostics stays global for the diagnostic aggregator.
        # Status and diagnostics exist from the start so a failed configure is visible, not silent.
        self._status = StatusPublisher(self)
        # On the steady clock, not the node's: with use_sim_time and no /clock yet, a ROS-time timer never fires,
        # and the one status that says "waiting for /clock" would reach only the subscribers matched at that moment.
        self._status_timer = self.create_timer(1.0 / self.get_parameter("status_rate_hz").value,
                                               self._publish_status, clock=Clock(clock_type=ClockType.STEADY_TIME))
        self.add_on_set_parameters_callback(self._on_set_parameters)
        if self.get_parameter("autostart").value:
            self._autostart_timer = self.create_timer(0.0, self._autostart)

    # ----- lifecycle -----
    def _autostart(self) -> None:
        self._autostart_timer.cancel()
        self.destroy_timer(self._autostart_timer)
        if self.trigger_configure() == TransitionCallbackReturn.SUCCESS:
            self.trigger_activate()

    def now_s(self) -> float:
        return self.get_clock().now().nanoseconds * 1e-9

    def on_configure(self, state: LifecycleState) -> TransitionCallbackReturn:
        try:
            config = build_node_config(current_values(self))
            if not config.model_path:
                raise ConfigError("model_path='': expected a model package directory (parameter model_path)")
            package = load_model_package(resolve_model_path(config.model_path))
            options = RuntimeOptions(intra_op_threads=config.inference_threads, remote=config.remote)
            if config.inference_process:
                policy, selection = create_process_policy(package.root, config.backend, options)
            else:
                policy, selection = create_policy(package, config.backend, options)
            for backend, why in selection.skipped:
                self.get_logger().info(f"backend {backend} skipped: {why}")
            self.get_logger().info(f"model {package.name!r} on backend {selection.name} {selection.providers}")
            try:
                pipeline = Pipeline(config, package, policy, selection.name, self.now_s, self.get_logger())
                pipeline.warm_up(config.warmup_inferences)
            except Exception:
                policy.close()
                raise
        except Exception as error:  # any failure leaves the node unconfigured and says why, never crashes it
            self._configure_error = f"configure failed: {type(error).__name__}: {error}"
            self.get_logger().error(self._configure_error)
            self._publish_status()
            return TransitionCallbackReturn.FAILURE
        self._configure_error = ""
        self.pipeline = pipeline
        self._create_io(config)
        if os.environ.get("VLA_GC_FREEZE", "1") == "1":
            # Everything loaded so far (torch, onnxruntime, the model, rclpy) lives for the whole run: move it out
            # of the collector's reach, so a full collection does not hold the GIL for tens of milliseconds while
            # the control thread waits.
            gc.collect()
            gc.freeze()
        return TransitionCallbackReturn.SUCCESS

    def _create_io(self, config) -> None:
        pipeline = self.pipeline
        assert pipeline is not None
        self._start_camera_reception(config)
        self._entities += [
            self.create_subscription(JointState, "joint_states", self._on_joint_state, qos_profile_sensor_data),
            # Raw bytes: rclpy would silently replace invalid UTF-8; the pipeline validates it instead.
            self.create_subscription(String, "vla/instruction", self._on_instruction, RELIABLE, raw=True),
            # E-stop twice: transient-local receives a latched value published before we started, volatile
            # stays compatible with volatile publishers (a TL-only subscription would silently ignore them).
            self.create_subscription(Bool, "vla/estop", self._on_estop, RELIABLE_LATCHED),
            self.create_subscription(Bool, "vla/estop", self._on_estop, RELIABLE),
            self.create_service(Trigger, "~/reset", self._on_reset),
            self.create_service(Trigger, "~/hold", self._on_hold),
        ]
        if config.safety.heartbeat_topic:
            self._entities.append(self.create_subscription(Bool, config.safety.heartbeat_topic, self._on_heartbeat,
                                                           HEARTBEAT_QOS))
        self._command_publisher = self.create_publisher(messages.MESSAGE_TYPES[config.interface],
                                                        config.command_topic, COMMAND_QOS)
        # Per chunk, once: the observation stamp and where the time went until its first command went out.
        self._action_chunk_publisher = self.create_publisher(String, "vla/action_chunk", RELIABLE)

    def _start_camera_reception(self, config) -> None:
        """Camera subscriptions outside the executor that serves joint states and services (a frame there waits
        behind them: about 5 ms more transport in `vla_bench latency`). With camera_process (default) a child
        process subscribes and does the GIL-holding part of taking a frame; otherwise a helper node on a thread of
        its own (ros/camera_reception.py). Topic names are resolved here, so namespace and remappings apply."""
        topics = tuple(CameraTopic(camera.name, self.resolve_topic_name(camera.topic), camera.compressed)
                       for camera in config.inputs.cameras)
        reliable = config.camera_reliability == "reliable"
        if config.camera_process:
            request = CameraReceiverRequest(f"{self.get_name()}_camera_rx", self.get_namespace(), topics,
                                            config.io_thread_priority, reliable)
            self._camera_process = CameraProcess(request, self._on_shared_frame, self._on_camera_error,
                                                 self.get_logger(), config.io_thread_priority)
            self._camera_process.start()
            return
        self._camera_thread_receiver = InNodeCameraReceiver(self, topics, reliable, self._on_serialized_image,
                                                             self._on_camera_error)
        self._camera_thread_receiver.start(config.io_thread_priority)

    def close_camera_process(self) -> None:
        if self._camera_process is not None:
            self._camera_process.close()
            self._camera_process = None

    def stop_camera_reception(self) -> None:
        self.close_camera_process()
        receiver, self._camera_thread_receiver = self._camera_thread_receiver, None
        if receiver is not None:
            receiver.stop()

    def on_activate(self, state: LifecycleState) -> TransitionCallbackReturn:
        assert self.pipeline is not None
        self.pipeline.activate(self.now_s())
        period = self.pipeline.config.execution.control_period
        self._control_loop.start(lambda stop: self._run_control(period, stop))
        self.get_logger().info(f"active: publishing {self.pipeline.config.interface.value} on "
                               f"{self.pipeline.config.command_topic} at {1.0 / period:.0f} Hz")
        self._publish_status()
        return TransitionCallbackReturn.SUCCESS

    def _stop_control(self) -> None:
        self._control_loop.stop()

    def on_deactivate(self, state: LifecycleState) -> TransitionCallbackReturn:
        self._stop_control()
        if self.pipeline is not None:
            self.pipeline.deactivate()
        self._publish_status()
        return TransitionCallbackReturn.SUCCESS

    def on_cleanup(self, state: LifecycleState) -> TransitionCallbackReturn:
        self._destroy_io()
        if self.pipeline is not None:
            self.pipeline.policy.close()
        self.pipeline = None
        return TransitionCallbackReturn.SUCCESS

    def on_shutdown(self, state: LifecycleState) -> TransitionCallbackReturn:
        self._stop_control()
        if self.pipeline is not None:
            self.pipeline.deactivate()
            self.pipeline.policy.close()
        self._destroy_io()
        return TransitionCallbackReturn.SUCCESS

    def _destroy_io(self) -> None:
        self.stop_camera_reception()
        for entity in self._entities:
            if hasattr(entity, "srv_type"):
                self.destroy_service(entity)
            else:
                self.destroy_subscription(entity)
        self._entities.clear()
        if self._command_publisher is not None:
            self.destroy_publisher(self._command_publisher)
            self.destroy_publisher(self._action_chunk_publisher)
            self._command_publisher = None

    # ----- input callbacks -----
    def _on_serialized_image(self, camera: str, serialized: bytes, compressed: bool) -> None:
        pipeline = self.pipeline
        if pipeline is None:
            return
        try:
            image, stamp = decode_image_message(serialized, compressed)
        except (ImageError, CdrError) as error:
            pipeline.on_input_error(f"camera {camera!r}: {error}")
            return
        pipeline.on_image(camera, image, stamp, self.now_s())

    def _on_shared_frame(self, camera: str, image, stamp: float) -> None:
        pipeline = self.pipeline
        if pipeline is not None:
            pipeline.on_image(camera, image, stamp, self.now_s())

    def _on_camera_error(self, reason: str, log: bool = False) -> None:
        if log:
            self.get_logger().warning(reason)
        pipeline = self.pipeline
        if pipeline is not None:
            pipeline.on_input_error(reason)

    def _on_joint_state(self, msg: JointState) -> None:
        if self.pipeline is not None:
            self.pipeline.on_joint_state(msg.name, msg.position, self.now_s())

    def _on_instruction(self, serialized: bytes) -> None:
        if self.pipeline is None:
            return
        try:
            payload = string_payload_bytes(serialized)
        except CdrError as error:
            self.pipeline.on_input_error(f"instruction rejected: {error}")
            return
        self.pipeline.on_instruction(payload)
        self._publish_status()

    def _on_estop(self, msg: Bool) -> None:
        if self.pipeline is not None:
            self.pipeline.on_estop(msg.data)
            if msg.data:
                self.get_logger().warning("e-stop engaged: holding (latched until e-stop false and ~/reset)")

    def _on_heartbeat(self, msg: Bool) -> None:
        if self.pipeline is not None:
            self.pipeline.on_heartbeat(msg.data, self.now_s())

    def _on_reset(self, request: Trigger.Request, response: Trigger.Response) -> Trigger.Response:
        if self.pipeline is None:
            response.success, response.message = False, self._configure_error or "node is not configured"
            return response
        response.success, response.message = self.pipeline.request_reset(self.now_s())
        if response.success and not response.message:
            response.message = "re-armed"
        self._publish_status()
        return response

    def _on_hold(self, request: Trigger.Request, response: Trigger.Response) -> Trigger.Response:
        if self.pipeline is None:
            response.success, response.message = False, "node is not configured"
            return response
        self.pipeline.request_hold()
        response.success, response.message = True, "holding until a new instruction"
        self._publish_status()
        return response

    # ----- control loop -----
    def _run_control(self, period: float, stop: threading.Event) -> None:
        """The fixed-rate loop (vla_ros/execution/control_loop.py) on its own thread, on the node's clock."""
        self._raise_control_priority()
        sim_time = bool(self.get_parameter("use_sim_time").value)
        while sim_time and self.now_s() == 0.0 and not stop.is_set():
            stop.wait(0.01)  # no /clock yet: a grid started at time 0 would count every deadline up to it skipped
        clock = self.now_s if sim_time else time.monotonic
        run_control_loop(period, clock, self._control_tick, stop, polls_clock=sim_time,
                         hooks=ControlLoopHooks(on_skipped=self._on_deadlines_skipped,
                                                on_tick_error=self._on_control_tick_error))

    def _on_deadlines_skipped(self, count: int) -> None:
        if self.pipeline is not None:
            self.pipeline.deadlines.record_skipped(count)

    def _on_control_tick_error(self, error: Exception) -> bool:
        if not self.context.ok():
            return True  # shutting down: the publishers are being destroyed under us
        self.get_logger().error(f"control tick failed: {error!r}", throttle_duration_sec=1.0)
        return False

    def _raise_control_priority(self) -> None:
        self.raise_thread_priority("control", self.pipeline.config.control_thread_priority if self.pipeline else 0)

    def raise_thread_priority(self, thread: str, priority: int) -> None:
        """SCHED_FIFO for the calling thread; a warning, not a failure, where the OS refuses it."""
        problem = set_fifo_priority(priority)
        if problem:
            self.get_logger().warning(f"{thread} thread: {problem}")
        elif priority > 0:
            self.get_logger().info(f"{thread} thread runs SCHED_FIFO priority {priority}")

    def _control_tick(self) -> None:
        pipeline = self.pipeline
        publisher = self._command_publisher
        if pipeline is None or publisher is None:
            return
        now_msg = self.get_clock().now()
        now = now_msg.nanoseconds * 1e-9
        output = pipeline.control_tick(now)
        decision = output.decision
        if decision.publish:
            self._publish_command(pipeline, output, now_msg)
            if output.chunk_report is not None:
                output.chunk_report["published"] = self.now_s()
                self._action_chunk_publisher.publish(String(data=json.dumps(output.chunk_report)))
        if self._status.last_sent != (decision.state.value, decision.reason, pipeline.status_instruction()):
            self._publish_status()

    # ----- status -----
    def _publish_status(self) -> None:
        self._status.publish(node_status(self.pipeline, self._configure_error, self.now_s(),
                                         bool(self.get_parameter("use_sim_time").value)))

    def _on_set_parameters(self, parameters: list) -> object:
        result = validate_parameter_changes(parameters)
        if result.successful:
            for parameter in parameters:
                if parameter.name == "status_rate_hz":
                    self._status_timer.timer_period_ns = int(1e9 / float(parameter.value))
        return result

    def publish_exit_hold(self) -> bool:
        """The process is exiting: stop the control thread, then publish one hold at the measured position, so
        the robot's controller is not left with the last motion command standing. False when there is nothing
        to hold (never activated, or no joint state ever measured)."""
        self._stop_control()
        pipeline, publisher = self.pipeline, self._command_publisher
        if pipeline is None or publisher is None:
            return False
        now_msg = self.get_clock().now()
        output = pipeline.hold_for_exit(now_msg.nanoseconds * 1e-9)
        if output is None or not output.decision.publish:
            return False
        self._publish_command(pipeline, output, now_msg)
        self._publish_status()
        return True

    def _publish_command(self, pipeline: Pipeline, output: ControlOutput, now: Time) -> None:
        """The tick's command as the configured interface's message, stamped with the tick's time."""
        config = pipeline.config
        command = build_command(config.interface, output.decision.command, config.joint_names, config.frame_id,
                                output.trajectory)
        self._command_publisher.publish(messages.to_message(command, now.to_msg()))


# A thread waiting for the GIL asks its holder to let go only after the switch interval (5 ms by default), so
# the control thread could wait that long behind any other thread of the node. 0.05 ms bounds that wait: with
# frames and the model in child processes, it halved the p99 period error against 0.25 ms in four A/B pairs
# (docs/benchmarks.md).
GIL_SWITCH_INTERVAL_S = float(os.environ.get("VLA_GIL_SWITCH_INTERVAL_S", "0.00005"))


def main(args: list[str] | None = None) -> int:
    request = install_shutdown_signals()
    sys.setswitchinterval(GIL_SWITCH_INTERVAL_S)
    # Without rclpy's handlers: they would shut the context down before the exit hold is published.
    rclpy.init(args=args if args is not None else sys.argv, signal_handler_options=rclpy.SignalHandlerOptions.NO)
    node = VlaNode()
    # One executor thread for subscriptions, services and status; cameras, control and inference have their own.
    # A single executor thread can run at io_thread_priority (a thread pool's workers could not).
    priority = io_thread_priority(node)
    return spin_until_shutdown(node, SingleThreadedExecutor(), lambda: shut_down_node(node, request.reason),
                               on_spin_thread=lambda: node.raise_thread_priority("executor", priority))


def shut_down_node(node: VlaNode, reason: str) -> None:
    """Ctrl-C, SIGTERM or an external shutdown: one hold command, then the control thread, the inference process
    and the camera process end (no orphans), while the ROS context is still up."""
    published = node.publish_exit_hold()
    node.get_logger().info(f"shutting down ({reason or 'requested'}): "
                           + ("published a hold command" if published else "no command to hold"))
    node.stop_camera_reception()  # rather than leave the child to notice the closed socket
    if node.pipeline is not None:
        node.pipeline.deactivate()
        node.pipeline.policy.close()


def io_thread_priority(node: VlaNode) -> int:
    """io_thread_priority as configured; 0 when the pair with control_thread_priority is invalid (configure
    then fails and says why)."""
    priority = int(node.get_parameter("io_thread_priority").value)
    return priority if priority < int(node.get_parameter("control_thread_priority").value) else 0


if __name__ == "__main__":
    sys.exit(main())
