"""Model runtime: model packages (vla.yaml), backends (TensorRT / onnxruntime / torch), decoding.

Public API (used by the ROS node):
    load_model_package(path) -> ModelPackage
    create_policy(package, backend="auto", options=None) -> (ModelPolicy, BackendSelection)
See vla_ros/model/README.md for the manifest format.
"""

from vla_ros.model.errors import (
    BackendUnavailable,
    InputError,
    InvalidModelOutput,
    ModelPackageError,
    PolicyUnavailable,
)
from vla_ros.model.options import RuntimeOptions
from vla_ros.model.package import ModelPackage, load_model_package
from vla_ros.model.policy import ModelPolicy
from vla_ros.model.runtime import BackendSelection, create_policy

__all__ = [
    "BackendSelection",
    "BackendUnavailable",
    "InputError",
    "InvalidModelOutput",
    "ModelPackage",
    "ModelPackageError",
    "ModelPolicy",
    "PolicyUnavailable",
    "RuntimeOptions",
    "create_policy",
    "load_model_package",
]
