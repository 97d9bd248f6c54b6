"""The QR stream's framing over real HTTP (API.md 6): a retry hint first, an id on every event,
and Last-Event-ID resuming without the QR the client already shows."""

from __future__ import annotations

import asyncio

from tests.api.conftest import Service

BASE = "/api/channels/whatsapp/instances"


async def read_frames(response, until: str, limit_s: float = 5.0) -> list[dict[str, str]]:
    """Raw SSE frames as field -> value, until the frame whose event is ``until``."""
    frames: list[dict[str, str]] = []
    current: dict[str, str] = {}
    async with asyncio.timeout(limit_s):
        async for raw in response.content:
            line = raw.decode().rstrip("\n")
            if line == "":
                if current:
                    frames.append(current)
                    if current.get("event") == until:
                        return frames
                current = {}
                continue
            field, _, value = line.partition(":")
            current[field or "comment"] = value.removeprefix(" ")
    return frames


async def test_stream_starts_with_a_retry_hint_and_every_event_has_an_id(
        service: Service) -> None:
    created = await service.quick_create()
    response = await service.client.get(f"{BASE}/{created['instance']['id']}/qr/stream",
                                        headers=service.auth())
    frames = await read_frames(response, "qr")
    response.close()
    assert frames[0] == {"retry": "3000"}
    events = frames[1:]
    assert [f["event"] for f in events][-1] == "qr"
    assert all(f.get("id") for f in events)
    assert len({f["id"] for f in events}) == len(events)


async def test_reconnect_with_last_event_id_does_not_send_the_same_qr_again(
        service: Service) -> None:
    created = await service.quick_create(wait_for_qr=True)
    path = f"{BASE}/{created['instance']['id']}/qr/stream"
    first = await service.client.get(path, headers=service.auth())
    seen = (await read_frames(first, "qr"))[-1]
    first.close()
    again = await service.client.get(path, headers={**service.auth(),
                                                    "Last-Event-ID": seen["id"]})
    service.fake.scan(created["instance"]["evolution_name"])
    frames = await read_frames(again, "connected")
    again.close()
    assert [f for f in frames if f.get("event") == "qr"] == []
    assert frames[-1]["event"] == "connected"
