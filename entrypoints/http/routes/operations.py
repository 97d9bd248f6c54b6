"""Health, readiness, metrics and the OpenAPI document (API.md section 10)."""

from __future__ import annotations

import time
from typing import Any

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from application.errors import ApplicationError
from entrypoints.http.auth import OPERATORS, authenticate
from entrypoints.http.keys import services
from entrypoints.http.openapi import openapi_document

routes = web.RouteTableDef()
HEALTH_JSON = "application/health+json"


@routes.get("/api/health")
async def health(request: web.Request) -> web.Response:
    return web.json_response({"status": "pass"}, content_type=HEALTH_JSON)


@routes.get("/api/health/ready")
async def ready(request: web.Request) -> web.Response:
    """Each dependency with its status and latency; 503 when a required one fails."""
    c = services(request)
    checks = {"storage": await _timed(c.storage_check()),
              "evolution": await _timed(c.evolution().check()),
              "worker": c.heartbeat().check()}
    failed = any(v["status"] == "fail" and v.get("required", True) for v in checks.values())
    body = {"status": "fail" if failed else "pass", "checks": checks}
    return web.json_response(body, status=503 if failed else 200, content_type=HEALTH_JSON)


async def _timed(awaitable: Any) -> dict[str, Any]:
    started = time.perf_counter()
    try:
        await awaitable
        status, detail = "pass", None
    except ApplicationError as exc:
        status, detail = "fail", type(exc).__name__
    result = {"status": status, "latency_ms": round((time.perf_counter() - started) * 1000, 2)}
    return result | ({"detail": detail} if detail else {})


@routes.get("/metrics")
async def metrics(request: web.Request) -> web.Response:
    if not request.app.get(METRICS_OPEN_KEY, False):
        authenticate(request, OPERATORS)
    registry = services(request).telemetry().registry
    return web.Response(body=generate_latest(registry),
                        headers={"Content-Type": CONTENT_TYPE_LATEST})


@routes.get("/api/openapi.json")
async def openapi(request: web.Request) -> web.Response:
    return web.json_response(openapi_document())


METRICS_OPEN_KEY = web.AppKey("metrics_open", bool)
