"""The request layout a server reads: which keys of openpi's observation dict hold the images, state and prompt.

A remote package's `remote:` section (vla_ros/model/remote/spec.py) says how a robot lays out its request; the
server reads the same spec backwards. With no layout given, a local package is served under the default layout,
the one `vla_ros.bench.remote.mirror_package` writes for robots (LIBERO-style flat keys):

    observation/image          first camera, HxWx3 uint8 at the model's image size (another size is resized)
    observation/<name>_image   every further camera
    observation/state          the state vector
    prompt                     the instruction

Requests are untrusted: every key, shape, dtype and value is checked, and RequestError says what is wrong.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from vla_ros.core.types import Observation
from vla_ros.model import ModelPackageError, load_model_package
from vla_ros.model.package import ModelPackage
from vla_ros.model.remote.spec import (
    FROZEN_ACTIONS_KEY,
    KeyPath,
    RemoteActions,
    RemoteCamera,
    RemoteLayout,
    RemoteResize,
    RemoteSpec,
    RemoteState,
    RemoteStateKey,
    key_text,
)

DEFAULT_URL = "ws://0.0.0.0:8000"  # the spec needs one; a server never connects anywhere


class RequestError(ValueError):
    """A request that is not an observation this server can run (sent back to that robot as a text frame)."""


def default_layout(package: ModelPackage) -> RemoteSpec:
    cameras = tuple(RemoteCamera(cam.name, ("observation/image",) if i == 0 else (f"observation/{cam.name}_image",),
                                 cam.size, RemoteResize.PLAIN, RemoteLayout.HWC, "uint8")
                    for i, cam in enumerate(package.manifest.cameras))
    state = None if package.state_dim is None else RemoteState(
        "float64", (RemoteStateKey(("observation/state",), package.state_dim),))
    return RemoteSpec(DEFAULT_URL, cameras, state, ("prompt",),
                      RemoteActions("actions", package.horizon, package.action_dim))


def request_layout(package: ModelPackage, layout_package: str = "") -> RemoteSpec:
    """The layout of `layout_package` (a remote package) when given, else default_layout(package)."""
    if not layout_package:
        return default_layout(package)
    remote = load_model_package(layout_package).manifest.remote
    if remote is None:
        raise ModelPackageError(f"request_layout: {layout_package} is not a remote package (no 'remote:' section)")
    if (remote.actions.horizon, remote.actions.action_dim) != (package.horizon, package.action_dim):
        raise ModelPackageError(f"request_layout: {layout_package} promises actions [{remote.actions.horizon}, "
                                f"{remote.actions.action_dim}], the model gives [{package.horizon}, "
                                f"{package.action_dim}]")
    missing = [cam for cam in package.camera_names if cam not in {c.name for c in remote.cameras}]
    if missing:
        raise ModelPackageError(f"request_layout: {layout_package} sends no camera {missing} the model needs")
    state_dim = remote.state.dim if remote.state is not None else None
    if state_dim != package.state_dim:
        raise ModelPackageError(f"request_layout: {layout_package} sends state of {state_dim} values, the model "
                                f"takes {package.state_dim}")
    return remote


def _lookup(request: dict[str, Any], key: KeyPath) -> Any:
    value: Any = request
    for part in key:
        if not isinstance(value, dict) or part not in value:
            raise RequestError(f"the request has no '{key_text(key)}'")
        value = value[part]
    return value


def _image(camera: RemoteCamera, value: Any) -> np.ndarray:
    where = f"'{key_text(camera.key)}'"
    if not isinstance(value, np.ndarray) or value.ndim != 3:
        raise RequestError(f"{where}: expected an image array with 3 axes, got "
                           f"{getattr(value, 'shape', type(value).__name__)}")
    image = value.transpose(1, 2, 0) if camera.layout is RemoteLayout.CHW else value
    if image.shape[2] != 3 or image.shape[0] < 1 or image.shape[1] < 1:
        raise RequestError(f"{where}: expected {'3xHxW' if camera.layout is RemoteLayout.CHW else 'HxWx3'}, "
                           f"got {list(value.shape)}")
    if image.dtype == np.uint8:
        return np.ascontiguousarray(image)
    if image.dtype.kind != "f" or not np.all(np.isfinite(image)):
        raise RequestError(f"{where}: expected uint8 (0..255) or finite float (0..1) pixels, got {image.dtype}")
    return (np.clip(image, 0.0, 1.0) * 255.0).round().astype(np.uint8)


def _state(spec: RemoteState, request: dict[str, Any]) -> np.ndarray:
    parts = []
    for part in spec.keys:
        value = _lookup(request, part.key)
        array = np.asarray(value) if isinstance(value, (np.ndarray, list, tuple, float, int)) else None
        if array is None or array.dtype.kind not in "fiu" or array.size != part.dim:
            raise RequestError(f"'{key_text(part.key)}': expected {part.dim} numbers, got "
                               f"{getattr(value, 'shape', type(value).__name__)}")
        parts.append(array.astype(np.float64).reshape(-1))
    state = np.concatenate(parts)
    if not np.all(np.isfinite(state)):
        raise RequestError("the state holds NaN or inf")
    return state


def observation_from_request(spec: RemoteSpec, camera_names: tuple[str, ...] | list[str],
                             request: Any) -> Observation:
    """The Observation the model runs on; cameras the model has no use for are not decoded."""
    if not isinstance(request, dict):
        raise RequestError(f"the request is a {type(request).__name__}, expected a map (openpi observation dict)")
    images = {camera.name: _image(camera, _lookup(request, camera.key))
              for camera in spec.cameras if camera.name in camera_names}
    state = _state(spec.state, request) if spec.state is not None else None
    prompt = ""
    if spec.prompt_key is not None:
        prompt = _lookup(request, spec.prompt_key)
        if not isinstance(prompt, str):
            raise RequestError(f"'{key_text(spec.prompt_key)}': expected a string, got {type(prompt).__name__}")
    return Observation(images, 0.0, prompt, state, _frozen_actions(request, spec.actions.action_dim))


def _frozen_actions(request: dict, action_dim: int) -> np.ndarray | None:
    """The robot's real-time-chunking prefix, when it sent one: finite [d, action_dim] in reply units."""
    value = request.get(FROZEN_ACTIONS_KEY)
    if value is None:
        return None
    frozen = np.asarray(value)
    if frozen.ndim != 2 or frozen.shape[1] != action_dim or frozen.shape[0] > 64 or not np.issubdtype(
            frozen.dtype, np.number) or not np.all(np.isfinite(frozen)):
        raise RequestError(f"'{FROZEN_ACTIONS_KEY}': expected finite [d, {action_dim}] actions (d <= 64), got "
                           f"{frozen.dtype} {list(frozen.shape)}")
    return frozen.astype(np.float64)
