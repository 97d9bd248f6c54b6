from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import asyncpg

from adapters.postgres.db import translated
from application.ports.alerts import AlertRecord, AlertStore
from domain.alerts import AlertState, Decision, Notice

_STATE_COLUMNS = ("consecutive", "firing", "notified", "alert_id", "detail", "first_at",
                  "last_at", "last_sent_at")

_ENSURE = "INSERT INTO alert_states (rule, key) VALUES ($1, $2) ON CONFLICT DO NOTHING"
_LOCK = ("SELECT consecutive, firing, notified, alert_id, detail, first_at, last_at, "
         "last_sent_at FROM alert_states WHERE rule = $1 AND key = $2 FOR UPDATE")
_SAVE = ("UPDATE alert_states SET consecutive = $3, firing = $4, notified = $5, "
         "alert_id = $6, detail = $7, first_at = $8, last_at = $9, last_sent_at = $10 "
         "WHERE rule = $1 AND key = $2")
_EPISODE = (
    "INSERT INTO alerts (id, rule, key, severity, state, detail, first_at, last_at) "
    "VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (id) DO UPDATE SET "
    "state = EXCLUDED.state, detail = EXCLUDED.detail, last_at = EXCLUDED.last_at")
_DELIVERY = ("UPDATE alerts SET channels = channels || jsonb_build_object($2::text, $3::text) "
             "WHERE id = $1")
_FIRING = "SELECT key FROM alert_states WHERE rule = $1 AND firing ORDER BY key"
_RECENT = ("SELECT id, rule, key, severity, state, detail, first_at, last_at, channels "
           "FROM alerts ORDER BY last_at DESC, id LIMIT $1")


class AsyncpgAlertStore(AlertStore):
    """Alert state on Postgres: the (rule, key) row is locked ``FOR UPDATE`` while a replica
    decides, so the other waits and then decides on the state the first one stored."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def decide(self, rule: str, key: str,
                     step: Callable[[AlertState], Decision]) -> Decision:
        with translated():
            async with self._pool.acquire() as conn, conn.transaction():
                await conn.execute(_ENSURE, rule, key)
                row = await conn.fetchrow(_LOCK, rule, key)
                decision = step(_to_state(rule, key, row))
                await conn.execute(_SAVE, rule, key, *_to_row(decision.state))
                if decision.notice is not None:
                    await conn.execute(_EPISODE, *_episode_row(decision.notice, decision.state))
                return decision

    async def record_delivery(self, alert_id: str, channel: str, outcome: str) -> None:
        with translated():
            await self._pool.execute(_DELIVERY, alert_id, channel, outcome)

    async def recent(self, limit: int) -> list[AlertRecord]:
        with translated():
            rows = await self._pool.fetch(_RECENT, limit)
        return [_to_record(r) for r in rows]

    async def firing(self, rule: str) -> list[str]:
        with translated():
            rows = await self._pool.fetch(_FIRING, rule)
        return [r["key"] for r in rows]


def _to_state(rule: str, key: str, row: Any) -> AlertState:
    values = dict(row)
    if values["alert_id"] is not None:
        values["alert_id"] = str(values["alert_id"])
    return AlertState(rule, key, **values)


def _to_row(state: AlertState) -> tuple[Any, ...]:
    return tuple(getattr(state, c) for c in _STATE_COLUMNS)


def _episode_row(notice: Notice, state: AlertState) -> tuple[Any, ...]:
    return (notice.alert_id, notice.rule, notice.key, notice.severity,
            "resolved" if notice.kind == "recovery" else "firing", notice.detail,
            state.first_at or notice.at, notice.at)


def _to_record(row: Any) -> AlertRecord:
    channels = row["channels"]
    return AlertRecord(str(row["id"]), row["rule"], row["key"], row["severity"], row["state"],
                       row["detail"], row["first_at"].isoformat(), row["last_at"].isoformat(),
                       json.loads(channels) if isinstance(channels, str) else dict(channels))
