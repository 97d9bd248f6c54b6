from __future__ import annotations

import time

import structlog

from application.ports.telemetry import Alerter

log = structlog.get_logger(__name__)


class LogAlerter(Alerter):
    """Alerts to the log (always on); repeats within the cooldown are suppressed."""

    def __init__(self, cooldown_s: float = 300.0) -> None:
        self._cooldown_s = cooldown_s
        self._last: dict[str, float] = {}

    async def alert(self, name: str, detail: str) -> None:
        now = time.monotonic()
        if now - self._last.get(name, -self._cooldown_s - 1) < self._cooldown_s:
            return
        self._last[name] = now
        log.error("alert_raised", alert=name, detail=detail)

    async def recover(self, name: str) -> None:
        if self._last.pop(name, None) is not None:
            log.info("alert_recovered", alert=name)
