from __future__ import annotations

from marshmallow import Schema, fields

from entrypoints.http.schemas.common import Text


class ConnectLinkResponse(Schema):
    url = fields.String(required=True, metadata={
        "description": "<PUBLIC_BASE_URL>/connect/{id}?t=<signed token>"})
    expires_at = fields.String(required=True, metadata={"format": "date-time"})


class ConnectPageQuery(Schema):
    t = Text(load_default="", metadata={"description": "The link's signed token"})
    lang = Text(load_default=None, metadata={"enum": ["es", "pt", "en"],
                                             "description": "Overrides Accept-Language"})


class VariantRates(Schema):
    connected = fields.Float(required=True, allow_none=True)
    timeout = fields.Float(required=True, allow_none=True)
    error = fields.Float(required=True, allow_none=True)


class VariantCounts(Schema):
    name = fields.String(required=True)
    views = fields.Integer(required=True)
    connected = fields.Integer(required=True)
    timeout = fields.Integer(required=True)
    error = fields.Integer(required=True)
    rates = fields.Nested(VariantRates, required=True,
                          metadata={"description": "Each outcome as a share of views"})


class VariantsResponse(Schema):
    flag = fields.String(required=True)
    variants = fields.List(fields.Nested(VariantCounts), required=True)
