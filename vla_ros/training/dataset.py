"""Scripted-expert demonstrations from ArmSim as arrays a policy trains on.

Each sample is what the node gives the model (camera image, instruction, arm joint positions at the image
time) and the label is the expert's chunk of absolute arm-joint targets due at image time + k * model_period,
k = 0..horizon-1 (the node schedules step k of a chunk at stamp + k * control_period_s).

Robustness to the closed loop: with DART-style noise (Laskey et al. 2017) the *executed* command is the
expert's plus a slowly varying perturbation, while the *label* stays the clean expert command. The model
thus sees states off the expert's path together with the actions that lead back to it.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from vla_ros.sim.expert import ScriptedExpert
from vla_ros.sim.model import ARM_DOF
from vla_ros.sim.world import ArmSim, SimConfig

MAX_INSTRUCTION_BYTES = 48  # longest paraphrase is 41 bytes


class DatasetConfigError(ValueError):
    """A DemoConfig field is invalid; the message names it."""


@dataclass(frozen=True)
class DemoConfig:
    episodes: int = 1000
    seed: int = 1000  # episode i uses sim seed `seed + i` (evaluation seeds start elsewhere)
    image_size: tuple[int, int] = (96, 96)  # (height, width) rendered by the sim = what the model sees
    expert_period: float = 0.05  # s between expert commands (and recorded samples)
    model_period: float = 0.1  # s between chunk steps
    horizon: int = 10
    noise_max: float = 0.03  # rad: per-episode perturbation scale drawn uniformly in [0, noise_max]
    noise_smoothing: float = 0.8  # AR(1) coefficient of the perturbation, per expert step
    max_instruction_bytes: int = MAX_INSTRUCTION_BYTES

    def __post_init__(self) -> None:
        def need(ok: bool, name: str, expectation: str) -> None:
            if not ok:
                raise DatasetConfigError(f"{name}={getattr(self, name)!r}: expected {expectation}")

        need(isinstance(self.episodes, int) and self.episodes >= 1, "episodes", "an integer >= 1")
        need(len(self.image_size) == 2 and all(16 <= int(s) <= 512 for s in self.image_size), "image_size",
             "(height, width) in [16, 512] px")
        need(0 < self.expert_period <= self.model_period, "expert_period", "0 < expert_period <= model_period")
        ratio = self.model_period / self.expert_period
        need(abs(ratio - round(ratio)) < 1e-6, "model_period", "an integer multiple of expert_period")
        need(isinstance(self.horizon, int) and 1 <= self.horizon <= 100, "horizon", "an integer in [1, 100]")
        need(0 <= self.noise_max <= 0.2, "noise_max", "a number in [0, 0.2] rad")
        need(0 <= self.noise_smoothing < 1, "noise_smoothing", "a number in [0, 1)")

    @property
    def stride(self) -> int:
        return round(self.model_period / self.expert_period)


@dataclass
class DemoDataset:
    images: np.ndarray  # [N, H, W, 3] uint8 RGB
    tokens: np.ndarray  # [N, L] int64 UTF-8 bytes, 0-padded
    states: np.ndarray  # [N, 6] float32 arm joint positions at the image time
    targets: np.ndarray  # [N, T, 6] float32 absolute arm joint targets
    episode: np.ndarray  # [N] int32 episode index
    task_names: list[str]  # per episode
    instructions: list[str]  # per episode
    successes: np.ndarray  # [episodes] bool: did the (perturbed) expert succeed

    def __len__(self) -> int:
        return int(self.images.shape[0])

    @property
    def expert_success_rate(self) -> float:
        return float(np.mean(self.successes)) if len(self.successes) else 0.0

    def save(self, path: Path) -> None:
        """One .npz (no pickle), so several trainings can share one generation of the demonstrations."""
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(path.name + ".partial.npz")
        np.savez(partial, images=self.images, tokens=self.tokens, states=self.states, targets=self.targets,
                 episode=self.episode, task_names=np.array(self.task_names), instructions=np.array(self.instructions),
                 successes=self.successes)
        partial.replace(path)  # a reader never sees a half-written file

    @classmethod
    def load(cls, path: Path) -> DemoDataset:
        with np.load(path, allow_pickle=False) as arrays:
            return cls(images=arrays["images"], tokens=arrays["tokens"], states=arrays["states"],
                       targets=arrays["targets"], episode=arrays["episode"],
                       task_names=[str(t) for t in arrays["task_names"]],
                       instructions=[str(t) for t in arrays["instructions"]], successes=arrays["successes"])


def encode_instruction(text: str, length: int) -> np.ndarray:
    """UTF-8 bytes, truncated / 0-padded to `length` (the manifest's `bytes` tokenizer, pad_id 0)."""
    ids = list(text.encode("utf-8"))[:length]
    out = np.zeros(length, dtype=np.int64)
    out[: len(ids)] = ids
    return out


def chunk_targets(actions: np.ndarray, stride: int, horizon: int) -> np.ndarray:
    """[S, D] commands per expert step -> [S, horizon, D]: row i holds actions i, i+stride, ... (last repeated)."""
    steps = actions.shape[0]
    index = np.minimum(np.arange(steps)[:, None] + stride * np.arange(horizon)[None, :], steps - 1)
    return actions[index]


def record_episode(sim: ArmSim, expert: ScriptedExpert, seed: int, config: DemoConfig,
                   rng: np.random.Generator) -> tuple[list[np.ndarray], list[np.ndarray], np.ndarray, bool, str, str]:
    """One perturbed expert episode: (images, arm states, clean arm commands [S, 6], success, task, text)."""
    episode = sim.reset(seed)
    expert.reset(episode.task, sim.joint_positions(), sim.object_positions())
    scale = rng.uniform(0.0, config.noise_max)
    noise = np.zeros(ARM_DOF)
    images, states, actions = [], [], []
    status = sim.episode_status()
    while not status.done:
        q = sim.joint_positions()
        images.append(sim.render())
        states.append(q[:ARM_DOF].astype(np.float32))
        command = expert.act(q, sim.object_positions(), config.expert_period)
        actions.append(command[:ARM_DOF].copy())
        keep = config.noise_smoothing  # AR(1): stationary std stays `scale` whatever the smoothing
        noise = keep * noise + np.sqrt(1 - keep ** 2) * rng.normal(0.0, scale, ARM_DOF)
        executed = command.copy()
        executed[:ARM_DOF] += noise
        sim.command_positions(executed)
        sim.step(config.expert_period)
        status = sim.episode_status()
    return images, states, np.asarray(actions, dtype=np.float32), status.success, episode.task.name, episode.instruction


def generate_demonstrations(config: DemoConfig, progress: Callable[[int, int, float], None] | None = None,
                            sim: ArmSim | None = None) -> DemoDataset:
    """Run `config.episodes` seeded expert episodes; failed episodes are kept out of the samples."""
    own_sim = sim is None
    height, width = (int(s) for s in config.image_size)
    sim = sim or ArmSim(SimConfig(image_width=width, image_height=height))
    expert = ScriptedExpert(sim.kinematics)
    rng = np.random.default_rng(config.seed)
    images, tokens, states, targets, episode_index = [], [], [], [], []
    task_names, instructions, successes = [], [], []
    started = time.monotonic()
    try:
        for i in range(config.episodes):
            ep_images, ep_states, ep_actions, ok, task, text = record_episode(sim, expert, config.seed + i, config, rng)
            task_names.append(task)
            instructions.append(text)
            successes.append(ok)
            if ok and ep_actions.shape[0] > 0:
                images.extend(ep_images)
                states.extend(ep_states)
                targets.append(chunk_targets(ep_actions, config.stride, config.horizon))
                tokens.extend([encode_instruction(text, config.max_instruction_bytes)] * len(ep_images))
                episode_index.extend([i] * len(ep_images))
            if progress is not None:
                progress(i + 1, config.episodes, time.monotonic() - started)
    finally:
        if own_sim:
            sim.close()
    if not images:
        raise RuntimeError("the expert solved none of the episodes: no demonstrations to train on")
    return DemoDataset(images=np.stack(images), tokens=np.stack(tokens), states=np.stack(states),
                       targets=np.concatenate(targets).astype(np.float32),
                       episode=np.asarray(episode_index, dtype=np.int32), task_names=task_names,
                       instructions=instructions, successes=np.asarray(successes, dtype=bool))
