"""vla_serve's model side without Ray: the batched call, the request layout, the options, the batch-axis export."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import onnx
import pytest

from vla_ros.bench.remote import mirror_package
from vla_ros.core.types import Observation
from vla_ros.model import InputError, RuntimeOptions, create_policy, load_model_package
from vla_ros.serve.layout import RequestError, default_layout, observation_from_request
from vla_ros.serve.model import ServedModel
from vla_ros.serve.options import ServeOptions, ServeOptionsError

REPO = Path(__file__).resolve().parents[2]
SIM_ACT = REPO / "models" / "sim_act"


def _observations(count: int, seed: int = 0) -> list[Observation]:
    rng = np.random.default_rng(seed)
    prompts = ("touch the red cube", "push the blue cylinder to the left", "")
    return [Observation({"front": rng.integers(0, 256, (96, 96, 3), dtype=np.uint8)}, 0.0, prompts[i % 3],
                        rng.uniform(-0.3, 0.3, 6)) for i in range(count)]


@pytest.fixture(scope="module")
def served() -> ServedModel:
    return ServedModel(ServeOptions(model_path=str(SIM_ACT), backend="onnxruntime"))


def test_when_observations_run_as_one_batch_expect_the_actions_of_one_call_each(served: ServedModel) -> None:
    local, _ = create_policy(load_model_package(SIM_ACT), "onnxruntime", RuntimeOptions(intra_op_threads=1))
    observations = _observations(5)
    result = served.infer_batch(observations)
    assert result.batch_size == 5 and served.batched_calls
    for obs, actions in zip(observations, result.actions):
        np.testing.assert_allclose(actions, local.infer(obs), rtol=0, atol=1e-6)


def test_when_one_observation_of_a_batch_is_bad_expect_only_its_row_to_fail(served: ServedModel) -> None:
    observations = _observations(3)
    observations[1] = Observation({}, 0.0, "touch the red cube", np.zeros(6))
    result = served.infer_batch(observations)
    assert isinstance(result.actions[1], InputError)
    assert all(isinstance(result.actions[i], np.ndarray) and result.actions[i].shape == (10, 6) for i in (0, 2))


def test_when_default_layout_read_expect_the_keys_mirror_package_gives_robots(tmp_path: Path) -> None:
    package = load_model_package(SIM_ACT)
    mirrored = load_model_package(mirror_package(SIM_ACT, tmp_path / "remote", "ws://127.0.0.1:1")).manifest.remote
    layout = default_layout(package)
    assert mirrored is not None
    assert [(c.name, c.key, c.size, c.layout) for c in layout.cameras] == \
        [(c.name, c.key, c.size, c.layout) for c in mirrored.cameras]
    assert layout.state == mirrored.state and layout.prompt_key == mirrored.prompt_key
    assert layout.actions == mirrored.actions


@pytest.mark.parametrize(("request_dict", "complaint"), [
    ([1, 2], "expected a map"),
    ({"observation/state": np.zeros(6), "prompt": "x"}, "no 'observation/image'"),
    ({"observation/image": np.zeros((96, 96), np.uint8), "observation/state": np.zeros(6), "prompt": "x"},
     "3 axes"),
    ({"observation/image": np.zeros((96, 96, 3), np.uint8), "observation/state": np.zeros(5), "prompt": "x"},
     "expected 6 numbers"),
    ({"observation/image": np.zeros((96, 96, 3), np.uint8), "observation/state": np.full(6, np.nan),
      "prompt": "x"}, "NaN"),
    ({"observation/image": np.zeros((96, 96, 3), np.uint8), "observation/state": np.zeros(6), "prompt": 3},
     "expected a string"),
])
def test_when_request_is_malformed_expect_request_error_saying_what(request_dict: object, complaint: str) -> None:
    package = load_model_package(SIM_ACT)
    with pytest.raises(RequestError, match=complaint):
        observation_from_request(default_layout(package), package.camera_names, request_dict)


def test_when_options_come_from_a_manifest_expect_same_checks_as_the_command_line() -> None:
    options = ServeOptions.from_args({"model_path": "/m", "replicas": "2", "max_batch_size": 8})
    assert (options.replicas, options.max_batch_size, options.batching) == (2, 8, True)
    with pytest.raises(ServeOptionsError, match="unknown vla_serve option"):
        ServeOptions.from_args({"model_path": "/m", "num_replicas": 2})
    with pytest.raises(ServeOptionsError, match="replicas=0"):
        ServeOptions.from_args({"model_path": "/m", "replicas": 0})


def test_when_request_limit_exceeds_ray_proxy_frame_limit_expect_refusal_saying_why() -> None:
    assert ServeOptions("/m", max_request_bytes=16 << 20).max_request_bytes == 16 << 20
    with pytest.raises(ServeOptionsError, match=r"max_request_bytes=33554432: at most 16777216 \(Ray Serve's proxy"):
        ServeOptions("/m", max_request_bytes=32 << 20)


@pytest.mark.parametrize("name", ["sim_act", "act_example", "rt2_example"])
def test_when_bundled_package_read_expect_dynamic_batch_axis_and_batched_parity(name: str) -> None:
    graph = onnx.load(str(REPO / "models" / name / "model.onnx"), load_external_data=False).graph
    assert all(i.type.tensor_type.shape.dim[0].dim_param == "batch" for i in graph.input)
    assert graph.output[0].type.tensor_type.shape.dim[0].dim_param == "batch"
    report = json.loads((REPO / "models" / name / "export_report.json").read_text())
    batched = [p for p in report["parity"] if " batch=" in p["backend"]]
    assert batched and all(p["passed"] and p["n"] > 1 for p in batched)
    load_model_package(REPO / "models" / name)  # the manifest's sha256 values match the re-exported files
