"""Shapes that only the OpenAPI document needs.

These answers are built by use cases as plain dicts and the webhook envelope is judged by the
domain (``parse_envelope``), so no handler loads with them; they exist so that the document
describes every body, and so that tests can check live answers against them.
"""

from __future__ import annotations

from marshmallow import INCLUDE, Schema, fields, validate


class FlagEvaluationSchema(Schema):
    enabled = fields.Boolean(required=True)
    variant = fields.String(allow_none=True, required=True)


class EvaluateResponse(Schema):
    flags = fields.Dict(keys=fields.String(), values=fields.Nested(FlagEvaluationSchema),
                        required=True)


class HealthSchema(Schema):
    status = fields.String(required=True, validate=validate.OneOf(["pass", "warn", "fail"]))


class ReadinessCheckSchema(Schema):
    status = fields.String(required=True, validate=validate.OneOf(["pass", "warn", "fail"]))
    latency_ms = fields.Float()
    detail = fields.String()
    required = fields.Boolean()
    last_beat_s_ago = fields.Float()


class ReadinessSchema(Schema):
    status = fields.String(required=True, validate=validate.OneOf(["pass", "warn", "fail"]))
    checks = fields.Dict(keys=fields.String(), values=fields.Nested(ReadinessCheckSchema),
                         required=True)


class WebhookEnvelope(Schema):
    """Evolution's envelope; fields beyond these are kept as sent, never refused."""

    class Meta:
        unknown = INCLUDE

    event = fields.String(required=True, validate=validate.Length(1, 200))
    instance = fields.String(required=True, validate=validate.Length(1, 200))
    data = fields.Raw(allow_none=True)
    destination = fields.Raw(metadata={"description": "Evolution's configured webhook URL"})
    date_time = fields.String(allow_none=True)
    sender = fields.String(allow_none=True)
    server_url = fields.Raw(metadata={"description": "Evolution's own base URL"})
    apikey = fields.String(allow_none=True)
