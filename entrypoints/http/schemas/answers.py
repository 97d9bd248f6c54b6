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
    """One result of a check, in the IETF health-check format."""

    componentId = fields.String()
    status = fields.String(required=True, validate=validate.OneOf(["pass", "warn", "fail"]))
    observedValue = fields.Float(required=True, allow_none=True)
    observedUnit = fields.String(required=True, validate=validate.OneOf(["ms", "s"]))
    time = fields.String(required=True)
    output = fields.String()


class ReadinessChecksSchema(Schema):
    postgres = fields.List(fields.Nested(ReadinessCheckSchema), required=True,
                           data_key="postgres:responseTime")
    evolution = fields.List(fields.Nested(ReadinessCheckSchema), required=True,
                            data_key="evolution:responseTime")
    worker = fields.List(fields.Nested(ReadinessCheckSchema), required=True,
                         data_key="worker:heartbeat")


class ReadinessSchema(Schema):
    status = fields.String(required=True, validate=validate.OneOf(["pass", "warn", "fail"]))
    checks = fields.Nested(ReadinessChecksSchema, required=True)
    output = fields.String()  # why, when the replica is shutting down


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
