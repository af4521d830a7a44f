"""Time-correct action-chunk execution: chunks on the clock -> one command per control tick (ROS-free)."""

from vla_ros.execution.scheduler import AddResult, ChunkScheduler, is_rate_semantics
from vla_ros.execution.synthesis import CommandSynthesizer, check_compatible

__all__ = ["AddResult", "ChunkScheduler", "CommandSynthesizer", "check_compatible", "is_rate_semantics"]
