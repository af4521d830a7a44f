"""vla_demo through real ROS 2 processes (vla_sim + vla_node), with a tiny package trained here."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from vla_ros.sim import demo
from vla_ros.training.dataset import DemoConfig, generate_demonstrations
from vla_ros.training.trainer import TrainConfig, export_trained, train_policy


@pytest.fixture(scope="module")
def tiny_package(tmp_path_factory) -> Path:
    torch.set_num_threads(1)
    demo_config = DemoConfig(episodes=1, seed=3, image_size=(48, 48), horizon=4)
    config = TrainConfig(steps=3, batch_size=8, threads=1, validation_fraction=0.0,
                         model_kwargs={"channels": 8, "hidden": 32})
    result = train_policy(generate_demonstrations(demo_config), config, demo_config, log=lambda _line: None)
    out = tmp_path_factory.mktemp("tiny") / "pkg"
    assert export_trained(result, demo_config, config, out, name="tiny").manifest_written
    return out


def test_when_model_package_missing_expect_exit_1_naming_vla_train(tmp_path, capsys) -> None:
    code = demo.main(["--episodes", "1", "--model", str(tmp_path / "nothing"), "--out", str(tmp_path / "out")])
    assert code == 1
    assert "vla_train" in capsys.readouterr().err


def test_when_running_two_episodes_expect_lines_summary_and_outputs(tiny_package, tmp_path, capsys) -> None:
    out = tmp_path / "out"
    code = demo.main(["--episodes", "2", "--model", str(tiny_package), "--out", str(out), "--seed", "5",
                      "--episode-time-limit", "3"])
    printed = capsys.readouterr().out
    assert code == 0, printed
    lines = printed.splitlines()
    assert sum(line.startswith("episode ") for line in lines) == 2
    assert any(line.startswith("summary: ") and "/2 success" in line for line in lines)
    for name in ("success_per_task.png", "latency_histogram.png", "command_rate.png", "episode_strip.png"):
        assert (out / name).stat().st_size > 0, name
    results = json.loads((out / "results.json").read_text())
    assert [e["seed"] for e in results["episodes"]] == [5, 6]
    assert all(e["elapsed"] > 0 for e in results["episodes"])
    assert results["latency_ms_p50"] is not None  # the node ran the model and reported timings


def test_when_competence_asked_for_no_episodes_expect_error_naming_episodes() -> None:
    from vla_ros.bench.competence import run_competence_benchmark

    with pytest.raises(ValueError, match="episodes"):
        run_competence_benchmark(0)


def test_when_first_seed_below_one_expect_demo_error_naming_first_seed(tiny_package) -> None:
    with pytest.raises(demo.DemoError, match="first_seed"):
        demo.run_episodes(tiny_package, 1, first_seed=0)
