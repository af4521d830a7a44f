"""Observation -> the request dict an openpi policy server reads, as the package's `remote:` section maps it.

Images are resized on the robot side, as openpi's example clients do, so that 224x224 and not the camera's full
frame crosses the network. `resize_with_pad` reproduces openpi_client.image_tools.resize_with_pad (PIL bilinear,
aspect ratio kept, black bars centered, sizes truncated to integers), so a server sees the pixels it was tuned on.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from PIL import Image

from vla_ros.core.types import Observation
from vla_ros.model.errors import InputError
from vla_ros.model.remote.spec import (
    FROZEN_ACTIONS_KEY,
    KeyPath,
    RemoteCamera,
    RemoteLayout,
    RemoteResize,
    RemoteSpec,
    key_text,
)


def resize_with_pad(image: np.ndarray, height: int, width: int) -> np.ndarray:
    """HxWxC uint8 -> height x width x C: scaled to fit (bilinear), centered on black. Unchanged if already sized."""
    source_h, source_w = image.shape[:2]
    if (source_h, source_w) == (height, width):
        return image
    ratio = max(source_w / width, source_h / height)
    scaled_h, scaled_w = int(source_h / ratio), int(source_w / ratio)
    scaled = Image.fromarray(image).resize((scaled_w, scaled_h), resample=Image.BILINEAR)
    canvas = Image.new(scaled.mode, (width, height), 0)
    canvas.paste(scaled, (max(0, int((width - scaled_w) / 2)), max(0, int((height - scaled_h) / 2))))
    return np.asarray(canvas)


def _plain_resize(image: np.ndarray, height: int, width: int) -> np.ndarray:
    if image.shape[:2] == (height, width):
        return image
    return np.asarray(Image.fromarray(image).resize((width, height), resample=Image.BILINEAR))


def camera_array(camera: RemoteCamera, image: np.ndarray) -> np.ndarray:
    """One camera's HxWx3 uint8 RGB frame as the server wants it (size, layout, dtype)."""
    image = np.asarray(image)
    if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        raise InputError(f"camera '{camera.name}': expected an HxWx3 uint8 image, got {image.dtype} "
                         f"{list(image.shape)}")
    height, width = camera.size
    if camera.resize is RemoteResize.RESIZE_WITH_PAD:
        sized = resize_with_pad(image, height, width)
    else:
        sized = _plain_resize(image, height, width)
    if camera.layout is RemoteLayout.CHW:
        sized = sized.transpose(2, 0, 1)
    if camera.dtype == "float32":
        return np.ascontiguousarray(sized, dtype=np.float32) / np.float32(255.0)
    return np.ascontiguousarray(sized)


def _put(request: dict[str, Any], key: KeyPath, value: Any) -> None:
    node = request
    for part in key[:-1]:
        node = node.setdefault(part, {})
    node[key[-1]] = value


def build_request(spec: RemoteSpec, obs: Observation) -> dict[str, Any]:
    """The request dict; InputError when the observation lacks what the mapping needs."""
    request: dict[str, Any] = {}
    for camera in spec.cameras:
        image = obs.images.get(camera.name)
        if image is None:
            raise InputError(f"missing image from camera '{camera.name}' (the server needs "
                             f"{[c.name for c in spec.cameras]}, got {sorted(obs.images)})")
        _put(request, camera.key, camera_array(camera, image))
    if spec.state is not None:
        state = None if obs.state is None else np.asarray(obs.state, dtype=np.float64).reshape(-1)
        if state is None or state.shape[0] != spec.state.dim or not np.all(np.isfinite(state)):
            got = "none" if state is None else f"{state.shape[0]} values" + (
                "" if np.all(np.isfinite(state)) else " (non-finite)")
            raise InputError(f"state: the server takes {spec.state.dim} finite values "
                             f"({', '.join(f'{key_text(k.key)}[{k.dim}]' for k in spec.state.keys)}), got {got}")
        offset = 0
        for part in spec.state.keys:
            _put(request, part.key, state[offset:offset + part.dim].astype(spec.state.dtype))
            offset += part.dim
    if spec.prompt_key is not None:
        if not isinstance(obs.instruction, str):
            raise InputError(f"instruction must be a string, got {type(obs.instruction).__name__}")
        _put(request, spec.prompt_key, obs.instruction)
    if spec.actions.max_frozen_steps and obs.frozen_actions is not None and len(obs.frozen_actions):
        request[FROZEN_ACTIONS_KEY] = np.asarray(obs.frozen_actions[: spec.actions.max_frozen_steps],
                                                 dtype=np.float64)
    return request


def blank_observation(spec: RemoteSpec) -> Observation:
    """Black images at the sent size, a zero state, a fixed prompt: what configure sends to check the reply."""
    images = {c.name: np.zeros((c.size[0], c.size[1], 3), dtype=np.uint8) for c in spec.cameras}
    state = np.zeros(spec.state.dim) if spec.state is not None else None
    return Observation(images, 0.0, "configure check", state)
