"""`vla_train --family ar | flow`: soft bin labels, the AR prefix from the shipped flow package, RTC prefixes."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from vla_ros.model import load_model_package
from vla_ros.training.cli import main as vla_train
from vla_ros.training.dataset import DemoConfig, generate_demonstrations
from vla_ros.training.families.ar_tokens import ArTokensPolicy
from vla_ros.training.families.flow_matching import PrefixPerturbation
from vla_ros.training.family_trainer import copy_prefix_weights
from vla_ros.training.train_autoregressive import MODEL_KWARGS, soft_bin_targets, to_bins, train_and_export
from vla_ros.training.trainer import TrainConfigError

MODELS = Path(__file__).resolve().parents[2] / "models"


def test_when_values_spread_over_bins_expect_distributions_peaked_at_their_bin_and_summing_to_one() -> None:
    low, high = np.array([-0.02, 0.0]), np.array([0.02, 1.0])
    values = np.array([[-0.02, 0.0], [0.0031, 0.501], [0.0199, 0.9999], [-0.0051, 0.2509]])  # off bin edges
    soft = soft_bin_targets(torch.tensor(values), torch.tensor(low), torch.tensor(high), sigma_bins=1.5).numpy()
    assert soft.shape == (4, 2, 256)
    np.testing.assert_allclose(soft.sum(axis=-1), 1.0, atol=1e-9)
    np.testing.assert_array_equal(soft.argmax(axis=-1), to_bins(values, low, high))
    # A spread, not a one-hot: the neighbours of an interior value's bin carry mass.
    interior = soft[1, 1]
    assert 0.05 < interior[128] < 0.95 and interior[127] > 0.05 and interior[129] > 0.05


def test_when_sigma_shrinks_expect_the_one_hot_label() -> None:
    soft = soft_bin_targets(torch.tensor([0.5 + 1 / 512]), torch.tensor([0.0]), torch.tensor([1.0]),
                            sigma_bins=1e-3).numpy()
    assert soft[0, 128] == pytest.approx(1.0)


def test_when_init_from_the_flow_package_expect_its_prefix_weights_and_normalization() -> None:
    module = ArTokensPolicy(image_size=(96, 96), horizon=2, **MODEL_KWARGS)
    mean, std = copy_prefix_weights(module, MODELS / "sim_flow")
    flow_weights = torch.load(MODELS / "sim_flow" / "model.pt", weights_only=True)
    for key, value in module.prefix_encoder.state_dict().items():
        torch.testing.assert_close(value, flow_weights[f"prefix_encoder.{key}"])
    manifest_state = load_model_package(MODELS / "sim_flow").manifest.state
    np.testing.assert_allclose(mean, manifest_state.normalization.mean)
    np.testing.assert_allclose(std, manifest_state.normalization.std)


def test_when_init_package_has_no_prefix_encoder_expect_error_naming_the_package() -> None:
    module = ArTokensPolicy(image_size=(96, 96), horizon=2, **MODEL_KWARGS)
    with pytest.raises(TrainConfigError, match=r"--init .*sim_act.*prefix_encoder"):
        copy_prefix_weights(module, MODELS / "sim_act")


def test_when_ar_trained_from_the_flow_prefix_expect_the_prefix_kept_frozen_in_the_package(tmp_path: Path) -> None:
    torch.set_num_threads(1)
    demo = DemoConfig(episodes=2, seed=21, horizon=10)
    data = generate_demonstrations(demo)
    written = train_and_export(data, demo, tmp_path / "ar", "ar_test", steps=3, threads=1, seed=0,
                               max_minutes=5.0, log=lambda _line: None, init=MODELS / "sim_flow")
    assert written
    package = load_model_package(tmp_path / "ar")
    assert package.manifest.outputs.kind.value == "autoregressive_tokens"
    trained = torch.load(tmp_path / "ar" / "model.pt", weights_only=True)
    flow_weights = torch.load(MODELS / "sim_flow" / "model.pt", weights_only=True)
    prefix_keys = [key for key in trained if key.startswith("prefix_encoder.")]
    assert prefix_keys
    assert all(torch.equal(trained[key], flow_weights[key]) for key in prefix_keys)  # not one step moved them


def test_when_family_flow_given_init_expect_exit_1_before_any_data(capsys: pytest.CaptureFixture[str],
                                                                    tmp_path: Path) -> None:
    assert vla_train(["--family", "flow", "--init", str(MODELS / "sim_flow"), "--out", str(tmp_path / "x")]) == 1
    assert "--family flow takes none" in capsys.readouterr().err
    assert not (tmp_path / "x").exists()


def test_when_prefix_perturbed_expect_a_ramp_on_the_prefix_settling_back_and_untouched_rows_kept() -> None:
    actions = torch.randn(64, 10, 6, generator=torch.Generator().manual_seed(1))
    frozen_rows = torch.arange(64) % 2 == 0
    delays = torch.full((64,), 3)
    perturb = PrefixPerturbation(probability=1.0, offset_std=0.1, drift_std=0.05, settle_steps=2.0)
    perturbed = perturb.apply(actions, frozen_rows, delays, torch.Generator().manual_seed(2))
    delta = perturbed - actions
    torch.testing.assert_close(delta[~frozen_rows], torch.zeros_like(delta[~frozen_rows]))
    rows = delta[frozen_rows]
    assert rows.abs().amax() > 0.05
    drift = rows[:, 1] - rows[:, 0]
    torch.testing.assert_close(rows[:, 2] - rows[:, 1], drift)  # a ramp over the 3 frozen steps
    # After the prefix: the last frozen offset decaying by exp(-k / settle_steps), back onto the demonstration.
    torch.testing.assert_close(rows[:, 3], rows[:, 2] * np.exp(-0.5))
    torch.testing.assert_close(rows[:, 9], rows[:, 2] * np.exp(-3.5))


def test_when_perturbation_probability_outside_0_1_expect_error_naming_it() -> None:
    with pytest.raises(ValueError, match=r"probability=1\.5"):
        PrefixPerturbation(probability=1.5)
