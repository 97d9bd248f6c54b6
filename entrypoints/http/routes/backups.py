"""Backups, restore, sync with Evolution and the audit export (API.md section 9)."""

from __future__ import annotations

import re

from aiohttp import web

from application.errors import NotFound
from entrypoints.http.auth import ADMIN, OPERATORS, authenticate
from entrypoints.http.documented import documented
from entrypoints.http.keys import REQUEST_ID, services
from entrypoints.http.schemas import backups as shapes
from entrypoints.http.schemas.common import json_body, load, query

routes = web.RouteTableDef()

BACKUP_ID = {"id": {"type": "string", "format": "uuid",
                          "description": "A backup's id; anything else is a 404."}}
_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", re.ASCII)
NDJSON = "application/x-ndjson"
_CHUNK = 64 * 1024  # lines are gathered into writes of about this size


@routes.post("/api/admin/backups")
@documented("Take a backup", status=201, answer=shapes.BackupSummary, roles=OPERATORS,
            description="Evolution's fetchInstances with our instances, each organization's "
                        "webhook configuration (secrets sealed) and the flags, in one "
                        "checksummed document.")
async def create_backup(request: web.Request) -> web.Response:
    actor = authenticate(request, OPERATORS)
    return web.json_response(await services(request).backups().create(actor), status=201)


@routes.get("/api/admin/backups")
@documented("List backups", answer=shapes.BackupList, roles=OPERATORS, query=shapes.PAGE,
            description="Newest first.")
async def list_backups(request: web.Request) -> web.Response:
    authenticate(request, OPERATORS)
    page = query(request, shapes.PAGE)
    return web.json_response(
        await services(request).backups().listing(page["limit"], page["cursor"]))


@routes.get("/api/admin/backups/{id}")
@documented("Download a backup", answer=shapes.BACKUP_DOCUMENT, roles=OPERATORS,
            path=BACKUP_ID, description="The document exactly as stored.")
async def download_backup(request: web.Request) -> web.Response:
    authenticate(request, OPERATORS)
    document = await services(request).backups().download(_backup_id(request))
    return web.Response(body=document, content_type="application/json", charset="utf-8")


@routes.post("/api/admin/backups/{id}/restore")
@documented("Restore a backup", answer=shapes.RestoreReport, roles=ADMIN, path=BACKUP_ID,
            description="Recreates what is missing in Evolution and here, leaves what exists "
                        "untouched; idempotent. A document whose checksum fails is 422 "
                        "`/problems/backup-refused`.")
async def restore_backup(request: web.Request) -> web.Response:
    actor = authenticate(request, ADMIN)
    return web.json_response(
        await services(request).restore().restore(actor, _backup_id(request)))


@routes.post("/api/admin/instances/sync")
@documented("Sync with Evolution", answer=shapes.SyncReport, roles=ADMIN,
            body=shapes.SYNC_BODY, body_required=False, query=shapes.SYNC_QUERY,
            description="Adopts Evolution instances we do not know and reports drift both "
                        "ways; `?dry_run=true` changes nothing.")
async def sync_instances(request: web.Request) -> web.Response:
    actor = authenticate(request, ADMIN)
    dry_run = query(request, shapes.SYNC_QUERY)["dry_run"] == "true"
    body = load(shapes.SYNC_BODY, await json_body(request, required=False))
    return web.json_response(
        await services(request).sync().sync(actor, body["mapping"], dry_run))


@routes.get("/api/admin/audit/export")
@documented("Export the audit trail", answer=shapes.EXPORT_LINE, answer_type=NDJSON,
            roles=ADMIN, query=shapes.EXPORT_QUERY,
            description="JSON Lines, streamed: one event a line, then the head line. "
                        "`wachannel audit verify --file F` checks it offline.")
async def export_audit(request: web.Request) -> web.StreamResponse:
    authenticate(request, ADMIN)
    q = query(request, shapes.EXPORT_QUERY)
    lines = services(request).audit_export().lines(q["organization_id"], q["since"],
                                                   q["until"])
    # The first line is read before the answer starts, so that a store that is down is
    # still a problem document, not a cut stream.
    buffer = bytearray(await anext(lines))
    # Prepared here, so the middleware cannot add the request id afterwards.
    response = web.StreamResponse(headers={"Content-Type": NDJSON,
                                           "X-Request-ID": request.get(REQUEST_ID, "")})
    if request.method == "HEAD":  # the headers a GET would have, and no body behind them
        await lines.aclose()
        await response.prepare(request)
        await response.write_eof()
        return response
    await response.prepare(request)
    async for line in lines:
        buffer += line
        if len(buffer) >= _CHUNK:
            await response.write(bytes(buffer))
            buffer.clear()
    await response.write(bytes(buffer))
    await response.write_eof()
    return response


def _backup_id(request: web.Request) -> str:
    backup_id = request.match_info["id"]
    if not _UUID.fullmatch(backup_id):
        raise NotFound(f"backup {backup_id[:64]!r} not found")
    return backup_id
