"""In-process closed-loop check of a trained package on ArmSim (no ROS): fast feedback while training.

It approximates what vla_node does with the sim: a new observation every camera period, the chunk sent as a
joint trajectory (step k due at observation time + k * control_period_s) that the sim interpolates like
joint_trajectory_controller. The authoritative numbers come from the ROS demo / competence benchmark.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from vla_ros.core.types import Observation
from vla_ros.sim.commands import JointTrajectoryCommand, TrajectoryPoint
from vla_ros.sim.model import ARM_JOINTS
from vla_ros.sim.world import ArmSim, SimConfig


@dataclass(frozen=True)
class EpisodeOutcome:
    seed: int
    task: str
    instruction: str
    success: bool
    elapsed: float


def run_policy_episode(sim: ArmSim, policy: object, seed: int, camera: str = "front",
                       observation_period: float = 1.0 / 15.0, instruction: str | None = None) -> EpisodeOutcome:
    """One seeded episode; `instruction` replaces the episode's own text (language ablation)."""
    episode = sim.reset(seed)
    text = episode.instruction if instruction is None else instruction
    period = float(policy.package.control_period)  # type: ignore[attr-defined]
    status = sim.episode_status()
    while not status.done:
        q = sim.joint_positions()[: len(ARM_JOINTS)]
        observation = Observation({camera: sim.render()}, sim.time, text, q)
        actions = policy.infer(observation)  # type: ignore[attr-defined]
        points = tuple(TrajectoryPoint(period * k + 1e-3, np.asarray(row, dtype=float))
                       for k, row in enumerate(actions))
        sim.command_trajectory(JointTrajectoryCommand(ARM_JOINTS, points, None))
        sim.step(observation_period)
        status = sim.episode_status()
    return EpisodeOutcome(seed, status.task, text, status.success, status.elapsed)


def evaluate_package(package_dir: str, seeds: Sequence[int], backend: str = "onnxruntime",
                     shuffle_instructions: bool = False) -> list[EpisodeOutcome]:
    """Closed-loop outcomes on `seeds`; with shuffle_instructions each episode gets another seed's text."""
    from vla_ros.model import RuntimeOptions, create_policy, load_model_package

    package = load_model_package(package_dir)
    policy, _ = create_policy(package, backend=backend, options=RuntimeOptions(intra_op_threads=1))
    size = package.expected_image_size("front") or (96, 96)
    sim = ArmSim(SimConfig(image_width=int(size[1]), image_height=int(size[0])))
    try:
        texts = None
        if shuffle_instructions:
            texts = [sim.reset(s).instruction for s in seeds]
            texts = texts[1:] + texts[:1]  # rotate: each episode gets its neighbour's instruction
        return [run_policy_episode(sim, policy, s, instruction=None if texts is None else texts[i])
                for i, s in enumerate(seeds)]
    finally:
        sim.close()


if __name__ == "__main__":
    import sys

    outcomes = evaluate_package(sys.argv[1], range(int(sys.argv[2]) if len(sys.argv) > 2 else 20))
    for o in outcomes:
        print(o.seed, o.task, repr(o.instruction), o.success, round(o.elapsed, 2))
    print(f"success {sum(o.success for o in outcomes)}/{len(outcomes)}")
