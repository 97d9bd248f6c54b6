from __future__ import annotations

import pytest

from adapters.evolution.circuit_breaker import BreakerBoard, CircuitBreaker, CircuitState
from application.errors import UpstreamUnavailable
from tests.fakes.clock import ManualClock


class Changes:
    def __init__(self) -> None:
        self.seen: list[tuple[str, str]] = []

    def __call__(self, scope: str, state: str) -> None:
        self.seen.append((scope, state))


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


def breaker(clock: ManualClock, changes: Changes | None = None) -> CircuitBreaker:
    return CircuitBreaker("evolution", failure_threshold=3, open_s=30.0, clock=clock,
                          on_change=changes)


def fail(b: CircuitBreaker, times: int) -> None:
    for _ in range(times):
        assert b.retry_after() is None
        b.admit()
        b.record_failure()


def test_stays_closed_below_the_threshold_and_a_success_resets_the_count(
        clock: ManualClock) -> None:
    b = breaker(clock)
    fail(b, 2)
    b.record_success()
    fail(b, 2)
    assert b.state is CircuitState.CLOSED
    assert b.retry_after() is None


def test_opens_after_n_consecutive_failures_and_fails_fast_with_remaining_time(
        clock: ManualClock) -> None:
    changes = Changes()
    b = breaker(clock, changes)
    fail(b, 3)
    assert b.state is CircuitState.OPEN
    assert b.retry_after() == 30
    clock.advance(29.2)
    assert b.retry_after() == 1  # rounded up, never 0
    assert changes.seen == [("evolution", "open")]


def test_half_open_lets_exactly_one_probe_through(clock: ManualClock) -> None:
    b = breaker(clock)
    fail(b, 3)
    clock.advance(30)
    assert b.state is CircuitState.HALF_OPEN
    assert b.retry_after() is None
    b.admit()
    assert b.retry_after() == 1  # a second caller waits for the probe's verdict


def test_probe_success_closes_and_probe_failure_reopens(clock: ManualClock) -> None:
    changes = Changes()
    b = breaker(clock, changes)
    fail(b, 3)
    clock.advance(30)
    b.admit()
    b.record_failure()
    assert b.state is CircuitState.OPEN
    assert b.retry_after() == 30  # a full new open period from the failed probe
    clock.advance(30)
    b.admit()
    b.record_success()
    assert b.state is CircuitState.CLOSED
    assert [state for _, state in changes.seen] == ["open", "half_open", "open", "half_open",
                                                    "closed"]


def test_cancelled_probe_frees_the_slot_without_a_verdict(clock: ManualClock) -> None:
    b = breaker(clock)
    fail(b, 3)
    clock.advance(30)
    b.admit()
    b.release()
    assert b.state is CircuitState.HALF_OPEN
    assert b.retry_after() is None


def test_board_opens_one_instance_without_blocking_the_others(clock: ManualClock) -> None:
    board = BreakerBoard(failure_threshold=2, open_s=10.0, clock=clock)
    for _ in range(2):
        board.admit("clinic-1-aaaa").settle(failed=True)
        board.admit("clinic-2-bbbb").settle(failed=False)  # resets the global count
    with pytest.raises(UpstreamUnavailable) as refused:
        board.admit("clinic-1-aaaa")
    assert refused.value.retry_after_s == 10
    board.admit("clinic-2-bbbb").settle(failed=False)
    board.admit(None).settle(failed=False)


def test_board_global_circuit_blocks_every_instance(clock: ManualClock) -> None:
    board = BreakerBoard(failure_threshold=2, open_s=10.0, clock=clock)
    board.admit("a").settle(failed=True)
    board.admit("b").settle(failed=True)
    with pytest.raises(UpstreamUnavailable):
        board.admit("c")
    clock.advance(10)
    board.admit("c").settle(failed=False)
    assert board.evolution.state is CircuitState.CLOSED


def test_board_refusal_does_not_hold_the_global_probe(clock: ManualClock) -> None:
    board = BreakerBoard(failure_threshold=1, open_s=10.0, clock=clock)
    board.admit("a").settle(failed=True)  # opens both "evolution" and "instance:a"
    clock.advance(10)
    board.admit("b").settle(failed=True)  # the global probe fails: open again
    clock.advance(10)
    board.for_instance("a").record_failure()  # keep "a" open past the global's half-open
    with pytest.raises(UpstreamUnavailable):
        board.admit("a")
    board.admit("b").settle(failed=False)  # the global probe slot was still free
    assert board.evolution.state is CircuitState.CLOSED
