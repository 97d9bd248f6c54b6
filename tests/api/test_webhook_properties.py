"""Properties of the four webhook paths (API.md 5a) under arbitrary input, through the real app.

One service per module runs on its own event loop in a background thread, so hypothesis drives
it from plain sync tests: every example is a real HTTP request on 127.0.0.1. The fake
Evolution's own webhook deliveries are switched off, so every stored inbox event must come
from a request sent here, and an independent oracle says which of those carried a credential.
"""

from __future__ import annotations

import asyncio
import copy
import hashlib
import hmac
import json
import threading
import time
import uuid
from collections.abc import Callable, Coroutine, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar
from urllib.parse import quote

import attrs
import jwt
import pytest
from aiohttp import ClientSession
from hypothesis import HealthCheck, assume, event, given, note, settings
from hypothesis import strategies as st
from hypothesis.control import currently_in_test_context
from yarl import URL

from tests.api.conftest import Service, free_port, service_env, start_service
from tests.shared import evolution_sample

T = TypeVar("T")
PROBLEM = "application/problem+json"
MAX_BODY = 1024 * 1024
LEEWAY_S = 1800
WRONG_SECRET = "not-the-organization-webhook-secret"
ORGS = ("org-a", "org-b")
WITH_ORG = ("/api/webhooks/evolution/{org}", "/api/whatsapp/simple/webhook/{org}")
BY_INSTANCE = ("/api/whatsapp/webhook", "/api/channels/whatsapp/webhook")
SUFFIXES = ("qrcode-updated", "connection-update", "messages-upsert")
EVENTS = ("connection.update", "qrcode.updated", "messages.upsert", "send.message",
          "messages.update", "status.instance", "presence.update", "CONNECTION_UPDATE")
PROPERTY_SETTINGS = settings(max_examples=150, deadline=None,
                             suppress_health_check=[HealthCheck.too_slow,
                                                    HealthCheck.data_too_large])


@attrs.frozen(repr=False)
class Request:
    path: str
    body: bytes
    headers: dict[str, str]
    # Built to be accepted: a well-formed envelope, a known instance on a path of its own
    # organization, and a credential for that organization.
    authentic: bool = False

    def __repr__(self) -> str:
        body = self.body if len(self.body) < 600 else self.body[:600] + b"..."
        return (f"Request(path={self.path!r}, body={body!r} ({len(self.body)} bytes), "
                f"headers={self.headers!r}, authentic={self.authentic})")


@attrs.frozen
class Answer:
    status: int
    content_type: str
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


