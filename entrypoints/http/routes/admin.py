"""Rollout flags, audit and secret rotation (API.md sections 7, 8 and 9)."""

from __future__ import annotations

import re
from typing import Any

from aiohttp import web

from application.errors import ValidationFailed
from application.ports.repositories import AuditQuery
from application.rollout import FlagChange
from domain.rollout import variants_from
from entrypoints.http.auth import ADMIN, TENANT_ROLES, authenticate
from entrypoints.http.keys import services
from entrypoints.http.schemas.admin import AUDIT_QUERY, EVALUATE, FLAG_PUT, VERIFY
from entrypoints.http.schemas.common import json_body, load, query

routes = web.RouteTableDef()
FLAG_NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


@routes.get("/api/admin/feature-flags")
async def list_flags(request: web.Request) -> web.Response:
    authenticate(request, ADMIN)
    return web.json_response(await services(request).rollout().list())


@routes.post("/api/admin/feature-flags")
async def toggle_flags(request: web.Request) -> web.Response:
    """Kill switch and bulk toggle: ``{"radical_solution": false}``."""
    actor = authenticate(request, ADMIN)
    body = await json_body(request)
    if not isinstance(body, dict) or not body or not all(
            isinstance(v, bool) for v in body.values()):
        raise ValidationFailed({"_schema": ["expected an object of flag name to boolean"]})
    return web.json_response(await services(request).rollout().toggle(actor, body))


@routes.put("/api/admin/feature-flags/{name}")
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
async def advance_flag(request: web.Request) -> web.Response:
    actor = authenticate(request, ADMIN)
    return web.json_response(
        await services(request).rollout().advance(actor, _flag_name(request)))


@routes.get("/api/feature-flags/evaluate")
async def evaluate_flags(request: web.Request) -> web.Response:
    actor = authenticate(request, TENANT_ROLES)
    org = query(request, EVALUATE)["organization_id"]
    return web.json_response(await services(request).rollout().evaluate(actor, org))


@routes.get("/api/admin/audit")
async def audit_events(request: web.Request) -> web.Response:
    actor = authenticate(request, TENANT_ROLES)
    q = query(request, AUDIT_QUERY)
    return web.json_response(await services(request).audit().query(actor, AuditQuery(
        q["organization_id"], q["action"], q["since"], q["until"], q["limit"], q["cursor"])))


@routes.get("/api/admin/audit/verify")
async def audit_verify(request: web.Request) -> web.Response:
    authenticate(request, ADMIN)
    org = query(request, VERIFY)["organization_id"]
    return web.json_response(await services(request).audit().verify(org))


@routes.post("/api/admin/organizations/{org}/webhook-secret/rotate")
async def rotate_secret(request: web.Request) -> web.Response:
    actor = authenticate(request, ADMIN)
    org = request.match_info["org"]
    load(VERIFY, {"organization_id": org})
    return web.json_response(await services(request).organizations().rotate(actor, org),
                             status=201)


def _flag_name(request: web.Request) -> str:
    name = request.match_info["name"]
    if not FLAG_NAME.match(name):
        raise ValidationFailed({"name": ["must be 1..64 of [A-Za-z0-9_-]"]})
    return name
