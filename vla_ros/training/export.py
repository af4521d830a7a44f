"""torch module -> ONNX (-> TensorRT engine) -> parity report -> a complete model package.

Used by the `vla_export` CLI and by package_builder. The input is a *draft* manifest: a full vla.yaml whose
sha256 values may be absent (they are computed here). The manifest is written last, and only when every
exported backend matches torch within the thresholds, so a package with a vla.yaml has passed parity.

Parity compares the decoded actions (robot units, [T, D]) of the full policy path (same preprocessing,
same decoding) between torch eager and each exported backend, over N random observations:
    max_abs = max |a_backend - a_torch|,  cosine = <a_b, a_t> / (|a_b| |a_t|) over all samples flattened.
Defaults: FP32 cosine >= 0.999 and max_abs <= 1e-3; FP16 (TensorRT --fp16) cosine >= 0.999 and max_abs <= 1e-2.
autoregressive_tokens packages must also decode the very same token ids; flow_matching packages are compared
from the same seeded noise, with and without a frozen real-time-chunking prefix (export_parity.py).

The ONNX graph has a dynamic batch axis (axis 0 of every input and of the output; vla_node feeds batch 1,
vla_serve stacks the observations of several robots). Parity therefore also runs the onnxruntime graph once on
all the samples stacked into one batch and compares each row with torch on that sample alone (backend name
suffixed " batch=N"). TensorRT engines keep an optimization profile pinned to batch 1 and are compared per sample.
"""

from __future__ import annotations

import copy
import inspect
import json
import logging
import shutil
import warnings
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from vla_ros.core.types import Observation
from vla_ros.model.backends.base import InferenceSession
from vla_ros.model.backends.onnxruntime_backend import CPU_PROVIDER
from vla_ros.model.backends.torch_backend import build_torch_module
from vla_ros.model.decoding import ActionDecoder
from vla_ros.model.errors import BackendUnavailable, ModelPackageError
from vla_ros.model.manifest import MANIFEST_FILE, Manifest, parse_manifest
from vla_ros.model.manifest_types import OutputKind
from vla_ros.model.options import RuntimeOptions
from vla_ros.model.package import ModelPackage, sha256_file
from vla_ros.model.policy import ModelPolicy
from vla_ros.model.runtime import open_session
from vla_ros.training.export_graphs import export_graphs

_LOG = logging.getLogger("vla_ros.training.export")

REPORT_FILE = "export_report.json"
ONNX_OPSET = 17


@dataclass(frozen=True)
class ParityThresholds:
    min_cosine: float = 0.999
    max_abs: float = 1e-3


FP32_THRESHOLDS = ParityThresholds()
FP16_THRESHOLDS = ParityThresholds(min_cosine=0.999, max_abs=1e-2)


@dataclass
class ParityResult:
    backend: str
    n: int
    max_abs: float
    cosine: float
    raw_max_abs: float  # on the raw output tensor (logits / normalized actions), for diagnosis
    thresholds: ParityThresholds
    passed: bool


@dataclass
class ExportResult:
    out_dir: Path
    manifest_written: bool
    parity: list[ParityResult] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return all(p.passed for p in self.parity)

    def as_dict(self) -> dict[str, Any]:
        return {"out_dir": str(self.out_dir), "manifest_written": self.manifest_written, "passed": self.passed,
                "parity": [asdict(p) for p in self.parity], "skipped": [list(s) for s in self.skipped]}


def cosine_similarity(a: np.ndarray, b: np.ndarray) -> float:
    a, b = np.ravel(a).astype(np.float64), np.ravel(b).astype(np.float64)
    na, nb = np.linalg.norm(a), np.linalg.norm(b)
    if na == 0.0 and nb == 0.0:
        return 1.0  # both exactly zero: identical
    if na == 0.0 or nb == 0.0:
        return 0.0
    return float(np.clip(np.dot(a, b) / (na * nb), -1.0, 1.0))  # rounding can land a hair above 1


