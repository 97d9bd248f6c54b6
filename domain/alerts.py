"""Alert rules as policy: when a run of bad observations becomes an alert, when it is repeated,
and when its recovery is announced. Time is always an argument."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

import attrs

CRITICAL = "critical"
WARNING = "warning"
INSTANCE_DISCONNECTED = "instance_disconnected"


@attrs.frozen
class AlertRule:
    """``consecutive`` bad observations in a row raise the alert; one good one clears it."""

    name: str
    severity: str
    consecutive: int = 1


@attrs.frozen
class AlertPolicy:
    qr_consecutive_failures: int = 5
    api_response_ms: float = 10_000
    webhook_processing_ms: float = 5_000
    cooldown_s: float = 300
    silence_s: float = 3_600
    error_spike_per_min: int = 50
    webhook_failure_rate: float = 0.2
    webhook_failure_min_events: int = 20
    memory_growth_ratio: float = 1.5

    def rule(self, name: str) -> AlertRule:
        if name == "qr_failures":
            return AlertRule(name, CRITICAL, self.qr_consecutive_failures)
        return AlertRule(name, _SEVERITY.get(name, WARNING))


_SEVERITY = {"api_response_slow": WARNING, "webhook_processing_slow": WARNING,
             "webhook_dead_lettered": WARNING, "instance_disconnected": CRITICAL,
             "instance_silent": WARNING, "error_spike": CRITICAL,
             "webhook_failure_rate": CRITICAL, "memory_growth": WARNING,
             "evolution_pool_exhausted": CRITICAL, "test": WARNING}

RULES = tuple(sorted({"qr_failures", *_SEVERITY} - {"test"}))


@attrs.frozen
class AlertState:
    """One rule for one key (an instance, or ``""`` for the whole service), shared by replicas.

    ``notified`` says whether the current episode was announced: only then is its recovery.
    """

    rule: str
    key: str
    consecutive: int = 0
    firing: bool = False
    notified: bool = False
    alert_id: str | None = None
    detail: str = ""
    first_at: datetime | None = None
    last_at: datetime | None = None
    last_sent_at: datetime | None = None


@attrs.frozen
class Notice:
    kind: str  # "alert" or "recovery"
    alert_id: str
    rule: str
    key: str
    severity: str
    detail: str
    at: datetime

    @property
    def title(self) -> str:
        where = f" ({self.key})" if self.key else ""
        if self.kind == "recovery":
            return f"[resolved] {self.rule}{where}"
        return f"[{self.severity}] {self.rule}{where}"


@attrs.frozen
class Decision:
    state: AlertState
    notice: Notice | None = None


def observe(state: AlertState, rule: AlertRule, *, bad: bool, detail: str, at: datetime,
            new_id: str, cooldown_s: float) -> Decision:
    """The next state after one observation, and the notice to send, if any."""
    if not bad:
        return _clear(state, rule, at)
    count = state.consecutive + 1
    if count < rule.consecutive and not state.firing:
        return Decision(attrs.evolve(state, consecutive=count))
    cooled = (state.last_sent_at is None
              or at - state.last_sent_at >= timedelta(seconds=cooldown_s))
    if state.firing:
        new = attrs.evolve(state, consecutive=count, detail=detail, last_at=at)
    else:
        new = attrs.evolve(state, consecutive=count, firing=True, notified=False,
                           alert_id=new_id, detail=detail, first_at=at, last_at=at)
    if not cooled:
        return Decision(new)
    new = attrs.evolve(new, notified=True, last_sent_at=at)
    return Decision(new, _notice("alert", new, rule, at))


def _clear(state: AlertState, rule: AlertRule, at: datetime) -> Decision:
    if not state.firing:
        return Decision(attrs.evolve(state, consecutive=0))
    new = attrs.evolve(state, consecutive=0, firing=False, last_at=at)
    if not state.notified:
        return Decision(new)
    return Decision(attrs.evolve(new, notified=False), _notice("recovery", new, rule, at))


def _notice(kind: str, state: AlertState, rule: AlertRule, at: datetime) -> Notice:
    assert state.alert_id is not None
    return Notice(kind, state.alert_id, rule.name, state.key, rule.severity, state.detail, at)


# Measurements: whether one observation is bad for its rule ------------------------------------

def slow(milliseconds: float, limit_ms: float) -> bool:
    return milliseconds > limit_ms


def error_spike(errors_last_minute: int, policy: AlertPolicy) -> bool:
    return errors_last_minute >= policy.error_spike_per_min


def webhook_failure_rate(failed: int, total: int, policy: AlertPolicy) -> bool:
    """Too few events say nothing: a rate needs ``webhook_failure_min_events`` of them."""
    if total < policy.webhook_failure_min_events:
        return False
    return failed / total >= policy.webhook_failure_rate


def memory_growth(samples: Sequence[int], policy: AlertPolicy) -> bool:
    """Resident memory grew by the ratio from the lowest sample of the window to the last."""
    if len(samples) < 2 or min(samples) <= 0:
        return False
    return samples[-1] / min(samples) >= policy.memory_growth_ratio


def silent(last_event_at: datetime | None, connected_at: datetime | None, at: datetime,
           policy: AlertPolicy) -> bool:
    """A connected instance heard nothing (no event since it connected) for ``silence_s``."""
    heard = max((t for t in (last_event_at, connected_at) if t is not None), default=None)
    return heard is not None and (at - heard).total_seconds() >= policy.silence_s
