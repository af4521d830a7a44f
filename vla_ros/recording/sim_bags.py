"""Record short episodes of a model driving the embedded sim: the regression bags of test/data.

    python -m vla_ros.recording.sim_bags test/data                  # 3 episodes of models/sim_act, 1.5 s each
    python -m vla_ros.recording.sim_bags /tmp/bags --seeds 5 6 --seconds 1.0 --prefix run

Real ROS processes, as on a robot: vla_sim (the embedded MuJoCo sim, owner of /clock), vla_node (config/sim.yaml,
on sim time) and vla_record (on sim time), each its own process. Per seed: hold, reset the sim to that seed,
send the seed's own instruction, let the model act for `--seconds` of sim time; the next hold closes the
episode. Each episode is copied to OUT_DIR/<prefix>_seed<N> (refused if it exists). Exit 0 = written, 1 = not.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from vla_ros.recording.bag import iter_episode_dirs
from vla_ros.sim.demo import DemoError, episode_instructions, node_parameters

DEFAULT_MODEL = Path("models/sim_act")
DEFAULT_SEEDS = (1, 2, 3)
# Sim seconds per wall second while recording. Replay does not depend on it (each chunk report carries the
# joint state the model was given, which vla_replay plays back); at half speed the model, which takes a fixed
# wall time per chunk, sees more of the frames, as on a faster machine, and the bags stay comparable with the
# earlier ones.
DEFAULT_REAL_TIME_FACTOR = 0.5
SETTLE_S = 0.25  # sim s after a reset before the instruction: a fresh camera frame of the new scene


class _SimClock:
    """The latest /clock of the sim (seconds), read by the recording loop to time episodes in sim time."""

    def __init__(self, node) -> None:
        from rclpy.qos import QoSProfile, ReliabilityPolicy
        from rosgraph_msgs.msg import Clock

        self._lock = threading.Lock()
        self._seconds = -1.0
        node.create_subscription(Clock, "/clock", self._on_clock,
                                 QoSProfile(depth=1, reliability=ReliabilityPolicy.BEST_EFFORT))

    def _on_clock(self, msg) -> None:
        with self._lock:
            self._seconds = msg.clock.sec + msg.clock.nanosec * 1e-9

    def now(self) -> float:
        with self._lock:
            return self._seconds


def _start_processes(processes: dict[str, Any], output_dir: Path, package_dir: Path, first_seed: int,
                    real_time_factor: float) -> None:
    """vla_sim, vla_node and vla_record, started in that order (the recorder follows the node's parameters),
    each added to `processes` as soon as it runs so that the caller stops whatever did start."""
    from vla_ros.bench.rig import NodeProcess
    from vla_ros.model import load_model_package

    height, width = load_model_package(package_dir).expected_image_size("front") or (96, 96)
    # The sim takes seed `first_seed - 1` for its start-up episode; each reset then takes the next one.
    sim = node_parameters("vla_sim", {"seed": first_seed - 1, "image_width": int(width), "image_height": int(height),
                                      "real_time_factor": float(real_time_factor)})
    node = node_parameters("vla_node", {"model_path": str(package_dir), "backend": "onnxruntime",
                                        "inference_threads": 1, "use_sim_time": True, "autostart": True})
    env = {"FASTDDS_BUILTIN_TRANSPORTS": os.environ.get("FASTDDS_BUILTIN_TRANSPORTS", "LARGE_DATA"),
           "MUJOCO_GL": os.environ.get("MUJOCO_GL", "egl"), "PYTHONUNBUFFERED": "1"}
    processes["vla_sim"] = NodeProcess(sim, module="vla_ros.sim.node", env=env,
                                       extra_args=["-r", "__node:=vla_sim"])
    processes["vla_node"] = NodeProcess(node, module="vla_ros.ros.node", env=env,
                                        extra_args=["-r", "__node:=vla_node"])
    processes["vla_record"] = NodeProcess({"output_dir": str(output_dir), "use_sim_time": True},
                                          module="vla_ros.recording.node", env=env)


def _check_alive(processes: dict[str, Any]) -> None:
    for name, process in processes.items():
        if not process.alive():
            raise DemoError(f"{name} exited with status {process.process.returncode}:\n{process.log()[-3000:]}")


def record_sim_episodes(output_dir: Path, seeds: list[int], seconds_each: float, model: Path = DEFAULT_MODEL,
                        real_time_factor: float = DEFAULT_REAL_TIME_FACTOR, log: Callable[[str], None] = print,
                        startup_timeout: float = 90.0) -> list[Path]:
    """One episode per seed (consecutive seeds) recorded by vla_record into `output_dir`; returns the episode
    folders, oldest first. Raises DemoError when a process dies or a wait times out."""
    import rclpy

    from vla_ros.ros.model_path import resolve_model_path
    from vla_ros.sim.demo import _Observer

    if seeds != list(range(seeds[0], seeds[0] + len(seeds))) or seeds[0] < 1:
        raise DemoError(f"seeds {seeds}: expected consecutive seeds >= 1 (each sim reset takes the next one)")
    package_dir = resolve_model_path(str(model)).resolve()
    if not (package_dir / "vla.yaml").is_file():
        raise DemoError(f"no model package at {package_dir} (no vla.yaml)")
    planned = episode_instructions(seeds)
    observer = _Observer()  # the demo's observer: resets episodes and sends acknowledged instructions
    clock = _SimClock(observer.node)
    processes: dict[str, Any] = {}
    try:
        _start_processes(processes, Path(output_dir), package_dir, seeds[0], real_time_factor)
        _wait_ready(observer, processes, startup_timeout)
        for seed, (task, text) in zip(seeds, planned):
            _check_alive(processes)
            observer.instruct("", 20.0)  # hold (closes the previous episode): the reset teleports the arm
            payload = observer.reset_episode(20.0)
            if int(payload["seed"]) != seed:
                raise DemoError(f"vla_sim reset to seed {payload['seed']}, expected {seed}")
            _wait_sim_time(clock, processes, clock.now() + SETTLE_S, "a camera frame of the new episode")
            observer.instruct(text, 20.0)
            started = clock.now()
            _wait_sim_time(clock, processes, started + seconds_each, f"{seconds_each} s of {text!r}")
            log(f"record_sim_bags: seed {seed} {task}: '{text}' ({clock.now() - started:.2f} s sim)")
        observer.instruct("", 20.0)  # closes the last episode
    finally:
        observer.close()
        recorder_code = processes["vla_record"].stop() if "vla_record" in processes else 0
        for name in ("vla_node", "vla_sim"):
            if name in processes:
                processes[name].stop()
        if observer.owns_context and rclpy.ok():
            rclpy.shutdown()
    if recorder_code != 0:
        raise DemoError(f"vla_record exited with status {recorder_code}:\n{processes['vla_record'].log()[-3000:]}")
    return list(iter_episode_dirs(Path(output_dir)))


def _wait_sim_time(clock: _SimClock, processes: dict[str, Any], until: float, what: str) -> None:
    """Until the sim's clock reaches `until` (at any real-time factor; a dead process ends the wait)."""
    from vla_ros.bench.rig import wait_until

    def reached() -> bool:
        _check_alive(processes)
        return clock.now() >= until

    wait_until(reached, 60.0, what)


def _wait_ready(observer, processes: dict[str, Any], timeout: float) -> None:
    """Sim, node and recorder up: the node active, the recorder subscribed and holding the node's parameters."""
    from vla_ros.bench.rig import wait_until
    from vla_ros.sim.demo import NOT_READY_STATES

    def ready() -> bool:
        _check_alive(processes)
        status = observer.snapshot("status")
        return (observer.reset_client.service_is_ready() and bool(observer.snapshot("episode"))
                and status.get("state") not in NOT_READY_STATES
                and observer.node.count_subscribers("/vla/action_chunk") > 0
                and "parameters of vla_node" in processes["vla_record"].log())

    wait_until(ready, timeout, "vla_sim, vla_node and vla_record to come up")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m vla_ros.recording.sim_bags",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("out_dir", type=Path, help="folder the episode bags are copied into")
    parser.add_argument("--model", type=Path, default=DEFAULT_MODEL, help="model package (default %(default)s)")
    parser.add_argument("--seeds", type=int, nargs="+", default=list(DEFAULT_SEEDS),
                        help="consecutive sim seeds, one episode each (default %(default)s)")
    parser.add_argument("--seconds", type=float, default=1.5, help="sim seconds per episode (default %(default)s)")
    parser.add_argument("--real-time-factor", type=float, default=DEFAULT_REAL_TIME_FACTOR,
                        help="sim speed while recording (default %(default)s)")
    parser.add_argument("--prefix", default="sim_sim_act", help="bag folder prefix (default %(default)s)")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    os.environ.setdefault("MUJOCO_GL", "egl")
    os.environ.setdefault("FASTDDS_BUILTIN_TRANSPORTS", "LARGE_DATA")
    targets = [args.out_dir / f"{args.prefix}_seed{seed}" for seed in args.seeds]
    if existing := [str(t) for t in targets if t.exists()]:
        print(f"record_sim_bags: {', '.join(existing)} exist already; remove them first", file=sys.stderr)
        return 1
    with tempfile.TemporaryDirectory(prefix="vla_sim_bags_") as scratch:
        try:
            episodes = record_sim_episodes(Path(scratch), args.seeds, args.seconds, args.model,
                                           args.real_time_factor)
        except (DemoError, TimeoutError) as error:
            print(f"record_sim_bags: {error}", file=sys.stderr)
            return 1
        if len(episodes) != len(targets):
            print(f"record_sim_bags: {len(episodes)} episodes recorded, expected {len(targets)}", file=sys.stderr)
            return 1
        args.out_dir.mkdir(parents=True, exist_ok=True)
        for episode, target in zip(episodes, targets):
            shutil.copytree(episode, target)
            size = sum(f.stat().st_size for f in target.rglob("*") if f.is_file())
            print(f"{target} ({size / 1e6:.2f} MB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