_INSTRUCTIONS = ("pick up the red cube", "move the arm to the left", "open the gripper", "stack the blocks",
                 "push the button", "")


def random_observations(manifest: Manifest, n: int, seed: int = 0) -> list[Observation]:
    """Observations that exercise the whole input path: source-size images, varied text, plausible state."""
    rng = np.random.default_rng(seed)
    observations = []
    for i in range(n):
        images = {}
        for cam in manifest.cameras:
            h, w = cam.source_size or cam.size
            images[cam.name] = rng.integers(0, 256, size=(h, w, 3), dtype=np.uint8)
        state = None
        if manifest.state is not None:
            state = rng.normal(0.0, 0.5, size=manifest.state.dim)
        observations.append(Observation(images=images, stamp=float(i), instruction=_INSTRUCTIONS[i % 6],
                                        state=state))
    return observations


def compare_policies(reference: ModelPolicy, candidate: ModelPolicy, observations: list[Observation],
                     thresholds: ParityThresholds) -> ParityResult:
    ref_actions, cand_actions, raw_diff = [], [], 0.0
    for obs in observations:
        feeds = reference.preprocess(obs)
        ref_raw, cand_raw = reference.session.run(feeds), candidate.session.run(feeds)
        raw_diff = max(raw_diff, float(np.max(np.abs(ref_raw.astype(np.float64) - cand_raw.astype(np.float64)))))
        ref_actions.append(reference.infer(obs))
        cand_actions.append(candidate.infer(obs))
    ref, cand = np.stack(ref_actions), np.stack(cand_actions)
    max_abs = float(np.max(np.abs(ref - cand)))
    cosine = cosine_similarity(ref, cand)
    passed = bool(np.isfinite(max_abs) and max_abs <= thresholds.max_abs and cosine >= thresholds.min_cosine)
    return ParityResult(candidate.session.name if not candidate.session.providers else
                        f"{candidate.session.name}[{','.join(candidate.session.providers)}]",
                        len(observations), max_abs, cosine, raw_diff, thresholds, passed)


def compare_batched(reference: ModelPolicy, candidate: ModelPolicy, observations: list[Observation],
                    thresholds: ParityThresholds) -> ParityResult:
    """One call of the candidate's graph on every observation stacked on the batch axis, row by row against
    torch run on each observation alone: what vla_serve's batched calls rely on."""
    if len(observations) < 2:
        observations = observations * 2  # a batch of one would not exercise the batch axis
    feeds = [reference.preprocess(obs) for obs in observations]
    stacked = {name: np.concatenate([f[name] for f in feeds]) for name in feeds[0]}
    batched_raw = candidate.session.run(stacked)
    decode = ActionDecoder(reference.package.manifest.outputs, reference.package.manifest.action)
    raw_diff = 0.0
    ref_actions, cand_actions = [], []
    for row, (obs, single) in enumerate(zip(observations, feeds)):
        ref_raw = reference.session.run(single)
        cand_raw = batched_raw[row:row + 1]
        raw_diff = max(raw_diff, float(np.max(np.abs(ref_raw.astype(np.float64) - cand_raw.astype(np.float64)))))
        ref_actions.append(reference.infer(obs))
        cand_actions.append(decode(cand_raw))
    ref, cand = np.stack(ref_actions), np.stack(cand_actions)
    max_abs = float(np.max(np.abs(ref - cand)))
    cosine = cosine_similarity(ref, cand)
    passed = bool(np.isfinite(max_abs) and max_abs <= thresholds.max_abs and cosine >= thresholds.min_cosine)
    name = candidate.session.name if not candidate.session.providers else \
        f"{candidate.session.name}[{','.join(candidate.session.providers)}]"
    return ParityResult(f"{name} batch={len(observations)}", len(observations), max_abs, cosine, raw_diff,
                        thresholds, passed)


BATCH_AXIS = "batch"