@attrs.define(repr=False)
class World:
    loop: asyncio.AbstractEventLoop
    service: Service
    session: ClientSession
    secrets: dict[str, str]                      # organization -> webhook secret
    instances: dict[str, tuple[str, str]]        # evolution name -> (organization, token)
    acknowledged: dict[uuid.UUID, tuple[Request, frozenset[str]]] = attrs.Factory(dict)

    def __repr__(self) -> str:
        return f"World({self.service.base_url}, instances={sorted(self.instances)})"

    def run(self, coro: Coroutine[Any, Any, T], timeout: float = 60) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def post(self, request: Request) -> Answer:
        return self.run(self._post(request))

    async def _post(self, request: Request) -> Answer:
        url = URL(self.service.base_url + request.path, encoded=True)
        async with self.session.post(url, data=request.body, headers=request.headers) as r:
            return Answer(r.status, r.headers.get("Content-Type", ""), await r.read())

    def post_raw(self, path: str, headers: list[tuple[bytes, bytes]], body: bytes) -> Answer:
        """Bytes on the wire, for header values no HTTP client would encode."""
        return self.run(self._post_raw(path, headers, body))

    async def _post_raw(self, path: str, headers: list[tuple[bytes, bytes]],
                        body: bytes) -> Answer:
        url = URL(self.service.base_url)
        reader, writer = await asyncio.open_connection(url.host, url.port)
        lines = [f"POST {path} HTTP/1.1".encode(), f"Host: {url.host}:{url.port}".encode(),
                 b"Connection: close", b"Content-Type: application/json",
                 f"Content-Length: {len(body)}".encode(),
                 *(name + b": " + value for name, value in headers)]
        writer.write(b"\r\n".join(lines) + b"\r\n\r\n" + body)
        await writer.drain()
        raw = await reader.read()
        writer.close()
        await writer.wait_closed()
        head, _, content = raw.partition(b"\r\n\r\n")
        status_line, *header_lines = head.decode("latin-1").split("\r\n")
        fields = dict(line.split(": ", 1) for line in header_lines if ": " in line)
        fields = {k.lower(): v for k, v in fields.items()}
        return Answer(int(status_line.split()[1]), fields.get("content-type", ""), content)

    def inbox(self) -> list[Any]:
        async def snapshot() -> list[Any]:
            return list(self.service.container.memory_store().inbox.values())

        return self.run(snapshot())

    def credential_orgs(self, request: Request) -> frozenset[str]:
        """The organizations for which the request carries a valid credential (the oracle)."""
        headers = {k.lower(): v for k, v in request.headers.items()}
        found = set()
        for org, secret in self.secrets.items():
            signature = headers.get("x-evolution-signature", "")
            if signature.startswith("sha256=") and (
                    signature[7:].strip().lower() == _hmac(secret, request.body)):
                found.add(org)
            bearer = headers.get("authorization", "")
            if bearer[:7].lower() == "bearer " and _jwt_verifies(bearer[7:].strip(), secret):
                found.add(org)
            if headers.get("apikey") == secret:
                found.add(org)
        try:
            payload = json.loads(request.body)
        except ValueError:
            payload = None
        if isinstance(payload, dict) and isinstance(payload.get("instance"), str):
            org, token = self.instances.get(payload["instance"], (None, None))
            if org is not None and payload.get("apikey") == token:
                found.add(org)
        return frozenset(found)


def _hmac(secret: str, body: bytes) -> str:
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def _jwt_verifies(token: str, secret: str) -> bool:
    try:
        jwt.decode(token, secret, algorithms=["HS256"], leeway=LEEWAY_S,
                   options={"require": ["exp"]})
    except jwt.PyJWTError:
        return False
    return True


async def populate(loop: asyncio.AbstractEventLoop, service: Service) -> World:
    """Two instances in each organization, and Evolution's own deliveries off: every event
    in the inbox then comes from a request a test sent."""
    service.fake.sim.webhooks.deliver = None
    secrets, instances = {}, {}
    for org in ORGS:
        for _ in range(2):
            created = (await service.quick_create(org))["instance"]
            async with service.container.uow() as uow:
                stored = await uow.instances.get_by_name(created["evolution_name"])
            assert stored is not None
            assert stored.evolution_token
            instances[stored.evolution_name] = (org, stored.evolution_token)
        secrets[org] = await service.org_secret(org)
    return World(loop, service, ClientSession(), secrets, instances)


Runner = Callable[[Coroutine[Any, Any, Any]], Any]


@contextmanager
def loop_thread(name: str) -> Iterator[tuple[asyncio.AbstractEventLoop, Runner]]:
    """An event loop on a thread of its own, and a way to run a coroutine on it from here."""
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, name=name, daemon=True)
    thread.start()

    def run(coro: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coro, loop).result(60)

    try:
        yield loop, run
    finally:
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        loop.close()


@contextmanager
def served_world(loop: asyncio.AbstractEventLoop, run: Runner, **env: str) -> Iterator[World]:
    """The service on that loop, its rate limit out of the way, populated."""
    services = start_service(service_env(free_port(), WEBHOOK_RATE_PER_ORG="1000000", **env))

    async def start() -> World:
        return await populate(loop, await anext(services))

    async def stop(running: World) -> None:
        await running.session.close()
        await services.aclose()

    running = run(start())
    try:
        yield running
    finally:
        run(stop(running))


