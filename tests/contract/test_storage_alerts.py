"""AlertStore contract: one state per (rule, key), decided by one replica at a time."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest

from adapters.memory.alert_store import InMemoryAlertStore
from adapters.postgres import create_pool
from adapters.postgres.alert_store import AsyncpgAlertStore
from adapters.postgres.pool import close_pool
from application.ports.alerts import AlertStore
from domain.alerts import AlertPolicy, AlertState, Decision, observe
from tests.storage_builders import T0

RULE = AlertPolicy().rule("qr_failures")


@pytest.fixture
async def replicas(backend_kind: tuple[str, str | None]) -> AsyncIterator[list[AlertStore]]:
    """Two stores over one state: two replicas' views of it (one shared object in memory)."""
    _kind, dsn = backend_kind
    if dsn is None:
        store = InMemoryAlertStore()
        yield [store, store]
        return
    pools = [await create_pool(dsn, 1, 4) for _ in range(2)]
    try:
        yield [AsyncpgAlertStore(p) for p in pools]
    finally:
        for p in pools:
            await close_pool(p)


def _failure(i: int, bad: bool = True):
    def step(state: AlertState) -> Decision:
        return observe(state, RULE, bad=bad, detail=f"attempt {i}", new_id=str(uuid.uuid4()),
                       at=T0 + timedelta(seconds=i), cooldown_s=300)
    return step


async def test_failures_from_two_replicas_at_once_are_counted_together_and_alert_once(replicas):
    decisions = await asyncio.gather(*(
        replicas[i % 2].decide("qr_failures", "", _failure(i)) for i in range(12)))
    notices = [d.notice for d in decisions if d.notice]
    assert len(notices) == 1
    assert notices[0].kind == "alert"
    assert await replicas[0].firing("qr_failures") == [""]
    recovered = await replicas[1].decide("qr_failures", "", _failure(20, bad=False))
    assert recovered.notice is not None
    assert recovered.notice.alert_id == notices[0].alert_id
    again = await replicas[0].decide("qr_failures", "", _failure(21, bad=False))
    assert again.notice is None
    assert await replicas[0].firing("qr_failures") == []


async def test_an_episode_is_listed_with_each_channels_outcome(replicas):
    for i in range(5):
        decision = await replicas[0].decide("qr_failures", "inst-1", _failure(i))
    assert decision.notice is not None
    alert_id = decision.notice.alert_id
    await replicas[0].record_delivery(alert_id, "slack", "sent")
    await replicas[1].record_delivery(alert_id, "sms", "failed")
    [listed] = await replicas[1].recent(10)
    assert (listed.id, listed.rule, listed.key, listed.state) == (
        alert_id, "qr_failures", "inst-1", "firing")
    assert listed.channels == {"slack": "sent", "sms": "failed"}
    assert listed.detail == "attempt 4"
    await replicas[1].decide("qr_failures", "inst-1", _failure(9, bad=False))
    [resolved] = await replicas[0].recent(10)
    assert resolved.state == "resolved"
    assert resolved.first_at < resolved.last_at
    assert resolved.channels == {"slack": "sent", "sms": "failed"}
