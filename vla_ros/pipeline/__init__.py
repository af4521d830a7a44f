"""The ROS-free pipeline: inputs -> policy -> chunk scheduler -> safety -> command, composed from the stages."""

from vla_ros.pipeline.pipeline import ControlOutput, Pipeline, PipelineError

__all__ = ["ControlOutput", "Pipeline", "PipelineError"]