@pytest.fixture(scope="module")
def world() -> Iterator[World]:
    with loop_thread("webhook-properties") as (loop, run), served_world(loop, run) as running:
        assert not running.inbox(), "the store must start with an empty inbox"
        yield running


# Strategies ----------------------------------------------------------------------------------

def _sample(name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = evolution_sample(name)
    return loaded


SAMPLES = [_sample(n) for n in ("connection_update.json", "messages_upsert.json",
                                "qrcode_updated.json")]
# Header text as it crosses HTTP: no control characters, no surrounding blanks.
header_text = st.text(st.characters(codec="utf-8", exclude_categories=("Cc", "Cs")),
                      max_size=80).map(lambda s: s.strip(" \t"))
weird_text = st.one_of(
    st.text(max_size=40),
    st.text(st.characters(codec="utf-8"), max_size=40),
    st.text(st.characters(categories=["Cs"]), min_size=1, max_size=3),  # lone surrogates
    st.sampled_from(["", " ", "..", ".", "/", "%", "%2F", "?x=1", "#f", "a/b", "\x00", "é",
                     "org-a/..", "ORG-A", "org-a ", "0" * 65]),
)
huge_text = st.integers(min_value=10_000, max_value=MAX_BODY + 100).map(lambda n: "x" * n)
json_scalars = st.one_of(st.none(), st.booleans(), st.integers(),
                         st.floats(allow_nan=False, allow_infinity=False), weird_text)
json_values = st.recursive(json_scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=4), st.dictionaries(weird_text, inner, max_size=4)),
    max_leaves=12)
timestamps = st.one_of(
    st.datetimes().map(lambda d: d.isoformat()),
    st.datetimes().map(lambda d: d.isoformat() + "Z"),
    st.sampled_from(["2025-10-21T11:31:02.540Z", "2025-13-45T99:99:99Z", "yesterday", "",
                     "2025-10-21T11:31:02+99:00"]),
)


def _dump(value: Any, draw: st.DrawFn) -> bytes:
    """JSON as Evolution (ASCII escapes) or raw UTF-8, where a lone surrogate is invalid."""
    if draw(st.booleans()):
        return json.dumps(value).encode()
    return json.dumps(value, ensure_ascii=False).encode("utf-8", "surrogatepass")


def _data_for(sample: dict[str, Any], name: str, draw: st.DrawFn) -> Any:
    data = copy.deepcopy(sample["data"])
    if isinstance(data, dict) and "instance" in data:
        data["instance"] = name
    if isinstance(data, dict) and isinstance(data.get("key"), dict):
        data["key"]["id"] = draw(st.text("0123456789ABCDEF", min_size=1, max_size=32))
    if isinstance(data, dict) and draw(st.booleans()):
        data["statusReason"] = draw(st.integers(0, 10**6))  # a distinct body hash
    return data


@st.composite
def envelopes(draw: st.DrawFn, world: World, *, well_formed: bool) -> dict[str, Any]:
    names = sorted(world.instances)
    if well_formed:
        name = draw(st.sampled_from(names))
        sample = draw(st.sampled_from(SAMPLES))
        envelope = {"event": draw(st.sampled_from([sample["event"], *EVENTS])),
                    "instance": name, "data": _data_for(sample, name, draw)}
        for field in ("destination", "server_url"):
            if draw(st.booleans()):
                envelope[field] = draw(json_values)
        envelope["date_time"] = draw(st.one_of(st.none(), st.just(sample["date_time"])))
        envelope["sender"] = draw(st.one_of(st.none(), weird_text))
        envelope["apikey"] = draw(st.one_of(st.none(), weird_text))
        return envelope
    any_of = {
        "event": st.one_of(json_values, st.sampled_from(EVENTS), huge_text),
        "instance": st.one_of(json_values, st.sampled_from([*names, "nobody"]), huge_text),
        "data": st.one_of(json_values, st.sampled_from([s["data"] for s in SAMPLES])),
        "date_time": st.one_of(json_values, timestamps),
        "apikey": st.one_of(json_values, st.sampled_from(
            [token for _, token in world.instances.values()]), huge_text),
        "sender": json_values, "destination": json_values, "server_url": json_values,
    }
    return draw(st.fixed_dictionaries({}, optional=any_of))


