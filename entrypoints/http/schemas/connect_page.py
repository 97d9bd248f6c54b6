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
