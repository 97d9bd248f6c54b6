from __future__ import annotations

import enum
import math
from collections.abc import Callable

import structlog

from application.errors import UpstreamUnavailable
from application.ports.system import Clock

log = structlog.get_logger(__name__)

OnChange = Callable[[str, str], None]


class CircuitState(enum.StrEnum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


class CircuitBreaker:
    """Closed -> open after ``failure_threshold`` consecutive failures; open for ``open_s``;
    then half-open, letting exactly one probe through, whose outcome closes or reopens it.

    Callers ask ``retry_after()`` first and ``admit()`` only when every breaker they need agreed,
    so a refused call never holds a half-open probe slot.
    """

    def __init__(self, scope: str, failure_threshold: int, open_s: float, *, clock: Clock,
                 on_change: OnChange | None = None) -> None:
        self.scope = scope
        self._threshold = failure_threshold
        self._open_s = open_s
        self._clock = clock
        self._on_change = on_change
        self._state = CircuitState.CLOSED
        self._failures = 0
        self._opened_at = 0.0
        self._probing = False

    @property
    def state(self) -> CircuitState:
        if self._state is CircuitState.OPEN and self._remaining() <= 0:
            self._move(CircuitState.HALF_OPEN)
        return self._state

    @property
    def idle(self) -> bool:
        """Nothing worth remembering: closed, no failures counted, no probe out."""
        return self.state is CircuitState.CLOSED and self._failures == 0 and not self._probing

    def retry_after(self) -> int | None:
        """Whole seconds until a call may be tried (at least 1), or None if it may go now."""
        state = self.state
        if state is CircuitState.OPEN:
            return max(1, math.ceil(self._remaining()))
        if state is CircuitState.HALF_OPEN and self._probing:
            return 1
        return None

    def admit(self) -> None:
        if self.state is CircuitState.HALF_OPEN:
            self._probing = True

    def record_success(self) -> None:
        self._probing = False
        self._failures = 0
        if self._state is not CircuitState.CLOSED:
            self._move(CircuitState.CLOSED)

    def record_failure(self) -> None:
        self._probing = False
        self._failures += 1
        state = self.state
        if state is CircuitState.HALF_OPEN or (
                state is CircuitState.CLOSED and self._failures >= self._threshold):
            self._opened_at = self._clock.monotonic()
            self._move(CircuitState.OPEN)

    def release(self) -> None:
        """The admitted call ended without a verdict (it was cancelled)."""
        self._probing = False

    def _remaining(self) -> float:
        return self._opened_at + self._open_s - self._clock.monotonic()

    def _move(self, state: CircuitState) -> None:
        self._state = state
        emit = log.warning if state is CircuitState.OPEN else log.info
        emit(f"circuit_{_PAST[state]}", scope=self.scope, failures=self._failures)
        if self._on_change is not None:
            self._on_change(self.scope, state.value)


_PAST = {CircuitState.OPEN: "opened", CircuitState.HALF_OPEN: "half_opened",
         CircuitState.CLOSED: "closed"}


class BreakerBoard:
    """One breaker for Evolution as a whole and one per instance name, created on demand and
    forgotten once idle so that the map stays as small as the set of troubled instances."""

    GLOBAL_SCOPE = "evolution"

    def __init__(self, failure_threshold: int, open_s: float, *, clock: Clock,
                 on_change: OnChange | None = None) -> None:
        self._threshold = failure_threshold
        self._open_s = open_s
        self._clock = clock
        self._on_change = on_change
        self.evolution = self._make(self.GLOBAL_SCOPE)
        self._instances: dict[str, CircuitBreaker] = {}

    def admit(self, instance: str | None) -> Permit:
        """Raises ``UpstreamUnavailable`` when a breaker on the way is open."""
        breakers = [self.evolution]
        if instance is not None:
            breakers.append(self.for_instance(instance))
        waits = [wait for b in breakers if (wait := b.retry_after()) is not None]
        if waits:
            self.forget_idle(instance)
            raise UpstreamUnavailable("Evolution circuit is open", retry_after_s=max(waits))
        for breaker in breakers:
            breaker.admit()
        return Permit(self, instance, breakers)

    def for_instance(self, instance: str) -> CircuitBreaker:
        if instance not in self._instances:
            self._instances[instance] = self._make(f"instance:{instance}")
        return self._instances[instance]

    def forget_idle(self, instance: str | None) -> None:
        if instance is not None and (breaker := self._instances.get(instance)) and breaker.idle:
            del self._instances[instance]

    def _make(self, scope: str) -> CircuitBreaker:
        return CircuitBreaker(scope, self._threshold, self._open_s, clock=self._clock,
                              on_change=self._on_change)


class Permit:
    def __init__(self, board: BreakerBoard, instance: str | None,
                 breakers: list[CircuitBreaker]) -> None:
        self._board = board
        self._instance = instance
        self._breakers = breakers

    def settle(self, failed: bool | None) -> None:
        """``failed`` None means no verdict: the call was cancelled."""
        for breaker in self._breakers:
            if failed is None:
                breaker.release()
            elif failed:
                breaker.record_failure()
            else:
                breaker.record_success()
        self._board.forget_idle(self._instance)