@st.composite
def bodies(draw: st.DrawFn, world: World) -> bytes:
    kind = draw(st.sampled_from(["bytes", "json", "envelope", "well_formed", "well_formed",
                                 "huge"]))
    if kind == "bytes":
        return draw(st.binary(max_size=300))
    if kind == "json":
        return _dump(draw(json_values), draw)
    if kind == "huge":
        size = draw(st.integers(MAX_BODY - 64, MAX_BODY + 64))
        name = draw(st.sampled_from(sorted(world.instances)))
        head = json.dumps({"event": "messages.upsert", "instance": name, "data": ""})[:-2]
        return (head + '"' + "x" * max(0, size - len(head) - 3) + '"}').encode()
    return _dump(draw(envelopes(world, well_formed=kind == "well_formed")), draw)


def _token(secret: str, age_s: int, **extra: Any) -> str:
    iat = int(time.time()) - age_s
    return jwt.encode({"iat": iat, "exp": iat + 600, "app": "evolution", "action": "webhook",
                       **extra}, secret, algorithm="HS256")


@st.composite
def signatures(draw: st.DrawFn, world: World, body: bytes) -> str | None:
    secret = draw(st.sampled_from([*world.secrets.values(), WRONG_SECRET]))
    return draw(st.one_of(
        st.none(), header_text, header_text.map(lambda s: "sha256=" + s),
        st.text("0123456789abcdef", min_size=64, max_size=64).map(lambda h: "sha256=" + h),
        st.just("sha256=" + _hmac(secret, body)),
        st.just("sha256=" + _hmac(secret, body + b" ")),
        st.just("sha256=" + _hmac(secret, body).upper()),
        st.just(_hmac(secret, body)),  # the prefix missing
    ))


@st.composite
def authorizations(draw: st.DrawFn, world: World) -> str | None:
    secret = draw(st.sampled_from([*world.secrets.values(), WRONG_SECRET]))
    forged = jwt.encode({"exp": int(time.time()) + 600}, None, algorithm="none")
    return draw(st.one_of(
        st.none(), header_text, header_text.map(lambda s: "Bearer " + s),
        st.integers(0, 600 + LEEWAY_S - 60).map(lambda age: "Bearer " + _token(secret, age)),
        st.integers(600 + LEEWAY_S + 60, 10**6).map(lambda age: "Bearer " + _token(secret, age)),
        st.just("Bearer " + jwt.encode({"sub": "x"}, secret, algorithm="HS256")),  # no exp
        st.just("Bearer " + forged), st.just("Basic " + secret),
    ))


@st.composite
def paths(draw: st.DrawFn) -> str:
    base = draw(st.sampled_from(WITH_ORG + BY_INSTANCE))
    if "{org}" in base:
        org = draw(st.one_of(st.sampled_from(ORGS), st.sampled_from(ORGS), weird_text))
        base = base.format(org=quote(org, safe="", errors="surrogatepass"))
    suffix = draw(st.one_of(st.none(), st.none(), st.sampled_from(SUFFIXES),
                            st.from_regex(r"[a-z][a-z0-9-]{1,63}", fullmatch=True), weird_text))
    return base if suffix is None else base + "/" + quote(suffix, safe="",
                                                           errors="surrogatepass")


