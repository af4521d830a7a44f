"""`vla_demo` / `make demo`: the embedded sim + vla_node as separate ROS 2 processes, N seeded episodes.

    vla_demo                     # models/sim_act, 10 episodes, plots and a frame strip in out/
    vla_demo --episodes 3 --model models/sim_act --backend torch --out /tmp/demo

Per episode: hold the robot (empty instruction), reset the sim (`/vla_sim/reset_episode`), send the episode's
instruction on /vla/instruction as `vla_instruct` does (std_msgs/String, reliable, acknowledged through
/vla/status), then wait for /sim/episode to report it done. Exit status: 0 = ran, 1 = could not run
(no model package, a process died, a timeout).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_MODEL = Path("models/sim_act")
# Until the node holds for want of an instruction, it has not seen a camera frame and a joint state: the camera
# child process subscribes a moment after activation, and an episode started before that would lose sim time.
NOT_READY_STATES = (None, "IDLE", "FAULT", "HOLD_STALE_IMAGE", "HOLD_STALE_STATE")


class DemoError(RuntimeError):
    """The demo could not run (missing package, a process exited, a wait timed out)."""


@dataclass(frozen=True)
class EpisodeResult:
    index: int
    seed: int
    task: str
    instruction: str  # what was sent (differs from the episode's own text when instructions are shuffled)
    success: bool
    elapsed: float  # s of sim time
    wall_seconds: float


@dataclass
class DemoRun:
    model: str
    backend: str
    results: list[EpisodeResult] = field(default_factory=list)
    latencies_ms: list[float] = field(default_factory=list)  # per accepted chunk, from /vla/status timings
    command_times: list[float] = field(default_factory=list)  # wall arrival times of the node's commands
    frames: list[np.ndarray] = field(default_factory=list)  # camera frames of the first episode
    real_time_factors: list[float] = field(default_factory=list)

    @property
    def success_rate(self) -> float:
        return sum(r.success for r in self.results) / len(self.results) if self.results else 0.0


def config_file(name: str) -> Path:
    """config/<name> of the checkout we run from (cwd, then this source tree), else the installed share dir."""
    for root in (Path.cwd(), REPO_ROOT):
        if (root / "config" / name).is_file():
            return root / "config" / name
    from ament_index_python.packages import get_package_share_directory

    return Path(get_package_share_directory("vla_ros")) / "config" / name


def node_parameters(section: str, overrides: dict[str, Any]) -> dict[str, Any]:
    """`section` ('vla_node' / 'vla_sim') from config/default.yaml then config/sim.yaml, then overrides.

    Flat dotted names ("safety.image_timeout"), as ROS parameter files accept them; the shipped files key
    vla_node's section as `/**/vla_node`, which load_params_file understands."""
    from vla_ros.core.parameters import load_params_file

    params: dict[str, Any] = {}
    for path in (config_file("default.yaml"), config_file("sim.yaml")):
        params.update(load_params_file(path, section))
    return {**params, **overrides}


def episode_instructions(seeds: list[int]) -> list[tuple[str, str]]:
    """(task name, instruction) the sim draws for each seed (same draw as vla_sim's reset, no rendering)."""
    from vla_ros.sim.world import ArmSim

    sim = ArmSim(render=False)
    try:
        return [(e.task.name, e.instruction) for e in (sim.reset(s) for s in seeds)]
    finally:
        sim.close()


