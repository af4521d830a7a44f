"""Declare the schema of vla_ros.core.parameters on a node with full ParameterDescriptors."""

from __future__ import annotations

from rcl_interfaces.msg import (
    FloatingPointRange,
    IntegerRange,
    ParameterDescriptor,
    ParameterType,
    SetParametersResult,
)
from rclpy.node import Node
from rclpy.parameter import Parameter

from vla_ros.core.config import ConfigError
from vla_ros.core.parameters import SCHEMA, SCHEMA_BY_NAME, ParameterSpec, validate_value


def _ros_type(spec: ParameterSpec) -> int:
    if spec.kind is bool:
        return ParameterType.PARAMETER_BOOL
    if spec.kind is int:
        return ParameterType.PARAMETER_INTEGER
    if spec.kind is float:
        return ParameterType.PARAMETER_DOUBLE
    if spec.kind is str:
        return ParameterType.PARAMETER_STRING
    element = spec.default[0] if spec.default else ""  # type: ignore[index]
    return ParameterType.PARAMETER_DOUBLE_ARRAY if isinstance(element, float) else ParameterType.PARAMETER_STRING_ARRAY


def descriptor_for(spec: ParameterSpec) -> ParameterDescriptor:
    description = spec.description
    if spec.choices:
        description += f" (one of: {', '.join(spec.choices)})"
    descriptor = ParameterDescriptor(
        name=spec.name,
        type=_ros_type(spec),
        description=description,
        read_only=spec.read_only,
        additional_constraints=f"one of {list(spec.choices)}" if spec.choices else "",
    )
    if spec.min_value is not None and spec.max_value is not None:
        if spec.kind is int:
            descriptor.integer_range = [IntegerRange(from_value=int(spec.min_value), to_value=int(spec.max_value),
                                                     step=1)]
        elif spec.kind is float:
            descriptor.floating_point_range = [FloatingPointRange(from_value=float(spec.min_value),
                                                                  to_value=float(spec.max_value), step=0.0)]
    return descriptor


def declare_schema(node: Node) -> None:
    for spec in SCHEMA:
        node.declare_parameter(spec.name, spec.default, descriptor_for(spec))


def current_values(node: Node) -> dict[str, object]:
    return {spec.name: node.get_parameter(spec.name).value for spec in SCHEMA}


def validate_parameter_changes(parameters: list[Parameter]) -> SetParametersResult:
    """Refuse a `ros2 param set` that the schema refuses, with the schema's reason; others are not ours."""
    for parameter in parameters:
        spec = SCHEMA_BY_NAME.get(parameter.name)
        if spec is None:
            continue
        try:
            validate_value(spec, parameter.value)
        except ConfigError as error:
            return SetParametersResult(successful=False, reason=str(error))
    return SetParametersResult(successful=True)
