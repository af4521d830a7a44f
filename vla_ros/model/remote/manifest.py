"""Parsing a remote package's vla.yaml: `remote:` in place of `inputs`, `outputs` and `weights`.

As strict as the local format (vla_ros/model/manifest.py, whose helpers this uses): unknown fields are errors
and every error names the dotted field path. The cameras, state and outputs of the returned Manifest are derived
from the remote section, so ModelPackage's properties (camera names, state and action dims, horizon) and the
action decoding (normalization, gripper mapping) read a remote package like any other.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from vla_ros.model.errors import ModelPackageError
from vla_ros.model.manifest import _action, parse_header
from vla_ros.model.manifest_reader import Section as _Section
from vla_ros.model.manifest_types import (
    FORMAT_VERSION,
    MANIFEST_FILE,
    CameraInput,
    ColorOrder,
    Interpolation,
    Layout,
    Manifest,
    Normalization,
    NormalizationKind,
    OutputKind,
    OutputSpec,
    ResizeMode,
    StateInput,
)
from vla_ros.model.remote.spec import (
    REMOTE_IMAGE_DTYPES,
    REMOTE_STATE_DTYPES,
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

REMOTE_SCHEMES = ("ws", "wss")


def check_url(url: object, field: str) -> str:
    """A ws:// or wss:// URL with a host; ModelPackageError naming `field` otherwise."""
    parts = urlsplit(url) if isinstance(url, str) else None
    if parts is None or parts.scheme not in REMOTE_SCHEMES or not parts.hostname:
        raise ModelPackageError(f"{field}: expected a ws:// or wss:// URL with a host (e.g. ws://gpu-box:8000), "
                                f"got {url!r}")
    try:
        parts.port  # noqa: B018 - raises ValueError on a port that is not a number
    except ValueError as error:
        raise ModelPackageError(f"{field}: {error} in {url!r}") from None
    return str(url)


def _key(sec: _Section, name: str) -> KeyPath:
    value = sec.required(name)
    if isinstance(value, str) and value.strip():
        return (value,)
    if isinstance(value, list) and value and all(isinstance(v, str) and v.strip() for v in value):
        return tuple(value)
    raise sec.error(name, "a key (a non-empty string) or a path into nested dicts (a list of strings)", value)


def _camera(sec: _Section) -> RemoteCamera:
    name = sec.string("name")
    key = _key(sec, "key")
    size = sec.size("size")
    resize = sec.choice("resize", RemoteResize)
    layout = sec.choice("layout", RemoteLayout)
    dtype = sec.one_of("dtype", REMOTE_IMAGE_DTYPES)
    sec.finish()
    assert name is not None and size is not None
    return RemoteCamera(name, key, size, resize, layout, dtype)


def _state(sec: _Section) -> RemoteState:
    dtype = sec.one_of("dtype", REMOTE_STATE_DTYPES)
    raw_keys = sec.required("keys")
    if not isinstance(raw_keys, list) or not raw_keys:
        raise sec.error("keys", "a non-empty list of {key, dim} in the order they make up the node's state",
                        raw_keys)
    keys = []
    for i, raw in enumerate(raw_keys):
        key_sec = _Section(raw, sec.path(f"keys[{i}]"))
        key = _key(key_sec, "key")
        dim = key_sec.integer("dim", minimum=1)
        key_sec.finish()
        assert dim is not None
        keys.append(RemoteStateKey(key, dim))
    sec.finish()
    return RemoteState(dtype, tuple(keys))


def _actions(sec: _Section) -> RemoteActions:
    key = sec.string("key")
    horizon = sec.integer("horizon", minimum=1)
    action_dim = sec.integer("action_dim", minimum=1)
    frozen = sec.integer("max_frozen_steps", minimum=0, optional=True) or 0
    sec.finish()
    assert key is not None and horizon is not None and action_dim is not None
    if frozen >= horizon:
        raise sec.error("max_frozen_steps", f"fewer steps than the chunk (horizon {horizon})", frozen)
    return RemoteActions(key, horizon, action_dim, frozen)


