"""Loading a model package: parse vla.yaml, verify every file's sha256, check the ONNX graph's signature."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import yaml

from vla_ros.core.types import ActionSemantics
from vla_ros.model.errors import BackendUnavailable, ModelPackageError
from vla_ros.model.manifest import parse_manifest
from vla_ros.model.manifest_types import MANIFEST_FILE, Manifest, WeightFile


def sha256_file(path: Path, chunk_bytes: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while block := handle.read(chunk_bytes):
            digest.update(block)
    return digest.hexdigest()


def _verify_file(root: Path, weight: WeightFile, field_path: str) -> Path:
    path = root / weight.file
    if not path.is_file():
        raise ModelPackageError(f"{field_path}.file: '{weight.file}' does not exist in {root}")
    if weight.sha256 is None:
        raise ModelPackageError(f"{field_path}.sha256: missing for '{weight.file}'")
    actual = sha256_file(path)
    if actual != weight.sha256:
        raise ModelPackageError(f"{field_path}.sha256: '{weight.file}' has sha256 {actual}, the manifest expects "
                                f"{weight.sha256} (file changed or corrupted)")
    return path


class ModelPackage:
    """A validated model package. Construct with load_model_package()."""

    def __init__(self, manifest: Manifest, root: Path) -> None:
        self.manifest = manifest
        self.root = root
        self.onnx_path: Path | None = None
        if manifest.onnx is not None:
            self.onnx_path = _verify_file(root, manifest.onnx, "weights.onnx")
        self.torch_state_dict_path: Path | None = None
        if manifest.torch is not None and manifest.torch.state_dict is not None:
            self.torch_state_dict_path = _verify_file(root, manifest.torch.state_dict, "weights.torch.state_dict")
        if manifest.language is not None and manifest.language.tokenizer is not None:
            _verify_file(root, manifest.language.tokenizer, "inputs.language.tokenizer")
        # Multi-graph kinds: role ("prefill", "step" / "prefix", "velocity") -> verified ONNX file.
        self.graph_paths: dict[str, Path] = {
            role: _verify_file(root, weight, f"weights.onnx_graphs.{role}")
            for role, weight in manifest.onnx_graphs.items()}
        if self.onnx_path is not None:
            check_onnx_signature(self.onnx_path, manifest)
        if self.graph_paths:
            check_graph_signatures(self.graph_paths, manifest)

    # the public surface the node uses ------------------------------------------------------------------------
    @property
    def name(self) -> str:
        return self.manifest.name

    @property
    def camera_names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.manifest.cameras)

    @property
    def state_dim(self) -> int | None:
        return None if self.manifest.state is None else self.manifest.state.dim

    @property
    def action_dim(self) -> int:
        return self.manifest.outputs.action_dim

    @property
    def horizon(self) -> int:
        return self.manifest.outputs.horizon

    @property
    def semantics(self) -> ActionSemantics:
        return self.manifest.action.semantics

    @property
    def control_period(self) -> float:
        return self.manifest.control_period_s

    @property
    def gripper_index(self) -> int | None:
        return None if self.manifest.action.gripper is None else self.manifest.action.gripper.index

    @property
    def absolute_dims(self) -> tuple[int, ...]:
        """Action dims that are absolute targets although the semantics is joint_position_delta: the gripper,
        which the manifest maps onto the robot's absolute open/closed values. Empty for other semantics."""
        gripper = self.manifest.action.gripper
        if gripper is not None and self.semantics is ActionSemantics.JOINT_POSITION_DELTA:
            return (gripper.index,)
        return ()

    @property
    def onnx_sha256(self) -> str | None:
        return None if self.manifest.onnx is None else self.manifest.onnx.sha256

    def graph(self, role: str) -> Path:
        """The ONNX file of one graph of a multi-graph package ("prefill", "step", "prefix", "velocity")."""
        path = self.graph_paths.get(role)
        if path is None:
            raise BackendUnavailable(f"package '{self.name}' ships no ONNX graph '{role}' (weights.onnx_graphs); "
                                     "only torch can run it")
        return path

    def expected_image_size(self, camera: str) -> tuple[int, int] | None:
        for cam in self.manifest.cameras:
            if cam.name == camera:
                return cam.source_size
        raise KeyError(f"model '{self.name}' has no camera '{camera}' (cameras: {list(self.camera_names)})")

    def __repr__(self) -> str:
        return f"ModelPackage(name={self.name!r}, root={str(self.root)!r})"


