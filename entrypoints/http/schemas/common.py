"""Edge schemas shared by several resources, and the helpers that load them."""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web
from marshmallow import EXCLUDE, Schema, ValidationError, fields, validate

from application.errors import MalformedJson, ValidationFailed
from application.pagination import DEFAULT_LIMIT, MAX_LIMIT

ORG_ID = validate.Regexp(r"^[A-Za-z0-9_-]{1,64}$", error="must be 1..64 of [A-Za-z0-9_-]")


class PageQuery(Schema):
    class Meta:
        unknown = EXCLUDE

    limit = fields.Integer(load_default=DEFAULT_LIMIT,
                           validate=validate.Range(1, MAX_LIMIT))
    cursor = fields.String(load_default=None, validate=validate.Length(1, 512))


def page_of(item: type[Schema], name: str) -> type[Schema]:
    """The list envelope of API.md section 1 around ``item``."""
    return Schema.from_dict({"items": fields.List(fields.Nested(item), required=True),
                             "next_cursor": fields.String(allow_none=True, required=True)},
                            name=name)


class ProblemSchema(Schema):
    type = fields.String(required=True)
    title = fields.String(required=True)
    status = fields.Integer(required=True)
    detail = fields.String()
    instance = fields.String()
    code = fields.String()
    request_id = fields.String()
    errors = fields.Dict(keys=fields.String(), values=fields.List(fields.String()))


def load(schema: Schema, data: Any) -> dict[str, Any]:
    try:
        loaded: dict[str, Any] = schema.load(data)
    except ValidationError as exc:
        messages = exc.messages if isinstance(exc.messages, dict) else {"_schema": exc.messages}
        raise ValidationFailed({str(k): _flat(v) for k, v in messages.items()}) from exc
    return loaded


def _flat(value: Any) -> list[str]:
    if isinstance(value, list):
        return [str(v) for v in value]
    if isinstance(value, dict):
        return [f"{k}: {m}" for k, v in value.items() for m in _flat(v)]
    return [str(value)]


async def json_body(request: web.Request, required: bool = True) -> Any:
    raw = await request.read()
    if not raw.strip():
        if required:
            raise MalformedJson("a JSON body is required")
        return {}
    try:
        return json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise MalformedJson("the body is not valid JSON") from exc


def query(request: web.Request, schema: Schema) -> dict[str, Any]:
    return load(schema, dict(request.query))
