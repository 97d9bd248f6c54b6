"""Schemathesis against the served OpenAPI document, on the real app listening on a real port.

Every operation of /api/openapi.json gets generated requests, valid and invalid, as an admin.
Each answer must not be a 5xx, and must be what the document says: a documented status (4xx
problems are the ``default`` answer), its content type and its body schema. The run is
derandomized with a fixed number of examples, so it finds the same things every time and fits
the suite's time budget.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Generic, TypeVar

import pytest
import schemathesis
from aiohttp import web
from marshmallow import Schema, fields, validate
from schemathesis.config import SchemathesisConfig
from schemathesis.engine import Status, StopReason, events

from entrypoints.http.documented import PUBLIC, documented
from entrypoints.http.openapi import openapi_document
from tests.api.conftest import Service, free_port, service_env, start_service

CHECKS = ("not_a_server_error", "status_code_conformance", "content_type_conformance",
          "response_schema_conformance")
# The other built-in checks judge API design choices (e.g. whether a random valid UUID must
# be found), not conformance to the document; they are off so a failure here means a bug.
OTHER_CHECKS = ("response_headers_conformance", "positive_data_acceptance",
                "negative_data_rejection", "use_after_free", "ensure_resource_availability",
                "missing_required_header", "ignored_auth", "object_level_authorization",
                "unsupported_method", "allow_header_conformance")
EXAMPLES_PER_OPERATION = 40
STREAM_EXAMPLES = 5
REQUEST_TIMEOUT_S = 10


T = TypeVar("T")


class InThread(Generic[T]):
    """An async server on its own event loop in a thread: schemathesis calls it synchronously.

    ``serve`` yields once the server listens and is closed when the block ends.
    """

    def __init__(self, serve: Callable[[], AsyncIterator[T]]) -> None:
        self._serve = serve
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._stop: asyncio.Event | None = None
        self._failure: BaseException | None = None
        self._value: list[T] = []
        self._thread = threading.Thread(target=self._run, name="live-server", daemon=True)

    def __enter__(self) -> T:
        self._thread.start()
        if not self._ready.wait(30):
            raise TimeoutError("the server did not start within 30 s")
        if self._failure is not None:
            raise self._failure
        return self._value[0]

    def __exit__(self, *_: object) -> None:
        if self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(30)

    def _run(self) -> None:
        try:
            self._loop.run_until_complete(self._main())
        except BaseException as exc:  # reported to the test thread, which is waiting
            self._failure = exc
        finally:
            self._ready.set()
            self._loop.close()

    async def _main(self) -> None:
        self._stop = asyncio.Event()
        async for value in self._serve():
            self._value.append(value)
            self._ready.set()
            await self._stop.wait()


@pytest.fixture(scope="module")
def live_service() -> Iterator[Service]:
    # A stream on a real instance would otherwise hold a generated request for 300 s.
    env = service_env(free_port(), QR_STREAM_MAX_S="1")
    with InThread(lambda: start_service(env)) as service:
        yield service


def config(token: str) -> SchemathesisConfig:
    return SchemathesisConfig.from_dict({
        "seed": 20261124,
        "generation": {"deterministic": True, "max-examples": EXAMPLES_PER_OPERATION,
                       "database": "none"},
        # Stateful runs follow links the document does not declare; the other three phases
        # are the documented examples, the boundary values of each schema, and fuzzing.
        "phases": {"stateful": {"enabled": False}},
        # A generated request that finds a real instance holds its stream for QR_STREAM_MAX_S.
        "operations": [{"include-path-regex": "/qr/stream$",
                        "generation": {"max-examples": STREAM_EXAMPLES}}],
        "checks": {**{name: {"enabled": True} for name in CHECKS},
                   **{name: {"enabled": False} for name in OTHER_CHECKS}},
        "auth": {"openapi": {"bearer": {"bearer": token}}},
        "request-timeout": REQUEST_TIMEOUT_S,
        # Enough of a QR stream to check its first events; then the client hangs up.
        "max-stream-events": 3,
        "suppress-health-check": ["all"],
        "cache": {"enabled": False},
    })


def run(base_url: str, token: str) -> tuple[list[str], events.EngineFinished | None, int]:
    """Every failure the run finds, as ``operation: title`` and the curl line to replay it."""
    schema = schemathesis.openapi.from_url(f"{base_url}/api/openapi.json", config=config(token))
    failures: list[str] = []
    finished: events.EngineFinished | None = None
    scenarios = 0
    for event in schemathesis.engine.from_schema(schema).execute():
        if isinstance(event, events.ScenarioFinished):
            scenarios += 1
            failures.extend(_failures(event))
        elif isinstance(event, events.NonFatalError):
            failures.append(f"{event.label}: the request failed: {event.value!r}")
        elif isinstance(event, events.FatalError):
            failures.append(f"the run failed: {event.exception!r}")
        elif isinstance(event, events.EngineFinished):
            finished = event
    return sorted(set(failures)), finished, scenarios


def _failures(event: events.ScenarioFinished) -> Iterator[str]:
    for checks in event.recorder.checks.values():
        for check in checks:
            if check.status == Status.FAILURE and check.failure_info is not None:
                failure = check.failure_info.failure
                yield (f"{event.recorder.label}: {failure.title}: {failure.message}\n"
                       f"    {check.failure_info.code_sample}")


def test_every_answer_is_documented_and_none_is_a_server_error(
        live_service: Service) -> None:
    failures, finished, scenarios = run(live_service.base_url, live_service.token("admin"))
    assert finished is not None
    assert finished.stop_reason == StopReason.COMPLETED
    assert scenarios >= 3 * 40  # examples, coverage and fuzzing of each documented operation
    assert failures == [], "\n".join(failures)


class FragileQuery(Schema):
    n = fields.Integer(required=True, validate=validate.Range(0, 10))


async def flawed_app() -> AsyncIterator[str]:
    """Two documented routes that break their document: the run must name both."""

    @documented("Fails past 3", answer={"type": "object"}, security=PUBLIC,
                query=FragileQuery)
    async def fragile(request: web.Request) -> web.Response:
        if int(request.query.get("n", "0")) > 3:
            raise RuntimeError("an unforeseen input")
        return web.json_response({})

    @documented("Says it answers an object", answer={"type": "object"}, security=PUBLIC)
    async def liar(request: web.Request) -> web.Response:
        return web.json_response([1, 2])

    @documented("This document", answer={"type": "object"}, security=PUBLIC)
    async def document(request: web.Request) -> web.Response:
        return web.json_response(openapi_document(request.app))

    app = web.Application()
    app.router.add_get("/fragile", fragile, allow_head=False)
    app.router.add_get("/liar", liar, allow_head=False)
    app.router.add_get("/api/openapi.json", document, allow_head=False)
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        await runner.cleanup()


def test_the_run_reports_a_server_error_and_an_answer_off_its_schema() -> None:
    with InThread(flawed_app) as base_url:
        failures, finished, _ = run(base_url, "unused")
    assert finished is not None
    reported = "\n".join(failures)
    assert "GET /fragile: Server error" in reported
    assert "GET /liar: Response violates schema" in reported