def read_manifest_file(path: Path, *, draft: bool = False) -> Manifest:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ModelPackageError(f"{path}: cannot read the manifest: {exc}") from exc
    except yaml.YAMLError as exc:
        raise ModelPackageError(f"{path}: not valid YAML: {exc}") from exc
    try:
        return parse_manifest(data, draft=draft)
    except ModelPackageError as exc:
        raise ModelPackageError(f"{path.parent.name}/{exc}") from None


def load_model_package(path: str | Path) -> ModelPackage:
    """Load and validate a package: a directory containing vla.yaml, or the vla.yaml path itself."""
    path = Path(path).expanduser()
    manifest_path = path / MANIFEST_FILE if path.is_dir() else path
    if not manifest_path.is_file():
        raise ModelPackageError(f"model package: no {MANIFEST_FILE} at {manifest_path}")
    return ModelPackage(read_manifest_file(manifest_path), manifest_path.parent.resolve())


# ---------------------------------------------------------------------------------------------- ONNX signature


def _input_fields(manifest: Manifest) -> dict[str, str]:
    """tensor name -> the manifest field that declares it (for error messages)."""
    fields = {c.tensor: f"inputs.cameras[{i}] ({c.name})" for i, c in enumerate(manifest.cameras)}
    if manifest.language is not None:
        fields[manifest.language.tensor] = "inputs.language.tensor"
        if manifest.language.mask_tensor is not None:
            fields[manifest.language.mask_tensor] = "inputs.language.mask_tensor"
    if manifest.state is not None:
        fields[manifest.state.tensor] = "inputs.state"
    return fields


def _onnx_dims(value_info: object) -> list[int | str]:
    dims: list[int | str] = []
    for dim in value_info.type.tensor_type.shape.dim:  # type: ignore[attr-defined]
        dims.append(dim.dim_value if dim.HasField("dim_value") else (dim.dim_param or "?"))
    return dims


def _shape_matches(dims: list[int | str], expected: tuple[int, ...]) -> bool:
    return len(dims) == len(expected) and all(isinstance(d, str) or d == e for d, e in zip(dims, expected))


