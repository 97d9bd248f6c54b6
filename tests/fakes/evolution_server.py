"""A fake Evolution API v2 over real HTTP, for contract and e2e tests.

It serves the routes the service uses from the same simulation as ``FakeEvolutionGateway``,
with Evolution's waits (times ``time_scale``), guards, error envelopes and webhook deliveries
(envelope, ``jwt_key`` JWT, retry policy) over real HTTP.
"""

from __future__ import annotations

import asyncio
import json
from collections import Counter, deque
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import attrs
from aiohttp import web

from adapters.evolution.delivery import aiohttp_deliverer
from adapters.evolution.endpoints import ENDPOINTS, Endpoint, EvolutionRefusal
from adapters.evolution.simulation import EvolutionSimulation, SimulationSettings
from adapters.evolution.simulation.controls import SimulationControls

GLOBAL_KEY = "fake-evolution-key"


@attrs.frozen
class ReceivedRequest:
    endpoint: str
    method: str
    path: str
    apikey: str | None
    body: Any


class FakeEvolutionServer(SimulationControls):
    """``down`` makes every endpoint answer 503 (``down_mode="503"``) or drop the connection
    (``down_mode="close"``); ``latency_s`` delays every answer. ``requests`` counts arrivals per
    endpoint name, down or not; ``received`` keeps each request that reached the simulation."""

    def __init__(self, time_scale: float = 1.0, api_key: str = GLOBAL_KEY,
                 **options: Any) -> None:
        settings = SimulationSettings(global_key=api_key, time_scale=time_scale, **options)
        self.sim = EvolutionSimulation(settings, server_url=None)
        self.api_key = api_key
        self.requests: Counter[str] = Counter()
        self.received: list[ReceivedRequest] = []
        self.down = False
        self.down_mode = "503"
        self.latency_s = 0.0

    def app(self) -> web.Application:
        app = web.Application(middlewares=[self._arrivals])
        for endpoint in ENDPOINTS:
            app.router.add_route(endpoint.method, endpoint.path, self._handler(endpoint),
                                 name=endpoint.name)
        # Express answers any other method or path with 404 "Cannot GET /foo".
        app.router.add_route("*", "/{tail:.*}", _unknown_route)
        app.cleanup_ctx.append(self._webhook_client)
        return app

    @web.middleware
    async def _arrivals(self, request: web.Request, handler: Any) -> web.StreamResponse:
        self.requests[request.match_info.route.name or "unknown"] += 1
        if self.latency_s:
            await asyncio.sleep(self.latency_s)
        if not self.down:
            return await handler(request)
        if self.down_mode == "close" and request.transport is not None:
            request.transport.close()
        return web.json_response({"message": "Service Unavailable"}, status=503)

    def _handler(self, endpoint: Endpoint) -> Any:
        async def handle(request: web.Request) -> web.Response:
            body = None
            if request.body_exists:
                try:
                    body = json.loads(await request.read())
                except ValueError as e:  # Express' body parser, with its odd reason phrase
                    return web.json_response({"status": 400, "error": "Internal Server Error",
                                              "response": {"message": str(e)}}, status=400)
            apikey = request.headers.get("apikey")
            self.received.append(ReceivedRequest(endpoint.name, request.method, request.path,
                                                 apikey, body))
            try:
                answer = await self.sim.dispatch(endpoint, request.match_info.get("instance"),
                                                 apikey, body, dict(request.query))
            except EvolutionRefusal as refusal:
                return web.json_response(refusal.body, status=refusal.status)
            return web.json_response(answer, status=endpoint.success_status)

        return handle

    async def _webhook_client(self, app: web.Application) -> AsyncIterator[None]:
        async with aiohttp.ClientSession() as session:
            self.sim.webhooks.deliver = aiohttp_deliverer(session)
            yield
            await self.sim.close()


async def _unknown_route(request: web.Request) -> web.Response:
    message = f"Cannot {request.method} {request.path}"
    return web.json_response({"status": 404, "error": "Not Found",
                              "response": {"message": [message]}}, status=404)


async def start_fake_evolution(host: str = "127.0.0.1", port: int = 0, **options: Any
                               ) -> tuple[web.AppRunner, str, FakeEvolutionServer]:
    """Start it on a free port; ``await runner.cleanup()`` stops it and its webhooks."""
    server = FakeEvolutionServer(**options)
    runner = web.AppRunner(server.app())
    await runner.setup()
    await web.TCPSite(runner, host, port).start()
    bound_host, bound_port = runner.addresses[0][:2]
    base_url = f"http://{bound_host}:{bound_port}"
    server.sim.webhooks.server_url = base_url
    return runner, base_url, server


@attrs.frozen
class Delivery:
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


class WebhookSink:
    """A webhook receiver that records every POST and answers the scripted statuses in turn
    (200 once the script runs out). Serve ``app()`` with ``aiohttp_server``."""

    def __init__(self, *statuses: int) -> None:
        self.deliveries: list[Delivery] = []
        self.statuses: deque[int] = deque(statuses)

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/{tail:.*}", self._receive)
        return app

    def events(self, event: str) -> list[Any]:
        return [d.json() for d in self.deliveries if d.json()["event"] == event]

    async def _receive(self, request: web.Request) -> web.Response:
        self.deliveries.append(Delivery(request.path, dict(request.headers),
                                        await request.read()))
        return web.Response(status=self.statuses.popleft() if self.statuses else 200)


class RecordingDeliverer:
    """A ``deliver`` for ``FakeEvolutionGateway`` without HTTP: records each POST and answers
    the scripted statuses in turn (200 once they run out); a 0 raises a network error."""

    def __init__(self, *statuses: int) -> None:
        self.posts: list[tuple[str, dict[str, str], dict[str, Any]]] = []
        self.statuses: deque[int] = deque(statuses)

    async def __call__(self, url: str, headers: dict[str, str], body: bytes) -> int:
        self.posts.append((url, headers, json.loads(body)))
        status = self.statuses.popleft() if self.statuses else 200
        if status == 0:
            raise ConnectionRefusedError("nobody listening")
        return status

    def events(self, event: str) -> list[Any]:
        return [body for _, _, body in self.posts if body["event"] == event]