def _remote(sec: _Section) -> RemoteSpec:
    url = check_url(sec.required("url"), f"{MANIFEST_FILE}: field '{sec.path('url')}'")
    cam_list = sec.required("cameras")
    if not isinstance(cam_list, list) or not cam_list:
        raise sec.error("cameras", "a non-empty list of {name, key, size, resize, layout, dtype}", cam_list)
    cameras = tuple(_camera(_Section(c, sec.path(f"cameras[{i}]"))) for i, c in enumerate(cam_list))
    sec.required("state")  # present, `null` says "the server takes no state" explicitly
    state_sec = sec.section("state", optional=True)
    state = _state(state_sec) if state_sec is not None else None
    sec.required("prompt_key")
    prompt_key = _key(sec, "prompt_key") if sec.optional("prompt_key") is not None else None
    actions_sec = sec.section("actions")
    assert actions_sec is not None
    actions = _actions(actions_sec)
    sec.finish()

    names = [c.name for c in cameras]
    if len(set(names)) != len(names):
        raise sec.error("cameras", "unique camera names", names)
    keys = [c.key for c in cameras] + ([k.key for k in state.keys] if state else []) + (
        [prompt_key] if prompt_key else [])
    clashes = sorted({key_text(k) for k in keys if keys.count(k) > 1 or any(
        other != k and other[:len(k)] == k for other in keys)})
    if clashes:
        raise ModelPackageError(f"{MANIFEST_FILE}: field '{sec.path('cameras')}': request keys must be distinct "
                                f"and none may be the parent of another, clashing: {clashes}")
    return RemoteSpec(url, cameras, state, prompt_key, actions)


def _derived_camera(camera: RemoteCamera) -> CameraInput:
    """The camera as the rest of the runtime sees it: name, size, and no fixed source size."""
    resize = ResizeMode.LETTERBOX if camera.resize is RemoteResize.RESIZE_WITH_PAD else ResizeMode.RESIZE
    layout = Layout.NCHW if camera.layout is RemoteLayout.CHW else Layout.NHWC
    return CameraInput(camera.name, key_text(camera.key), camera.size, resize, Interpolation.LINEAR, 0,
                       ColorOrder.RGB, layout, camera.dtype, 1.0, (0.0, 0.0, 0.0), (1.0, 1.0, 1.0), None)


def parse_remote_manifest(data: Mapping[str, Any]) -> Manifest:
    root = _Section(data, "")
    for local_only in ("inputs", "outputs", "weights"):
        if local_only in data:
            raise ModelPackageError(f"{MANIFEST_FILE}: field '{local_only}': a remote package (it has 'remote:') "
                                    "describes its inputs and outputs in 'remote:' and has no weights; remove "
                                    f"'{local_only}'")
    name, description = parse_header(root)
    remote_sec = root.section("remote")
    assert remote_sec is not None
    remote = _remote(remote_sec)
    act_sec = root.section("action")
    assert act_sec is not None
    action = _action(act_sec, remote.actions.action_dim)
    control_period_s = root.number("control_period_s", positive=True)
    root.finish()

    state = None
    if remote.state is not None:
        state = StateInput("state", remote.state.dim, "float32", Normalization(NormalizationKind.NONE))
    outputs = OutputSpec(OutputKind.CONTINUOUS, remote.actions.key, remote.actions.horizon,
                         remote.actions.action_dim, None)
    assert name is not None
    return Manifest(name=name, description=description or "", cameras=tuple(map(_derived_camera, remote.cameras)),
                    language=None, state=state, outputs=outputs, action=action, control_period_s=control_period_s,
                    onnx=None, torch=None, format_version=FORMAT_VERSION, remote=remote,
                    raw=dict(data))
