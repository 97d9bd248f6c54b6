"""The aiohttp application: routes, middlewares, and one lifecycle for every resource."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable

import structlog
from aiohttp import web

from entrypoints.container import Container, running
from entrypoints.http.auth import JWT_KEY, JWT_SECRET_KEY
from entrypoints.http.keys import CONTAINER, DRAINING, Draining
from entrypoints.http.middlewares import BODY_TIMEOUT_KEY, OBSERVE_KEY, request_context
from entrypoints.http.pages import setup_pages
from entrypoints.http.routes import (
    admin,
    alerts,
    backups,
    dead_letters,
    instances,
    legacy,
    operations,
    webhooks,
)
from entrypoints.http.routes.connect_page import routes as connect_page_routes
from entrypoints.http.routes.monitoring import routes as monitoring_routes
from entrypoints.http.routes.operations import METRICS_OPEN_KEY
from entrypoints.http.server import EdgeRunner, answer_expectations
from entrypoints.http.sse import STREAMS, end_streams
from entrypoints.sampling import sample_telemetry
from entrypoints.worker import process_webhooks, stopped, watch_flags

log = structlog.get_logger(__name__)
MAX_BODY = 1024 * 1024  # API.md: bodies over 1 MiB are 413
BACKGROUND = web.AppKey("background", list)


def create_app(container: Container, run_worker: bool | None = None) -> web.Application:
    settings = container.settings()
    app = web.Application(middlewares=[request_context], client_max_size=MAX_BODY)
    app[CONTAINER] = container
    app[JWT_KEY] = container.jwt()
    app[JWT_SECRET_KEY] = settings.auth_jwt_secret
    app[OBSERVE_KEY] = _observer(container)
    app[BODY_TIMEOUT_KEY] = settings.http_body_timeout_s
    app[DRAINING] = Draining()
    app[STREAMS] = set()
    app.on_shutdown.append(end_streams)
    setup_pages(app, settings.connect_frame_ancestors)
    app.router.add_routes(connect_page_routes)
    for module in (instances, legacy, webhooks, admin, operations, backups,
                   dead_letters, alerts):
        app.router.add_routes(module.routes)
    app.router.add_routes(monitoring_routes)
    answer_expectations(app)
    worker = settings.embedded if run_worker is None else run_worker
    app.cleanup_ctx.append(lambda a: _lifecycle(a, container, worker))
    return app


async def _lifecycle(app: web.Application, container: Container,
                     worker: bool) -> AsyncIterator[None]:
    async with running(container):
        async for _ in _background(app, container, worker):
            yield


async def _background(app: web.Application, container: Container,
                      worker: bool) -> AsyncIterator[None]:
    metrics = await _metrics_listener(container)
    tasks = [asyncio.create_task(watch_flags(container), name="watch-flags"),
             asyncio.create_task(sample_telemetry(container), name="monitoring-sampler")]
    if worker:
        tasks.append(asyncio.create_task(process_webhooks(container), name="webhook-worker"))
    app[BACKGROUND] = tasks
    yield
    await stopped(*tasks)
    if metrics is not None:
        await metrics.cleanup()


async def _metrics_listener(container: Container) -> web.AppRunner | None:
    """``METRICS_PORT``: /metrics without a token, for a scraper on a private network."""
    settings = container.settings()
    if settings.metrics_port is None:
        return None
    app = web.Application(middlewares=[request_context])
    app[CONTAINER] = container
    app[METRICS_OPEN_KEY] = True
    app.router.add_get("/metrics", operations.metrics)
    runner = EdgeRunner(app, header_timeout_s=settings.http_header_timeout_s, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, settings.host, settings.metrics_port).start()
    return runner


def _observer(container: Container) -> Callable[[web.Request, int, float], None]:
    histogram = container.telemetry().http_seconds

    def observe(request: web.Request, status: int, seconds: float) -> None:
        route = request.match_info.route.resource
        name = route.canonical if route is not None else "unmatched"
        histogram.labels(name, request.method, str(status)).observe(seconds)

    return observe
