from __future__ import annotations

from marshmallow import RAISE, Schema, fields, validate

from domain.instance import InstanceState
from domain.text import PHONE_NUMBER
from entrypoints.http.schemas.common import (
    ORG_ID,
    Boolean,
    Matches,
    PageQuery,
    Text,
    page_of,
)


class QuickCreateRequest(Schema):
    class Meta:
        unknown = RAISE

    organization_id = Text(validate=ORG_ID, load_default=None)
    display_name = Text(validate=validate.Length(1, 120), load_default=None)
    phone_number = Text(validate=Matches(PHONE_NUMBER, "must be 8..15 digits"),
                        load_default=None)
    wait_for_qr = Boolean(load_default=False)


class InstanceListQuery(PageQuery):
    organization_id = Text(validate=ORG_ID, load_default=None)
    state = fields.Enum(InstanceState, by_value=True, load_default=None)


class QrSchema(Schema):
    code = fields.String(required=True)
    base64 = fields.String(required=True)
    pairing_code = fields.String(allow_none=True)
    issued_at = fields.String(required=True)
    expires_at = fields.String(required=True)


class InstanceSchema(Schema):
    id = fields.UUID(required=True)
    organization_id = fields.String(required=True)
    evolution_name = fields.String(required=True)
    display_name = fields.String(allow_none=True)
    state = fields.String(required=True, validate=validate.OneOf([s.value for s in InstanceState]))
    state_reason = fields.String(allow_none=True)
    phone_number = fields.String(allow_none=True)
    profile_name = fields.String(allow_none=True)
    created_at = fields.String(required=True)
    updated_at = fields.String(required=True)
    connected_at = fields.String(allow_none=True)
    last_event_at = fields.String(allow_none=True)


InstancePage = page_of(InstanceSchema, "InstancePage")


class QuickCreateResponse(Schema):
    instance = fields.Nested(InstanceSchema, required=True)
    qr = fields.Nested(QrSchema, allow_none=True, required=True)
    qr_stream_url = fields.String(required=True)


class ConnectResponse(Schema):
    state = fields.String(required=True)
    qr = fields.Nested(QrSchema, allow_none=True, required=True)


class StatusResponse(Schema):
    state = fields.String(required=True)
    evolution_state = fields.String(required=True)
    checked_at = fields.String(required=True)


class MessageSchema(Schema):
    id = fields.String(required=True)
    remote_jid = fields.String(required=True)
    from_me = fields.Boolean(required=True)
    push_name = fields.String(allow_none=True)
    type = fields.String(required=True)
    text = fields.String(allow_none=True)
    timestamp = fields.String(allow_none=True)
    status = fields.String(allow_none=True)


MessagePage = page_of(MessageSchema, "MessagePage")


QUICK_CREATE = QuickCreateRequest()
INSTANCE_LIST = InstanceListQuery()
PAGE = PageQuery()
