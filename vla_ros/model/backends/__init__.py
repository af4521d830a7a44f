"""Inference backends behind one interface: run(feeds) -> the manifest's output tensor (numpy, batch 1)."""

from vla_ros.model.backends.base import InferenceSession

__all__ = ["InferenceSession"]
