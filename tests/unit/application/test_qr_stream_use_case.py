"""QrStreamService: QRs and states as they happen, until connected, a timeout or a goodbye.

These run on the real clock (the stream's deadlines are loop time) with sub-second policies.
"""

from __future__ import annotations

import asyncio
import time

import pytest

from application.errors import NotFound, RateLimited
from application.instances.qr_stream import StreamEvent, StreamPolicy
from domain.instance import InstanceState
from tests.unit.application.harness import ADMIN, ORG, OTHER_ORG, tenant

SHORT = StreamPolicy(refresh_s=30.0, max_s=0.3, ping_s=0.08, max_per_org=3)


async def collect(stream, *, on_event=None, limit_s: float = 3.0) -> list[StreamEvent]:
    events: list[StreamEvent] = []
    async with asyncio.timeout(limit_s):
        async for event in stream:
            events.append(event)
            if on_event is not None:
                on_event(event)
    return events


def kinds(events: list[StreamEvent]) -> list[str]:
    return [e.event for e in events]


async def test_stream_sends_state_then_qr_then_connected_when_the_phone_scans(make_app):
    app = await make_app(real_time=True)
    instance = await app.new_instance()

    shown: list[str] = []  # the QR on Evolution's screen when the phone scanned it

    def scan_first_qr(event: StreamEvent) -> None:
        if event.event == "qr" and not shown:
            shown.append(app.evolution.sim.instances[instance.evolution_name].qr["code"])
            app.evolution.scan(instance.evolution_name, "5511912345678", "Clínica Sol")

    async with app.worker():
        stream = await app.streams.open(ADMIN, instance.id)
        events = await collect(stream, on_event=scan_first_qr)

    assert events[0] == StreamEvent("state", {"state": "awaiting_qr", "state_reason": None})
    assert events[1].event == "qr"
    assert events[1].data["code"] == shown[0]
    assert events[-2] == StreamEvent("state", {"state": "connected", "state_reason": None})
    assert events[-1] == StreamEvent("connected", {"phone_number": "5511912345678",
                                                   "profile_name": "Clínica Sol"})
    assert app.streams.open_streams == 0


async def test_stream_sends_each_new_qr_once(make_app):
    app = await make_app(real_time=True, evolution={"qr_refresh_s": 0.05})
    instance = await app.new_instance()
    codes: list[str] = []

    async with app.worker():
        stream = await app.streams.open(ADMIN, instance.id)
        async with asyncio.timeout(3):
            async for event in stream:
                if event.event == "qr":
                    codes.append(event.data["code"])
                if len(codes) == 3:
                    break
        await stream.aclose()

    assert len(set(codes)) == 3


async def test_stream_ends_with_timeout_after_max_s_and_pings_meanwhile(make_app):
    app = await make_app(real_time=True, stream=SHORT)
    instance = await app.new_instance()
    started = time.monotonic()

    async with app.worker():
        events = await collect(await app.streams.open(ADMIN, instance.id))

    elapsed = time.monotonic() - started
    assert SHORT.max_s <= elapsed < SHORT.max_s + 0.5
    assert kinds(events)[:2] == ["state", "qr"]
    assert kinds(events).count("ping") >= 2
    assert events[-1] == StreamEvent("timeout", {"after_s": SHORT.max_s})
    assert app.streams.open_streams == 0


async def test_stream_for_a_connected_instance_sends_connected_and_ends(make_app):
    app = await make_app(real_time=True)
    instance = await app.new_instance()
    async with app.worker():
        await app.connect.connect(ADMIN, instance.id)
    app.evolution.scan(instance.evolution_name)
    await app.settle()

    events = await collect(await app.streams.open(ADMIN, instance.id))

    assert kinds(events) == ["state", "connected"]


async def test_stream_reports_evolution_errors_as_error_events_and_goes_on(make_app):
    app = await make_app(real_time=True, stream=SHORT)
    instance = await app.new_instance()
    app.evolution.down = True

    events = await collect(await app.streams.open(ADMIN, instance.id))

    assert kinds(events)[:2] == ["state", "error"]
    assert events[1].data["title"] == "UpstreamUnavailable"
    assert events[-1].event == "timeout"


async def test_stream_to_another_tenants_instance_is_not_found(app):
    instance = await app.new_instance(ORG)

    with pytest.raises(NotFound):
        await app.streams.open(tenant(OTHER_ORG), instance.id)

    assert app.streams.open_streams == 0


