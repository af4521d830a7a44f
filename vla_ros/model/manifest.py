"""Parsing the model package manifest (`vla.yaml`) into the types of manifest_types, strictly.

Parsing is strict on purpose: an unknown field is usually a typo of a field that then silently took its
default, and a missing normalization or action semantics would make the robot move in the wrong units.
Every error names the dotted field path (e.g. `inputs.cameras[0].size`) and what was expected.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from vla_ros.core.types import ActionSemantics
from vla_ros.model.errors import ModelPackageError
from vla_ros.model.manifest_graphs import parse_autoregressive, parse_flow, parse_onnx_graphs
from vla_ros.model.manifest_reader import Section as _Section
from vla_ros.model.manifest_reader import weight_file as _weight_file
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
    assert tensor is not None and horizon is not None and action_dim is not None
    bins = None
    if kind in (OutputKind.BINS, OutputKind.AUTOREGRESSIVE_TOKENS):
        bins_sec = sec.section("bins")
        assert bins_sec is not None
        bins = _bins(bins_sec)
    autoregressive = flow = None
    if kind is OutputKind.AUTOREGRESSIVE_TOKENS:
        ar_sec = sec.section("autoregressive")
        assert ar_sec is not None
        autoregressive = parse_autoregressive(ar_sec, bins, horizon, action_dim)
    elif kind is OutputKind.FLOW_MATCHING:
        flow_sec = sec.section("flow")
        assert flow_sec is not None
        flow = parse_flow(flow_sec, horizon)
    sec.finish()
    return OutputSpec(kind, tensor, horizon, action_dim, bins, autoregressive, flow)


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


def _onnx_weights(weights: _Section, kind: OutputKind, *,
                  draft: bool) -> tuple[WeightFile | None, dict[str, WeightFile]]:
    """weights.onnx for one-graph kinds, weights.onnx_graphs (one file per role) for the multi-graph ones."""
    wanted, other = ("onnx_graphs", "onnx") if kind.graph_roles else ("onnx", "onnx_graphs")
    if weights.optional(other) is not None:
        raise weights.error(other, f"no such field for kind {kind.value}: its ONNX weights go in weights.{wanted}",
                            "a value")
    sec = weights.section(wanted, optional=True)
    if sec is None:
        return None, {}
    if kind.graph_roles:
        return None, parse_onnx_graphs(sec, kind, draft=draft)
    return _weight_file(sec, draft=draft), {}


def _graph_wiring_tensors(outputs: OutputSpec) -> list[str]:
    """The output tensor plus the tensors that pass between the graphs of a multi-graph kind."""
    names = [outputs.tensor]
    if outputs.autoregressive is not None:
        names += [outputs.autoregressive.token, outputs.autoregressive.past, outputs.autoregressive.present]
    if outputs.flow is not None:
        names += [*outputs.flow.context, outputs.flow.noisy_actions, outputs.flow.time]
    return names


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
    onnx, onnx_graphs = _onnx_weights(weights, outputs.kind, draft=draft)
    torch_sec = weights.section("torch", optional=True)
    torch_weights = _torch_weights(torch_sec, draft=draft) if torch_sec is not None else None
    if onnx is None and not onnx_graphs and torch_weights is None:
        key = "onnx_graphs" if outputs.kind.graph_roles else "onnx"
        raise weights.error(key, f"ONNX weights (weights.{key}) and/or a torch module (weights.torch)",
                            "neither given")
    weights.finish()
    root.finish()

    tensors = [c.tensor for c in cameras]
    if language is not None:
        tensors += [language.tensor] + ([language.mask_tensor] if language.mask_tensor else [])
    if state is not None:
        tensors.append(state.tensor)
    wiring = _graph_wiring_tensors(outputs)
    if len(set(tensors)) != len(tensors) or len(set(wiring)) != len(wiring) or set(tensors) & set(wiring):
        raise ModelPackageError(f"{MANIFEST_FILE}: tensor names must be unique across inputs and outputs, got "
                                f"inputs {tensors} and outputs {wiring}")
    assert name is not None
    return Manifest(name=name, description=description or "", cameras=cameras, language=language, state=state,
                    outputs=outputs, action=action, control_period_s=control_period_s, onnx=onnx,
                    torch=torch_weights, format_version=FORMAT_VERSION, onnx_graphs=onnx_graphs,
                    raw=dict(data) if isinstance(data, Mapping) else {})
