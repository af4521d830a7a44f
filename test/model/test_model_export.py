"""Export: ONNX + sha256 + parity report, and the manifest is refused when parity fails."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
import yaml

from vla_ros.core.types import ActionSemantics
from vla_ros.model import load_model_package
from vla_ros.model.errors import BackendUnavailable
from vla_ros.model.package import sha256_file
from vla_ros.training.export import REPORT_FILE, export_package
from vla_ros.training.export_cli import main as vla_export_main
from vla_ros.training.package_builder import example_draft

DIVERGENT = "vla_model_test_modules:ExportDivergentActPolicy"


def small_draft(module: str | None = None, horizon: int = 4) -> tuple[dict[str, Any], dict[str, Any]]:
    draft, kwargs = example_draft("act", joint_names_count=3, horizon=horizon, image_size=(32, 32),
                                  semantics=ActionSemantics.JOINT_POSITION, control_period_s=0.05, action_scale=0.01)
    if module is not None:
        draft["weights"]["torch"]["module"] = module
    return draft, kwargs


def write_draft_dir(tmp_path: Path, module: str) -> Path:
    """A draft vla.yaml + state_dict in a source folder, as a user would prepare them for vla_export."""
    from vla_ros.model.backends.torch_backend import import_module_class

    source = tmp_path / "source"
    source.mkdir()
    draft, kwargs = small_draft(module)
    torch.manual_seed(1)
    torch.save(import_module_class(module)(**kwargs).state_dict(), str(source / "model.pt"))
    (source / "draft.yaml").write_text(yaml.safe_dump(draft, sort_keys=False))
    return source / "draft.yaml"


def test_when_cli_exports_a_draft_expect_package_with_matching_sha256(tmp_path: Path,
                                                                      capsys: pytest.CaptureFixture[str]) -> None:
    draft_path = write_draft_dir(tmp_path, "vla_ros.training.families.act_chunk:ActChunkPolicy")
    out = tmp_path / "pkg"
    assert vla_export_main([str(draft_path), "--out", str(out), "--samples", "3", "--tensorrt", "off"]) == 0
    assert "PASS onnxruntime" in capsys.readouterr().out
    manifest = yaml.safe_load((out / "vla.yaml").read_text())
    assert manifest["weights"]["onnx"]["sha256"] == sha256_file(out / "model.onnx")
    assert manifest["weights"]["torch"]["state_dict"]["sha256"] == sha256_file(out / "model.pt")
    pkg = load_model_package(out)
    assert (pkg.horizon, pkg.action_dim) == (4, 3)
    report = json.loads((out / REPORT_FILE).read_text())
    assert report["passed"] and report["parity"][0]["max_abs"] <= 1e-3


def test_when_export_diverges_from_torch_expect_manifest_refused(tmp_path: Path) -> None:
    from vla_model_test_modules import ExportDivergentActPolicy

    draft, kwargs = small_draft(DIVERGENT)
    out = tmp_path / "pkg"
    (out).mkdir()
    (out / "vla.yaml").write_text("stale manifest from an earlier export\n")
    result = export_package(draft, out, module=ExportDivergentActPolicy(**kwargs), samples=2, tensorrt="off")
    assert not result.manifest_written and not result.passed
    assert not (out / "vla.yaml").exists()
    assert result.parity[0].max_abs > 1e-3
    assert json.loads((out / REPORT_FILE).read_text())["passed"] is False


def test_when_cli_export_fails_parity_expect_exit_status_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    draft_path = write_draft_dir(tmp_path, DIVERGENT)
    out = tmp_path / "pkg"
    assert vla_export_main([str(draft_path), "--out", str(out), "--samples", "2", "--tensorrt", "off"]) == 2
    assert "FAIL onnxruntime" in capsys.readouterr().out
    assert not (out / "vla.yaml").exists()


def test_when_thresholds_are_loosened_expect_divergent_export_accepted(tmp_path: Path) -> None:
    draft_path = write_draft_dir(tmp_path, DIVERGENT)
    out = tmp_path / "pkg"
    assert vla_export_main([str(draft_path), "--out", str(out), "--samples", "2", "--tensorrt", "off",
                            "--max-abs", "1.0", "--min-cosine", "-1"]) == 0


def test_when_draft_is_invalid_expect_exit_status_1(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    draft, _ = small_draft()
    del draft["action"]["semantics"]
    path = tmp_path / "draft.yaml"
    path.write_text(yaml.safe_dump(draft))
    assert vla_export_main([str(path), "--out", str(tmp_path / "pkg")]) == 1
    assert "action.semantics" in capsys.readouterr().err


@pytest.mark.skipif(__import__("importlib").util.find_spec("tensorrt") is not None, reason="TensorRT present")
def test_when_tensorrt_is_required_but_missing_expect_backend_unavailable(tmp_path: Path) -> None:
    from vla_ros.training.families.act_chunk import ActChunkPolicy

    draft, kwargs = small_draft()
    with pytest.raises(BackendUnavailable, match="TensorRT is not installed"):
        export_package(draft, tmp_path / "pkg", module=ActChunkPolicy(**kwargs), samples=1, tensorrt="on")


def test_when_example_is_exported_from_cli_expect_loadable_rt2_package(tmp_path: Path) -> None:
    out = tmp_path / "rt2"
    assert vla_export_main(["--example", "rt2", "--out", str(out), "--samples", "2", "--horizon", "2",
                            "--tensorrt", "off"]) == 0
    pkg = load_model_package(out)
    assert pkg.manifest.outputs.kind.value == "bins" and pkg.horizon == 2


def two_camera_openvla_draft() -> dict[str, Any]:
    base = {"pad_value": 0, "source_size": None}
    return {
        "format_version": 1,
        "name": "two_camera_openvla",
        "inputs": {
            "cameras": [
                {**base, "name": "front", "tensor": "image_front", "size": [8, 8], "resize": "letterbox",
                 "interpolation": "linear", "color_order": "rgb", "layout": "nhwc", "dtype": "uint8",
                 "scale": 1.0, "mean": [0, 0, 0], "std": [1, 1, 1], "source_size": [12, 16]},
                {**base, "name": "wrist", "tensor": "image_wrist", "size": [4, 4], "resize": "center_crop",
                 "interpolation": "area", "color_order": "bgr", "layout": "nchw", "dtype": "float32",
                 "scale": 1 / 255, "mean": [0.5, 0.5, 0.5], "std": [0.5, 0.5, 0.5]},
            ],
            "language": {"tokenizer": "bytes", "tensor": "instruction_tokens", "mask_tensor": "instruction_mask",
                         "max_length": 8, "pad_id": 0, "dtype": "int64"},
            "state": None,
        },
        "outputs": {"kind": "bins", "tensor": "action_tokens", "horizon": 2, "action_dim": 7,
                    "bins": {"scheme": "openvla", "n_bins": 256, "encoding": "token_ids", "vocab_size": 1000}},
        "action": {
            "semantics": "ee_delta",
            "normalization": {"kind": "bounds", "mask": [True] * 6 + [False], "low": [-0.02] * 6 + [0.0],
                              "high": [0.02] * 6 + [1.0]},
            "gripper": {"index": 6, "model_open": 1.0, "model_closed": -1.0, "robot_open": 0.08,
                        "robot_closed": 0.0, "binarize": True},
        },
        "control_period_s": 0.2,
        "weights": {"onnx": {"file": "model.onnx"},
                    "torch": {"module": "vla_model_test_modules:TwoCameraOpenVlaTokens",
                              "state_dict": {"file": "model.pt"}, "kwargs": {}}},
    }


def test_when_two_camera_openvla_token_model_is_exported_expect_decoded_bin_centers(tmp_path: Path) -> None:
    from vla_ros.model import create_policy
    from vla_ros.training.export import random_observations

    from vla_model_test_modules import TwoCameraOpenVlaTokens

    torch.manual_seed(4)
    result = export_package(two_camera_openvla_draft(), tmp_path / "pkg", module=TwoCameraOpenVlaTokens(),
                            samples=4, tensorrt="off")
    assert result.manifest_written, result.as_dict()
    assert json.loads((tmp_path / "pkg" / "export_report.json").read_text())["manifest_written"] is True
    pkg = load_model_package(tmp_path / "pkg")
    assert pkg.camera_names == ("front", "wrist") and pkg.state_dim is None
    assert pkg.expected_image_size("front") == (12, 16) and pkg.expected_image_size("wrist") is None
    policy, _ = create_policy(pkg, "onnxruntime")
    module = TwoCameraOpenVlaTokens().eval()
    module.load_state_dict(torch.load(str(tmp_path / "pkg" / "model.pt"), weights_only=True))
    observations = random_observations(pkg.manifest, 5, seed=2)
    actions = np.stack([policy.infer(o) for o in observations])
    assert actions.shape == (5, 2, 7)
    with torch.inference_mode():
        before_tokens = np.stack([
            module.continuous(**{k: torch.from_numpy(np.array(v)) for k, v in policy.preprocess(o).items()})
            .reshape(2, 7).numpy() for o in observations])
    normalized = (actions[..., :6] + 0.02) / 0.04 * 2 - 1  # back to [-1, 1]
    centers = (np.linspace(-1, 1, 256)[:-1] + np.linspace(-1, 1, 256)[1:]) / 2
    assert np.all(np.min(np.abs(normalized[..., None] - centers), axis=-1) < 1e-9)  # every value is a bin center
    # the right center: within half a bin (1/255) of the value the model tokenized; off by one bin would be >= 1/255
    assert np.max(np.abs(normalized - before_tokens[..., :6])) <= 1 / 255 + 1e-6
    assert set(np.unique(actions[..., 6])) <= {0.0, 0.08}  # gripper snapped to the robot's convention
    gripper_centers = centers[np.clip(np.digitize(before_tokens[..., 6], np.linspace(-1, 1, 256)) - 1, 0, 254)]
    np.testing.assert_array_equal(actions[..., 6], np.where(gripper_centers >= 0.0, 0.08, 0.0))


def test_when_example_has_absolute_pose_semantics_expect_actions_near_a_valid_pose(tmp_path: Path) -> None:
    from vla_ros.model import create_policy
    from vla_ros.training.export import random_observations
    from vla_ros.training.package_builder import build_example_package

    pkg = load_model_package(build_example_package(tmp_path / "pose", "rt2", joint_names_count=7, horizon=2,
                                                   semantics=ActionSemantics.EE_ABSOLUTE))
    policy, _ = create_policy(pkg, "onnxruntime")
    actions = policy.infer(random_observations(pkg.manifest, 1)[0])
    np.testing.assert_allclose(actions, np.tile([0.4, 0.0, 0.4, 0.0, 0.0, 0.0, 1.0], (2, 1)), atol=0.0101)
