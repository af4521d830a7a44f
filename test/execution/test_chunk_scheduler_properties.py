"""Property: whatever chunks arrive when, the sampled action is finite and inside what the chunks proposed."""

from __future__ import annotations

import itertools

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from vla_ros.core.config import Blending, ExecutionConfig
from vla_ros.core.types import ActionChunk, ActionSemantics
from vla_ros.execution.scheduler import ChunkScheduler

DIM = 2
_values = st.floats(-10.0, 10.0, allow_nan=False, allow_infinity=False)


@st.composite
def chunk_events(draw: st.DrawFn) -> tuple:
    """(time advance, obs age at arrival, period, actions [T, DIM]) or a sample-only advance."""
    advance = draw(st.floats(0.0, 0.15))
    if draw(st.booleans()):
        return ("sample", advance)
    horizon = draw(st.integers(1, 12))
    actions = np.array(draw(st.lists(st.lists(_values, min_size=DIM, max_size=DIM), min_size=horizon,
                                     max_size=horizon)))
    return ("add", advance, draw(st.floats(-0.1, 0.5)), draw(st.floats(0.02, 0.2)), actions)


@settings(max_examples=150, deadline=None)
@given(blending=st.sampled_from(list(Blending)), crossfade=st.floats(0.0, 0.3), decay=st.floats(0.0, 2.0),
       rate_semantics=st.booleans(), events=st.lists(chunk_events(), min_size=1, max_size=25))
def test_when_any_chunks_arrive_at_any_times_expect_samples_finite_and_within_proposed_actions(
        blending: Blending, crossfade: float, decay: float, rate_semantics: bool, events: list) -> None:
    config = ExecutionConfig(blending=blending, crossfade_s=crossfade, ensemble_decay=decay,
                             trajectory_horizon_s=0.4, trajectory_points=4)
    semantics = ActionSemantics.JOINT_VELOCITY if rate_semantics else ActionSemantics.JOINT_POSITION
    scheduler = ChunkScheduler(config, action_dim=DIM)
    accepted: list[tuple[float, ActionChunk]] = []  # (arrival, chunk)
    now = 100.0
    for event in events:
        now += event[1]
        if event[0] == "add":
            _, _, age, period, actions = event
            new = ActionChunk(actions, now - age, period, semantics, 0)
            if scheduler.add(new, now).accepted:
                accepted.append((now, new))
        value = scheduler.sample(now)
        if value is None:
            continue
        contributors = [c.actions for arrival, c in accepted
                        if covers(c, arrival, now, blending, rate_semantics, accepted, crossfade)]
        assert contributors, "a value was produced with no chunk covering this time"
        proposed = np.concatenate(contributors)
        if rate_semantics:  # a rate chunk means zero after its last step
            proposed = np.vstack([proposed, np.zeros(DIM)])
        assert np.all(np.isfinite(value))
        tolerance = 1e-9 * (1.0 + np.abs(proposed).max())
        assert np.all(value >= proposed.min(axis=0) - tolerance)
        assert np.all(value <= proposed.max(axis=0) + tolerance)

        times = [t for t, _ in scheduler.trajectory(now)]
        assert all(0.0 < t <= config.trajectory_horizon_s + 1e-12 for t in times)
        assert all(b > a for a, b in itertools.pairwise(times))


def covers(chunk: ActionChunk, arrival: float, t: float, blending: Blending, rate: bool,
           accepted: list[tuple[float, ActionChunk]], crossfade: float) -> bool:
    """Which chunks may contribute at t. ENSEMBLE: exactly the chunks whose remaining steps span t. LATEST: the
    newest chunk whose fade-in has completed and any newer ones still fading in; the oldest of those may have
    just ended (it then holds its last target / zero rate)."""
    if arrival > t:
        return False
    if blending is Blending.LATEST:
        faded_in = [a for a, _ in accepted if a + crossfade <= t]
        return not faded_in or arrival >= max(faded_in)
    end = chunk.due_time(chunk.horizon - 1) + (chunk.period if rate else 0.0)
    return max(chunk.obs_stamp, arrival) - 1e-9 <= t <= end + 1e-9
