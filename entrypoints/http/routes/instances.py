"""Instance routes (API.md section 4)."""

from __future__ import annotations

import hashlib
import json
from uuid import UUID

from aiohttp import web

from application.errors import NotFound, ValidationFailed
from application.instances.qr_stream import QrStream
from application.instances.quick_create import QuickCreate
from application.instances.service import instance_page
from application.presenters import instance_view
from domain.text import is_storable
from entrypoints.http.auth import TENANT_ROLES, authenticate
from entrypoints.http.documented import BROWSER, SSE_EVENT, documented
from entrypoints.http.keys import services
from entrypoints.http.paths import INSTANCES, qr_stream_url
from entrypoints.http.schemas import instances as shapes
from entrypoints.http.schemas.common import json_body, load, query
from entrypoints.http.schemas.instances import INSTANCE_LIST, PAGE, QUICK_CREATE
from entrypoints.http.sse import stream_response

routes = web.RouteTableDef()
BASE = INSTANCES


def instance_id(request: web.Request) -> UUID:
    try:
        return UUID(request.match_info["id"])
    except ValueError:
        raise NotFound("no instance has that id") from None


@routes.post(f"{BASE}/quick-create")
@documented("Create an instance in one call", status=201, answer=shapes.QuickCreateResponse,
            body=QUICK_CREATE, body_required=False, roles=TENANT_ROLES,
            headers={"Idempotency-Key": {"type": "string", "minLength": 1, "maxLength": 255}})
async def quick_create(request: web.Request) -> web.Response:
    """Create an instance in one call; the QR follows on the stream."""
    actor = authenticate(request, TENANT_ROLES)
    body = await json_body(request, required=False)
    data = load(QUICK_CREATE, body)
    key = request.headers.get("Idempotency-Key")
    if key is not None and not (1 <= len(key) <= 255 and is_storable(key)):
        raise ValidationFailed({"Idempotency-Key": ["must be 1..255 storable characters"]})
    digest = hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()
    container = services(request)
    result = await container.quick_create().quick_create(
        actor, QuickCreate(**data, idempotency_key=key, request_hash=digest))
    stream = qr_stream_url(container.settings().public_base_url, result["instance"]["id"])
    return web.json_response({**result, "qr_stream_url": stream}, status=201)


@routes.get(BASE)
@documented("List instances", answer=shapes.InstancePage, query=INSTANCE_LIST, roles=TENANT_ROLES)
async def list_instances(request: web.Request) -> web.Response:
    actor = authenticate(request, TENANT_ROLES)
    q = query(request, INSTANCE_LIST)
    page = await services(request).instances().find(
        actor, q["organization_id"], q["state"], q["limit"], q["cursor"])
    return web.json_response(instance_page(page))


@routes.get(BASE + "/{id}")
@documented("Get an instance", answer=shapes.InstanceSchema, roles=TENANT_ROLES)
async def get_instance(request: web.Request) -> web.Response:
    actor = authenticate(request, TENANT_ROLES)
    instance = await services(request).instances().get(actor, instance_id(request))
    return web.json_response(instance_view(instance))


@routes.post(BASE + "/{id}/connect")
@documented("The current QR", answer=shapes.ConnectResponse, roles=TENANT_ROLES)
async def connect(request: web.Request) -> web.Response:
    """The QR to scan now: cached, from Evolution, or from the next webhook."""
    actor = authenticate(request, TENANT_ROLES)
    view = await services(request).connect().connect(actor, instance_id(request))
    return web.json_response(view.as_dict())


@routes.get(BASE + "/{id}/qr/stream")
@documented("QR stream (Server-Sent Events)", answer=SSE_EVENT,
            answer_type="text/event-stream", security=(*BROWSER, "connectLink"),
            roles=TENANT_ROLES, headers={"Last-Event-ID": {"type": "string"}})
async def qr_stream(request: web.Request) -> web.StreamResponse:
    return await stream_response(request, await _open_stream(request))


async def _open_stream(request: web.Request) -> QrStream:
    last = request.headers.get("Last-Event-ID")
    # The connect page's EventSource holds its link, good for this one instance only.
    link = request.query.get("t")
    if link and "Authorization" not in request.headers:
        return await services(request).connect_links().open_stream(
            instance_id(request), link, last)
    actor = authenticate(request, TENANT_ROLES, allow_browser=True)
    return await services(request).qr_streams().open(actor, instance_id(request), last)


@routes.get(BASE + "/{id}/status")
@documented("Live state from Evolution", answer=shapes.StatusResponse, roles=TENANT_ROLES)
async def status(request: web.Request) -> web.Response:
    actor = authenticate(request, TENANT_ROLES)
    return web.json_response(
        await services(request).instances().status(actor, instance_id(request)))


@routes.post(BASE + "/{id}/restart")
@documented("Restart the socket", status=202, answer=shapes.InstanceSchema, roles=TENANT_ROLES)
async def restart(request: web.Request) -> web.Response:
    actor = authenticate(request, TENANT_ROLES)
    instance = await services(request).instances().restart(actor, instance_id(request))
    return web.json_response(instance_view(instance), status=202)


@routes.post(BASE + "/{id}/logout")
@documented("Log out of WhatsApp", answer=shapes.InstanceSchema, roles=TENANT_ROLES)
async def logout(request: web.Request) -> web.Response:
    actor = authenticate(request, TENANT_ROLES)
    instance = await services(request).instances().logout(actor, instance_id(request))
    return web.json_response(instance_view(instance))


@routes.delete(BASE + "/{id}")
@documented("Delete in Evolution, keep the history", status=204, roles=TENANT_ROLES)
async def delete(request: web.Request) -> web.Response:
    actor = authenticate(request, TENANT_ROLES)
    await services(request).instances().delete(actor, instance_id(request))
    return web.Response(status=204)


@routes.get(BASE + "/{id}/messages")
@documented("Message history, newest first", answer=shapes.MessagePage, query=PAGE,
            roles=TENANT_ROLES)
async def messages(request: web.Request) -> web.Response:
    actor = authenticate(request, TENANT_ROLES)
    q = query(request, PAGE)
    return web.json_response(await services(request).instances().messages(
        actor, instance_id(request), q["limit"], q["cursor"]))