@st.composite
def arbitrary_requests(draw: st.DrawFn, world: World) -> Request:
    body = draw(bodies(world))
    headers = {"Content-Type": draw(st.sampled_from(
        ["application/json", "text/plain", "application/octet-stream"]))}
    chosen = {
        "x-evolution-signature": draw(signatures(world, body)),
        "Authorization": draw(authorizations(world)),
        "apikey": draw(st.one_of(st.none(), header_text, st.sampled_from(
            [*world.secrets.values(), *(t for _, t in world.instances.values())]))),
        "webhook-id": draw(st.one_of(st.none(), header_text)),
    }
    headers.update({k: v for k, v in chosen.items() if v is not None})
    return Request(draw(paths()), body, headers)


@st.composite
def authentic_requests(draw: st.DrawFn, world: World) -> Request:
    envelope = draw(envelopes(world, well_formed=True))
    org, token = world.instances[envelope["instance"]]
    secret = world.secrets[org]
    mode = draw(st.sampled_from(["signature", "jwt", "jwt_late_retry", "apikey", "body_apikey"]))
    if mode == "body_apikey":
        envelope["apikey"] = token
    body = _dump(envelope, draw)
    headers = {"Content-Type": "application/json"}
    if draw(st.booleans()):  # noise beside the credential: any one method is enough
        headers["x-evolution-signature"] = "sha256=" + "0" * 64
    if draw(st.booleans()):
        headers["webhook-id"] = draw(header_text.map(lambda s: s or "id"))
    if mode == "signature":
        headers["x-evolution-signature"] = "sha256=" + _hmac(secret, body)
    elif mode.startswith("jwt"):
        age = draw(st.integers(600, 600 + LEEWAY_S - 60) if mode.endswith("retry") else
                   st.integers(0, 60))
        headers["Authorization"] = "Bearer " + _token(secret, age)
    elif mode == "apikey":
        headers["apikey"] = secret
    base = draw(st.sampled_from(WITH_ORG + BY_INSTANCE)).format(org=org)
    suffix = draw(st.one_of(st.none(), st.sampled_from(SUFFIXES)))
    return Request(base if suffix is None else f"{base}/{suffix}", body, headers, True)


def any_requests(world: World) -> st.SearchStrategy[Request]:
    return st.one_of(arbitrary_requests(world), authentic_requests(world))


# Checks --------------------------------------------------------------------------------------

def check_answer(answer: Answer) -> None:
    """What every answer obeys: never 5xx, and every error a problem document."""
    if currently_in_test_context():
        event(f"status {answer.status}")
    assert answer.status < 500, answer.body
    assert answer.status == 200 or 400 <= answer.status < 500, answer.status
    if answer.status >= 400:
        assert answer.content_type.startswith(PROBLEM), answer.content_type
        problem = answer.json()
        assert problem["status"] == answer.status
        assert problem["type"].startswith("/problems/")
        assert "Traceback" not in answer.body.decode("utf-8", "replace")


def send_and_check(world: World, request: Request) -> Answer:
    """One request: the contract holds whatever the input, and only credentials admit."""
    answer = world.post(request)
    note(f"{request.path} -> {answer.status} {answer.body[:300]!r}")
    check_answer(answer)
    if request.authentic and len(request.body) <= MAX_BODY:
        assert answer.status == 200, answer.body
    if answer.status == 200:
        ack = answer.json()
        assert ack["status"] == "accepted"
        assert isinstance(ack["duplicate"], bool)
        event_id = uuid.UUID(ack["event_id"])
        orgs = world.credential_orgs(request)
        assert orgs, "accepted a request that carried no valid credential"
        if not ack["duplicate"]:
            world.acknowledged[event_id] = (request, orgs)
    return answer


def assert_inbox_holds_only_authenticated_events(world: World) -> None:
    for row in world.inbox():
        event = row.event
        assert event.id in world.acknowledged, f"stored but never acknowledged: {event}"
        request, orgs = world.acknowledged[event.id]
        assert event.body == request.body
        assert event.organization_id in orgs, (
            f"stored for {event.organization_id} with credentials for {sorted(orgs)}")


# Properties ----------------------------------------------------------------------------------

