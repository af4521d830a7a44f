"""What a model package manifest (`vla.yaml`) says, as typed values: its enums and frozen dataclasses.

vla_ros.model.manifest builds these from the YAML (strictly, see there); the runtime (preprocess, decoding,
backends) reads only these types. Every field is documented in README.md.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

import numpy as np

from vla_ros.core.types import ActionSemantics
from vla_ros.model.remote.spec import RemoteSpec

FORMAT_VERSION = 1
MANIFEST_FILE = "vla.yaml"


class ResizeMode(str, Enum):
    RESIZE = "resize"  # stretch to the target size (aspect ratio not kept)
    CENTER_CROP = "center_crop"  # crop the largest centered region with the target aspect ratio, then resize
    LETTERBOX = "letterbox"  # scale to fit inside the target, pad the rest with pad_value


class Interpolation(str, Enum):
    NEAREST = "nearest"
    LINEAR = "linear"
    AREA = "area"
    CUBIC = "cubic"


class ColorOrder(str, Enum):
    RGB = "rgb"
    BGR = "bgr"


class Layout(str, Enum):
    NCHW = "nchw"
    NHWC = "nhwc"


class NormalizationKind(str, Enum):
    MEAN_STD = "mean_std"  # normalized = (x - mean) / std
    BOUNDS = "bounds"  # normalized = 2 (x - low) / (high - low) - 1  (low/high: q01/q99 or min/max)
    NONE = "none"  # the model works in robot units


class OutputKind(str, Enum):
    CONTINUOUS = "continuous"  # [1, T, D] float actions (normalized as declared)
    BINS = "bins"  # [1, T, D, L] logits or [1, T, D] token ids over uniform bins in [-1, 1]
    # Two graphs each (weights.onnx_graphs): a prefill over image + prompt, then one step per action token with
    # a KV cache; the tokens map onto bins as for `bins` with token ids.
    AUTOREGRESSIVE_TOKENS = "autoregressive_tokens"
    # Two graphs: a prefix run once per observation, and a velocity field integrated over `flow.steps` steps.
    FLOW_MATCHING = "flow_matching"

    @property
    def returns_actions(self) -> bool:
        """The session returns a [1, T, D] float chunk (normalized as declared) rather than bins or tokens."""
        return self in (OutputKind.CONTINUOUS, OutputKind.FLOW_MATCHING)

    @property
    def graph_roles(self) -> tuple[str, ...]:
        """The ONNX graphs (weights.onnx_graphs keys) a package of this kind ships; empty for one-graph kinds."""
        return _GRAPH_ROLES.get(self, ())


_GRAPH_ROLES = {OutputKind.AUTOREGRESSIVE_TOKENS: ("prefill", "step"),
                OutputKind.FLOW_MATCHING: ("prefix", "velocity")}


class BinScheme(str, Enum):
    RT2 = "rt2"  # n_bins equal bins over [-1, 1], value = bin center; token id = bin + token_offset
    OPENVLA = "openvla"  # n_bins edges linspace(-1, 1) -> n_bins - 1 centers; token id counted down from vocab_size


class BinEncoding(str, Enum):
    LOGITS = "logits"
    TOKEN_IDS = "token_ids"


IMAGE_DTYPES = ("float32", "float16", "uint8")
FLOAT_DTYPES = ("float32", "float16")
TOKEN_DTYPES = ("int64", "int32")
BYTES_TOKENIZER = "bytes"


@dataclass(frozen=True)
class WeightFile:
    """A file of the package and its sha256 (hex); sha256 is None only in an export draft."""

    file: str
    sha256: str | None


@dataclass(frozen=True)
class CameraInput:
    name: str
    tensor: str
    size: tuple[int, int]  # (h, w) the model sees
    resize: ResizeMode
    interpolation: Interpolation
    pad_value: int  # letterbox fill, 0..255 in source pixel units
    color_order: ColorOrder
    layout: Layout
    dtype: str
    scale: float
    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    source_size: tuple[int, int] | None  # (h, w) the camera must deliver, or None for any size


@dataclass(frozen=True)
class LanguageInput:
    tokenizer: WeightFile | None  # None means the built-in byte-level tokenizer ("bytes")
    tensor: str
    mask_tensor: str | None
    max_length: int
    pad_id: int
    dtype: str


@dataclass(frozen=True)
class Normalization:
    kind: NormalizationKind
    mean: np.ndarray | None = None
    std: np.ndarray | None = None
    low: np.ndarray | None = None
    high: np.ndarray | None = None
    mask: np.ndarray | None = None  # bool [D]; True = this dimension is normalized, False = passed through


@dataclass(frozen=True)
class StateInput:
    tensor: str
    dim: int
    dtype: str
    normalization: Normalization


@dataclass(frozen=True)
class BinsSpec:
    scheme: BinScheme
    n_bins: int
    encoding: BinEncoding
    vocab_size: int | None  # openvla only
    token_offset: int | None  # rt2 token ids only

    @property
    def logits_size(self) -> int:
        """Length of the last logits axis: bins for rt2, the whole vocabulary for openvla."""
        if self.scheme is BinScheme.OPENVLA:
            assert self.vocab_size is not None
            return self.vocab_size
        return self.n_bins


@dataclass(frozen=True)
class AutoregressiveSpec:
    """How the prefill and step graphs of an `autoregressive_tokens` package are wired (README.md)."""

    vocab_size: int  # length of the logits both graphs return, [1, vocab_size]
    token: str  # step input: the previous token, [1, 1] int64
    past: str  # step input: the KV cache [layers, 2, 1, heads, S, head_dim], S growing by one per step
    present: str  # output of both graphs: the KV cache including the newest position
    restrict_to_action_tokens: bool  # greedy argmax only over the bins' token-id range


@dataclass(frozen=True)
class RtcSpec:
    """Real-time chunking: the model was trained with frozen action prefixes of up to max_delay_steps steps."""

    max_delay_steps: int


@dataclass(frozen=True)
class FlowSpec:
    """How the prefix and velocity graphs of a `flow_matching` package are wired (README.md)."""

    steps: int  # Euler steps from noise (time 0) to actions (time 1)
    noise_seed: int  # the initial noise is drawn from this seed on every call: same observation, same chunk
    context: tuple[str, ...]  # prefix-graph outputs fed, under the same names, to the velocity graph
    noisy_actions: str  # velocity input [1, T, D]
    time: str  # velocity input [1, T]: each action's flow time (1 = clean, as a frozen RTC prefix is)
    rtc: RtcSpec | None


@dataclass(frozen=True)
class OutputSpec:
    kind: OutputKind
    tensor: str
    horizon: int
    action_dim: int
    bins: BinsSpec | None
    autoregressive: AutoregressiveSpec | None = None
    flow: FlowSpec | None = None


@dataclass(frozen=True)
class GripperSpec:
    """Maps the model's gripper value (after unnormalization) linearly onto the robot's convention."""

    index: int
    model_open: float
    model_closed: float
    robot_open: float
    robot_closed: float
    binarize: bool  # snap to robot_open / robot_closed at the midpoint


@dataclass(frozen=True)
class ActionSpec:
    semantics: ActionSemantics
    normalization: Normalization
    gripper: GripperSpec | None


@dataclass(frozen=True)
class TorchWeights:
    module: str  # "python.module.path:ClassName"
    state_dict: WeightFile | None
    kwargs: Mapping[str, Any]


@dataclass(frozen=True)
class Manifest:
    name: str
    description: str
    cameras: tuple[CameraInput, ...]
    language: LanguageInput | None
    state: StateInput | None
    outputs: OutputSpec
    action: ActionSpec
    control_period_s: float
    onnx: WeightFile | None
    torch: TorchWeights | None
    format_version: int = FORMAT_VERSION
    # Multi-graph kinds (outputs.kind.graph_roles): role -> ONNX file, in place of `onnx`.
    onnx_graphs: Mapping[str, WeightFile] = field(default_factory=dict)
    # A remote package (no weights): the server and the request mapping. Its cameras, state and outputs above are
    # derived from this section so that the rest of the runtime reads every package alike.
    remote: RemoteSpec | None = None
    raw: Mapping[str, Any] = field(default_factory=dict, compare=False, repr=False)

    def input_tensor_names(self) -> list[str]:
        names = [c.tensor for c in self.cameras]
        if self.language is not None:
            names.append(self.language.tensor)
            if self.language.mask_tensor is not None:
                names.append(self.language.mask_tensor)
        if self.state is not None:
            names.append(self.state.tensor)
        return names

    def input_shapes(self) -> dict[str, tuple[tuple[int, ...], str]]:
        """tensor name -> (shape with batch 1, dtype) exactly as the runtime feeds it."""
        shapes: dict[str, tuple[tuple[int, ...], str]] = {}
        for cam in self.cameras:
            h, w = cam.size
            shape = (1, 3, h, w) if cam.layout is Layout.NCHW else (1, h, w, 3)
            shapes[cam.tensor] = (shape, cam.dtype)
        if self.language is not None:
            shapes[self.language.tensor] = ((1, self.language.max_length), self.language.dtype)
            if self.language.mask_tensor is not None:
                shapes[self.language.mask_tensor] = ((1, self.language.max_length), self.language.dtype)
        if self.state is not None:
            shapes[self.state.tensor] = ((1, self.state.dim), self.state.dtype)
        return shapes

    def output_shape(self) -> tuple[tuple[int, ...], str | None]:
        """(shape with batch 1, dtype or None when any float/int dtype is acceptable)."""
        out = self.outputs
        if out.kind.returns_actions:
            return (1, out.horizon, out.action_dim), "float"
        assert out.bins is not None
        if out.bins.encoding is BinEncoding.LOGITS:
            return (1, out.horizon, out.action_dim, out.bins.logits_size), "float"
        return (1, out.horizon, out.action_dim), "int"
