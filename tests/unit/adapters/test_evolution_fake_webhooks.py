"""Webhooks from the in-process fake go out as Evolution sends them: retry policy, one JWT per
event, by-events URLs, mislabelled local time, and the sample envelope's key order."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from adapters.evolution.fake_gateway import FakeEvolutionGateway
from application.errors import Conflict
from application.ports.evolution import CreateInstanceRequest, InstanceRef, WebhookRegistration
from tests.fakes.evolution_server import RecordingDeliverer
from tests.shared import evolution_sample

NAME = "c42-0a1b2c3d"
REF = InstanceRef(NAME, "TOKEN-C42")
URL = "https://svc.example.com/api/webhooks/evolution/c42"
EVENTS = ("QRCODE_UPDATED", "CONNECTION_UPDATE", "REMOVE_INSTANCE")

Make = Callable[..., Any]


@pytest.fixture
async def make() -> AsyncIterator[Make]:
    fakes: list[FakeEvolutionGateway] = []

    async def build(deliveries: RecordingDeliverer, by_events: bool = False,
                    **options: Any) -> FakeEvolutionGateway:
        fakes.append(fake := FakeEvolutionGateway(deliveries, **options))
        hook = WebhookRegistration(URL, {"jwt_key": "k" * 40}, EVENTS, by_events=by_events)
        await fake.create_instance(CreateInstanceRequest(NAME, "TOKEN-C42", hook))
        return fake

    yield build
    for fake in fakes:
        await fake.close()


async def test_failed_deliveries_are_retried_with_the_same_token_and_body(make: Make) -> None:
    deliveries = RecordingDeliverer(500, 0, 408, 200)
    fake = await make(deliveries, time_scale=0.001)
    fake.emit(NAME, "CONNECTION_UPDATE", {"instance": NAME, "state": "connecting"})
    await fake.wait_deliveries()
    assert len(deliveries.posts) == 4
    assert len({(h["Authorization"], json.dumps(b)) for _, h, b in deliveries.posts}) == 1


async def test_non_retryable_status_stops_at_once_and_retries_stop_at_ten(make: Make) -> None:
    deliveries = RecordingDeliverer(401, *[503] * 20)
    fake = await make(deliveries, time_scale=0.0001)
    fake.emit(NAME, "CONNECTION_UPDATE", {"state": "connecting"})
    await fake.wait_deliveries()
    assert len(deliveries.posts) == 1
    fake.emit(NAME, "CONNECTION_UPDATE", {"state": "connecting"})
    await fake.wait_deliveries()
    assert len(deliveries.posts) == 11


async def test_events_not_registered_are_not_sent(make: Make) -> None:
    deliveries = RecordingDeliverer()
    fake = await make(deliveries)
    fake.emit(NAME, "MESSAGES_UPSERT", {"key": {"id": "A5561E44"}})
    await fake.wait_deliveries()
    assert deliveries.posts == []


async def test_deleted_name_stays_in_use_until_remove_instance_is_delivered(make: Make) -> None:
    deliveries = RecordingDeliverer(503, 503)
    fake = await make(deliveries, time_scale=0.01)
    await fake.delete(REF)
    hook = WebhookRegistration(URL, {}, EVENTS)
    with pytest.raises(Conflict):
        await fake.create_instance(CreateInstanceRequest(NAME, "T", hook))
    await fake.wait_deliveries()
    await fake.create_instance(CreateInstanceRequest(NAME, "T", hook))
    assert [b["event"] for _, _, b in deliveries.posts] == ["remove.instance"] * 3


async def test_by_events_posts_to_the_event_suffix_but_names_the_plain_url(make: Make) -> None:
    deliveries = RecordingDeliverer()
    fake = await make(deliveries, by_events=True)
    await fake.connect(REF)
    await fake.wait_deliveries()
    [(url, headers, body)] = deliveries.posts
    assert (url, body["destination"]) == (URL + "/connection-update", URL)
    assert headers["User-Agent"] == "axios/1.12.2"


async def test_date_time_is_local_time_labelled_z_with_configurable_offset(make: Make) -> None:
    deliveries = RecordingDeliverer()
    fake = await make(deliveries, tz_offset=timedelta(hours=2))
    await fake.connect(REF)
    await fake.wait_deliveries()
    stamp = deliveries.posts[0][2]["date_time"]
    assert stamp.endswith("Z")
    assert len(stamp) == len("2025-10-21T11:30:05.112Z")
    shown = datetime.fromisoformat(stamp.replace("Z", "+00:00"))
    assert abs(shown - datetime.now(UTC) - timedelta(hours=2)) < timedelta(seconds=5)


async def test_envelope_keys_match_evolutions_sample(make: Make) -> None:
    sample = evolution_sample("connection_update.json")
    deliveries = RecordingDeliverer()
    fake = await make(deliveries, first_qr_s=0.0)
    await fake.connect(REF)
    await asyncio.sleep(0.01)  # the first QR, due at once, is on screen
    fake.scan(NAME)
    await fake.wait_deliveries()
    opened = [e for e in deliveries.events("connection.update") if e["data"]["state"] == "open"]
    assert list(opened[0]) == list(sample)
    assert list(opened[0]["data"]) == list(sample["data"])
