"""The ROS-free pipeline: inputs -> policy -> chunk scheduler -> safety -> command, composed from the stages.

`Pipeline` runs threaded inside vla_node, or hand-driven (`activate(now, hand_driven=True)`) where the caller
steps inference and control ticks on its own clock. `FakePolicy` stands in for a model in tests.
"""

from vla_ros.pipeline.checks import PipelineError
from vla_ros.pipeline.fake_policy import FakePolicy
from vla_ros.pipeline.pipeline import ControlOutput, Pipeline

__all__ = ["ControlOutput", "FakePolicy", "Pipeline", "PipelineError"]
