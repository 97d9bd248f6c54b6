"""Backups, restore, sync and the audit export (API.md section 9)."""

from __future__ import annotations

from typing import Any

from marshmallow import EXCLUDE, RAISE, Schema, ValidationError, fields, validate, validates

from domain.text import is_organization_id, is_storable
from entrypoints.http.schemas.common import ORG_ID, Instant, PageQuery, Text


class BackupSummary(Schema):
    id = fields.String(required=True)
    created_at = fields.String(required=True)
    instances = fields.Integer(required=True)
    sha256 = fields.String(required=True)


class BackupListItem(BackupSummary):
    size = fields.Integer(required=True)


class BackupList(Schema):
    items = fields.List(fields.Nested(BackupListItem), required=True)
    next_cursor = fields.String(allow_none=True, required=True)


class RestoreFailure(Schema):
    evolution_name = fields.String(required=True)
    error = fields.String(required=True)
    detail = fields.String(required=True)


class RestoreReport(Schema):
    restored = fields.Integer(required=True)
    unchanged = fields.Integer(required=True)
    failed = fields.List(fields.Nested(RestoreFailure), required=True)


class SyncRequest(Schema):
    class Meta:
        unknown = RAISE

    mapping = fields.Dict(keys=Text(), values=Text(validate=ORG_ID), load_default=dict)

    @validates("mapping")
    def _names(self, value: dict[str, Any], **_: Any) -> None:
        # Evolution names are ours to match, not to store: any storable text of sane size.
        if any(not (0 < len(k) <= 128 and is_storable(k)) for k in value):
            raise ValidationError("instance names must be 1..128 storable characters")
        if any(not is_organization_id(v) for v in value.values()):
            raise ValidationError("organization ids must be 1..64 of [A-Za-z0-9_-]")


class SyncQuery(Schema):
    class Meta:
        unknown = EXCLUDE

    dry_run = fields.String(load_default="false", validate=validate.OneOf(("true", "false")))


class Adopted(Schema):
    evolution_name = fields.String(required=True)
    organization_id = fields.String(required=True)


class StateDiffers(Schema):
    evolution_name = fields.String(required=True)
    state = fields.String(required=True)
    evolution_state = fields.String(required=True)


class SyncReport(Schema):
    adopted = fields.List(fields.Nested(Adopted), required=True)
    only_in_evolution = fields.List(fields.String(), required=True)
    only_here = fields.List(fields.String(), required=True)
    state_differs = fields.List(fields.Nested(StateDiffers), required=True)
    dry_run = fields.Boolean(required=True)


class ExportQuery(Schema):
    class Meta:
        unknown = EXCLUDE

    organization_id = Text(validate=ORG_ID, load_default=None)
    since = Instant(load_default=None)
    until = Instant(load_default=None)


# Each line of the export: an audit event (API.md 8) or, last, the head line.
EXPORT_LINE = {"type": "object", "description":
               "One line of JSON Lines: an audit event with `prev_hash` and `hash`, and last "
               "`{\"head\": \"<hash>\", \"count\": n}`"}
BACKUP_DOCUMENT = {"type": "object", "required": ["schema_version", "id", "created_at",
                                                  "sha256"],
                   "description": "The backup document; `sha256` covers every other key"}

PAGE = PageQuery()
SYNC_BODY = SyncRequest()
SYNC_QUERY = SyncQuery()
EXPORT_QUERY = ExportQuery()
