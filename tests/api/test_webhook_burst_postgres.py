"""Issue 11, done when: on real Postgres, through the real app over real HTTP, bad deliveries
sent in the same burst as good ones cost the good ones nothing.

The intake admits through a group commit that writes every delivery of a burst in one
statement; one row Postgres refuses must fail alone (a 4xx for its sender) and never the
statement (a 500 for everyone beside it, across organizations). And content that Postgres
cannot store as sent is cleaned, so that an acknowledged message is always in the history.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import attrs
import pytest
from aiohttp import ClientSession, TCPConnector
from yarl import URL

from tests.api.conftest import Service, free_port, service_env, sign, start_service
from tests.postgres_fixture import postgres_dsn, postgres_provider
from tests.shared import evolution_sample

__all__ = ["postgres_dsn", "postgres_provider"]  # fixtures, used by ``pg_service``

pytestmark = pytest.mark.integration

ORGS = ("burst-a", "burst-b")
WITH_ORG = ("/api/webhooks/evolution/{org}", "/api/whatsapp/simple/webhook/{org}")
BY_INSTANCE = ("/api/whatsapp/webhook", "/api/channels/whatsapp/webhook")
PATHS = WITH_ORG + BY_INSTANCE
DEEP = b'{"a":' * 1000 + b"1" + b"}" * 1000


@attrs.frozen
class Delivery:
    """One request as sent on the wire; ``raw_headers`` go out byte for byte."""

    label: str
    path: str
    body: bytes
    headers: dict[str, str]
    raw_headers: tuple[tuple[bytes, bytes], ...] = ()


@attrs.frozen
class Answer:
    status: int
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


@attrs.define
class Tenants:
    secrets: dict[str, str]                 # organization -> webhook secret
    instances: dict[str, list[dict[str, Any]]]  # organization -> instances as created

    def names(self, org: str) -> list[str]:
        return [i["evolution_name"] for i in self.instances[org]]


@pytest.fixture
async def pg_service(postgres_dsn: str) -> AsyncIterator[Service]:
    """The service on Postgres with its worker in process, rate limit out of the way."""
    env = service_env(free_port(), DATABASE_URL=postgres_dsn, WEBHOOK_RATE_PER_ORG="1000000")
    async for running in start_service(env, run_worker=True):
        yield running


async def tenants_of(service: Service, orgs: tuple[str, ...] = ORGS) -> Tenants:
    instances = {org: [(await service.quick_create(org))["instance"] for _ in range(2)]
                 for org in orgs}
    service.fake.sim.webhooks.deliver = None  # only what the test sends reaches the inbox
    return Tenants({org: await service.org_secret(org) for org in orgs}, instances)


def sample(name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = evolution_sample(name)
    return loaded


def upsert(instance: str, message_id: str, **data: Any) -> dict[str, Any]:
    body = sample("messages_upsert.json")
    body["instance"] = instance
    body["data"]["key"]["id"] = message_id
    body["data"].update(data)
    return body


def connection_update(instance: str) -> dict[str, Any]:
    body = sample("connection_update.json")
    body["instance"] = instance
    if isinstance(body.get("data"), dict) and "instance" in body["data"]:
        body["data"]["instance"] = instance
    return body


def dumps(value: Any) -> bytes:
    """As Evolution sends it: ASCII, so a lone surrogate travels as the escape ``\\ud83d``."""
    return json.dumps(value).encode()


def path_for(i: int, org: str) -> str:
    return PATHS[i % len(PATHS)].format(org=org)


def valid_deliveries(tenants: Tenants, count: int) -> list[Delivery]:
    """Signed, well formed, each a distinct event: spread over organizations, instances,
    paths and both ways of naming a delivery (the message id, the ``webhook-id`` header)."""
    out = []
    for i in range(count):
        org = ORGS[i % len(ORGS)]
        name = tenants.names(org)[(i // len(ORGS)) % 2]
        headers: dict[str, str] = {}
        if i % 3:
            body = dumps(upsert(name, f"BURST{uuid.uuid4().hex[:16].upper()}"))
        else:
            body = dumps(connection_update(name))
            headers["webhook-id"] = f"burst-{uuid.uuid4()}"
        out.append(Delivery(f"valid-{i}", path_for(i, org), body,
                            {**sign(tenants.secrets[org], body), **headers}))
    return out


def bad_deliveries(tenants: Tenants) -> list[tuple[Delivery, set[int]]]:
    """Signed with the right secret, so nothing but the flaw itself refuses them; each with
    the answers API.md section 1 allows."""
    out = []
    for n, org in enumerate(ORGS):
        name, secret = tenants.names(org)[n], tenants.secrets[org]
        bodies = {
            "nul in data.key.id": (dumps(upsert(name, "BAD\x00ID")), {422}),
            "lone surrogate in data.key.id": (dumps(upsert(name, "BAD\ud83d")), {422}),
            "nul in event": (dumps({**connection_update(name), "event": "connection.upd\x00ate"}),
                             {422}),
            "lone surrogate in event": (dumps({**connection_update(name),
                                               "event": "connection.update\ud83d"}), {422}),
            "nul in instance": (dumps({**connection_update(name), "instance": name + "\x00"}),
                                {422}),
            "lone surrogate in instance": (dumps({**connection_update(name),
                                                  "instance": "\ud83d" + name}), {422}),
            "json nested 1000 deep": (DEEP, {400}),
            "malformed json": (dumps(connection_update(name))[:-7], {400}),
        }
        for i, (label, (body, allowed)) in enumerate(bodies.items()):
            out.append((Delivery(f"{org}: {label}", path_for(i + n, org), body,
                                 sign(secret, body)), allowed))
        body = dumps(connection_update(name))
        for label, raw in (("non-UTF-8 webhook-id", b"id-\xff\xfe"),
                           ("surrogate bytes in webhook-id", b"id-\xed\xa0\xbd")):
            out.append((Delivery(f"{org}: {label}", path_for(n, org), body, sign(secret, body),
                                 ((b"webhook-id", raw),)), {422}))
    return out


async def post(session: ClientSession, base_url: str, delivery: Delivery) -> Answer:
    if delivery.raw_headers:
        return await post_raw(base_url, delivery)
    async with session.post(URL(base_url + delivery.path, encoded=True), data=delivery.body,
                            headers=delivery.headers) as response:
        return Answer(response.status, await response.read())


async def post_raw(base_url: str, delivery: Delivery) -> Answer:
    """Header bytes no HTTP client would send, written on the socket by hand."""
    url = URL(base_url)
    reader, writer = await asyncio.open_connection(url.host, url.port)
    head = [f"POST {delivery.path} HTTP/1.1".encode(), f"Host: {url.host}:{url.port}".encode(),
            b"Connection: close", f"Content-Length: {len(delivery.body)}".encode(),
            *(f"{k}: {v}".encode() for k, v in delivery.headers.items()),
            *(name + b": " + value for name, value in delivery.raw_headers)]
    writer.write(b"\r\n".join(head) + b"\r\n\r\n" + delivery.body)
    await writer.drain()
    raw = await reader.read()
    writer.close()
    await writer.wait_closed()
    status_line, _, rest = raw.partition(b"\r\n")
    return Answer(int(status_line.split()[1]), rest.partition(b"\r\n\r\n")[2])


async def send_all(base_url: str, deliveries: list[Delivery]) -> list[Answer]:
    """Every delivery at once, each on its own connection."""
    async with ClientSession(connector=TCPConnector(limit=0)) as session:
        return list(await asyncio.gather(*(post(session, base_url, d) for d in deliveries)))


async def inbox_ids(dsn: str) -> set[uuid.UUID]:
    conn = await asyncpg.connect(dsn)
    try:
        return {row["id"] for row in await conn.fetch("SELECT id FROM webhook_inbox")}
    finally:
        await conn.close()


def summary(lines: list[str], of: int, shown: int = 25) -> str:
    more = f"\n... and {len(lines) - shown} more" if len(lines) > shown else ""
    return f"{len(lines)} of {of}:\n" + "\n".join(lines[:shown]) + more


def outcome(delivery: Delivery, answer: Answer) -> str:
    return f"{delivery.label} {delivery.path} -> {answer.status} {answer.body[:200]!r}"


async def test_bad_deliveries_in_a_burst_cost_the_valid_ones_nothing(
        pg_service: Service, postgres_dsn: str) -> None:
    tenants = await tenants_of(pg_service)
    valid = valid_deliveries(tenants, 200)
    bad = bad_deliveries(tenants)
    assert len(bad) == 20
    burst = valid + [d for d, _ in bad]
    order = sorted(range(len(burst)), key=lambda i: (i * 7919) % len(burst))  # interleaved
    answers = dict(zip(order, await send_all(pg_service.base_url, [burst[i] for i in order]),
                       strict=True))
    refused_valid = [outcome(valid[i], answers[i]) for i in range(len(valid))
                     if answers[i].status != 200]
    assert refused_valid == [], summary(refused_valid, len(valid))
    failures = [outcome(burst[i], a) for i, a in sorted(answers.items()) if a.status >= 500]
    assert failures == [], summary(failures, len(burst))
    acks = [answers[i].json() for i in range(len(valid))]
    assert all(ack["status"] == "accepted" and ack["duplicate"] is False for ack in acks)
    wrong = [outcome(d, answers[len(valid) + k]) for k, (d, allowed) in enumerate(bad)
             if answers[len(valid) + k].status not in allowed]
    assert wrong == [], summary(wrong, len(bad))
    stored = await inbox_ids(postgres_dsn)
    missing = {uuid.UUID(ack["event_id"]) for ack in acks} - stored
    assert missing == set()


async def test_a_message_with_unstorable_content_is_acknowledged_and_stored_cleaned(
        pg_service: Service) -> None:
    tenants = await tenants_of(pg_service, ORGS[:1])
    org = ORGS[0]
    instance = tenants.instances[org][0]
    body = upsert(instance["evolution_name"], "CLEANME0001",
                  pushName="Ma\x00ria \ud83d Souza")
    body["data"]["key"]["remoteJid"] = "55119876\x0054321@s.whatsapp.net\udc00"
    body["data"]["message"] = {"conversation": "Olá\x00! \ud83d Vocês \udc00 entregam?"}
    raw = dumps(body)
    assert b"\\ud83d" in raw  # sent as Evolution would: the escape of a truncated emoji
    response = await pg_service.client.post(f"/api/webhooks/evolution/{org}", data=raw,
                                            headers=sign(tenants.secrets[org], raw))
    assert response.status == 200, await response.text()
    items = await history(pg_service, instance["id"])
    assert [(m["push_name"], m["remote_jid"], m["text"]) for m in items] == [
        ("Maria \ufffd Souza", "5511987654321@s.whatsapp.net\ufffd",
         "Olá! \ufffd Vocês \ufffd entregam?")]


async def history(service: Service, instance_id: str, timeout_s: float = 10) -> list[Any]:
    """The instance's message history once the worker has stored something in it."""
    async with asyncio.timeout(timeout_s):
        while True:
            response = await service.client.get(
                f"/api/channels/whatsapp/instances/{instance_id}/messages",
                headers=service.auth())
            assert response.status == 200, await response.text()
            items: list[Any] = (await response.json())["items"]
            if items:
                return items
            await asyncio.sleep(0.05)
