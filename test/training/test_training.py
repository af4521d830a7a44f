"""A short training run on real demonstrations, export through the model runtime, and the exported package."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from vla_ros.core.types import ActionSemantics, Observation
from vla_ros.model import RuntimeOptions, create_policy, load_model_package
from vla_ros.training.dataset import DemoConfig, generate_demonstrations
from vla_ros.training.policy import FilmKeypointPolicy
from vla_ros.training.trainer import TrainConfig, TrainConfigError, export_trained, train_policy

DEMO = DemoConfig(episodes=3, seed=11, image_size=(48, 48), horizon=4, noise_max=0.01)


@pytest.fixture(scope="module")
def trained():
    torch.set_num_threads(1)
    data = generate_demonstrations(DEMO)
    config = TrainConfig(steps=60, batch_size=32, learning_rate=2e-3, warmup_steps=5, threads=1, log_every=10,
                         validation_fraction=0.0, model_kwargs={"channels": 16, "hidden": 64})
    return data, config, train_policy(data, config, DEMO, log=lambda _line: None)


def test_when_training_briefly_expect_loss_to_drop(trained) -> None:
    _, _, result = trained
    first, last = result.losses[0][1], result.losses[-1][1]
    assert last < 0.8 * first, result.losses


def test_when_exported_expect_package_runs_through_create_policy_on_both_backends(trained, tmp_path) -> None:
    data, config, result = trained
    export = export_trained(result, DEMO, config, tmp_path / "pkg", name="tiny")
    assert export.manifest_written, export.as_dict()
    package = load_model_package(tmp_path / "pkg")
    assert package.semantics is ActionSemantics.JOINT_POSITION
    assert (package.horizon, package.action_dim) == (4, 6)
    observation = Observation({"front": data.images[0]}, 0.0, data.instructions[0], data.states[0].astype(float))
    outputs = {}
    for backend in ("onnxruntime", "torch"):
        policy, _ = create_policy(package, backend=backend, options=RuntimeOptions(intra_op_threads=1))
        outputs[backend] = policy.infer(observation)
        assert outputs[backend].shape == (4, 6) and np.all(np.isfinite(outputs[backend]))
    np.testing.assert_allclose(outputs["onnxruntime"], outputs["torch"], atol=1e-4)
    # Absolute joint targets: the first step is near the measured joints, not near zero.
    assert np.max(np.abs(outputs["torch"][0] - data.states[0])) < 0.3


def test_when_instruction_changes_expect_the_chunk_to_change(trained) -> None:
    data, _, result = trained
    module = result.module
    image = torch.from_numpy(data.images[:1]).permute(0, 3, 1, 2).float() / 127.5 - 1.0
    state = torch.zeros(1, 6)

    def tokens(text: str) -> torch.Tensor:
        ids = torch.zeros(1, DEMO.max_instruction_bytes, dtype=torch.int64)
        ids[0, : len(text)] = torch.tensor(list(text.encode()))
        return ids

    with torch.no_grad():
        red = module(image, tokens("touch the red cube"), state)
        blue = module(image, tokens("touch the blue cylinder"), state)
    assert float(torch.max(torch.abs(red - blue))) > 1e-4


def test_when_head_outputs_zero_expect_targets_equal_the_unnormalized_state() -> None:
    module = FilmKeypointPolicy(image_size=(16, 16), horizon=2, channels=8, hidden=16,
                                state_mean=[0.1] * 6, state_std=[2.0] * 6)
    torch.nn.init.zeros_(module.head[-1].weight)
    torch.nn.init.zeros_(module.head[-1].bias)
    state = torch.ones(1, 6)
    out = module(torch.zeros(1, 3, 16, 16), torch.zeros(1, 8, dtype=torch.int64), state)
    torch.testing.assert_close(out, torch.full((1, 2, 6), 2.1))


def test_when_threads_above_two_expect_error_naming_field() -> None:
    with pytest.raises(TrainConfigError, match="threads"):
        TrainConfig(threads=4)
