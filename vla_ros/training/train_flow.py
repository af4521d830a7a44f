"""`vla_train --family flow`: a FlowMatchingPolicy trained on the scripted-expert demonstrations, exported as a
flow_matching package (prefix + velocity graphs, real-time chunking declared), parity-checked.

Same data, normalization of the state and seeding as sim_act's trainer; the actions are the absolute joint
targets normalized with their own mean/std. Training-time RTC: half the chunks carry a frozen prefix of 1 ..
max_delay_steps actions (flow_matching_loss). Half of those prefixes are the policy's own plan from an earlier
observation of the same episode (OwnPlanPrefixes), the prefix it meets at run time; the rest are the
demonstration's. models/sim_flow is trained so: at 300 ms of delay it lifted rtc's success from 75-80 % to 90-93 %
(docs/benchmarks.md, "vla_bench delay"). Random-ramp prefixes (PrefixPerturbation) did no better than clean ones
and are off.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
import torch

from vla_ros.training.dataset import DemoConfig, DemoDataset
from vla_ros.training.export import export_package
from vla_ros.training.families.flow_matching import FlowMatchingPolicy, PrefixPerturbation, flow_matching_loss
from vla_ros.training.family_trainer import fit, write_train_report
from vla_ros.training.flow_package import flow_draft
from vla_ros.training.own_plan_prefix import OwnPlanPrefix, OwnPlanPrefixes
from vla_ros.training.trainer import MIN_STATE_STD, images_to_tensor

MIN_ACTION_STD = 0.05  # rad: a joint the expert never moves must not blow up the normalized actions
BATCH_SIZE = 128
LEARNING_RATE = 1e-3
WARMUP_STEPS = 200
PREFIX_PERTURBATION: PrefixPerturbation | None = None
OWN_PLAN_PREFIXES: OwnPlanPrefixes | None = OwnPlanPrefixes()  # replaces PREFIX_PERTURBATION when set
MODEL_KWARGS: dict[str, Any] = {"width": 128, "context_tokens": 4, "prefix_layers": 0, "expert_layers": 3,
                                "heads": 4, "max_delay_steps": 5}


def _stats(data: DemoDataset) -> dict[str, list[float]]:
    targets = data.targets.reshape(-1, data.targets.shape[-1])
    return {"state_mean": data.states.mean(axis=0).tolist(),
            "state_std": np.maximum(data.states.std(axis=0), MIN_STATE_STD).tolist(),
            "action_mean": targets.mean(axis=0).tolist(),
            "action_std": np.maximum(targets.std(axis=0), MIN_ACTION_STD).tolist()}


def train_and_export(data: DemoDataset, demo: DemoConfig, out_dir: Path, name: str, *, steps: int, threads: int,
                     seed: int, max_minutes: float, log: Callable[[str], None] = print) -> bool:
    """Train, export to out_dir; True when parity passed and vla.yaml was written."""
    torch.manual_seed(seed)
    torch.set_num_threads(threads)
    generator = torch.Generator().manual_seed(seed)
    stats = _stats(data)
    state_mean, state_std = np.asarray(stats["state_mean"]), np.asarray(stats["state_std"])
    action_mean, action_std = np.asarray(stats["action_mean"]), np.asarray(stats["action_std"])
    states = torch.from_numpy(((data.states - state_mean) / state_std).astype(np.float32))
    actions = torch.from_numpy(((data.targets - action_mean) / action_std).astype(np.float32))
    tokens = torch.from_numpy(data.tokens)
    kwargs = {"image_size": [int(s) for s in demo.image_size], "horizon": demo.horizon, "action_dim": 6,
              "state_dim": 6, **MODEL_KWARGS}
    module = FlowMatchingPolicy(**kwargs)

    def inputs_of_rows(rows: np.ndarray) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        index = torch.from_numpy(rows)
        return images_to_tensor(data.images[rows]), tokens[index], states[index]

    def loss_of_rows(rows: np.ndarray) -> torch.Tensor:
        perturb: PrefixPerturbation | OwnPlanPrefix | None = PREFIX_PERTURBATION
        if OWN_PLAN_PREFIXES is not None:
            perturb = OwnPlanPrefix(OWN_PLAN_PREFIXES, module, rows, data.episode, demo.stride, inputs_of_rows)
        images, row_tokens, row_states = inputs_of_rows(rows)
        return flow_matching_loss(module, images, row_tokens, row_states, actions[torch.from_numpy(rows)],
                                  generator, perturb=perturb)

    fitted = fit(module, loss_of_rows, len(data), steps=steps, batch_size=BATCH_SIZE,
                 learning_rate=LEARNING_RATE, warmup_steps=WARMUP_STEPS, seed=seed,
                 max_minutes=max_minutes, log=log, label="flow")
    draft = flow_draft(name, "pi0-shaped flow-matching VLA (FiLM-CNN keypoint prefix + transformer action expert, "
                       "10 Euler steps, training-time real-time chunking) trained by vla_train --family flow on the "
                       "embedded sim's scripted-expert demonstrations; absolute targets for joint_1..joint_6",
                       kwargs, max_instruction_bytes=demo.max_instruction_bytes,
                       control_period_s=float(demo.model_period), state_mean=stats["state_mean"],
                       state_std=stats["state_std"], action_mean=stats["action_mean"],
                       action_std=stats["action_std"])
    out_dir = Path(out_dir)
    export = export_package(draft, out_dir, module=module, samples=8, seed=seed, tensorrt="off")
    write_train_report(out_dir, "flow", demo, module, fitted,
                       {"batch_size": BATCH_SIZE, "learning_rate": LEARNING_RATE, "seed": seed, "threads": threads,
                        "model_kwargs": kwargs,
                        "prefix_perturbation": None if PREFIX_PERTURBATION is None else asdict(PREFIX_PERTURBATION),
                        "own_plan_prefixes": None if OWN_PLAN_PREFIXES is None else asdict(OWN_PLAN_PREFIXES)},
                       export.passed)
    return export.manifest_written
