"""`vla_sim`: the embedded MuJoCo robot on real ROS 2 topics (the stand-in for ros_gz + gz_ros2_control).

Publishes /camera/image_raw (rgb8, sensor-data QoS), /joint_states, /clock (sim time), /sim/episode
(JSON), /sim/status (JSON, 1 Hz, with the measured real-time factor); accepts every command interface of
INTERFACE.md; `~/reset_episode` (std_srvs/Trigger) starts the next seeded episode.

Threads: the main thread owns the simulation and the OpenGL context (EGL contexts are bound to the
thread that made them current) and paces physics against the wall clock; an executor thread runs the
subscription and service callbacks, which take the same lock before touching the simulation.
"""

from __future__ import annotations

import json
import sys
import threading
import time
from collections import deque
from collections.abc import Callable

import numpy as np
import rclpy
from builtin_interfaces.msg import Time as TimeMsg
from geometry_msgs.msg import PoseStamped, TwistStamped
from rcl_interfaces.msg import ParameterDescriptor, SetParametersResult
from rclpy.executors import ExternalShutdownException, ShutdownException, SingleThreadedExecutor
from rclpy.node import Node
from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy, qos_profile_sensor_data
from rosgraph_msgs.msg import Clock
from sensor_msgs.msg import Image, JointState
from std_msgs.msg import Float64MultiArray, String
from std_srvs.srv import Trigger
from trajectory_msgs.msg import JointTrajectory

from vla_ros.ros.spin import init_rclpy, install_shutdown_signals
from vla_ros.sim.commands import CommandError, JointTrajectoryCommand, TrajectoryPoint
from vla_ros.sim.model import JOINT_NAMES
from vla_ros.sim.tasks import parse_tasks
from vla_ros.sim.world import ArmSim, EpisodeStatus, SimConfig

# Frames a Cartesian command may be expressed in: all mean the robot base frame here.
BASE_FRAMES = ("", "base_link", "base", "world")

_PARAMETERS: tuple[tuple[str, object, str], ...] = (
    ("camera_rate_hz", 15.0, "camera frames per second of sim time"),
    ("physics_rate_hz", 500.0, "physics steps per second of sim time (MuJoCo timestep = 1/rate)"),
    ("state_rate_hz", 100.0, "/joint_states and /clock messages per second of sim time"),
    ("image_width", 224, "camera image width, px"),
    ("image_height", 224, "camera image height, px"),
    ("seed", 0, "seed of the first episode; each reset uses the next one (setting it restarts the count)"),
    ("tasks", ["all"], "task names such as 'touch:red_cube', or ['all']"),
    ("real_time_factor", 1.0, "sim seconds per wall second; 0 runs as fast as possible"),
    ("cmd_timeout", 0.5, "s without a velocity/twist command before the arm holds"),
    ("episode_time_limit", 12.0, "s of sim time per episode"),
    ("auto_reset", False, "start the next episode by itself when one is done"),
    ("camera_frame_id", "camera", "frame_id of the published images"),
)


