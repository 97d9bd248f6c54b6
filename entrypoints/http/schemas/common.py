"""Edge schemas shared by several resources, and the helpers that load them."""

from __future__ import annotations

import re
from datetime import UTC
from typing import Any

from aiohttp import web
from marshmallow import EXCLUDE, Schema, ValidationError, fields, validate

from application.errors import MalformedJson, ValidationFailed
from application.json_input import parse_json
from application.pagination import DEFAULT_LIMIT, MAX_LIMIT
from domain.text import NAME, ORGANIZATION_ID, UNSTORABLE, is_storable


class Text(fields.String):
    """A string Postgres can store: fields that identify or name something are refused,
    never silently changed, when they hold NUL or a lone surrogate (API.md section 1)."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> Any:
        text = super()._deserialize(value, attr, data, **kwargs)
        if not is_storable(text):
            raise ValidationError(UNSTORABLE)
        return text


class Boolean(fields.Boolean):
    """``true`` or ``false`` only: marshmallow's own also takes ``"yes"``, ``1`` and ``"on"``."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> Any:
        if not isinstance(value, bool):
            raise self.make_error("invalid")
        return value


class Integer(fields.Integer):
    """A JSON integer: no string, no float, not even ``1e2`` or ``50.0``, and no boolean."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(strict=True, **kwargs)

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> Any:
        if isinstance(value, bool):
            raise self.make_error("invalid")
        return super()._deserialize(value, attr, data, **kwargs)


class Instant(fields.AwareDateTime):
    """An aware timestamp that is still a time once in UTC: ``9999-12-31T23:59:59-14:00``
    parses, and then neither Python nor Postgres can hold it."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> Any:
        parsed = super()._deserialize(value, attr, data, **kwargs)
        try:
            return parsed.astimezone(UTC)
        except OverflowError:
            raise self.make_error("invalid", input=value, obj_type=self.OBJ_TYPE) from None


class QueryInteger(fields.Integer):
    """A query-string integer: ASCII digits only (``int()`` also takes other scripts'
    digits, and ``" 5"``)."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> Any:
        if not isinstance(value, str) or not re.fullmatch(r"[0-9]{1,9}", value, re.ASCII):
            raise self.make_error("invalid")
        return int(value)


class Matches(validate.Validator):
    """The whole value matches ``pattern`` (``validate.Regexp`` lets ``$`` pass a newline)."""

    def __init__(self, pattern: re.Pattern[str], error: str) -> None:
        self.pattern = pattern
        self.error = error

    def __call__(self, value: Any) -> Any:
        if not isinstance(value, str) or self.pattern.fullmatch(value) is None:
            raise ValidationError(self.error)
        return value


ORG_ID = Matches(ORGANIZATION_ID, "must be 1..64 of [A-Za-z0-9_-]")
NAME_RULE = Matches(NAME, "must be 1..64 of [A-Za-z0-9_-]")


class PageQuery(Schema):
    class Meta:
        unknown = EXCLUDE

    limit = QueryInteger(load_default=DEFAULT_LIMIT, validate=validate.Range(1, MAX_LIMIT))
    cursor = Text(load_default=None, validate=validate.Length(1, 512))


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
    if not _reads_as_json(request):
        raise web.HTTPUnsupportedMediaType(text="The body must be application/json in UTF-8.")
    raw = await request.read()
    if not raw.strip():
        if required:
            raise MalformedJson("a JSON body is required")
        return {}
    return parse_json(raw)


def _reads_as_json(request: web.Request) -> bool:
    """A body declared JSON (UTF-8), or declared as nothing in particular: no Content-Type,
    or the ``application/octet-stream`` HTTP clients send for bare bytes. A form, text or
    another charset is not read as JSON by chance."""
    if "Content-Type" not in request.headers:
        return True
    kind = request.content_type
    json_kind = kind == "application/json" or kind.endswith("+json")
    return (json_kind or kind == "application/octet-stream") and (
        request.charset is None or request.charset.lower() in ("utf-8", "utf8"))


def query(request: web.Request, schema: Schema) -> dict[str, Any]:
    return load(schema, dict(request.query))
