"""Helpers for the end-to-end tests: tokens, Evolution envelopes, the service's API, SSE.

Everything binds to 127.0.0.1 and every wait has a deadline.
"""

from __future__ import annotations

import asyncio
import copy
import functools
import hashlib
import hmac
import json
import socket
import time
from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, ParamSpec, TypeVar

import aiohttp
import attrs
import jwt

from entrypoints.settings import DEV_JWT_SECRET
from tests.shared import evolution_sample

REPO = Path(__file__).resolve().parents[2]
INSTANCES = "/api/channels/whatsapp/instances"
P = ParamSpec("P")
T = TypeVar("T")


def bounded(seconds: float) -> Callable[[Callable[P, Awaitable[T]]], Callable[P, Awaitable[T]]]:
    """Fail a coroutine test that runs longer than ``seconds`` (no pytest-timeout here)."""

    def wrap(test: Callable[P, Awaitable[T]]) -> Callable[P, Awaitable[T]]:
        @functools.wraps(test)
        async def run(*args: P.args, **kwargs: P.kwargs) -> T:
            async with asyncio.timeout(seconds):
                return await test(*args, **kwargs)

        return run

    return wrap


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def admin_token(ttl: int = 600) -> str:
    claims = {"sub": "e2e", "role": "admin", "exp": int(time.time()) + ttl}
    return jwt.encode(claims, DEV_JWT_SECRET, algorithm="HS256")


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


# Evolution envelopes --------------------------------------------------------------------------

def sample(name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = evolution_sample(name)
    return loaded


def evolution_time(at: datetime | None = None) -> str:
    """Evolution's ``date_time``: local time (UTC-3, like the fake) mislabelled ``Z``."""
    local = (at or datetime.now(UTC)) - timedelta(hours=3)
    return local.strftime("%Y-%m-%dT%H:%M:%S.") + f"{local.microsecond // 1000:03d}Z"


def qr_envelope(instance: str, code: str) -> dict[str, Any]:
    envelope = copy.deepcopy(sample("qrcode_updated"))
    envelope["instance"] = instance
    envelope["data"]["qrcode"]["instance"] = instance
    envelope["data"]["qrcode"]["code"] = code
    envelope["date_time"] = evolution_time()
    return envelope


def message_data(key_id: str) -> dict[str, Any]:
    data: dict[str, Any] = copy.deepcopy(sample("messages_upsert")["data"])
    data["key"]["id"] = key_id
    data["messageTimestamp"] = int(time.time())
    data.pop("instanceId", None)
    return data


def message_envelope(instance: str, key_id: str) -> dict[str, Any]:
    envelope = copy.deepcopy(sample("messages_upsert"))
    envelope["instance"] = instance
    envelope["data"] = message_data(key_id)
    envelope["date_time"] = evolution_time()
    return envelope


def signed(secret: str, envelope: Mapping[str, Any]) -> tuple[bytes, dict[str, str]]:
    """The raw body and the ``x-evolution-signature`` headers for it."""
    body = json.dumps(envelope, separators=(",", ":")).encode()
    digest = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return body, {"x-evolution-signature": f"sha256={digest}",
                  "Content-Type": "application/json"}


# The service's API ----------------------------------------------------------------------------

async def quick_create(http: aiohttp.ClientSession, base_url: str, token: str, org: str,
                       **body: Any) -> dict[str, Any]:
    async with http.post(f"{base_url}{INSTANCES}/quick-create", headers=bearer(token),
                         json={"organization_id": org, **body}) as response:
        assert response.status == 201, await response.text()
        created: dict[str, Any] = await response.json()
        return created


async def rotate_secret(http: aiohttp.ClientSession, base_url: str, token: str,
                        org: str) -> str:
    async with http.post(f"{base_url}/api/admin/organizations/{org}/webhook-secret/rotate",
                         headers=bearer(token)) as response:
        assert response.status == 201, await response.text()
        secret: str = (await response.json())["secret"]
        return secret


async def wait_ready(http: aiohttp.ClientSession, base_url: str, within_s: float = 15.0,
                     alive: Callable[[], bool] = lambda: True) -> None:
    deadline = time.perf_counter() + within_s
    last = "no answer"
    while time.perf_counter() < deadline:
        assert alive(), f"{base_url} exited before it was ready"
        try:
            async with http.get(f"{base_url}/api/health/ready",
                                timeout=aiohttp.ClientTimeout(total=2)) as response:
                if response.status == 200:
                    return
                last = f"{response.status} {await response.text()}"
        except (aiohttp.ClientError, TimeoutError) as exc:
            last = repr(exc)
        await asyncio.sleep(0.05)
    raise AssertionError(f"{base_url} not ready within {within_s} s: {last}")


async def eventually(check: Callable[[], Awaitable[bool]], within_s: float,
                     what: str, every_s: float = 0.05) -> float:
    """Poll ``check`` until it holds; return the seconds it took."""
    started = time.perf_counter()
    while True:
        if await check():
            return time.perf_counter() - started
        if time.perf_counter() - started > within_s:
            raise AssertionError(f"not within {within_s} s: {what}")
        await asyncio.sleep(every_s)


# Server-Sent Events ---------------------------------------------------------------------------

@attrs.frozen
class SseEvent:
    event: str
    data: Any
    at: float  # time.perf_counter() when it was read


class SseStream:
    """A minimal ``text/event-stream`` reader over an open aiohttp response."""

    def __init__(self, response: aiohttp.ClientResponse) -> None:
        self.response = response
        self.seen: list[SseEvent] = []

    async def next(self) -> SseEvent:
        name, data = "message", []
        while True:
            raw = await self.response.content.readline()
            if not raw:
                raise EOFError("the stream ended")
            line = raw.decode().rstrip("\r\n")
            if not line:
                if data:
                    event = SseEvent(name, json.loads("\n".join(data)), time.perf_counter())
                    self.seen.append(event)
                    return event
                continue
            if line.startswith(":"):
                continue
            field, _, value = line.partition(":")
            value = value.removeprefix(" ")
            if field == "event":
                name = value
            elif field == "data":
                data.append(value)

    async def until(self, name: str, match: Callable[[Any], bool] = lambda _: True) -> SseEvent:
        while True:
            event = await self.next()
            if event.event == name and match(event.data):
                return event

    async def ended(self) -> bool:
        return await self.response.content.read() == b""