async def test_streams_past_the_per_org_limit_are_rate_limited(app):
    instance = await app.new_instance(ORG)
    other = await app.new_instance(OTHER_ORG)
    streams = [await app.streams.open(ADMIN, instance.id) for _ in range(3)]
    for stream in streams:
        assert (await anext(stream)).event == "state"

    with pytest.raises(RateLimited) as raised:
        await app.streams.open(ADMIN, instance.id)
    other_stream = await app.streams.open(ADMIN, other.id)  # the limit is per organization

    assert raised.value.retry_after_s >= 1
    await streams[0].aclose()
    reopened = await app.streams.open(ADMIN, instance.id)
    assert app.streams.open_streams == 4
    for stream in (*streams, other_stream, reopened):
        await stream.aclose()


async def test_closing_a_stream_early_frees_its_slot_and_leaves_no_task(make_app):
    app = await make_app(real_time=True)
    instance = await app.new_instance()
    async with app.worker():
        await app.connect.connect(ADMIN, instance.id)  # a fresh QR: the stream needs no Evolution
    await app.evolution.wait_deliveries()
    before = asyncio.all_tasks()

    stream = await app.streams.open(ADMIN, instance.id)
    assert kinds([await anext(stream), await anext(stream)]) == ["state", "qr"]
    assert app.streams.open_streams == 1
    await stream.aclose()
    await asyncio.sleep(0)  # the loop's async-generator finalizer closes the inner session

    assert app.streams.open_streams == 0
    assert {t for t in asyncio.all_tasks() - before if not t.done()} == set()
    assert app.notifier.fanout.subscriber_count() == 0


async def test_closing_a_stream_before_its_first_event_frees_its_slot(make_app):
    # The HTTP edge opens the stream, then prepares the response; a client gone by then means
    # the generator is closed (or dropped) without ever being started.
    app = await make_app(stream=StreamPolicy(max_per_org=1))
    instance = await app.new_instance()

    stream = await app.streams.open(ADMIN, instance.id)
    await stream.aclose()

    assert app.streams.open_streams == 0
    again = await app.streams.open(ADMIN, instance.id)
    await again.aclose()


async def first_qr(stream) -> StreamEvent:
    async with asyncio.timeout(3):
        async for event in stream:
            if event.event == "qr":
                await stream.aclose()
                return event
    raise AssertionError("the stream ended before its first QR")


async def test_every_event_but_a_ping_carries_an_increasing_id(make_app):
    app = await make_app(real_time=True, stream=SHORT)
    instance = await app.new_instance()
    async with app.worker():
        events = await collect(await app.streams.open(ADMIN, instance.id))
    ids = [e.id for e in events if e.event != "ping"]
    assert "qr" in kinds(events)
    assert all(ids)
    sequence = [int(i.split(".")[0]) for i in ids]
    assert sequence == sorted(set(sequence))
    assert all(e.id is None for e in events if e.event == "ping")


async def test_a_resumed_stream_does_not_send_the_qr_its_client_already_has(make_app):
    app = await make_app(real_time=True, stream=SHORT)
    instance = await app.new_instance()
    async with app.worker():
        seen = await first_qr(await app.streams.open(ADMIN, instance.id))
        resumed = await collect(await app.streams.open(ADMIN, instance.id,
                                                       last_event_id=seen.id))
    assert [e.data["code"] for e in resumed if e.event == "qr"] == []
    assert kinds(resumed)[0] == "state"
    assert kinds(resumed)[-1] == "timeout"
    assert int(resumed[0].id.split(".")[0]) > int(seen.id.split(".")[0])


async def test_a_stream_resumed_with_a_foreign_or_broken_id_sends_the_qr(make_app):
    app = await make_app(real_time=True, stream=SHORT)
    instance = await app.new_instance()
    async with app.worker():
        seen = await first_qr(await app.streams.open(ADMIN, instance.id))
        again = await first_qr(await app.streams.open(ADMIN, instance.id,
                                                      last_event_id="7.not-a-tag\n"))
    assert again.data["code"] == seen.data["code"]


async def test_a_new_instance_is_never_reported_connecting_before_its_first_qr(make_app):
    app = await make_app(real_time=True, stream=SHORT, evolution={"first_qr_s": 0.15})
    instance = await app.new_instance()
    async with app.worker():
        # A restart before the first QR: our state says connecting, and no QR exists yet.
        await app.instances.restart(ADMIN, instance.id)
        assert app.instance(instance.id).state is InstanceState.CONNECTING
        events = await collect(await app.streams.open(ADMIN, instance.id))
    before_qr = events[:kinds(events).index("qr")]
    assert {"state": "connecting", "state_reason": None} not in [e.data for e in before_qr]