def stamp_from_seconds(seconds: float) -> TimeMsg:
    nanoseconds = round(seconds * 1e9)
    return TimeMsg(sec=nanoseconds // 1_000_000_000, nanosec=nanoseconds % 1_000_000_000)


def seconds_from_stamp(stamp: TimeMsg) -> float:
    return stamp.sec + stamp.nanosec * 1e-9


def trajectory_from_msg(msg: JointTrajectory) -> JointTrajectoryCommand:
    points = tuple(TrajectoryPoint(seconds_from_stamp(p.time_from_start), np.asarray(p.positions, dtype=float),
                                   np.asarray(p.velocities, dtype=float) if len(p.velocities) else None)
                   for p in msg.points)
    start = seconds_from_stamp(msg.header.stamp)
    return JointTrajectoryCommand(tuple(msg.joint_names), points, start if start > 0 else None)


class SimNode(Node):
    def __init__(self) -> None:
        super().__init__("vla_sim")
        for name, default, description in _PARAMETERS:
            # Numbers are dynamically typed so `-p camera_rate_hz:=30` (an integer) is accepted.
            numeric = isinstance(default, (int, float)) and not isinstance(default, bool)
            self.declare_parameter(name, default, ParameterDescriptor(description=description, dynamic_typing=numeric))
        p = {name: self.get_parameter(name).value for name, _, _ in _PARAMETERS}
        physics_rate = float(p["physics_rate_hz"])
        self._config = SimConfig(physics_dt=1.0 / physics_rate, image_width=int(p["image_width"]),
                                 image_height=int(p["image_height"]), cmd_timeout=float(p["cmd_timeout"]),
                                 episode_time_limit=float(p["episode_time_limit"]),
                                 tasks=parse_tasks(list(p["tasks"])))
        for name in ("camera_rate_hz", "state_rate_hz"):
            if not 0 < float(p[name]) <= physics_rate:
                raise ValueError(f"{name}={p[name]!r}: expected a rate in (0, physics_rate_hz={physics_rate}]")
        if float(p["real_time_factor"]) < 0:
            raise ValueError(f"real_time_factor={p['real_time_factor']!r}: expected >= 0 (0 = unthrottled)")
        self._camera_period = 1.0 / float(p["camera_rate_hz"])
        self._state_period = 1.0 / float(p["state_rate_hz"])
        self._rtf_target = float(p["real_time_factor"])
        self._auto_reset = bool(p["auto_reset"])
        self._frame_id = str(p["camera_frame_id"])
        self._next_seed = int(p["seed"])

        self._lock = threading.Lock()
        self.sim = ArmSim(self._config)
        self._episode_status: EpisodeStatus | None = None

        reliable = QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE)
        latched = QoSProfile(depth=1, reliability=ReliabilityPolicy.RELIABLE,
                             durability=DurabilityPolicy.TRANSIENT_LOCAL)
        self._image_pub = self.create_publisher(Image, "/camera/image_raw", qos_profile_sensor_data)
        self._joint_pub = self.create_publisher(JointState, "/joint_states", reliable)
        # Reliable depth 1 matches both rclpy's best-effort /clock subscription and reliable tools.
        self._clock_pub = self.create_publisher(Clock, "/clock",
                                                QoSProfile(depth=1, reliability=ReliabilityPolicy.RELIABLE))
        self._episode_pub = self.create_publisher(String, "/sim/episode", latched)
        self._status_pub = self.create_publisher(String, "/sim/status", latched)

        self.create_subscription(JointTrajectory, "/joint_trajectory_controller/joint_trajectory",
                                 self._on_trajectory, reliable)
        self.create_subscription(Float64MultiArray, "/forward_position_controller/commands", self._on_position,
                                 reliable)
        self.create_subscription(Float64MultiArray, "/forward_velocity_controller/commands", self._on_velocity,
                                 reliable)
        self.create_subscription(TwistStamped, "/servo_node/delta_twist_cmds", self._on_twist, reliable)
        self.create_subscription(PoseStamped, "/target_pose", self._on_pose, reliable)
        self.create_service(Trigger, "~/reset_episode", self._on_reset)
        self.add_on_set_parameters_callback(self._on_parameters)

        self._render_ms: deque[float] = deque(maxlen=100)
        self._reset_episode()
        self.get_logger().info(
            f"vla_sim ready: {len(self._config.tasks)} tasks, camera {self._config.image_width}x"
            f"{self._config.image_height} @ {1 / self._camera_period:g} Hz, physics {physics_rate:g} Hz, "
            f"real_time_factor {self._rtf_target:g}")

    # -------------------------------------------------------------- callbacks
    def _command(self, what: str, apply: object) -> None:
        try:
            with self._lock:
                apply()  # type: ignore[operator]
        except CommandError as exc:
            self.get_logger().warning(f"rejected {what} command: {exc}", throttle_duration_sec=1.0)

    def _on_trajectory(self, msg: JointTrajectory) -> None:
        self._command("trajectory", lambda: self.sim.command_trajectory(trajectory_from_msg(msg)))

    def _on_position(self, msg: Float64MultiArray) -> None:
        self._command("position", lambda: self.sim.command_positions(list(msg.data)))

    def _on_velocity(self, msg: Float64MultiArray) -> None:
        self._command("velocity", lambda: self.sim.command_velocities(list(msg.data)))

    def _check_frame(self, frame_id: str, what: str) -> bool:
        if frame_id in BASE_FRAMES:
            return True
        self.get_logger().warning(f"rejected {what} in frame {frame_id!r}: expected one of {BASE_FRAMES}",
                                  throttle_duration_sec=1.0)
        return False

    def _on_twist(self, msg: TwistStamped) -> None:
        if self._check_frame(msg.header.frame_id, "twist"):
            t = msg.twist
            twist = [t.linear.x, t.linear.y, t.linear.z, t.angular.x, t.angular.y, t.angular.z]
            self._command("twist", lambda: self.sim.command_twist(twist))

    def _on_pose(self, msg: PoseStamped) -> None:
        if not self._check_frame(msg.header.frame_id, "pose"):
            return
        pos, ori = msg.pose.position, msg.pose.orientation
        accepted: list[bool] = []
        self._command("pose", lambda: accepted.append(self.sim.command_pose([pos.x, pos.y, pos.z],
                                                                            [ori.x, ori.y, ori.z, ori.w])))
        if accepted and not accepted[0]:
            self.get_logger().warning(f"rejected pose command: {self.sim.controller.last_ik_error}",
                                      throttle_duration_sec=1.0)

    def _on_reset(self, _request: Trigger.Request, response: Trigger.Response) -> Trigger.Response:
        status = self._reset_episode()
        response.success = True
        response.message = json.dumps(status)
        return response

    def _on_parameters(self, params: list) -> SetParametersResult:
        for param in params:
            if param.name == "seed":
                self._next_seed = int(param.value)
            elif param.name == "real_time_factor":
                if float(param.value) < 0:
                    return SetParametersResult(successful=False, reason="real_time_factor must be >= 0")
                self._rtf_target = float(param.value)
        return SetParametersResult(successful=True)

    # ---------------------------------------------------------------- episode
    def _reset_episode(self) -> dict[str, object]:
        with self._lock:
            episode = self.sim.reset(self._next_seed)
            self._next_seed += 1
            status = self.sim.episode_status()
        self._episode_status = status
        payload = self._episode_payload(status)
        self._episode_pub.publish(String(data=json.dumps(payload)))
        self.get_logger().info(f"episode {episode.episode_id} (seed {episode.seed}): {episode.task.name} "
                               f"- '{episode.instruction}'")
        return payload

    def _episode_payload(self, status: EpisodeStatus) -> dict[str, object]:
        payload = status.as_dict()
        payload["seed"] = self.sim.episode.seed
        payload["time_limit"] = self._config.episode_time_limit
        return payload

    # ------------------------------------------------------------- publishing
    def _publish_state(self, sim_time: float, q: np.ndarray, qd: np.ndarray, effort: np.ndarray) -> None:
        stamp = stamp_from_seconds(sim_time)
        self._clock_pub.publish(Clock(clock=stamp))
        msg = JointState()
        msg.header.stamp = stamp
        msg.name = list(JOINT_NAMES)
        msg.position, msg.velocity, msg.effort = q.tolist(), qd.tolist(), effort.tolist()
        self._joint_pub.publish(msg)

    def _publish_image(self, sim_time: float, rgb: np.ndarray) -> None:
        msg = Image()
        msg.header.stamp = stamp_from_seconds(sim_time)
        msg.header.frame_id = self._frame_id
        msg.height, msg.width = int(rgb.shape[0]), int(rgb.shape[1])
        msg.encoding = "rgb8"
        msg.is_bigendian = 0
        msg.step = msg.width * 3
        msg.data = rgb.tobytes()
        self._image_pub.publish(msg)

    # ------------------------------------------------------------------- loop
    def run(self, should_stop: Callable[[], bool] = lambda: False) -> None:
        """Step, publish and pace until ROS shuts down or `should_stop` (call from the thread that created the
        node)."""
        try:
            self._loop(should_stop)
        except Exception:
            if rclpy.ok():
                raise
            # Shutdown raced a publish (SIGINT/SIGTERM mid-iteration): that is a normal exit.

    def _loop(self, should_stop: Callable[[], bool]) -> None:
        # The first frame comes with the first state step; later ones follow it at exactly the camera period.
        next_image = self.sim.time + self._state_period
        wall_anchor, sim_anchor = time.monotonic(), self.sim.time
        status_wall, status_sim = wall_anchor, self.sim.time
        while rclpy.ok() and not should_stop():
            with self._lock:
                self.sim.step(self._state_period)
                sim_time = self.sim.time
                q, qd, effort = self.sim.joint_positions(), self.sim.joint_velocities(), self.sim.joint_efforts()
                image = None
                if sim_time + 1e-9 >= next_image:
                    started = time.perf_counter()
                    image = self.sim.render()
                    self._render_ms.append((time.perf_counter() - started) * 1e3)
                    # Skip frames rather than bunch them if the loop fell behind the camera rate.
                    next_image += self._camera_period * max(1, int((sim_time - next_image) / self._camera_period) + 1)
                status = self.sim.episode_status()
            self._publish_state(sim_time, q, qd, effort)
            if image is not None:
                self._publish_image(sim_time, image)
            self._maybe_publish_episode(status)

            now = time.monotonic()
            if now - status_wall >= 1.0:
                self._publish_status((sim_time - status_sim) / (now - status_wall), sim_time)
                status_wall, status_sim = now, sim_time
            if self._rtf_target > 0:
                due = wall_anchor + (sim_time - sim_anchor) / self._rtf_target
                delay = due - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
                elif delay < -0.25:
                    # Far behind (slow machine): re-anchor instead of sprinting to catch up.
                    wall_anchor, sim_anchor = time.monotonic(), sim_time

    def _maybe_publish_episode(self, status: EpisodeStatus) -> None:
        previous = self._episode_status
        key = (status.episode_id, status.success, status.done)
        changed = previous is None or key != (previous.episode_id, previous.success, previous.done)
        periodic = previous is not None and int(status.elapsed * 2) != int(previous.elapsed * 2)  # 2 Hz sim time
        self._episode_status = status
        if changed or periodic:
            self._episode_pub.publish(String(data=json.dumps(self._episode_payload(status))))
        if changed and status.done:
            self.get_logger().info(f"episode {status.episode_id} done: success={status.success} "
                                   f"after {status.elapsed:.2f} s")
            if self._auto_reset:
                self._reset_episode()

    def _publish_status(self, measured_rtf: float, sim_time: float) -> None:
        render = sorted(self._render_ms)
        payload = {"real_time_factor": round(measured_rtf, 3), "target_real_time_factor": self._rtf_target,
                   "sim_time": round(sim_time, 3),
                   "render_ms_p50": round(render[len(render) // 2], 2) if render else None,
                   "camera_rate_hz": round(1 / self._camera_period, 3),
                   "state_rate_hz": round(1 / self._state_period, 3),
                   "physics_rate_hz": round(1 / self._config.physics_dt, 3),
                   "episode_id": self.sim.episode.episode_id}
        self._status_pub.publish(String(data=json.dumps(payload)))


def main(args: list[str] | None = None) -> int:
    """Ctrl-C and SIGTERM (any number of them, at any time) end the loop and exit 0 (vla_ros/ros/spin.py)."""
    request = install_shutdown_signals()
    init_rclpy(args)
    node = SimNode()
    executor = SingleThreadedExecutor()
    executor.add_node(node)

    def spin() -> None:
        try:
            executor.spin()
        except (ExternalShutdownException, ShutdownException):
            pass

    spinner = threading.Thread(target=spin, name="vla_sim_executor", daemon=True)
    spinner.start()
    try:
        node.run(should_stop=lambda: request.requested)
    except KeyboardInterrupt:  # only when some code restored Python's default SIGINT handler
        pass
    finally:
        executor.shutdown(timeout_sec=1.0)
        spinner.join(timeout=5.0)
        node.sim.close()
        node.destroy_node()
        rclpy.try_shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
