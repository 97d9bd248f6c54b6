from __future__ import annotations

from marshmallow import Schema, fields, validate


class AlertSchema(Schema):
    id = fields.String(required=True)
    rule = fields.String(required=True)
    severity = fields.String(required=True, validate=validate.OneOf(("critical", "warning")))
    state = fields.String(required=True, validate=validate.OneOf(("firing", "resolved")))
    detail = fields.String(required=True)
    first_at = fields.String(required=True)
    last_at = fields.String(required=True)
    channels = fields.Dict(keys=fields.String(), values=fields.String(
        validate=validate.OneOf(("sent", "failed"))), required=True)


class AlertList(Schema):
    items = fields.List(fields.Nested(AlertSchema), required=True)


ALERT_LIST = AlertList()
