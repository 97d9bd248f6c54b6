from __future__ import annotations

import asyncio
from collections.abc import Callable

import attrs

from application.ports.alerts import AlertRecord, AlertStore
from domain.alerts import AlertState, Decision, Notice


class InMemoryAlertStore(AlertStore):
    """The embedded default's alert state: one process, so one lock is the whole story."""

    def __init__(self) -> None:
        self._lock = asyncio.Lock()
        self._states: dict[tuple[str, str], AlertState] = {}
        self._alerts: dict[str, AlertRecord] = {}

    async def decide(self, rule: str, key: str,
                     step: Callable[[AlertState], Decision]) -> Decision:
        async with self._lock:
            decision = step(self._states.get((rule, key), AlertState(rule, key)))
            self._states[(rule, key)] = decision.state
            if decision.notice is not None:
                self._keep(decision.notice, decision.state)
            return decision

    def _keep(self, notice: Notice, state: AlertState) -> None:
        old = self._alerts.pop(notice.alert_id, None)
        first = state.first_at.isoformat() if state.first_at else notice.at.isoformat()
        self._alerts[notice.alert_id] = AlertRecord(
            notice.alert_id, notice.rule, notice.key, notice.severity,
            "resolved" if notice.kind == "recovery" else "firing", notice.detail, first,
            notice.at.isoformat(), dict(old.channels) if old else {})

    async def record_delivery(self, alert_id: str, channel: str, outcome: str) -> None:
        async with self._lock:
            old = self._alerts.get(alert_id)
            if old is not None:
                self._alerts[alert_id] = attrs.evolve(old, channels={**old.channels,
                                                                     channel: outcome})

    async def recent(self, limit: int) -> list[AlertRecord]:
        return sorted(self._alerts.values(), key=lambda a: a.last_at, reverse=True)[:limit]

    async def firing(self, rule: str) -> list[str]:
        return sorted(k for (r, k), state in self._states.items() if r == rule and state.firing)
