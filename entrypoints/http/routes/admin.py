"""Rollout flags, audit and secret rotation (API.md sections 7, 8 and 9)."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from application.errors import ValidationFailed
from application.ports.repositories import AuditQuery
from application.rollout.service import FlagChange
from domain.rollout import variants_from
from domain.text import is_name
from entrypoints.http.auth import ADMIN, TENANT_ROLES, authenticate
from entrypoints.http.documented import FLAG_TOGGLES, documented
from entrypoints.http.keys import services
from entrypoints.http.schemas import admin as shapes
from entrypoints.http.schemas.admin import AUDIT_QUERY, EVALUATE, FLAG_PUT, VERIFY
from entrypoints.http.schemas.answers import EvaluateResponse
from entrypoints.http.schemas.common import json_body, load, query

routes = web.RouteTableDef()


@routes.get("/api/admin/feature-flags")
@documented("List rollout flags", answer=shapes.FlagList, roles=ADMIN)
async def list_flags(request: web.Request) -> web.Response:
    authenticate(request, ADMIN)
    return web.json_response(await services(request).rollout().list())


@routes.post("/api/admin/feature-flags")
@documented("Kill switch / bulk toggle", answer=shapes.FlagList, body=FLAG_TOGGLES,
            answer_description="The flags changed", roles=ADMIN)
async def toggle_flags(request: web.Request) -> web.Response:
    """Kill switch and bulk toggle: ``{"radical_solution": false}``."""
    actor = authenticate(request, ADMIN)
    body = await json_body(request)
    if not isinstance(body, dict) or not body or not all(
            is_name(k) and isinstance(v, bool) for k, v in body.items()):
        raise ValidationFailed({"_schema": ["expected an object of flag name to boolean"]})
    return web.json_response(await services(request).rollout().toggle(actor, body))


@routes.put("/api/admin/feature-flags/{name}")
@documented("Configure a flag", answer=shapes.FlagSchema, body=FLAG_PUT, roles=ADMIN)
async def put_flag(request: web.Request) -> web.Response:
    actor = authenticate(request, ADMIN)
    data: dict[str, Any] = load(FLAG_PUT, await json_body(request))
    variants = data["variants"]
    change = FlagChange(
        data["enabled"], data["percentage"], frozenset(data["allow_orgs"]),
        frozenset(data["deny_orgs"]),
        None if variants is None else variants_from((v["name"], v["weight"]) for v in variants))
    name = _flag_name(request)
    return web.json_response(await services(request).rollout().put(actor, name, change))


@routes.post("/api/admin/feature-flags/{name}/advance")
@documented("Next rollout stage", answer=shapes.FlagSchema, roles=ADMIN)
async def advance_flag(request: web.Request) -> web.Response:
    actor = authenticate(request, ADMIN)
    return web.json_response(
        await services(request).rollout().advance(actor, _flag_name(request)))


@routes.get("/api/feature-flags/evaluate")
@documented("Evaluate flags for an organization", answer=EvaluateResponse, query=EVALUATE,
            roles=TENANT_ROLES)
async def evaluate_flags(request: web.Request) -> web.Response:
    actor = authenticate(request, TENANT_ROLES)
    org = query(request, EVALUATE)["organization_id"]
    return web.json_response(await services(request).rollout().evaluate(actor, org))


@routes.get("/api/admin/audit")
@documented("Audit events", answer=shapes.AuditPage, query=AUDIT_QUERY, roles=TENANT_ROLES,
            description="A tenant_admin reads its own organization only.")
async def audit_events(request: web.Request) -> web.Response:
    actor = authenticate(request, TENANT_ROLES)
    q = query(request, AUDIT_QUERY)
    return web.json_response(await services(request).audit().query(actor, AuditQuery(
        q["organization_id"], q["action"], q["since"], q["until"], q["limit"], q["cursor"])))


@routes.get("/api/admin/audit/verify")
@documented("Verify the audit hash chain", answer=shapes.VerifyResponse, query=VERIFY,
            roles=ADMIN)
async def audit_verify(request: web.Request) -> web.Response:
    authenticate(request, ADMIN)
    org = query(request, VERIFY)["organization_id"]
    return web.json_response(await services(request).audit().verify(org))


@routes.post("/api/admin/organizations/{orgId}/webhook-secret/rotate")
@documented("Rotate the organization's webhook secret", status=201, roles=ADMIN,
            answer=shapes.RotateResponse, description="The secret is shown once.")
async def rotate_secret(request: web.Request) -> web.Response:
    actor = authenticate(request, ADMIN)
    org = request.match_info["orgId"]
    load(VERIFY, {"organization_id": org})
    return web.json_response(await services(request).organizations().rotate(actor, org),
                             status=201)


def _flag_name(request: web.Request) -> str:
    name = request.match_info["name"]
    if not is_name(name):
        raise ValidationFailed({"name": ["must be 1..64 of [A-Za-z0-9_-]"]})
    return name
