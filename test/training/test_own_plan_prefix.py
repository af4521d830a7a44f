"""Frozen prefixes from the policy's own earlier plan (training-time real-time chunking): the prefix is the plan
for the earlier sample of the same episode, and the target after it recovers onto the demonstration."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from vla_ros.training.families.flow_matching import FlowMatchingPolicy
from vla_ros.training.own_plan_prefix import OwnPlanPrefix, OwnPlanPrefixes

HORIZON, DIM, STRIDE = 10, 6, 2


def _setup(episode: np.ndarray) -> tuple[FlowMatchingPolicy, OwnPlanPrefix, torch.Tensor]:
    torch.manual_seed(0)
    module = FlowMatchingPolicy(image_size=(32, 32), horizon=HORIZON, width=32, heads=2, expert_layers=1)
    samples = len(episode)
    images = torch.rand(samples, 3, 32, 32)
    tokens = torch.randint(1, 255, (samples, 8))
    states = torch.randn(samples, 6)

    def inputs(rows: np.ndarray) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        index = torch.from_numpy(np.asarray(rows))
        return images[index], tokens[index], states[index]

    rows = np.arange(samples - 4, samples)  # the batch: the last four samples
    source = OwnPlanPrefix(OwnPlanPrefixes(probability=1.0), module, rows, episode, STRIDE, inputs)
    return module, source, torch.randn(len(rows), HORIZON, DIM)


def test_when_the_earlier_sample_is_in_the_episode_expect_the_own_plan_as_prefix_and_a_recovering_target() -> None:
    module, source, actions = _setup(np.zeros(40, dtype=int))
    delays = torch.tensor([1, 2, 3, 4])
    out = source.apply(actions, torch.ones(4, dtype=torch.bool), delays, torch.Generator().manual_seed(1))
    changed = 0
    for i, d in enumerate(delays.tolist()):
        # The lag is drawn inside; find it by matching the prefix against the plans of every candidate lag.
        plans = source._plans(source.rows[i] - np.arange(d, HORIZON - d + 1) * STRIDE, HORIZON, DIM)
        lag = next(k for k, plan in zip(range(d, HORIZON - d + 1), plans)
                   if torch.allclose(out[i, :d], plan[k:k + d], atol=1e-5))
        assert d <= lag <= HORIZON - d
        offset = out[i, d - 1] - actions[i, d - 1]
        after = out[i, d:] - actions[i, d:]
        expected = offset * torch.exp(-torch.arange(1, HORIZON - d + 1, dtype=torch.float32) / 2.0).unsqueeze(-1)
        assert torch.allclose(after, expected, atol=1e-5)
        changed += 1
    assert changed == 4
    assert module.training  # the plans ran in eval mode and the module was put back


def test_when_the_earlier_sample_belongs_to_another_episode_expect_the_demonstration_kept() -> None:
    episode = np.zeros(40, dtype=int)
    episode[-4:] = [100, 101, 102, 103]  # each batch row is alone in its episode
    _, source, actions = _setup(episode)
    out = source.apply(actions, torch.ones(4, dtype=torch.bool), torch.tensor([1, 2, 3, 4]),
                       torch.Generator().manual_seed(1))
    assert torch.equal(out, actions)


@pytest.mark.parametrize("field", ["probability", "settle_steps", "flow_steps"])
def test_when_a_setting_is_out_of_range_expect_an_error_naming_it(field: str) -> None:
    with pytest.raises(ValueError, match=field):
        OwnPlanPrefixes(**{field: -1})


def test_when_vla_train_flow_runs_by_default_expect_own_plan_prefixes_in_its_report(tmp_path) -> None:
    import json

    from vla_ros.training import train_flow
    from vla_ros.training.dataset import DemoConfig, generate_demonstrations

    assert train_flow.OWN_PLAN_PREFIXES is not None  # how models/sim_flow is trained
    demo = DemoConfig(episodes=2, seed=21, horizon=10)
    written = train_flow.train_and_export(generate_demonstrations(demo), demo, tmp_path / "pkg", "tiny", steps=3,
                                          threads=1, seed=0, max_minutes=5.0, log=lambda _line: None)
    assert written
    report = json.loads((tmp_path / "pkg" / "train_report.json").read_text())
    assert report["train"]["own_plan_prefixes"]["probability"] == 0.5
