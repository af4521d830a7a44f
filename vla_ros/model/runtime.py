"""create_policy(): pick a backend (explicitly or `auto`) and wrap it in a ModelPolicy.

auto tries, in order: tensorrt -> onnxruntime with CUDA/TensorRT providers -> onnxruntime CPU -> torch,
recording and logging why each one was skipped. A remote package (vla.yaml with `remote:`) has one backend,
`remote` (an openpi-protocol policy server, vla_ros/model/remote/), which auto picks for it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field

from vla_ros.core.types import Policy
from vla_ros.model.backends.base import InferenceSession
from vla_ros.model.backends.onnxruntime_backend import CPU_PROVIDER, OnnxRuntimeSession, available_gpu_providers
from vla_ros.model.backends.tensorrt_backend import TensorRTSession
from vla_ros.model.backends.torch_backend import TorchSession
from vla_ros.model.errors import BackendUnavailable, ModelPackageError
from vla_ros.model.manifest_types import OutputKind
from vla_ros.model.options import RuntimeOptions
from vla_ros.model.package import ModelPackage
from vla_ros.model.policy import ModelPolicy

_LOG = logging.getLogger("vla_ros.model")

BACKENDS = ("auto", "tensorrt", "onnxruntime", "torch", "remote")
AUTO_ORDER = ("tensorrt", "onnxruntime_gpu", "onnxruntime_cpu", "torch")


@dataclass
class BackendSelection:
    name: str  # "tensorrt" | "onnxruntime" | "torch"
    providers: list[str]
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (candidate, why) in the order tried


def _needs_onnx(package: ModelPackage, backend: str) -> None:
    if package.onnx_path is None and not package.graph_paths:
        raise BackendUnavailable(f"the {backend} backend needs ONNX weights (weights.onnx or weights.onnx_graphs), "
                                 f"and package '{package.name}' only ships a torch module")


def open_session(package: ModelPackage, backend: str, options: RuntimeOptions,
                 providers: list[str]) -> InferenceSession:
    """One session of `backend` ("tensorrt" | "onnxruntime" | "torch") on exactly `providers` (onnxruntime), no
    fallback: what `auto` tries in turn, and what the export's parity check compares. Multi-graph kinds open
    their own kind of session."""
    kind = package.manifest.outputs.kind
    if kind.graph_roles:
        if kind is OutputKind.AUTOREGRESSIVE_TOKENS:
            from vla_ros.model.autoregressive import create_session as create_kind_session
        else:
            from vla_ros.model.flow import create_session as create_kind_session
        return create_kind_session(package, backend, options, providers)
    if backend == "torch":
        return TorchSession(package.manifest.torch, package.torch_state_dict_path, options)
    assert package.onnx_path is not None
    if backend == "tensorrt":
        return TensorRTSession(package.onnx_path, package.manifest, package.onnx_sha256, options, package.root)
    return OnnxRuntimeSession(package.onnx_path, package.manifest.outputs.tensor, options, providers)


def _tensorrt(package: ModelPackage, options: RuntimeOptions) -> InferenceSession:
    _needs_onnx(package, "tensorrt")
    return open_session(package, "tensorrt", options, [])


def _onnxruntime_gpu(package: ModelPackage, options: RuntimeOptions) -> InferenceSession:
    _needs_onnx(package, "onnxruntime")
    providers = list(options.providers) if options.providers else available_gpu_providers()
    if not any(p != CPU_PROVIDER for p in providers):
        raise BackendUnavailable("onnxruntime has no CUDA/TensorRT execution provider here (CPU-only onnxruntime; "
                                 "GPU machines: pip install onnxruntime-gpu)")
    return open_session(package, "onnxruntime", options,
                 [*providers, CPU_PROVIDER] if CPU_PROVIDER not in providers else providers)


def _onnxruntime_cpu(package: ModelPackage, options: RuntimeOptions) -> InferenceSession:
    _needs_onnx(package, "onnxruntime")
    return open_session(package, "onnxruntime", options, [CPU_PROVIDER])


def _onnxruntime_explicit(package: ModelPackage, options: RuntimeOptions) -> InferenceSession:
    if options.providers:
        _needs_onnx(package, "onnxruntime")
        return open_session(package, "onnxruntime", options, list(options.providers))
    try:
        return _onnxruntime_gpu(package, options)
    except BackendUnavailable:
        return _onnxruntime_cpu(package, options)


def _torch(package: ModelPackage, options: RuntimeOptions) -> InferenceSession:
    return open_session(package, "torch", options, [])


_CANDIDATES: dict[str, Callable[[ModelPackage, RuntimeOptions], InferenceSession]] = {
    "tensorrt": _tensorrt,
    "onnxruntime_gpu": _onnxruntime_gpu,
    "onnxruntime_cpu": _onnxruntime_cpu,
    "torch": _torch,
}


def create_session(package: ModelPackage, backend: str = "auto",
                   options: RuntimeOptions | None = None) -> tuple[InferenceSession, BackendSelection]:
    options = options or RuntimeOptions()
    if backend not in BACKENDS:
        raise ModelPackageError(f"backend={backend!r}: expected one of {list(BACKENDS)}")
    if backend == "remote" or package.manifest.remote is not None:
        raise BackendUnavailable(f"package '{package.name}' with backend {backend}: a remote policy has no local "
                                 "session (create_policy connects to its server)")
    if backend != "auto":
        factory = _onnxruntime_explicit if backend == "onnxruntime" else _CANDIDATES[backend]
        try:
            session = factory(package, options)
        except (BackendUnavailable, ModelPackageError):
            raise
        except Exception as exc:  # a library error while loading: report it as a package/backend problem
            raise ModelPackageError(f"backend {backend}: could not load model '{package.name}': {exc}") from exc
        return session, BackendSelection(session.name, list(session.providers))

    skipped: list[tuple[str, str]] = []
    for candidate in AUTO_ORDER:
        try:
            session = _CANDIDATES[candidate](package, options)
        except Exception as exc:  # any reason a candidate fails is a reason to try the next one
            reason = str(exc) or type(exc).__name__
            skipped.append((candidate, reason))
            _LOG.warning("backend auto: skipping %s: %s", candidate, reason)
            continue
        _LOG.info("backend auto: using %s (providers %s)", session.name, session.providers)
        return session, BackendSelection(session.name, list(session.providers), skipped)
    details = "; ".join(f"{name}: {why}" for name, why in skipped)
    raise BackendUnavailable(f"no backend can run model '{package.name}': {details}")


def _create_remote_policy(package: ModelPackage, backend: str,
                          options: RuntimeOptions) -> tuple[Policy, BackendSelection]:
    if backend not in ("auto", "remote"):
        raise BackendUnavailable(f"backend {backend}: package '{package.name}' is a remote package (a policy "
                                 "server, no weights); use backend remote or auto")
    from vla_ros.model.remote.policy import RemotePolicy  # websockets and msgpack only when a remote is used

    policy = RemotePolicy(package, options.remote)
    return policy, BackendSelection("remote", [policy.url])


def create_policy(package: ModelPackage, backend: str = "auto",
                  options: RuntimeOptions | None = None) -> tuple[Policy, BackendSelection]:
    """Load the package on a backend (or connect to its policy server); see the module docstring."""
    if backend == "remote" or package.manifest.remote is not None:
        return _create_remote_policy(package, backend, options or RuntimeOptions())
    session, selection = create_session(package, backend, options)
    return ModelPolicy(package, session), selection
