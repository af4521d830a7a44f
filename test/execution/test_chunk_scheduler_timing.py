"""Chunks placed on the clock: past steps skipped, stale chunks refused, instruction changes and clock resets."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from vla_ros.core.config import Blending, ExecutionConfig
from vla_ros.core.types import ActionChunk, ActionSemantics
from vla_ros.execution.scheduler import AddResult, ChunkScheduler


def ramp_chunk(obs_stamp: float, *, horizon: int = 10, period: float = 0.1, dim: int = 2, instruction_id: int = 0,
               offset: float = 0.0, semantics: ActionSemantics = ActionSemantics.JOINT_POSITION) -> ActionChunk:
    """actions[k] = k + offset in every dimension, so a value tells which step it came from."""
    actions = np.repeat(np.arange(horizon, dtype=float)[:, None], dim, axis=1) + offset
    return ActionChunk(actions, obs_stamp, period, semantics, instruction_id)


@pytest.fixture(params=[Blending.LATEST, Blending.ENSEMBLE])
def scheduler(request: pytest.FixtureRequest) -> ChunkScheduler:
    return ChunkScheduler(ExecutionConfig(blending=request.param, crossfade_s=0.1), action_dim=2)


def test_when_chunk_stamped_0_3_s_ago_with_period_0_1_expect_execution_starts_at_step_3(
        scheduler: ChunkScheduler) -> None:
    result = scheduler.add(ramp_chunk(10.0), now=10.3)
    assert result == AddResult(True, 3, "accepted")
    np.testing.assert_allclose(scheduler.sample(10.3), [3.0, 3.0])
    assert scheduler.stats["last_skipped"] == 3
    assert scheduler.stats["steps_skipped"] == 3


def test_when_chunk_arrives_between_steps_expect_value_interpolated_at_arrival_time(
        scheduler: ChunkScheduler) -> None:
    result = scheduler.add(ramp_chunk(10.0), now=10.35)
    assert result.skipped_steps == 4  # steps 0..3 were due before the chunk existed
    np.testing.assert_allclose(scheduler.sample(10.35), [3.5, 3.5])


def test_when_sampled_before_the_chunk_arrived_expect_nothing(scheduler: ChunkScheduler) -> None:
    scheduler.add(ramp_chunk(10.0), now=10.3)
    assert scheduler.sample(10.25) is None


def test_when_chunk_has_no_step_at_or_after_now_expect_rejected(scheduler: ChunkScheduler) -> None:
    result = scheduler.add(ramp_chunk(10.0, horizon=5), now=10.45)
    assert not result.accepted
    assert result.skipped_steps == 5
    assert "past" in result.reason
    assert scheduler.stats["chunks_rejected"] == 1
    assert scheduler.sample(10.45) is None


def test_when_last_step_due_exactly_now_expect_accepted(scheduler: ChunkScheduler) -> None:
    result = scheduler.add(ramp_chunk(10.0, horizon=5), now=10.4)
    assert result.accepted and result.skipped_steps == 4
    np.testing.assert_allclose(scheduler.sample(10.4), [4.0, 4.0])


def test_when_chunk_is_of_an_older_instruction_expect_rejected(scheduler: ChunkScheduler) -> None:
    scheduler.set_instruction(3)
    result = scheduler.add(ramp_chunk(10.0, instruction_id=2), now=10.05)
    assert not result.accepted
    assert "older" in result.reason


def test_when_instruction_changes_expect_queued_actions_dropped_at_once(scheduler: ChunkScheduler) -> None:
    scheduler.set_instruction(1)
    assert scheduler.add(ramp_chunk(10.0, instruction_id=1), now=10.05).accepted
    assert scheduler.sample(10.1) is not None

    scheduler.set_instruction(2)

    assert scheduler.sample(10.1) is None
    assert scheduler.stats["queue_length"] == 0
    # A chunk of the old instruction still in flight never reaches the robot.
    assert not scheduler.add(ramp_chunk(10.05, instruction_id=1), now=10.15).accepted
    assert scheduler.sample(10.2) is None
    # The next motion comes from a chunk computed with the new instruction.
    assert scheduler.add(ramp_chunk(10.15, instruction_id=2, offset=100.0), now=10.2).accepted
    np.testing.assert_allclose(scheduler.sample(10.2), [100.5, 100.5])


def test_when_chunk_of_a_newer_instruction_arrives_expect_older_chunks_dropped(scheduler: ChunkScheduler) -> None:
    scheduler.add(ramp_chunk(10.0, instruction_id=1), now=10.05)
    scheduler.add(ramp_chunk(10.05, instruction_id=2, offset=100.0), now=10.1)
    assert scheduler.instruction_id == 2
    assert scheduler.stats["queue_length"] == 1
    np.testing.assert_allclose(scheduler.sample(10.1), [100.5, 100.5])


def test_when_instruction_id_goes_backwards_expect_error(scheduler: ChunkScheduler) -> None:
    scheduler.set_instruction(5)
    with pytest.raises(ValueError, match="instruction_id=4"):
        scheduler.set_instruction(4)


def test_when_clock_jumps_backwards_expect_queue_cleared_and_stale_actions_never_replayed(
        scheduler: ChunkScheduler) -> None:
    assert not scheduler.observe_clock(50.0)
    scheduler.add(ramp_chunk(49.95, horizon=20), now=50.0)
    assert not scheduler.observe_clock(50.01)
    assert scheduler.sample(50.01) is not None

    assert scheduler.observe_clock(0.5)  # sim reset

    assert scheduler.stats["queue_length"] == 0
    assert scheduler.stats["clock_resets"] == 1
    # Nothing is played after the reset, not even when sim time later passes the old stamps again.
    for t in np.arange(0.5, 52.0, 0.25):
        assert not scheduler.observe_clock(float(t))
        assert scheduler.sample(float(t)) is None
    # A chunk in flight across the reset carries a stamp from the old timeline: refused.
    scheduler2 = ChunkScheduler(scheduler.config, action_dim=2)
    scheduler2.observe_clock(50.0)
    assert scheduler2.observe_clock(0.5)
    result = scheduler2.add(ramp_chunk(49.98), now=0.55)
    assert not result.accepted and "clock reset" in result.reason


def test_when_clock_moves_forward_or_stays_expect_no_reset(scheduler: ChunkScheduler) -> None:
    scheduler.add(ramp_chunk(10.0), now=10.0)
    assert not any(scheduler.observe_clock(t) for t in (10.0, 10.0, 10.01, 10.02))
    assert scheduler.stats["queue_length"] == 1


@pytest.mark.parametrize(("actions", "reason"), [
    (np.zeros((5, 3)), "action_dim 3"),
    (np.zeros((0, 2)), "empty"),
    (np.array([[0.0, np.nan]] * 5), "non-finite"),
])
def test_when_chunk_is_malformed_expect_rejected_with_reason(scheduler: ChunkScheduler, actions: np.ndarray,
                                                              reason: str) -> None:
    result = scheduler.add(ActionChunk(actions, 10.0, 0.1, ActionSemantics.JOINT_POSITION, 0), now=10.0)
    assert not result.accepted
    assert reason in result.reason
    assert scheduler.stats["last_reject_reason"] == result.reason


def test_when_chunk_semantics_differ_from_queued_expect_rejected(scheduler: ChunkScheduler) -> None:
    scheduler.add(ramp_chunk(10.0), now=10.0)
    result = scheduler.add(ramp_chunk(10.0, semantics=ActionSemantics.JOINT_VELOCITY), now=10.01)
    assert not result.accepted and "semantics" in result.reason


def test_when_caller_reuses_its_action_buffer_expect_queued_chunk_unchanged(scheduler: ChunkScheduler) -> None:
    chunk = ramp_chunk(10.0)
    scheduler.add(chunk, now=10.0)
    chunk.actions[:] = 999.0
    np.testing.assert_allclose(scheduler.sample(10.1), [1.0, 1.0])


def test_when_many_chunks_arrive_expect_queue_bounded_by_cap() -> None:
    scheduler = ChunkScheduler(ExecutionConfig(blending=Blending.ENSEMBLE), action_dim=2, max_chunks=4)
    for i in range(20):
        assert scheduler.add(ramp_chunk(10.0 + 0.001 * i, horizon=50), now=10.0 + 0.001 * i).accepted
    assert scheduler.stats["queue_length"] == 4
    assert scheduler.stats["chunks_accepted"] == 20


def test_when_all_chunks_have_ended_expect_none_and_empty_queue(scheduler: ChunkScheduler) -> None:
    scheduler.add(ramp_chunk(10.0, horizon=3), now=10.0)
    scheduler.add(ramp_chunk(10.05, horizon=3), now=10.06)
    assert scheduler.sample(10.2) is not None
    assert scheduler.sample(10.31) is None
    assert scheduler.stats["queue_length"] == 0


def test_when_cleared_expect_nothing_sampled_until_next_chunk(scheduler: ChunkScheduler) -> None:
    scheduler.add(ramp_chunk(10.0), now=10.0)
    scheduler.clear()
    assert scheduler.sample(10.1) is None
    scheduler.add(ramp_chunk(10.1), now=10.1)
    np.testing.assert_allclose(scheduler.sample(10.1), [0.0, 0.0])


def test_when_sample_is_mutated_by_caller_expect_queue_unaffected(scheduler: ChunkScheduler) -> None:
    scheduler.add(ramp_chunk(10.0), now=10.0)
    scheduler.sample(10.2)[:] = -1.0
    np.testing.assert_allclose(scheduler.sample(10.2), [2.0, 2.0])


def test_when_add_and_sample_run_on_different_threads_expect_every_sample_finite(
        scheduler: ChunkScheduler) -> None:
    clock = {"now": 0.0}
    errors: list[BaseException] = []
    stop = threading.Event()

    def inference() -> None:
        try:
            for i in range(300):
                now = clock["now"]
                scheduler.add(ramp_chunk(now - 0.05, horizon=20, offset=i % 7), now=now)
        except BaseException as exc:  # surfaced below; a thread's exception would otherwise vanish
            errors.append(exc)
        finally:
            stop.set()

    worker = threading.Thread(target=inference)
    worker.start()
    finite = []

    def control_tick() -> None:
        clock["now"] += 0.001
        value = scheduler.sample(clock["now"])
        if value is not None:
            finite.append(bool(np.all(np.isfinite(value))))
        finite.extend(bool(np.all(np.isfinite(p))) for _, p in scheduler.trajectory(clock["now"]))

    while not stop.is_set():
        control_tick()
    for _ in range(50):  # the last chunks cover the next 1.8 s: these ticks always sample something
        control_tick()
    worker.join()
    assert not errors
    assert finite and all(finite)
