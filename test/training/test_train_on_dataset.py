"""`vla_train --dataset`: a committed sim bag -> vla_export_dataset -> a short training run -> a package that
loads and infers on onnxruntime; folders that are no dataset are refused by name. `--init` fine-tunes
models/sim_act, keeping its normalization; packages that do not fit are refused by name."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from vla_ros.core.types import Observation
from vla_ros.model import RuntimeOptions, create_policy, load_model_package
from vla_ros.recording import export_dataset
from vla_ros.recording.training import load_training_data
from vla_ros.training import cli as train

BAG = Path(__file__).resolve().parents[1] / "data" / "sim_sim_act_seed1"
MODELS = Path(__file__).resolve().parents[2] / "models"


@pytest.fixture(scope="module")
def dataset(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("export") / "dataset"
    assert export_dataset.main([str(BAG), "--out", str(folder)]) == 0
    return folder


def test_when_training_on_an_exported_sim_recording_expect_a_package_that_infers(tmp_path, dataset) -> None:
    out = tmp_path / "tuned"
    assert train.main(["--dataset", str(dataset), "--steps", "20", "--batch-size", "16", "--threads", "1",
                       "--out", str(out), "--name", "tuned"]) == 0
    package = load_model_package(out)
    assert package.name == "tuned" and (package.horizon, package.action_dim) == (10, 6)
    data = load_training_data(dataset, horizon=10, model_period=0.1)
    policy, _ = create_policy(package, backend="onnxruntime", options=RuntimeOptions(intra_op_threads=1))
    actions = policy.infer(Observation({"front": data.images[0]}, 0.0, data.instructions[0],
                                       data.states[0].astype(float)))
    assert actions.shape == (10, 6) and np.all(np.isfinite(actions))


def test_when_the_dataset_folder_is_not_a_dataset_expect_exit_1_naming_it(tmp_path, capsys) -> None:
    assert train.main(["--dataset", str(tmp_path), "--steps", "2", "--out", str(tmp_path / "pkg")]) == 1
    error = capsys.readouterr().err
    assert str(tmp_path) in error and "not a LeRobot dataset" in error
    assert not (tmp_path / "pkg").exists()


def test_when_fine_tuning_sim_act_expect_its_normalization_and_nearly_its_outputs(tmp_path, dataset) -> None:
    """A few steps at a tiny learning rate: the tuned package is sim_act moved a little, not a fresh module."""
    out = tmp_path / "tuned"
    assert train.main(["--dataset", str(dataset), "--init", str(MODELS / "sim_act"), "--steps", "3",
                       "--batch-size", "8", "--lr", "1e-6", "--threads", "1", "--out", str(out)]) == 0
    base, tuned = load_model_package(MODELS / "sim_act"), load_model_package(out)
    for field in ("mean", "std"):
        assert np.array_equal(getattr(tuned.manifest.state.normalization, field),
                              getattr(base.manifest.state.normalization, field))
    assert tuned.manifest.torch.kwargs == base.manifest.torch.kwargs
    assert (out / "model.pt").read_bytes() != (MODELS / "sim_act" / "model.pt").read_bytes()
    data = load_training_data(dataset, horizon=10, model_period=0.1)
    options = RuntimeOptions(intra_op_threads=1)
    observations = [Observation({"front": data.images[i]}, 0.0, data.instructions[0], data.states[i].astype(float))
                    for i in (0, len(data) // 2, len(data) - 1)]
    base_policy, _ = create_policy(base, backend="onnxruntime", options=options)
    tuned_policy, _ = create_policy(tuned, backend="onnxruntime", options=options)
    for observation in observations:
        base_actions, tuned_actions = base_policy.infer(observation), tuned_policy.infer(observation)
        assert 0 < np.max(np.abs(base_actions - tuned_actions)) < 1e-3


@pytest.mark.parametrize("package", ["act_example", "missing"])
def test_when_the_init_package_does_not_fit_expect_exit_1_naming_it(tmp_path, dataset, capsys, package) -> None:
    init = MODELS / package if package != "missing" else tmp_path / "missing"
    assert train.main(["--dataset", str(dataset), "--init", str(init), "--steps", "2",
                       "--out", str(tmp_path / "pkg")]) == 1
    assert f"--init {init}" in capsys.readouterr().err
    assert not (tmp_path / "pkg").exists()
