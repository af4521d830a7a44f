"""`vla_train --dataset`: a committed sim bag -> vla_export_dataset -> a short training run -> a package that
loads and infers on onnxruntime; folders that are no dataset are refused by name."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from vla_ros.core.types import Observation
from vla_ros.model import RuntimeOptions, create_policy, load_model_package
from vla_ros.recording.training import load_training_data
from vla_ros.tools import export_dataset, train

BAG = Path(__file__).resolve().parents[1] / "data" / "sim_sim_act_seed1"


def test_when_training_on_an_exported_sim_recording_expect_a_package_that_infers(tmp_path) -> None:
    dataset = tmp_path / "dataset"
    assert export_dataset.main([str(BAG), "--out", str(dataset)]) == 0
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
