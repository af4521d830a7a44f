"""Parity checks of the export that only some package kinds need (the common ones: export.py)."""

from __future__ import annotations

import dataclasses

import numpy as np

from vla_ros.core.types import Observation
from vla_ros.model.policy import ModelPolicy


def compare_frozen_prefix(reference: ModelPolicy, candidate: ModelPolicy, observations: list[Observation],
                          thresholds):  # -> export.ParityResult (imported lazily: export imports this module)
    """Real-time chunking on both backends: each observation gets a frozen prefix (the torch chunk's own later
    rows, so the values are plausible), and the chunks must agree; on both, the prefix must come out as given."""
    from vla_ros.training.export import ParityResult, cosine_similarity

    steps = reference.max_frozen_steps
    ref_actions, cand_actions, kept_error = [], [], 0.0
    for obs in observations:
        plain = reference.infer(obs)
        frozen = plain[1:1 + steps]
        conditioned = dataclasses.replace(obs, frozen_actions=frozen)
        ref, cand = reference.infer(conditioned), candidate.infer(conditioned)
        kept_error = max(kept_error, float(np.max(np.abs(ref[:steps] - frozen))),
                         float(np.max(np.abs(cand[:steps] - frozen))))
        ref_actions.append(ref)
        cand_actions.append(cand)
    ref_all, cand_all = np.stack(ref_actions), np.stack(cand_actions)
    max_abs = float(np.max(np.abs(ref_all - cand_all)))
    cosine = cosine_similarity(ref_all, cand_all)
    # The prefix passes through float32 model space and back: it must survive to float32 precision.
    passed = bool(np.isfinite(max_abs) and max_abs <= thresholds.max_abs and cosine >= thresholds.min_cosine
                  and kept_error <= 1e-4)
    return ParityResult(f"{candidate.session.name} frozen_prefix={steps}", len(observations), max_abs, cosine,
                        kept_error, thresholds, passed)
