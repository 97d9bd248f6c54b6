"""Preserved routes of the old flow: same answers, plus deprecation headers (API.md 5)."""

from __future__ import annotations

from datetime import UTC, datetime, time
from email.utils import format_datetime

from aiohttp import web

from entrypoints.http.auth import TENANT_ROLES, authenticate
from entrypoints.http.documented import BROWSER, DEPRECATION, SSE_EVENT, documented
from entrypoints.http.keys import services
from entrypoints.http.routes.instances import instance_id
from entrypoints.http.schemas.instances import ConnectResponse
from entrypoints.http.sse import stream_response

routes = web.RouteTableDef()


def deprecation_headers(request: web.Request) -> dict[str, str]:
    sunset = datetime.combine(services(request).settings().legacy_sunset_date, time(0), UTC)
    successor = f"/api/channels/whatsapp/instances/{request.match_info['id']}/connect"
    return {"Deprecation": "true", "Sunset": format_datetime(sunset, usegmt=True),
            "Link": f"<{successor}>; rel=\"successor-version\""}


def _count(request: web.Request, route: str, organization_id: str) -> None:
    services(request).telemetry().legacy_route_used(route, organization_id)


@routes.route("*", "/api/whatsapp/instances/{id}/connect")
@documented("Deprecated connect", answer=ConnectResponse, answer_headers=DEPRECATION,
            methods=("GET", "POST"), deprecated=True, roles=TENANT_ROLES)
async def legacy_connect(request: web.Request) -> web.Response:
    if request.method not in ("GET", "POST"):
        raise web.HTTPMethodNotAllowed(request.method, ["GET", "POST"])
    actor = authenticate(request, TENANT_ROLES)
    view = await services(request).connect().connect(actor, instance_id(request))
    _count(request, "connect", actor.organization_id or "*")
    return web.json_response(view.as_dict(), headers=deprecation_headers(request))


@routes.get("/api/whatsapp/instances/{id}/qr/stream")
@documented("Deprecated QR stream", answer=SSE_EVENT, answer_headers=DEPRECATION,
            answer_type="text/event-stream", security=BROWSER, deprecated=True,
            roles=TENANT_ROLES, headers={"Last-Event-ID": {"type": "string"}})
async def legacy_stream(request: web.Request) -> web.StreamResponse:
    actor = authenticate(request, TENANT_ROLES, allow_browser=True)
    events = await services(request).qr_streams().open(
        actor, instance_id(request), request.headers.get("Last-Event-ID"))
    _count(request, "qr_stream", actor.organization_id or "*")
    return await stream_response(request, events, deprecation_headers(request))
