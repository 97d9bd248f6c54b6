"""Dead-lettered webhook events (API.md section 10)."""

from __future__ import annotations

from marshmallow import Schema, fields

from entrypoints.http.schemas.common import ORG_ID, PageQuery, Text, page_of


class DeadLetterQuerySchema(PageQuery):
    organization_id = Text(validate=ORG_ID, load_default=None)


class DeadLetterSchema(Schema):
    id = fields.UUID(required=True)
    organization_id = fields.String(required=True)
    instance_name = fields.String(required=True)
    event = fields.String(required=True)
    received_at = fields.String(required=True)
    attempts = fields.Integer(required=True)
    last_error = fields.String(allow_none=True, required=True)


class ReplaySchema(Schema):
    id = fields.UUID(required=True)
    status = fields.String(required=True)
    replayed_at = fields.String(required=True)


DeadLetterPage = page_of(DeadLetterSchema, "DeadLetterPage")
DEAD_LETTER_QUERY = DeadLetterQuerySchema()