class _Observer:
    """The demo's own ROS node: resets episodes, sends instructions, records what the stack does."""

    def __init__(self) -> None:
        import rclpy
        from rclpy.executors import SingleThreadedExecutor
        from rclpy.node import Node
        from rclpy.qos import qos_profile_sensor_data
        from sensor_msgs.msg import Image
        from std_msgs.msg import String
        from std_srvs.srv import Trigger
        from trajectory_msgs.msg import JointTrajectory

        from vla_ros.ros.qos import RELIABLE, RELIABLE_LATCHED

        # Shut down at the end only what we started: a caller's own rclpy context stays up.
        self.owns_context = not rclpy.ok()
        if self.owns_context:
            rclpy.init()
        self._trigger = Trigger
        self.node = Node(f"vla_demo_{os.getpid()}")
        self.lock = threading.Lock()
        self.episode: dict[str, Any] = {}
        self.status: dict[str, Any] = {}
        self.sim_status: dict[str, Any] = {}
        self.chunk_latencies: list[float] = []
        self._last_inferences = -1
        self.command_times: list[float] = []
        self.capture = False
        self.frames: list[tuple[float, np.ndarray]] = []
        self.instruction_pub = self.node.create_publisher(String, "/vla/instruction", RELIABLE)
        self.node.create_subscription(String, "/sim/episode", self._on_episode, RELIABLE_LATCHED)
        self.node.create_subscription(String, "/sim/status", self._on_sim_status, RELIABLE_LATCHED)
        self.node.create_subscription(String, "/vla/status", self._on_status, RELIABLE_LATCHED)
        self.command_sub = self.node.create_subscription(
            JointTrajectory, "/joint_trajectory_controller/joint_trajectory", self._on_command, 100)
        self.node.create_subscription(Image, "/camera/image_raw", self._on_image, qos_profile_sensor_data)
        self.reset_client = self.node.create_client(Trigger, "/vla_sim/reset_episode")
        self.executor = SingleThreadedExecutor()
        self.executor.add_node(self.node)
        self._thread = threading.Thread(target=self.executor.spin, name="vla_demo_executor", daemon=True)
        self._thread.start()

    def _on_episode(self, msg) -> None:
        with self.lock:
            self.episode = json.loads(msg.data)

    def _on_sim_status(self, msg) -> None:
        with self.lock:
            self.sim_status = json.loads(msg.data)

    def _on_status(self, msg) -> None:
        status = json.loads(msg.data)
        with self.lock:
            self.status = status
            inferences = int(status.get("inferences", 0))
            total = (status.get("timings_ms") or {}).get("total")
            if inferences != self._last_inferences and total is not None and status.get("state") == "RUNNING":
                self.chunk_latencies.append(float(total))
            self._last_inferences = inferences

    def _on_command(self, _msg) -> None:
        with self.lock:
            self.command_times.append(time.monotonic())

    def _on_image(self, msg) -> None:
        if self.capture:
            frame = np.frombuffer(bytes(msg.data), dtype=np.uint8).reshape(msg.height, msg.width, 3).copy()
            with self.lock:
                self.frames.append((time.monotonic(), frame))

    def snapshot(self, name: str) -> dict[str, Any]:
        with self.lock:
            return dict(getattr(self, name))

    def instruct(self, text: str, timeout: float) -> None:
        """Publish and wait until the node's status reports it (the same acknowledgement as vla_instruct)."""
        from std_msgs.msg import String

        from vla_ros.bench.rig import wait_until

        base = int(self.snapshot("status").get("instruction_id", -1))
        self.instruction_pub.publish(String(data=text))
        wait_until(lambda: (s := self.snapshot("status")).get("instruction") == text
                   and int(s.get("instruction_id", -1)) > base, timeout, f"vla_node to acknowledge {text!r}")

    def reset_episode(self, timeout: float) -> dict[str, Any]:
        from vla_ros.bench.rig import wait_until

        future = self.reset_client.call_async(self._trigger.Request())
        wait_until(future.done, timeout, "/vla_sim/reset_episode")
        payload = json.loads(future.result().message)
        wait_until(lambda: self.snapshot("episode").get("episode_id") == payload["episode_id"], timeout,
                   f"/sim/episode to report episode {payload['episode_id']}")
        return payload

    def close(self) -> None:
        self.executor.shutdown(timeout_sec=1.0)
        # The spin thread may still be inside its last wait: destroying the node under it makes rclpy raise
        # InvalidHandle in that thread.
        self._thread.join(timeout=5.0)
        self.node.destroy_node()


