"""A property of the webhook paths on real Postgres (issue 11): deliveries the service must
refuse, sent at the same moment as deliveries it must accept, never cost those anything.

Each example is one burst of concurrent real HTTP requests to one service on one database,
so they share the intake's group commit. Invalid deliveries carry text Postgres cannot store
(NUL, lone surrogates) where it identifies the event, JSON nested too deep, numbers where text
belongs, or broken JSON; valid ones are signed, well formed, and may carry that same hostile
text, and huge numbers, as content. The machinery (the service on a loop in a thread, the
oracle for answers) is the one of ``test_webhook_properties``.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Coroutine, Iterator
from typing import Any, TypeVar

import asyncpg
import attrs
import pytest
from aiohttp import ClientSession, TCPConnector
from hypothesis import HealthCheck, given, note, settings
from hypothesis import strategies as st

from tests.api.test_webhook_properties import (
    BY_INSTANCE,
    SAMPLES,
    SUFFIXES,
    WITH_ORG,
    Answer,
    Request,
    World,
    _hmac,
    check_answer,
    loop_thread,
    served_world,
)
from tests.postgres_fixture import PostgresProvider, postgres_provider

__all__ = ["postgres_provider"]

pytestmark = pytest.mark.integration

T = TypeVar("T")
UPSERT, CONNECTION = SAMPLES[1], SAMPLES[0]
MIXED_SETTINGS = settings(max_examples=150, derandomize=True, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow,
                                                 HealthCheck.data_too_large])


@attrs.frozen
class Sent:
    request: Request
    allowed: frozenset[int]  # what API.md allows as the answer: {200} for a valid delivery
    raw_headers: tuple[tuple[bytes, bytes], ...] = ()


@attrs.define
class PgWorld:
    world: World
    dsn: str

    def run(self, coro: Coroutine[Any, Any, T], timeout: float = 60) -> T:
        return self.world.run(coro, timeout)

    async def send(self, sent: Sent, session: ClientSession) -> Answer:
        request = sent.request
        if sent.raw_headers:
            headers = [(k.encode(), v.encode()) for k, v in request.headers.items()
                       if k.lower() != "content-type"]
            return await self.world._post_raw(request.path, [*headers, *sent.raw_headers],
                                              request.body)
        url = self.world.service.base_url + request.path
        async with session.post(url, data=request.body, headers=request.headers) as r:
            return Answer(r.status, r.headers.get("Content-Type", ""), await r.read())

    def burst(self, sent: list[Sent]) -> list[Answer]:
        async def every_one_at_once() -> list[Answer]:
            async with ClientSession(connector=TCPConnector(limit=0)) as session:
                return list(await asyncio.gather(*(self.send(s, session) for s in sent)))

        return self.run(every_one_at_once())

    def stored(self, ids: list[uuid.UUID]) -> dict[uuid.UUID, str]:
        """The organization each of ``ids`` is stored for, as Postgres holds it."""
        async def read() -> dict[uuid.UUID, str]:
            conn = await asyncpg.connect(self.dsn)
            try:
                rows = await conn.fetch("SELECT id, organization_id FROM webhook_inbox "
                                        "WHERE id = ANY($1::uuid[])", ids)
            finally:
                await conn.close()
            return {row["id"]: row["organization_id"] for row in rows}

        return self.run(read())


@pytest.fixture(scope="module")
def pg_world(postgres_provider: PostgresProvider) -> Iterator[PgWorld]:
    with loop_thread("webhook-mixed") as (loop, run):
        dsn = run(postgres_provider.create_database())
        try:
            with served_world(loop, run, DATABASE_URL=dsn) as world:
                yield PgWorld(world, dsn)
        finally:
            run(postgres_provider.drop_database(dsn))


# Strategies ----------------------------------------------------------------------------------

UNSTORABLE = ["\x00", "\ud800", "\udbff", "\udc00", "\udfff", "\ud83d"]


def _unstorable_once_parsed(text: str) -> bool:
    """True when ``text``, sent as a JSON string, still holds NUL or a surrogate once read:
    the escapes of a high then a low surrogate spell one valid character, not two bad ones."""
    parsed = json.loads(json.dumps(text))
    return any(c == "\x00" or "\ud800" <= c <= "\udfff" for c in parsed)


# Text holding at least one character Postgres cannot store, anywhere in it.
unstorable_text = st.builds(lambda a, bad, b: a + bad + b, st.text(max_size=12),
                            st.lists(st.sampled_from(UNSTORABLE), min_size=1, max_size=3)
                            .map("".join), st.text(max_size=12)).filter(_unstorable_once_parsed)
# Content as a patient may send it: anything, unstorable characters included.
content_text = st.one_of(st.text(max_size=40), unstorable_text,
                         st.text(st.characters(codec="utf-8"), max_size=40))
huge_numbers = st.one_of(st.integers(10**18, 10**300), st.integers(-(10**300), -(10**18)),
                         st.sampled_from([1e308, -1e308, 5e-324]),
                         st.integers(19, 4000).map(lambda n: int("9" * n)))


def _dumps(value: Any) -> bytes:
    """As Evolution sends it: ASCII, so lone surrogates travel as ``\\udXXX`` escapes."""
    return json.dumps(value).encode()


@st.composite
def recipients(draw: st.DrawFn, world: World) -> tuple[str, str, str]:
    """An instance, its organization, and a path that reaches it."""
    name = draw(st.sampled_from(sorted(world.instances)))
    org, _ = world.instances[name]
    base = draw(st.sampled_from(WITH_ORG + BY_INSTANCE)).format(org=org)
    suffix = draw(st.one_of(st.none(), st.sampled_from(SUFFIXES)))
    return name, org, base if suffix is None else f"{base}/{suffix}"


def _signed(world: World, org: str, path: str, body: bytes,
            extra: dict[str, str] | None = None) -> Request:
    headers = {"Content-Type": "application/json",
               "x-evolution-signature": "sha256=" + _hmac(world.secrets[org], body),
               **(extra or {})}
    return Request(path, body, headers, authentic=True)


@st.composite
def valid_deliveries(draw: st.DrawFn, world: World) -> Sent:
    """Signed and well formed, a distinct event each, hostile only where it is content."""
    name, org, path = draw(recipients(world))
    if draw(st.booleans()):
        envelope = {**UPSERT, "instance": name, "data": json.loads(json.dumps(UPSERT["data"]))}
        data = envelope["data"]
        data["key"]["id"] = uuid.uuid4().hex.upper()  # a distinct event, never a duplicate
        data["key"]["remoteJid"] = draw(st.one_of(st.just("5511987654321@s.whatsapp.net"),
                                                  content_text))
        data["pushName"] = draw(st.one_of(st.none(), content_text))
        data["message"] = {"conversation": draw(content_text)}
        data["messageTimestamp"] = draw(st.one_of(st.just(1761057296), huge_numbers))
        return Sent(_signed(world, org, path, _dumps(envelope)), frozenset({200}))
    envelope = {**CONNECTION, "instance": name,
                "data": {**CONNECTION["data"], "instance": name,
                         "statusReason": draw(st.one_of(st.integers(0, 600), huge_numbers)),
                         "profileName": draw(content_text)}}
    webhook_id = {"webhook-id": f"mixed-{uuid.uuid4()}"}
    return Sent(_signed(world, org, path, _dumps(envelope), webhook_id), frozenset({200}))


@st.composite
def invalid_deliveries(draw: st.DrawFn, world: World) -> Sent:
    """Signed with the right secret, so only the flaw itself can refuse them."""
    name, org, path = draw(recipients(world))
    envelope: dict[str, Any] = {**UPSERT, "instance": name,
                                "data": json.loads(json.dumps(UPSERT["data"]))}
    envelope["data"]["key"]["id"] = uuid.uuid4().hex.upper()
    flaw = draw(st.sampled_from(["event", "instance", "data.key.id", "webhook-id", "deep",
                                 "number as event", "number as instance", "broken json"]))
    note(f"flaw: {flaw}")
    raw: tuple[tuple[bytes, bytes], ...] = ()
    allowed = {422}
    if flaw == "event":
        envelope["event"] = draw(st.one_of(unstorable_text, st.sampled_from(
            ["messages.upsert\x00", "\ud83dmessages.upsert", "connection.update\udc00"])))
    elif flaw == "instance":
        envelope["instance"] = draw(st.one_of(
            unstorable_text, st.sampled_from(UNSTORABLE).map(lambda bad: name + bad)))
    elif flaw == "data.key.id":
        envelope["data"]["key"]["id"] = draw(unstorable_text)
    elif flaw == "webhook-id":
        raw = ((b"webhook-id", draw(st.binary(min_size=1, max_size=30).map(
            lambda b: b"id-" + bytes(c | 0x80 for c in b)))),)  # obs-text, never UTF-8 here
        raw = raw if not _is_utf8(raw[0][1]) else ((b"webhook-id", b"id-\xff"),)
    elif flaw == "deep":
        depth = draw(st.integers(100, 3000))
        allowed = {400}
    elif flaw.startswith("number"):
        envelope[flaw.rsplit(" ", 1)[1]] = draw(huge_numbers)
        allowed = {400, 422}  # past Python's digit limit a number is unreadable JSON
    body = _dumps(envelope)
    if flaw == "deep":  # spliced as text: json.dumps itself would exhaust the recursion limit
        data = _dumps(envelope["data"])
        body = body.replace(data, b"[" * depth + data + b"]" * depth, 1)
    if flaw == "broken json":
        body = body[:draw(st.integers(1, len(body) - 1))]
        allowed = {400}
    request = _signed(world, org, path, body)
    return Sent(attrs.evolve(request, authentic=False), frozenset(allowed), raw)


def _is_utf8(value: bytes) -> bool:
    try:
        value.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


# Property ------------------------------------------------------------------------------------

@MIXED_SETTINGS
@given(data=st.data())
def test_valid_deliveries_sent_with_invalid_ones_are_all_accepted_and_stored(
        pg_world: PgWorld, data: st.DataObject) -> None:
    world = pg_world.world
    valid = data.draw(st.lists(valid_deliveries(world), min_size=1, max_size=10), label="valid")
    invalid = data.draw(st.lists(invalid_deliveries(world), min_size=1, max_size=10),
                        label="invalid")
    burst = data.draw(st.permutations([*valid, *invalid]), label="order")
    answers = dict(zip(map(id, burst), pg_world.burst(burst), strict=True))
    for sent in burst:
        answer = answers[id(sent)]
        note(f"{sent.request!r} -> {answer.status} {answer.body[:200]!r}")
    for sent in burst:
        answer = answers[id(sent)]
        check_answer(answer)  # below 500, and every error a problem document
        assert answer.status in sent.allowed, (sent.request, answer)
    acks = {uuid.UUID(answers[id(s)].json()["event_id"]): s for s in valid}
    assert all(not answers[id(s)].json()["duplicate"] for s in valid)
    stored = pg_world.stored(list(acks))
    assert set(stored) == set(acks), "acknowledged but not stored"
    for event_id, sent in acks.items():
        assert stored[event_id] in world.credential_orgs(sent.request)
