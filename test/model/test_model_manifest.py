"""Manifest validation: every rejection names the field or file and what was expected."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from vla_ros.core.types import ActionSemantics
from vla_ros.model import ModelPackageError, load_model_package
from vla_ros.model.manifest import parse_manifest


def test_when_example_package_is_loaded_expect_declared_properties(act_package_dir: Path) -> None:
    pkg = load_model_package(act_package_dir)
    assert pkg.name == "act_example"
    assert pkg.camera_names == ("front",)
    assert (pkg.state_dim, pkg.action_dim, pkg.horizon) == (6, 6, 10)
    assert pkg.semantics is ActionSemantics.JOINT_POSITION_DELTA
    assert pkg.control_period == pytest.approx(0.1)
    assert pkg.expected_image_size("front") is None


def test_when_manifest_path_itself_is_given_expect_same_package(act_package_dir: Path) -> None:
    assert load_model_package(act_package_dir / "vla.yaml").root == load_model_package(act_package_dir).root


def test_when_package_dir_has_no_manifest_expect_error_naming_vla_yaml(tmp_path: Path) -> None:
    with pytest.raises(ModelPackageError, match=r"no vla\.yaml"):
        load_model_package(tmp_path)


def test_when_manifest_is_not_yaml_expect_error(edited_act_package: Any) -> None:
    pkg = edited_act_package(lambda d: None)
    (pkg / "vla.yaml").write_text("inputs: [unclosed\n")
    with pytest.raises(ModelPackageError, match="not valid YAML"):
        load_model_package(pkg)


@pytest.mark.parametrize(("path", "field"), [
    (("outputs", "horizon"), "outputs.horizon"),
    (("action", "semantics"), "action.semantics"),
    (("action", "normalization"), "action.normalization"),
    (("action", "gripper"), "action.gripper"),
    (("inputs", "state"), "inputs.state"),
    (("control_period_s",), "control_period_s"),
    (("inputs", "state", "normalization", "std"), "inputs.state.normalization.std"),
    (("weights", "onnx", "sha256"), "weights.onnx.sha256"),
])
def test_when_required_field_is_missing_expect_error_naming_it(edited_act_package: Any, path: tuple[str, ...],
                                                                field: str) -> None:
    def drop(data: dict[str, Any]) -> None:
        node = data
        for key in path[:-1]:
            node = node[key]
        del node[path[-1]]

    with pytest.raises(ModelPackageError, match=rf"missing required field '{field}'"):
        load_model_package(edited_act_package(drop))


def test_when_camera_has_unknown_field_expect_error_naming_it(edited_act_package: Any) -> None:
    def add(data: dict[str, Any]) -> None:
        data["inputs"]["cameras"][0]["colour_order"] = "rgb"

    with pytest.raises(ModelPackageError, match=r"unknown field\(s\) 'inputs\.cameras\[0\]\.colour_order'"):
        load_model_package(edited_act_package(add))


def test_when_top_level_has_unknown_field_expect_error(edited_act_package: Any) -> None:
    with pytest.raises(ModelPackageError, match=r"unknown field.*'extra'"):
        load_model_package(edited_act_package(lambda d: d.update(extra=1)))


def test_when_semantics_is_not_an_action_semantics_value_expect_allowed_values_listed(
        edited_act_package: Any) -> None:
    def bad(data: dict[str, Any]) -> None:
        data["action"]["semantics"] = "joint_torque"

    with pytest.raises(ModelPackageError, match=r"'action\.semantics'.*joint_position_delta.*got 'joint_torque'"):
        load_model_package(edited_act_package(bad))


def test_when_normalization_vector_has_wrong_length_expect_error(edited_act_package: Any) -> None:
    def bad(data: dict[str, Any]) -> None:
        data["action"]["normalization"]["std"] = [0.01] * 5

    with pytest.raises(ModelPackageError, match=r"'action\.normalization\.std': expected a list of 6 positive"):
        load_model_package(edited_act_package(bad))


def test_when_camera_size_disagrees_with_onnx_graph_expect_shape_error(edited_act_package: Any) -> None:
    def bad(data: dict[str, Any]) -> None:
        data["inputs"]["cameras"][0]["size"] = [64, 64]

    with pytest.raises(ModelPackageError, match=r"inputs\.cameras\[0\].*model\.onnx input 'image_front' has shape "
                                                r"\['batch', 3, 96, 96\], the manifest feeds \[1, 3, 64, 64\]"):
        load_model_package(edited_act_package(bad))


def test_when_layout_disagrees_with_onnx_graph_expect_shape_error(edited_act_package: Any) -> None:
    def bad(data: dict[str, Any]) -> None:
        data["inputs"]["cameras"][0]["layout"] = "nhwc"

    with pytest.raises(ModelPackageError, match=r"inputs\.cameras\[0\].*\[1, 96, 96, 3\]"):
        load_model_package(edited_act_package(bad))


def test_when_horizon_disagrees_with_onnx_output_expect_error(edited_act_package: Any) -> None:
    def bad(data: dict[str, Any]) -> None:
        data["outputs"]["horizon"] = 5

    with pytest.raises(ModelPackageError, match=r"outputs: model\.onnx output 'actions' has shape \['batch', 10, 6\]"):
        load_model_package(edited_act_package(bad))


def test_when_state_dim_disagrees_with_onnx_expect_error(edited_act_package: Any) -> None:
    def bad(data: dict[str, Any]) -> None:
        state = data["inputs"]["state"]
        state["dim"] = 7
        state["normalization"].update(mask=[True] * 7, mean=[0.0] * 7, std=[1.0] * 7)

    with pytest.raises(ModelPackageError, match=r"inputs\.state: model\.onnx input 'state' has shape \['batch', 6\]"):
        load_model_package(edited_act_package(bad))


def test_when_graph_input_is_not_declared_expect_error(edited_act_package: Any) -> None:
    with pytest.raises(ModelPackageError, match=r"graph input\(s\) \['state'\] are not declared"):
        load_model_package(edited_act_package(lambda d: d["inputs"].update(state=None)))


def test_when_output_tensor_name_is_wrong_expect_error(edited_act_package: Any) -> None:
    with pytest.raises(ModelPackageError, match=r"outputs\.tensor: 'chunk' is not an output of model\.onnx"):
        load_model_package(edited_act_package(lambda d: d["outputs"].update(tensor="chunk")))


def test_when_token_dtype_disagrees_with_onnx_expect_dtype_error(edited_act_package: Any) -> None:
    with pytest.raises(ModelPackageError, match=r"inputs\.language\.tensor: .*dtype int64, the manifest feeds int32"):
        load_model_package(edited_act_package(lambda d: d["inputs"]["language"].update(dtype="int32")))


def test_when_onnx_sha256_differs_expect_error_naming_field_and_file(edited_act_package: Any) -> None:
    def bad(data: dict[str, Any]) -> None:
        data["weights"]["onnx"]["sha256"] = "0" * 64

    with pytest.raises(ModelPackageError, match=r"weights\.onnx\.sha256: 'model\.onnx' has sha256 [0-9a-f]{64}, "
                                                r"the manifest expects 0{64}"):
        load_model_package(edited_act_package(bad))


def test_when_onnx_file_is_corrupted_expect_sha256_error_before_parsing(edited_act_package: Any) -> None:
    pkg = edited_act_package(lambda d: None)
    (pkg / "model.onnx").write_bytes(b"not an onnx graph")
    with pytest.raises(ModelPackageError, match=r"weights\.onnx\.sha256: 'model\.onnx'"):
        load_model_package(pkg)


def test_when_state_dict_file_changes_expect_error_naming_it(edited_act_package: Any) -> None:
    pkg = edited_act_package(lambda d: None)
    with (pkg / "model.pt").open("ab") as handle:
        handle.write(b"\0")
    with pytest.raises(ModelPackageError, match=r"weights\.torch\.state_dict\.sha256: 'model\.pt'"):
        load_model_package(pkg)


def test_when_weight_file_is_missing_expect_error_naming_it(edited_act_package: Any) -> None:
    pkg = edited_act_package(lambda d: None)
    (pkg / "model.onnx").unlink()
    with pytest.raises(ModelPackageError, match=r"weights\.onnx\.file: 'model\.onnx' does not exist"):
        load_model_package(pkg)


def test_when_weight_path_leaves_package_expect_error(edited_act_package: Any) -> None:
    with pytest.raises(ModelPackageError, match=r"'weights\.onnx\.file'.*inside it"):
        load_model_package(edited_act_package(lambda d: d["weights"]["onnx"].update(file="../model.onnx")))


def test_when_no_weights_at_all_expect_error(edited_act_package: Any) -> None:
    with pytest.raises(ModelPackageError, match=r"'weights\.onnx'.*neither given"):
        load_model_package(edited_act_package(lambda d: d.update(weights={})))


def _valid_dict(act_package_dir: Path) -> dict[str, Any]:
    return yaml.safe_load((act_package_dir / "vla.yaml").read_text())


def test_when_ee_absolute_has_six_dims_expect_action_dim_error(act_package_dir: Path) -> None:
    data = _valid_dict(act_package_dir)
    data["action"]["semantics"] = "ee_absolute"
    with pytest.raises(ModelPackageError, match=r"'outputs\.action_dim': semantics ee_absolute needs 7"):
        parse_manifest(data)


def test_when_ee_delta_has_six_dims_expect_valid(act_package_dir: Path) -> None:
    data = _valid_dict(act_package_dir)
    data["action"]["semantics"] = "ee_delta"
    assert parse_manifest(data).action.semantics is ActionSemantics.EE_DELTA


def test_when_gripper_index_is_out_of_range_expect_error(act_package_dir: Path) -> None:
    data = _valid_dict(act_package_dir)
    data["action"]["gripper"] = {"index": 6, "model_open": 1.0, "model_closed": 0.0, "robot_open": 0.04,
                                 "robot_closed": 0.0, "binarize": False}
    with pytest.raises(ModelPackageError, match=r"'action\.gripper\.index': expected an action dimension index"):
        parse_manifest(data)


def test_when_bounds_high_not_above_low_expect_error(act_package_dir: Path) -> None:
    data = _valid_dict(act_package_dir)
    data["action"]["normalization"] = {"kind": "bounds", "mask": [True] * 6, "low": [0.0] * 6, "high": [0.0] * 6}
    with pytest.raises(ModelPackageError, match=r"'action\.normalization\.high': expected high > low"):
        parse_manifest(data)


def test_when_openvla_bins_lack_vocab_size_expect_error(act_package_dir: Path) -> None:
    data = _valid_dict(act_package_dir)
    data["outputs"] = {"kind": "bins", "tensor": "actions", "horizon": 10, "action_dim": 6,
                       "bins": {"scheme": "openvla", "n_bins": 256, "encoding": "token_ids"}}
    with pytest.raises(ModelPackageError, match=r"missing required field 'outputs\.bins\.vocab_size'"):
        parse_manifest(data)


def test_when_uint8_camera_has_normalization_expect_error(act_package_dir: Path) -> None:
    data = _valid_dict(act_package_dir)
    data["inputs"]["cameras"][0]["dtype"] = "uint8"
    with pytest.raises(ModelPackageError, match=r"'inputs\.cameras\[0\]\.dtype'"):
        parse_manifest(data)


def test_when_tensor_names_collide_expect_error(act_package_dir: Path) -> None:
    data = _valid_dict(act_package_dir)
    data["inputs"]["state"]["tensor"] = "image_front"
    with pytest.raises(ModelPackageError, match="tensor names must be unique"):
        parse_manifest(data)


def test_when_draft_lacks_sha256_expect_only_draft_parsing_to_accept_it(act_package_dir: Path) -> None:
    data = _valid_dict(act_package_dir)
    del data["weights"]["onnx"]["sha256"]
    assert parse_manifest(data, draft=True).onnx is not None
    with pytest.raises(ModelPackageError, match=r"'weights\.onnx\.sha256'"):
        parse_manifest(data)


def test_when_delta_model_has_gripper_expect_it_listed_as_absolute_dim(edited_act_package: Any) -> None:
    gripper = {"index": 5, "model_open": 1.0, "model_closed": 0.0, "robot_open": 0.04, "robot_closed": 0.0,
               "binarize": True}
    pkg = load_model_package(edited_act_package(lambda d: d["action"].update(gripper=gripper)))
    assert pkg.absolute_dims == (5,)
    no_gripper = load_model_package(edited_act_package(lambda d: None))
    assert no_gripper.absolute_dims == ()