def _check_alive(processes: dict[str, Any]) -> None:
    for name, process in processes.items():
        if process.process.poll() is not None:
            raise DemoError(f"{name} exited with status {process.process.returncode}:\n{process.log()[-3000:]}")


def run_episodes(package_dir: Path, episodes: int, first_seed: int = 1, backend: str = "auto",
                 shuffle_instructions: bool = False, real_time_factor: float = 1.0, capture_frames: bool = True,
                 log: Callable[[str], None] = print, startup_timeout: float = 90.0,
                 episode_time_limit: float | None = None, node_overrides: dict[str, Any] | None = None) -> DemoRun:
    """Start vla_sim + vla_node, run `episodes` episodes with sim seeds first_seed .. first_seed+episodes-1.

    shuffle_instructions: each episode gets the instruction of the next seed's episode (rotated), the
    language-ablated control of the competence benchmark. episode_time_limit: sim seconds per episode
    (None: config/sim.yaml's vla_sim value). node_overrides: vla_node parameters over the shipped files'.
    """
    import rclpy

    from vla_ros.bench.rig import NodeProcess, wait_until
    from vla_ros.model import load_model_package

    if first_seed < 1:
        raise DemoError(f"first_seed={first_seed}: expected >= 1 (vla_sim's start-up episode takes first_seed - 1)")
    from vla_ros.ros.model_path import resolve_model_path

    package_dir = resolve_model_path(str(package_dir)).resolve()
    if not (package_dir / "vla.yaml").is_file():
        raise DemoError(f"no model package at {package_dir} (no vla.yaml): run `vla_train` first "
                        "(writes models/sim_act), or pass --model models/act_example for an untrained example")
    package = load_model_package(package_dir)
    height, width = package.expected_image_size("front") or (96, 96)
    seeds = list(range(first_seed, first_seed + episodes))
    planned = episode_instructions(seeds)
    sent = [text for _, text in planned]
    if shuffle_instructions and episodes > 1:
        sent = sent[1:] + sent[:1]

    # The sim consumes seed `seed` for its start-up episode; each reset then takes the next one.
    overrides: dict[str, Any] = {"seed": first_seed - 1, "image_width": int(width),
                                 "image_height": int(height), "real_time_factor": float(real_time_factor)}
    if episode_time_limit is not None:
        overrides["episode_time_limit"] = float(episode_time_limit)
    sim_params = node_parameters("vla_sim", overrides)
    node_params = node_parameters("vla_node", {"model_path": str(package_dir), "backend": backend,
                                               "use_sim_time": True, "autostart": True, **(node_overrides or {})})
    time_limit = float(sim_params.get("episode_time_limit", 12.0))
    env = {"FASTDDS_BUILTIN_TRANSPORTS": os.environ.get("FASTDDS_BUILTIN_TRANSPORTS", "LARGE_DATA"),
           "MUJOCO_GL": os.environ.get("MUJOCO_GL", "egl"), "PYTHONUNBUFFERED": "1"}
    os.environ.setdefault("FASTDDS_BUILTIN_TRANSPORTS", "LARGE_DATA")
    # The observer first: if its rclpy set-up fails, no process is left running.
    observer = _Observer()
    processes: dict[str, NodeProcess] = {}
    run = DemoRun(model=package.name, backend=backend)
    try:
        processes["vla_sim"] = NodeProcess(sim_params, module="vla_ros.sim.node", env=env,
                                           extra_args=["-r", "__node:=vla_sim"])
        processes["vla_node"] = NodeProcess(node_params, module="vla_ros.ros.node", env=env,
                                            extra_args=["-r", "__node:=vla_node"])

        def ready() -> bool:
            _check_alive(processes)
            status = observer.snapshot("status")
            return (observer.reset_client.service_is_ready() and observer.instruction_pub.get_subscription_count() > 0
                    and status.get("state") not in NOT_READY_STATES and bool(observer.snapshot("episode")))

        wait_until(ready, startup_timeout, "vla_sim and vla_node to come up")
        run.backend = str(observer.snapshot("status").get("backend", backend))
        log(f"vla_demo: model {package.name!r} on {run.backend}, {episodes} episodes from seed {first_seed}"
            f"{' (instructions shuffled)' if shuffle_instructions else ''}")
        for index, (seed, (task, _own), text) in enumerate(zip(seeds, planned, sent)):
            _check_alive(processes)
            observer.instruct("", 20.0)  # hold: the reset teleports the arm, the hold follows the measured state
            payload = observer.reset_episode(20.0)
            if int(payload["seed"]) != seed:
                raise DemoError(f"vla_sim reset to seed {payload['seed']}, expected {seed}")
            observer.capture = capture_frames and index == 0
            started = time.monotonic()
            observer.instruct(text, 20.0)
            episode_id = payload["episode_id"]

            def finished(episode_id: int = episode_id) -> bool:
                _check_alive(processes)
                episode = observer.snapshot("episode")
                return episode.get("episode_id") == episode_id and bool(episode.get("done"))

            wait_until(finished, 30.0 + 6.0 * time_limit / max(real_time_factor, 0.1), f"episode {episode_id}")
            observer.capture = False
            final = observer.snapshot("episode")
            result = EpisodeResult(index, seed, task, text, bool(final["success"]), float(final["elapsed"]),
                                   time.monotonic() - started)
            run.results.append(result)
            rtf = observer.snapshot("sim_status").get("real_time_factor")
            if rtf is not None:
                run.real_time_factors.append(float(rtf))
            log(f"episode {index + 1}/{episodes} seed {seed} {task:<26} {'SUCCESS' if result.success else 'fail   '} "
                f"{result.elapsed:5.2f} s sim  {result.wall_seconds:5.1f} s wall  '{text}'")
        observer.instruct("", 20.0)
        with observer.lock:
            run.latencies_ms = list(observer.chunk_latencies)
            run.command_times = list(observer.command_times)
            run.frames = [frame for _, frame in observer.frames]
    finally:
        observer.close()
        for process in reversed(list(processes.values())):
            process.stop()
        if observer.owns_context and rclpy.ok():
            rclpy.shutdown()
    return run


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="vla_demo", description=__doc__.splitlines()[0])
    parser.add_argument("--episodes", type=int, default=10, help="episodes to run (default %(default)s)")
    parser.add_argument("--model", type=Path, default=DEFAULT_MODEL, help="model package (default %(default)s)")
    parser.add_argument("--backend", default="auto", help="vla_node backend (default %(default)s)")
    parser.add_argument("--seed", type=int, default=1, help="sim seed of the first episode (default %(default)s)")
    parser.add_argument("--out", type=Path, default=Path("out"), help="plots folder (default %(default)s)")
    parser.add_argument("--real-time-factor", type=float, default=1.0, help="sim speed (default %(default)s)")
    parser.add_argument("--episode-time-limit", type=float, default=None,
                        help="sim seconds per episode (default: config/sim.yaml)")
    parser.add_argument("--shuffle-instructions", action="store_true",
                        help="give each episode another episode's instruction (language ablation)")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    if args.episodes < 1:
        print(f"vla_demo: --episodes={args.episodes}: expected >= 1", file=sys.stderr)
        return 1
    os.environ.setdefault("MUJOCO_GL", "egl")
    try:
        run = run_episodes(args.model, args.episodes, args.seed, args.backend, args.shuffle_instructions,
                           args.real_time_factor, log=lambda line: print(line, flush=True),
                           episode_time_limit=args.episode_time_limit)
    except (DemoError, TimeoutError) as exc:
        print(f"vla_demo: {exc}", file=sys.stderr)
        return 1
    from vla_ros.sim.demo_report import summary_line, write_outputs

    written = write_outputs(run, args.out)
    print(summary_line(run))
    print("vla_demo: wrote " + ", ".join(str(p) for p in written))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
