"""Health, readiness, metrics and the OpenAPI document (API.md section 10)."""

from __future__ import annotations

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from entrypoints.http.auth import OPERATORS, authenticate
from entrypoints.http.documented import MANAGEMENT, PUBLIC, Answer, documented
from entrypoints.http.keys import DRAINING, services
from entrypoints.http.openapi import openapi_document
from entrypoints.http.schemas.answers import HealthSchema, ReadinessSchema

routes = web.RouteTableDef()
HEALTH_JSON = "application/health+json"


@routes.get("/api/health")
@documented("Liveness", answer=HealthSchema, answer_type=HEALTH_JSON, security=PUBLIC)
async def health(request: web.Request) -> web.Response:
    return web.json_response({"status": "pass"}, content_type=HEALTH_JSON)


@routes.get("/api/health/ready")
@documented("Readiness", answer=ReadinessSchema, answer_type=HEALTH_JSON, security=PUBLIC,
            other_answers={503: Answer("A required check fails", ReadinessSchema, HEALTH_JSON)})
async def ready(request: web.Request) -> web.Response:
    """Each dependency with its status and latency; 503 when a required one fails."""
    body = await services(request).readiness().check()
    draining = request.app.get(DRAINING)
    if draining is not None and draining.active:
        body = {**body, "status": "fail", "output": "shutting down: this replica takes no new work"}
    status = 503 if body["status"] == "fail" else 200
    return web.json_response(body, status=status, content_type=HEALTH_JSON)


@routes.get("/metrics")
@documented("Prometheus metrics", answer={"type": "string"}, answer_type="text/plain",
            security=MANAGEMENT, roles=OPERATORS,
            description="Without a token on METRICS_PORT, when that is set.")
async def metrics(request: web.Request) -> web.Response:
    if not request.app.get(METRICS_OPEN_KEY, False):
        authenticate(request, OPERATORS)
    registry = services(request).telemetry().registry
    return web.Response(body=generate_latest(registry),
                        headers={"Content-Type": CONTENT_TYPE_LATEST})


@routes.get("/api/openapi.json")
@documented("This document", answer={"type": "object"}, security=PUBLIC)
async def openapi(request: web.Request) -> web.Response:
    return web.json_response(openapi_document(request.app))


METRICS_OPEN_KEY = web.AppKey("metrics_open", bool)