def export_onnx(module: Any, manifest: Manifest, onnx_path: Path, opset: int = ONNX_OPSET) -> None:
    """Trace the module with the manifest's input shapes/dtypes; inputs are passed in forward()'s order.
    Axis 0 of every input and of the output is left dynamic, so one call can run several observations."""
    import torch

    params = [p for p in inspect.signature(module.forward).parameters if p != "self"]
    shapes = manifest.input_shapes()
    missing = [name for name in shapes if name not in params]
    if missing:
        raise ModelPackageError(f"weights.torch.module: forward() of {type(module).__name__} has no parameter(s) "
                                f"{missing} for the manifest input tensors (forward takes {params})")
    order = [p for p in params if p in shapes]
    example = []
    for name in order:
        shape, dtype = shapes[name]
        example.append(torch.zeros(shape, dtype=getattr(torch, dtype)))
    onnx_path.parent.mkdir(parents=True, exist_ok=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the legacy exporter announces its own deprecation on every call
        torch.onnx.export(module, tuple(example), str(onnx_path), input_names=order,
                          output_names=[manifest.outputs.tensor], opset_version=opset, do_constant_folding=True,
                          dynamic_axes={name: {0: BATCH_AXIS} for name in [*order, manifest.outputs.tensor]},
                          dynamo=False)
    _declare_output_shape(onnx_path, manifest)


def _declare_output_shape(onnx_path: Path, manifest: Manifest) -> None:
    """The tracer may name the output's non-batch dims symbolically once the batch axis is dynamic; the graph
    declares the manifest's (horizon, action_dim[, bins]) instead, so the package check still compares them."""
    import onnx

    model = onnx.load(str(onnx_path))
    shape, _ = manifest.output_shape()
    [output] = [o for o in model.graph.output if o.name == manifest.outputs.tensor]
    for dim, size in zip(output.type.tensor_type.shape.dim[1:], shape[1:]):
        dim.Clear()
        dim.dim_value = size
    onnx.save(model, str(onnx_path))


def _set_sha(section: dict[str, Any], path: Path) -> None:
    section["sha256"] = sha256_file(path)


def export_package(draft: Mapping[str, Any], out_dir: Path, *, module: Any = None, source_dir: Path | None = None,
                   samples: int = 8, seed: int = 0, tensorrt: str = "auto", fp16: bool = False,
                   thresholds: ParityThresholds | None = None, options: RuntimeOptions | None = None) -> ExportResult:
    """Write weights + ONNX into out_dir, check parity, and write vla.yaml only if parity passes.

    module: the torch module to export (already holding its weights); None = build it from the draft's
        weights.torch (module + state_dict in source_dir).
    tensorrt: "auto" (build and compare an engine when TensorRT + GPU are present), "on" (required), "off".
    """
    if tensorrt not in ("auto", "on", "off"):
        raise ValueError(f"tensorrt={tensorrt!r}: expected 'auto', 'on' or 'off'")
    if samples < 1:
        raise ValueError(f"samples={samples}: expected >= 1")
    manifest = parse_manifest(draft, draft=True)
    multi_graph = bool(manifest.outputs.kind.graph_roles)
    if manifest.torch is None or (manifest.onnx is None and not multi_graph) or (
            multi_graph and not manifest.onnx_graphs):
        raise ModelPackageError("export needs a draft with both weights.torch (the source module) and the ONNX "
                                "file(s) to write (weights.onnx, or weights.onnx_graphs for multi-graph kinds)")
    if manifest.torch.state_dict is None:
        raise ModelPackageError("weights.torch.state_dict: export needs a state_dict file name to write")
    out_dir = Path(out_dir)
    source_dir = Path(source_dir) if source_dir is not None else out_dir
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / MANIFEST_FILE).unlink(missing_ok=True)  # a stale manifest must not survive a failed export
    final = copy.deepcopy(dict(draft))
    weights = final["weights"]
    options = options or RuntimeOptions()

    import torch

    if module is None:
        src = source_dir / manifest.torch.state_dict.file
        if manifest.torch.state_dict.sha256 is not None and sha256_file(src) != manifest.torch.state_dict.sha256:
            raise ModelPackageError(f"weights.torch.state_dict.sha256: '{src}' does not match the draft")
        module = build_torch_module(manifest.torch, src)
    module = module.eval()
    state_path = out_dir / manifest.torch.state_dict.file
    torch.save(module.state_dict(), str(state_path))
    _set_sha(weights["torch"]["state_dict"], state_path)

    language = final["inputs"].get("language")
    if manifest.language is not None and manifest.language.tokenizer is not None:
        src = source_dir / manifest.language.tokenizer.file
        dst = out_dir / manifest.language.tokenizer.file
        if src.resolve() != dst.resolve():
            dst.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(src, dst)
        _set_sha(language["tokenizer"], dst)

    if multi_graph:
        for role, path in export_graphs(module, manifest, out_dir).items():
            _set_sha(weights["onnx_graphs"][role], path)
    else:
        assert manifest.onnx is not None
        onnx_path = out_dir / manifest.onnx.file
        export_onnx(module, manifest, onnx_path)
        _set_sha(weights["onnx"], onnx_path)

    package = ModelPackage(parse_manifest(final), out_dir.resolve())  # full validation incl. the ONNX signature
    reference = ModelPolicy(package, open_session(package, "torch", options, []))
    observations = random_observations(package.manifest, samples, seed)
    result = ExportResult(out_dir=out_dir, manifest_written=False)

    candidates: list[tuple[InferenceSession, ParityThresholds]] = [
        (open_session(package, "onnxruntime", options, [CPU_PROVIDER]), thresholds or FP32_THRESHOLDS)]
    if tensorrt != "off":
        try:
            trt_options = RuntimeOptions(**{**asdict(options), "trt_fp16": fp16})
            trt = open_session(package, "tensorrt", trt_options, [])
            candidates.append((trt, thresholds or (FP16_THRESHOLDS if fp16 else FP32_THRESHOLDS)))
        except BackendUnavailable as exc:
            if tensorrt == "on":
                raise
            result.skipped.append(("tensorrt", str(exc)))
            _LOG.info("export: no TensorRT engine: %s", exc)

    for session, limits in candidates:
        parity = compare_policies(reference, ModelPolicy(package, session), observations, limits)
        if package.manifest.outputs.kind is OutputKind.AUTOREGRESSIVE_TOKENS:
            # Greedy decoding must pick the very same tokens: one different token is a different action, and
            # every later token is conditioned on it. raw_max_abs compares the token ids themselves.
            parity.passed = parity.passed and parity.raw_max_abs == 0.0
        result.parity.append(parity)
    onnxruntime_session, limits = candidates[0]
    if package.manifest.outputs.kind is not OutputKind.AUTOREGRESSIVE_TOKENS:  # greedy decoding runs per robot
        result.parity.append(compare_batched(reference, ModelPolicy(package, onnxruntime_session), observations,
                                             limits))
    if package.manifest.outputs.flow is not None and package.manifest.outputs.flow.rtc is not None:
        from vla_ros.training.export_parity import compare_frozen_prefix  # it imports this module

        result.parity.append(compare_frozen_prefix(reference, ModelPolicy(package, onnxruntime_session),
                                                   observations, limits))

    if not result.passed:
        failed = [p for p in result.parity if not p.passed]
        _LOG.error("export: parity failed, %s not written: %s", MANIFEST_FILE,
                   "; ".join(f"{p.backend}: max_abs={p.max_abs:.3g} cosine={p.cosine:.6f}" for p in failed))
    else:
        with (out_dir / MANIFEST_FILE).open("w", encoding="utf-8") as handle:
            handle.write("# Model package manifest (format: vla_ros/model/README.md). Written by vla_export.\n")
            yaml.safe_dump(final, handle, sort_keys=False, default_flow_style=None, width=120)
        result.manifest_written = True
    (out_dir / REPORT_FILE).write_text(json.dumps(result.as_dict(), indent=2) + "\n", encoding="utf-8")
    return result
