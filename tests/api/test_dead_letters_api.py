"""Dead letters over HTTP (API.md section 10): listed per organization, replayed by an admin."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta

import pytest

from application.ports.inbox import InboxStatus
from tests.api.conftest import Service, free_port, service_env, start_service
from tests.storage_builders import T0, an_event

DEAD = "/api/admin/webhooks/dead"


@pytest.fixture
async def idle() -> AsyncIterator[Service]:
    """No worker in process: a replayed event stays pending for the test to see."""
    async for running in start_service(service_env(free_port()), run_worker=False):
        yield running


async def _dead_letters(service: Service, org: str, count: int) -> list[str]:
    events = [an_event(org, at=T0 + timedelta(seconds=i)) for i in range(count)]
    for event in events:
        await service.container.inbox_writer().admit(event)
    async with service.container.uow() as uow:
        await uow.inbox.claim(count, T0 + timedelta(days=1), timedelta(seconds=30))
        for event in events:
            await uow.inbox.park(event.id, "ValueError: unreadable body")
        await uow.commit()
    return [str(e.id) for e in reversed(events)]


async def test_an_admin_lists_dead_letters_with_last_error_and_attempts_page_by_page(
        idle: Service) -> None:
    ids = await _dead_letters(idle, "clinic-dead-1", 3)
    first = await idle.client.get(DEAD, params={"organization_id": "clinic-dead-1", "limit": "2"},
                                  headers=idle.auth())
    body = await first.json()
    assert first.status == 200, body
    assert [i["id"] for i in body["items"]] == ids[:2]
    assert body["items"][0]["attempts"] == 1
    assert body["items"][0]["last_error"] == "ValueError: unreadable body"
    assert "body" not in body["items"][0]
    rest = await (await idle.client.get(DEAD, params={"organization_id": "clinic-dead-1",
                                                      "cursor": body["next_cursor"]},
                                        headers=idle.auth())).json()
    assert [i["id"] for i in rest["items"]] == ids[2:]
    assert rest["next_cursor"] is None


async def test_a_tenant_admin_sees_only_its_own_organization(idle: Service) -> None:
    mine = await _dead_letters(idle, "clinic-mine", 1)
    await _dead_letters(idle, "clinic-theirs", 1)
    auth = idle.auth("tenant_admin", "clinic-mine")
    own = await idle.client.get(DEAD, headers=auth)
    assert [i["id"] for i in (await own.json())["items"]] == mine
    other = await idle.client.get(DEAD, params={"organization_id": "clinic-theirs"},
                                  headers=auth)
    assert other.status == 403
    assert other.content_type == "application/problem+json"


async def test_replay_puts_the_event_back_pending_audited_and_only_once(idle: Service) -> None:
    (event_id,) = await _dead_letters(idle, "clinic-replay", 1)
    replayed = await idle.client.post(f"{DEAD}/{event_id}/replay", headers=idle.auth())
    body = await replayed.json()
    assert replayed.status == 200, body
    assert (body["id"], body["status"]) == (event_id, "pending")
    async with idle.container.uow() as uow:
        counts = await uow.inbox.counts()
    assert (counts[InboxStatus.DEAD], counts[InboxStatus.PENDING]) == (0, 1)
    audit = await (await idle.client.get("/api/admin/audit", params={
        "organization_id": "clinic-replay", "action": "webhook_replayed"},
        headers=idle.auth())).json()
    (entry,) = audit["items"]
    assert entry["details"]["event_id"] == event_id
    assert entry["actor_id"] == "tester"
    again = await idle.client.post(f"{DEAD}/{event_id}/replay", headers=idle.auth())
    assert again.status == 404
    assert again.content_type == "application/problem+json"


async def test_only_an_admin_may_replay(idle: Service) -> None:
    (event_id,) = await _dead_letters(idle, "clinic-t", 1)
    tenant = await idle.client.post(f"{DEAD}/{event_id}/replay",
                                    headers=idle.auth("tenant_admin", "clinic-t"))
    assert tenant.status == 403
    anonymous = await idle.client.post(f"{DEAD}/{event_id}/replay")
    assert anonymous.status == 401
    not_an_id = await idle.client.post(f"{DEAD}/not-a-uuid/replay", headers=idle.auth())
    assert not_an_id.status == 404