@PROPERTY_SETTINGS
@given(data=st.data())
def test_any_webhook_request_is_answered_below_500_and_errors_are_problems(
        world: World, data: st.DataObject) -> None:
    send_and_check(world, data.draw(any_requests(world), label="request"))
    assert_inbox_holds_only_authenticated_events(world)


@PROPERTY_SETTINGS
@given(data=st.data())
def test_unauthenticated_webhooks_are_never_stored(world: World, data: st.DataObject) -> None:
    request = data.draw(arbitrary_requests(world), label="request")
    assume(not world.credential_orgs(request))
    before = len(world.inbox())
    answer = send_and_check(world, request)
    assert answer.status != 200
    assert len(world.inbox()) == before
    assert_inbox_holds_only_authenticated_events(world)


@PROPERTY_SETTINGS
@given(data=st.data())
def test_redelivery_of_an_accepted_webhook_is_a_duplicate_and_stores_nothing(
        world: World, data: st.DataObject) -> None:
    request = data.draw(any_requests(world), label="request")
    before = len(world.inbox())
    first = send_and_check(world, request)
    if first.status != 200:
        assert len(world.inbox()) == before
        return
    stored = len(world.inbox())
    assert stored == before + (0 if first.json()["duplicate"] else 1)
    again = send_and_check(world, request)
    assert again.status == 200, again.body
    assert again.json()["duplicate"] is True
    assert again.json()["event_id"] == first.json()["event_id"]
    assert len(world.inbox()) == stored
    assert_inbox_holds_only_authenticated_events(world)


# Header bytes that are legal on the wire (RFC 9110 obs-text) but are not UTF-8.
raw_values = st.binary(min_size=1, max_size=40).map(
    lambda b: bytes(c for c in b if 0x21 <= c <= 0x7E or c >= 0x80) or b"\xff")


@PROPERTY_SETTINGS
@given(data=st.data())
def test_credential_headers_with_non_utf8_bytes_are_401_not_500(
        world: World, data: st.DataObject) -> None:
    name = data.draw(st.sampled_from(sorted(world.instances)), label="instance")
    org, _ = world.instances[name]
    body = json.dumps({"event": "connection.update", "instance": name,
                       "data": {"state": "connecting"}}).encode()
    header, prefix = data.draw(st.sampled_from([
        (b"x-evolution-signature", b"sha256="), (b"Authorization", b"Bearer "),
        (b"apikey", b""), (b"webhook-id", b""), (b"x-evolution-signature", b"")]),
        label="header")
    value = prefix + data.draw(raw_values, label="value")
    path = data.draw(st.sampled_from([p.format(org=org) for p in WITH_ORG + BY_INSTANCE]))
    before = len(world.inbox())
    answer = world.post_raw(path, [(header, value)], body)
    note(f"{header!r}: {value!r} -> {answer.status} {answer.body[:300]!r}")
    check_answer(answer)
    assert answer.status == 401
    assert len(world.inbox()) == before


@pytest.mark.parametrize("signature", ["sha256=\u00e9", "sha256=\u00a1" + "0" * 63,
                                       "sha256=\u6f22\u5b57"])
def test_signature_with_non_ascii_characters_is_401_not_500(world: World, signature: str) -> None:
    name = sorted(world.instances)[0]
    org, _ = world.instances[name]
    body = json.dumps({"event": "connection.update", "instance": name, "data": {}}).encode()
    answer = world.post(Request(f"/api/webhooks/evolution/{org}", body,
                                {"x-evolution-signature": signature}))
    check_answer(answer)
    assert answer.status == 401


def test_body_apikey_with_a_lone_surrogate_is_401_not_500(world: World) -> None:
    name = sorted(world.instances)[0]
    org, _ = world.instances[name]
    body = json.dumps({"event": "connection.update", "instance": name, "data": {},
                       "apikey": "\ud800"}).encode()  # valid JSON: an escaped lone surrogate
    answer = world.post(Request(f"/api/webhooks/evolution/{org}", body, {}))
    check_answer(answer)
    assert answer.status == 401
