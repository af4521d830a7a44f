"""Parsing the model package manifest (`vla.yaml`) into the types of manifest_types, strictly.

Parsing is strict on purpose: an unknown field is usually a typo of a field that then silently took its
default, and a missing normalization or action semantics would make the robot move in the wrong units.
Every error names the dotted field path (e.g. `inputs.cameras[0].size`) and what was expected.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from enum import Enum
from typing import Any

import numpy as np

from vla_ros.core.types import ActionSemantics
from vla_ros.model.errors import ModelPackageError
from vla_ros.model.manifest_types import (
    BYTES_TOKENIZER,
    FLOAT_DTYPES,
    FORMAT_VERSION,
    IMAGE_DTYPES,
    MANIFEST_FILE,
    TOKEN_DTYPES,
    ActionSpec,
    BinEncoding,
    BinScheme,
    BinsSpec,
    CameraInput,
    ColorOrder,
    GripperSpec,
    Interpolation,
    LanguageInput,
    Layout,
    Manifest,
    Normalization,
    NormalizationKind,
    OutputKind,
    OutputSpec,
    ResizeMode,
    StateInput,
    TorchWeights,
    WeightFile,
)

# The parsing entry point and the format constants that callers of it need; the types are in manifest_types.
__all__ = ["FORMAT_VERSION", "MANIFEST_FILE", "Manifest", "parse_manifest"]


# --------------------------------------------------------------------------------------------- parsing helpers


def _describe(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


class _Section:
    """One mapping of the manifest: hands out fields by name and rejects the ones nobody asked for."""

    def __init__(self, data: object, where: str) -> None:
        if not isinstance(data, Mapping):
            raise ModelPackageError(f"{MANIFEST_FILE}: field '{where or '<root>'}': expected a mapping, "
                                    f"got {_describe(data)}")
        self._data = data
        self._where = where
        self._allowed: set[str] = set()

    def path(self, key: str) -> str:
        return f"{self._where}.{key}" if self._where else key

    def error(self, key: str, expectation: str, value: object = None) -> ModelPackageError:
        got = f", got {_describe(value)}" if value is not None else ""
        return ModelPackageError(f"{MANIFEST_FILE}: field '{self.path(key)}': expected {expectation}{got}")

    def required(self, key: str) -> Any:
        self._allowed.add(key)
        if key not in self._data:
            raise ModelPackageError(f"{MANIFEST_FILE}: missing required field '{self.path(key)}'")
        return self._data[key]

    def optional(self, key: str) -> Any:
        self._allowed.add(key)
        return self._data.get(key)

    def finish(self) -> None:
        unknown = sorted(str(k) for k in self._data if k not in self._allowed)
        if unknown:
            paths = ", ".join(f"'{self.path(k)}'" for k in unknown)
            raise ModelPackageError(f"{MANIFEST_FILE}: unknown field(s) {paths}; allowed here: "
                                    f"{', '.join(sorted(self._allowed))}")

    # typed getters ------------------------------------------------------------------------------------------
    def string(self, key: str, *, optional: bool = False) -> str | None:
        value = self.optional(key) if optional else self.required(key)
        if value is None and optional:
            return None
        if not isinstance(value, str) or not value.strip():
            raise self.error(key, "a non-empty string", value)
        return value

    def integer(self, key: str, *, minimum: int | None = None, optional: bool = False) -> int | None:
        value = self.optional(key) if optional else self.required(key)
        if value is None and optional:
            return None
        if not isinstance(value, int) or isinstance(value, bool) or (minimum is not None and value < minimum):
            bound = f" >= {minimum}" if minimum is not None else ""
            raise self.error(key, f"an integer{bound}", value)
        return value

    def number(self, key: str, *, positive: bool = False) -> float:
        value = self.required(key)
        if not isinstance(value, (int, float)) or isinstance(value, bool) or not math.isfinite(value) or (
                positive and value <= 0):
            raise self.error(key, "a finite number" + (" > 0" if positive else ""), value)
        return float(value)

    def boolean(self, key: str) -> bool:
        value = self.required(key)
        if not isinstance(value, bool):
            raise self.error(key, "true or false", value)
        return value

    def choice(self, key: str, enum: type[Enum]) -> Any:
        value = self.required(key)
        allowed = [m.value for m in enum]  # type: ignore[attr-defined]
        if value not in allowed:
            raise self.error(key, f"one of {allowed}", value)
        return enum(value)

    def one_of(self, key: str, allowed: tuple[str, ...]) -> str:
        value = self.required(key)
        if value not in allowed:
            raise self.error(key, f"one of {list(allowed)}", value)
        return value

    def vector(self, key: str, length: int, *, positive: bool = False) -> np.ndarray:
        value = self.required(key)
        ok = isinstance(value, list) and len(value) == length and all(
            isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) for v in value)
        if ok and positive:
            ok = all(v > 0 for v in value)
        if not ok:
            kind = "positive finite numbers" if positive else "finite numbers"
            raise self.error(key, f"a list of {length} {kind}", value)
        return np.asarray(value, dtype=np.float64)

    def bool_vector(self, key: str, length: int) -> np.ndarray:
        value = self.required(key)
        if not isinstance(value, list) or len(value) != length or not all(isinstance(v, bool) for v in value):
            raise self.error(key, f"a list of {length} booleans (true = normalized dimension)", value)
        return np.asarray(value, dtype=bool)

    def size(self, key: str, *, optional: bool = False) -> tuple[int, int] | None:
        value = self.optional(key) if optional else self.required(key)
        if value is None and optional:
            return None
        if not (isinstance(value, list) and len(value) == 2 and all(
                isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in value)):
            raise self.error(key, "[height, width] as two positive integers", value)
        return int(value[0]), int(value[1])

    def section(self, key: str, *, optional: bool = False) -> _Section | None:
        value = self.optional(key) if optional else self.required(key)
        if value is None and optional:
            return None
        return _Section(value, self.path(key))


def _weight_file(sec: _Section, *, draft: bool) -> WeightFile:
    file_name = sec.string("file")
    assert file_name is not None
    if file_name.startswith("/") or ".." in file_name.replace("\\", "/").split("/"):
        raise sec.error("file", "a path relative to the package directory, inside it", file_name)
    sha = sec.optional("sha256")
    if sha is None and draft:
        sec.finish()
        return WeightFile(file_name, None)
    if not (isinstance(sha, str) and len(sha) == 64 and all(c in "0123456789abcdef" for c in sha)):
        if sha is None:
            raise ModelPackageError(f"{MANIFEST_FILE}: missing required field '{sec.path('sha256')}' "
                                    f"(sha256 of {file_name})")
        raise sec.error("sha256", "64 lowercase hex characters (sha256 of the file)", sha)
    sec.finish()
    return WeightFile(file_name, sha)


def _normalization(sec: _Section, dim: int) -> Normalization:
    kind = sec.choice("kind", NormalizationKind)
    if kind is NormalizationKind.NONE:
        sec.finish()
        return Normalization(kind)
    mask = sec.bool_vector("mask", dim)
    if kind is NormalizationKind.MEAN_STD:
        mean = sec.vector("mean", dim)
        std = sec.vector("std", dim, positive=True)
        sec.finish()
        return Normalization(kind, mean=mean, std=std, mask=mask)
    low = sec.vector("low", dim)
    high = sec.vector("high", dim)
    if np.any(high[mask] <= low[mask]):
        raise sec.error("high", "high > low for every normalized dimension", sec.optional("high"))
    sec.finish()
    return Normalization(kind, low=low, high=high, mask=mask)


def _camera(sec: _Section) -> CameraInput:
    name = sec.string("name")
    tensor = sec.string("tensor")
    size = sec.size("size")
    resize = sec.choice("resize", ResizeMode)
    interpolation = sec.choice("interpolation", Interpolation)
    pad_value = sec.integer("pad_value", minimum=0)
    assert pad_value is not None
    if pad_value > 255:
        raise sec.error("pad_value", "an integer in [0, 255]", pad_value)
    color_order = sec.choice("color_order", ColorOrder)
    layout = sec.choice("layout", Layout)
    dtype = sec.one_of("dtype", IMAGE_DTYPES)
    scale = sec.number("scale", positive=True)
    mean = sec.vector("mean", 3)
    std = sec.vector("std", 3, positive=True)
    if dtype == "uint8" and (scale != 1.0 or np.any(mean != 0.0) or np.any(std != 1.0)):
        raise sec.error("dtype", "float32/float16 when scale/mean/std are not 1/0/1 (uint8 feeds raw pixels)",
                        dtype)
    source_size = sec.size("source_size", optional=True)
    sec.finish()
    assert name is not None and tensor is not None and size is not None
    return CameraInput(name, tensor, size, resize, interpolation, pad_value, color_order, layout, dtype, scale,
                       (float(mean[0]), float(mean[1]), float(mean[2])),
                       (float(std[0]), float(std[1]), float(std[2])), source_size)


def _language(sec: _Section, *, draft: bool) -> LanguageInput:
    raw_tok = sec.required("tokenizer")
    tokenizer: WeightFile | None
    if raw_tok == BYTES_TOKENIZER:
        tokenizer = None
    elif isinstance(raw_tok, Mapping):
        tok_sec = sec.section("tokenizer")
        assert tok_sec is not None
        tokenizer = _weight_file(tok_sec, draft=draft)
    else:
        raise sec.error("tokenizer", f"'{BYTES_TOKENIZER}' or {{file: tokenizer.json, sha256: ...}}", raw_tok)
    tensor = sec.string("tensor")
    mask_tensor = sec.string("mask_tensor", optional=True)
    max_length = sec.integer("max_length", minimum=1)
    pad_id = sec.integer("pad_id", minimum=0)
    dtype = sec.one_of("dtype", TOKEN_DTYPES)
    sec.finish()
    assert tensor is not None and max_length is not None and pad_id is not None
    return LanguageInput(tokenizer, tensor, mask_tensor, max_length, pad_id, dtype)


def _state(sec: _Section) -> StateInput:
    tensor = sec.string("tensor")
    dim = sec.integer("dim", minimum=1)
    assert tensor is not None and dim is not None
    dtype = sec.one_of("dtype", FLOAT_DTYPES)
    norm_sec = sec.section("normalization")
    assert norm_sec is not None
    normalization = _normalization(norm_sec, dim)
    sec.finish()
    return StateInput(tensor, dim, dtype, normalization)


def _bins(sec: _Section) -> BinsSpec:
    scheme = sec.choice("scheme", BinScheme)
    n_bins = sec.integer("n_bins", minimum=2)
    encoding = sec.choice("encoding", BinEncoding)
    assert n_bins is not None
    vocab_size: int | None = None
    token_offset: int | None = None
    if scheme is BinScheme.OPENVLA:
        if n_bins < 3:
            raise sec.error("n_bins", "at least 3 edges for the openvla scheme (n_bins - 1 centers)", n_bins)
        vocab_size = sec.integer("vocab_size", minimum=n_bins)
    elif encoding is BinEncoding.TOKEN_IDS:
        token_offset = sec.integer("token_offset", minimum=0)
    sec.finish()
    return BinsSpec(scheme, n_bins, encoding, vocab_size, token_offset)


def _outputs(sec: _Section) -> OutputSpec:
    kind = sec.choice("kind", OutputKind)
    tensor = sec.string("tensor")
    horizon = sec.integer("horizon", minimum=1)
    action_dim = sec.integer("action_dim", minimum=1)
    bins = None
    if kind is OutputKind.BINS:
        bins_sec = sec.section("bins")
        assert bins_sec is not None
        bins = _bins(bins_sec)
    sec.finish()
    assert tensor is not None and horizon is not None and action_dim is not None
    return OutputSpec(kind, tensor, horizon, action_dim, bins)


def _gripper(sec: _Section, action_dim: int) -> GripperSpec:
    index = sec.integer("index", minimum=0)
    assert index is not None
    if index >= action_dim:
        raise sec.error("index", f"an action dimension index in [0, {action_dim - 1}]", index)
    model_open = sec.number("model_open")
    model_closed = sec.number("model_closed")
    if model_open == model_closed:
        raise sec.error("model_closed", "a value different from model_open", model_closed)
    robot_open = sec.number("robot_open")
    robot_closed = sec.number("robot_closed")
    binarize = sec.boolean("binarize")
    sec.finish()
    return GripperSpec(index, model_open, model_closed, robot_open, robot_closed, binarize)


def _action(sec: _Section, action_dim: int) -> ActionSpec:
    semantics = sec.choice("semantics", ActionSemantics)
    norm_sec = sec.section("normalization")
    assert norm_sec is not None
    normalization = _normalization(norm_sec, action_dim)
    sec.required("gripper")  # the key must be present; `null` says "no gripper dimension" explicitly
    gripper_sec = sec.section("gripper", optional=True)
    gripper = _gripper(gripper_sec, action_dim) if gripper_sec is not None else None
    sec.finish()
    # Cartesian semantics fix the number of non-gripper action dimensions; joint semantics follow the robot.
    expected = semantics.cartesian_dims
    if expected is not None:
        arm_dims = action_dim - (1 if gripper is not None else 0)
        if arm_dims != expected:
            raise ModelPackageError(
                f"{MANIFEST_FILE}: field 'outputs.action_dim': semantics {semantics.value} needs {expected} "
                f"arm dimensions (+1 with a gripper), got action_dim={action_dim}"
                f"{' with a gripper' if gripper else ''}")
    return ActionSpec(semantics, normalization, gripper)


def _torch_weights(sec: _Section, *, draft: bool) -> TorchWeights:
    module = sec.string("module")
    assert module is not None
    mod_path, sep, cls_name = module.partition(":")
    if not sep or not mod_path or not cls_name.isidentifier():
        raise sec.error("module", "'python.module.path:ClassName'", module)
    sd_sec = sec.section("state_dict", optional=True)
    state_dict = _weight_file(sd_sec, draft=draft) if sd_sec is not None else None
    kwargs = sec.required("kwargs")
    if not isinstance(kwargs, Mapping) or not all(isinstance(k, str) for k in kwargs):
        raise sec.error("kwargs", "a mapping of constructor keyword arguments ({} for none)", kwargs)
    sec.finish()
    return TorchWeights(module, state_dict, dict(kwargs))


def parse_header(root: _Section) -> tuple[str, str | None]:
    """format_version (must be this runtime's), name and the optional description of any package kind."""
    version = root.integer("format_version", minimum=1)
    if version != FORMAT_VERSION:
        raise root.error("format_version", f"{FORMAT_VERSION} (the version this runtime reads)", version)
    name = root.string("name")
    description = root.optional("description")
    if description is not None and not isinstance(description, str):
        raise root.error("description", "a string", description)
    return name, description


def parse_manifest(data: object, *, draft: bool = False) -> Manifest:
    """Validate a loaded vla.yaml mapping. `draft=True` (export tool only) allows sha256 values to be absent."""
    if isinstance(data, Mapping) and "remote" in data:
        from vla_ros.model.remote.manifest import parse_remote_manifest  # it builds on this module's helpers

        return parse_remote_manifest(data)
    root = _Section(data, "")
    name, description = parse_header(root)

    inputs = root.section("inputs")
    assert inputs is not None
    cam_list = inputs.required("cameras")
    if not isinstance(cam_list, list) or not cam_list:
        raise inputs.error("cameras", "a non-empty list of camera inputs", cam_list)
    cameras = tuple(_camera(_Section(c, inputs.path(f"cameras[{i}]"))) for i, c in enumerate(cam_list))
    names = [c.name for c in cameras]
    if len(set(names)) != len(names):
        raise inputs.error("cameras", "unique camera names", names)
    lang_sec = inputs.section("language", optional=True)
    inputs.required("language")  # the key must be present; `null` says "no language input" explicitly
    language = _language(lang_sec, draft=draft) if lang_sec is not None else None
    inputs.required("state")
    state_sec = inputs.section("state", optional=True)
    state = _state(state_sec) if state_sec is not None else None
    inputs.finish()

    out_sec = root.section("outputs")
    assert out_sec is not None
    outputs = _outputs(out_sec)
    act_sec = root.section("action")
    assert act_sec is not None
    action = _action(act_sec, outputs.action_dim)
    control_period_s = root.number("control_period_s", positive=True)

    weights = root.section("weights")
    assert weights is not None
    onnx_sec = weights.section("onnx", optional=True)
    onnx = _weight_file(onnx_sec, draft=draft) if onnx_sec is not None else None
    torch_sec = weights.section("torch", optional=True)
    torch_weights = _torch_weights(torch_sec, draft=draft) if torch_sec is not None else None
    if onnx is None and torch_weights is None:
        raise weights.error("onnx", "an ONNX file (weights.onnx) and/or a torch module (weights.torch)",
                            "neither given")
    weights.finish()
    root.finish()

    tensors = [c.tensor for c in cameras]
    if language is not None:
        tensors += [language.tensor] + ([language.mask_tensor] if language.mask_tensor else [])
    if state is not None:
        tensors.append(state.tensor)
    if len(set(tensors)) != len(tensors) or outputs.tensor in tensors:
        raise ModelPackageError(f"{MANIFEST_FILE}: tensor names must be unique across inputs and outputs, got "
                                f"inputs {tensors} and output '{outputs.tensor}'")
    assert name is not None
    return Manifest(name=name, description=description or "", cameras=cameras, language=language, state=state,
                    outputs=outputs, action=action, control_period_s=control_period_s, onnx=onnx,
                    torch=torch_weights, format_version=FORMAT_VERSION,
                    raw=dict(data) if isinstance(data, Mapping) else {})
