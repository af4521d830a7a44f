"""Remote packages: the `remote:` section parsed strictly, the shipped profiles, the request mapping."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml

from vla_ros.core.types import Observation
from vla_ros.model import InputError, ModelPackageError, load_model_package
from vla_ros.model.manifest import parse_manifest
from vla_ros.model.remote.request import build_request, resize_with_pad

MODELS = Path(__file__).resolve().parents[2] / "models"


def _droid() -> dict[str, Any]:
    return yaml.safe_load((MODELS / "remote_droid" / "vla.yaml").read_text())


@pytest.mark.parametrize("name, cameras, state_dim, shape", [
    ("remote_droid", ("exterior", "wrist"), 8, (10, 8)),
    ("remote_aloha", ("cam_high", "cam_low", "cam_left_wrist", "cam_right_wrist"), 14, (50, 14)),
    ("remote_libero", ("agentview", "wrist"), 8, (10, 7)),
])
def test_when_shipped_profile_loads_expect_openpi_conventions(name: str, cameras: tuple, state_dim: int,
                                                              shape: tuple) -> None:
    package = load_model_package(MODELS / name)
    assert package.manifest.remote is not None
    assert package.camera_names == cameras
    assert package.state_dim == state_dim
    assert (package.horizon, package.action_dim) == shape
    assert all(c.size == (224, 224) for c in package.manifest.remote.cameras)


@pytest.mark.parametrize("edit, field", [
    (lambda m: m["remote"].pop("url"), "remote.url"),
    (lambda m: m["remote"].__setitem__("url", "http://x:1"), "remote.url"),
    (lambda m: m["remote"]["cameras"][0].__setitem__("resize", "letterbox"), "remote.cameras[0].resize"),
    (lambda m: m["remote"]["cameras"][0].__setitem__("layout", "nchw"), "remote.cameras[0].layout"),
    (lambda m: m["remote"]["cameras"][1].__setitem__("key", 5), "remote.cameras[1].key"),
    (lambda m: m["remote"]["state"]["keys"][0].__setitem__("dim", 0), "remote.state.keys[0].dim"),
    (lambda m: m["remote"]["actions"].pop("horizon"), "remote.actions.horizon"),
    (lambda m: m["remote"]["actions"].__setitem__("max_frozen_steps", -1), "remote.actions.max_frozen_steps"),
    (lambda m: m["remote"]["actions"].__setitem__("max_frozen_steps", 99), "remote.actions.max_frozen_steps"),
    (lambda m: m["remote"].__setitem__("extra", 1), "remote.extra"),
    (lambda m: m.__setitem__("weights", {}), "weights"),
    (lambda m: m["remote"]["cameras"][1].__setitem__("key", "observation/exterior_image_1_left"), "clashing"),
])
def test_when_remote_section_is_wrong_expect_error_naming_the_field(edit, field: str) -> None:
    manifest = copy.deepcopy(_droid())
    edit(manifest)
    with pytest.raises(ModelPackageError, match=field.replace("[", r"\[").replace("]", r"\]")):
        parse_manifest(manifest)


def test_when_aloha_request_built_expect_nested_chw_images_state_and_prompt() -> None:
    package = load_model_package(MODELS / "remote_aloha")
    images = {name: np.full((480, 640, 3), 7, dtype=np.uint8) for name in package.camera_names}
    request = build_request(package.manifest.remote, Observation(images, 1.0, "fold", np.arange(14.0)))
    assert set(request) == {"images", "state", "prompt"}
    assert request["images"]["cam_high"].shape == (3, 224, 224) and request["images"]["cam_high"].dtype == np.uint8
    np.testing.assert_array_equal(request["state"], np.arange(14.0))
    assert request["prompt"] == "fold"


def test_when_droid_request_built_expect_state_split_in_order_and_openpi_padding() -> None:
    openpi_tools = pytest.importorskip("openpi_client.image_tools")
    package = load_model_package(MODELS / "remote_droid")
    rng = np.random.default_rng(0)
    frame = rng.integers(0, 256, (480, 640, 3), dtype=np.uint8)
    obs = Observation({"exterior": frame, "wrist": frame}, 1.0, "go", np.arange(8.0))
    request = build_request(package.manifest.remote, obs)
    np.testing.assert_array_equal(request["observation/joint_position"], np.arange(7.0))
    np.testing.assert_array_equal(request["observation/gripper_position"], [7.0])
    np.testing.assert_array_equal(request["observation/exterior_image_1_left"],
                                  openpi_tools.resize_with_pad(frame, 224, 224))
    np.testing.assert_array_equal(resize_with_pad(frame[:100], 224, 224), openpi_tools.resize_with_pad(
        frame[:100], 224, 224))


def test_when_state_has_wrong_length_expect_input_error() -> None:
    package = load_model_package(MODELS / "remote_droid")
    images = {name: np.zeros((224, 224, 3), dtype=np.uint8) for name in package.camera_names}
    with pytest.raises(InputError, match="8 finite values"):
        build_request(package.manifest.remote, Observation(images, 1.0, "go", np.zeros(6)))
