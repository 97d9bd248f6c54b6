from __future__ import annotations

from typing import Any

from marshmallow import RAISE, Schema, ValidationError, fields, validate

from entrypoints.http.schemas.common import (
    NAME_RULE,
    ORG_ID,
    Boolean,
    Instant,
    Integer,
    PageQuery,
    Text,
    page_of,
)


class VariantSchema(Schema):
    class Meta:
        unknown = RAISE

    name = Text(required=True, validate=NAME_RULE)
    weight = Integer(required=True, validate=validate.Range(0, 10_000))


def _unique_names(variants: list[dict[str, Any]] | None) -> None:
    names = [v["name"] for v in variants or ()]
    if len(names) != len(set(names)):
        raise ValidationError("variant names must be unique")


class FlagPutRequest(Schema):
    class Meta:
        unknown = RAISE

    enabled = Boolean(required=True)
    percentage = Integer(required=True, validate=validate.Range(0, 100))
    allow_orgs = fields.List(Text(validate=ORG_ID), load_default=list)
    deny_orgs = fields.List(Text(validate=ORG_ID), load_default=list)
    variants = fields.List(fields.Nested(VariantSchema), load_default=None,
                           validate=_unique_names)


class FlagSchema(Schema):
    name = fields.String(required=True)
    enabled = fields.Boolean(required=True)
    percentage = fields.Integer(required=True)
    allow_orgs = fields.List(fields.String(), required=True)
    deny_orgs = fields.List(fields.String(), required=True)
    variants = fields.List(fields.Nested(VariantSchema), required=True)
    updated_at = fields.String(allow_none=True)
    updated_by = fields.String(allow_none=True)


class FlagList(Schema):
    items = fields.List(fields.Nested(FlagSchema), required=True)


class EvaluateQuery(Schema):
    organization_id = Text(validate=ORG_ID, load_default=None)


class AuditQuerySchema(PageQuery):
    organization_id = Text(validate=ORG_ID, load_default=None)
    action = Text(validate=NAME_RULE, load_default=None)
    since = Instant(load_default=None)
    until = Instant(load_default=None)


class VerifyQuery(Schema):
    organization_id = Text(validate=ORG_ID, load_default=None)


class AuditEventSchema(Schema):
    id = fields.UUID(required=True)
    organization_id = fields.String(required=True)
    action = fields.String(required=True)
    actor_id = fields.String(required=True)
    actor_type = fields.String(required=True)
    timestamp = fields.String(required=True)
    ip_address = fields.String(allow_none=True)
    user_agent = fields.String(allow_none=True)
    details = fields.Dict(required=True)
    prev_hash = fields.String(required=True)
    hash = fields.String(required=True)


AuditPage = page_of(AuditEventSchema, "AuditPage")


class VerifyResponse(Schema):
    valid = fields.Boolean(required=True)
    checked = fields.Integer(required=True)
    first_invalid_id = fields.String(allow_none=True, required=True)
    organization_id = fields.String()  # the broken chain's organization, when not valid


class RotateResponse(Schema):
    secret = fields.String(required=True)
    previous_valid_until = fields.String(required=True)
    reregistered = fields.Integer(required=True)
    failed = fields.List(fields.String(), required=True)


class WebhookAck(Schema):
    status = fields.String(required=True)
    duplicate = fields.Boolean(required=True)
    event_id = fields.UUID(required=True)


FLAG_PUT = FlagPutRequest()
EVALUATE = EvaluateQuery()
AUDIT_QUERY = AuditQuerySchema()
VERIFY = VerifyQuery()
