"""Dead-lettered webhook events: list and replay (API.md section 10)."""

from __future__ import annotations

from uuid import UUID

from aiohttp import web

from application.errors import NotFound
from application.ports.inbox import DeadLetterQuery
from entrypoints.http.auth import ADMIN, TENANT_ROLES, authenticate
from entrypoints.http.documented import documented
from entrypoints.http.keys import services
from entrypoints.http.schemas.common import query
from entrypoints.http.schemas.dead_letters import (
    DEAD_LETTER_QUERY,
    DeadLetterPage,
    ReplaySchema,
)

routes = web.RouteTableDef()


@routes.get("/api/admin/webhooks/dead")
@documented("Dead-lettered webhook events", answer=DeadLetterPage, query=DEAD_LETTER_QUERY,
            roles=TENANT_ROLES,
            description="Newest first, with the last error and attempts; never the body. A "
                        "tenant_admin reads its own organization only.")
async def list_dead(request: web.Request) -> web.Response:
    actor = authenticate(request, TENANT_ROLES)
    q = query(request, DEAD_LETTER_QUERY)
    return web.json_response(await services(request).dead_letters().list(
        actor, DeadLetterQuery(q["organization_id"], q["limit"], q["cursor"])))


@routes.post("/api/admin/webhooks/dead/{id}/replay")
@documented("Replay a dead-lettered event", answer=ReplaySchema, roles=ADMIN,
            description="Back in the inbox as pending, attempts reset; audited "
                        "webhook_replayed. 404 once it is no longer dead.")
async def replay_dead(request: web.Request) -> web.Response:
    actor = authenticate(request, ADMIN)
    try:
        event_id = UUID(request.match_info["id"])
    except ValueError:
        raise NotFound("no dead-lettered event has that id") from None
    return web.json_response(await services(request).dead_letters().replay(actor, event_id))