def check_onnx_signature(onnx_path: Path, manifest: Manifest) -> None:
    """Every ONNX input is declared and fed with the shape/dtype the graph wants; the output is as declared."""
    import onnx
    from onnx import helper

    try:
        model = onnx.load(str(onnx_path), load_external_data=False)
    except Exception as exc:  # onnx raises DecodeError and friends
        raise ModelPackageError(f"weights.onnx.file: '{onnx_path.name}' is not a readable ONNX model: {exc}") from exc
    initializers = {init.name for init in model.graph.initializer}
    graph_inputs = {vi.name: vi for vi in model.graph.input if vi.name not in initializers}
    graph_outputs = {vi.name: vi for vi in model.graph.output}
    fields = _input_fields(manifest)
    name = onnx_path.name

    undeclared = sorted(set(graph_inputs) - set(fields))
    if undeclared:
        raise ModelPackageError(f"{name}: graph input(s) {undeclared} are not declared in the manifest inputs "
                                f"(declared: {sorted(fields)})")
    for tensor, (shape, dtype) in manifest.input_shapes().items():
        if tensor not in graph_inputs:
            raise ModelPackageError(f"{fields[tensor]}: tensor '{tensor}' is not an input of {name} "
                                    f"(graph inputs: {sorted(graph_inputs)})")
        dims = _onnx_dims(graph_inputs[tensor])
        if not _shape_matches(dims, shape):
            raise ModelPackageError(f"{fields[tensor]}: {name} input '{tensor}' has shape {dims}, the manifest "
                                    f"feeds {list(shape)}")
        graph_dtype = np.dtype(helper.tensor_dtype_to_np_dtype(graph_inputs[tensor].type.tensor_type.elem_type))
        if graph_dtype != np.dtype(dtype):
            raise ModelPackageError(f"{fields[tensor]}: {name} input '{tensor}' has dtype {graph_dtype}, the "
                                    f"manifest feeds {dtype}")

    out_name = manifest.outputs.tensor
    if out_name not in graph_outputs:
        raise ModelPackageError(f"outputs.tensor: '{out_name}' is not an output of {name} "
                                f"(graph outputs: {sorted(graph_outputs)})")
    shape, kind = manifest.output_shape()
    dims = _onnx_dims(graph_outputs[out_name])
    if not _shape_matches(dims, shape):
        raise ModelPackageError(f"outputs: {name} output '{out_name}' has shape {dims}, the manifest "
                                f"(kind {manifest.outputs.kind.value}, horizon, action_dim"
                                f"{', bins' if manifest.outputs.bins else ''}) expects {list(shape)}")
    out_dtype = np.dtype(helper.tensor_dtype_to_np_dtype(graph_outputs[out_name].type.tensor_type.elem_type))
    wanted = np.floating if kind == "float" else np.integer
    if not np.issubdtype(out_dtype, wanted):
        raise ModelPackageError(f"outputs: {name} output '{out_name}' has dtype {out_dtype}, the manifest "
                                f"(kind {manifest.outputs.kind.value}) expects {kind} values")


def _graph_io(onnx_path: Path) -> tuple[set[str], set[str]]:
    import onnx

    try:
        model = onnx.load(str(onnx_path), load_external_data=False)
    except Exception as exc:  # onnx raises DecodeError and friends
        raise ModelPackageError(f"weights.onnx_graphs: '{onnx_path.name}' is not a readable ONNX model: "
                                f"{exc}") from exc
    initializers = {init.name for init in model.graph.initializer}
    inputs = {vi.name for vi in model.graph.input if vi.name not in initializers}
    return inputs, {vi.name for vi in model.graph.output}


def check_graph_signatures(graph_paths: dict[str, Path], manifest: Manifest) -> None:
    """Each graph of a multi-graph kind takes and returns the tensors its manifest wiring names.

    The first graph (prefill / prefix) takes the model inputs; the second takes what passes between the graphs.
    Shapes are checked by the parity run at export; here a renamed or missing tensor fails at load, not mid-run.
    """
    out = manifest.outputs
    model_inputs = set(_input_fields(manifest))
    if out.autoregressive is not None:
        ar = out.autoregressive
        wanted = {"prefill": (model_inputs, {out.tensor, ar.present}),
                  "step": ({ar.token, ar.past}, {out.tensor, ar.present})}
    else:
        assert out.flow is not None
        flow = out.flow
        wanted = {"prefix": (model_inputs, set(flow.context)),
                  "velocity": ({*flow.context, flow.noisy_actions, flow.time}, {out.tensor})}
    for role, (inputs, outputs) in wanted.items():
        path = graph_paths[role]
        graph_inputs, graph_outputs = _graph_io(path)
        where = f"weights.onnx_graphs.{role} ({path.name})"
        if graph_inputs != inputs:
            raise ModelPackageError(f"{where}: graph inputs {sorted(graph_inputs)}, the manifest wiring feeds "
                                    f"{sorted(inputs)}")
        missing = outputs - graph_outputs
        if missing:
            raise ModelPackageError(f"{where}: output(s) {sorted(missing)} missing (graph outputs: "
                                    f"{sorted(graph_outputs)})")
