from __future__ import annotations

import structlog

from application.ports.alerts import AlertChannel
from domain.alerts import Notice

log = structlog.get_logger(__name__)


class LogAlertChannel(AlertChannel):
    """Always configured: the log is where an operator looks when every other channel is down."""

    name = "log"

    async def send(self, notice: Notice) -> None:
        event = "alert_recovered" if notice.kind == "recovery" else "alert_raised"
        (log.info if notice.kind == "recovery" else log.error)(
            event, alert=notice.rule, key=notice.key, severity=notice.severity,
            detail=notice.detail, alert_id=notice.alert_id)
