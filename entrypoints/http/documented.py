"""What a handler takes and answers, declared on the handler itself.

The OpenAPI document is read off the router (``openapi.py``): each route's handler carries one
``Doc``, so a route cannot exist without its description, and moving or adding a route moves
its description with it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, TypeVar

import attrs
from marshmallow import Schema

from domain.access import Role
from entrypoints.http.problems import PROBLEM_JSON
from entrypoints.http.schemas.common import ProblemSchema

H = TypeVar("H", bound=Callable[..., Any])
DOC_ATTR = "__openapi_doc__"
JSON = "application/json"

# A body or answer is a marshmallow schema (the very instance a handler loads with, where it
# loads with one) or, where no schema can say it (a bare string, an object of arbitrary flag
# names), a JSON schema written out.
Shape = Schema | type[Schema] | Mapping[str, Any] | None

# Security: a tuple of alternatives, each naming schemes of openapi.SECURITY_SCHEMES; the empty
# tuple is a public route.
PUBLIC: tuple[str, ...] = ()
MANAGEMENT = ("bearer",)
# EventSource cannot set headers, so the stream routes also read the token from a cookie or the
# query (auth.py, allow_browser).
BROWSER = ("bearer", "tokenCookie", "tokenQuery")
# API.md 5a: any one configured method; "" is the body's `apikey`, which no scheme can express.
WEBHOOK = ("evolutionSignature", "webhookJwt", "webhookApiKey", "")

# Path parameters, by the name the router gives them: one name means one thing in every route.
# A handler's ``path=`` overrides these; the patterns are the ones the handlers judge by.
INSTANCE_ID = {"type": "string", "format": "uuid",
               "description": "The instance's id; anything that is not a UUID is a 404."}
ORGANIZATION_ID = {"type": "string", "pattern": "^[A-Za-z0-9_-]{1,64}$",
                   "description": "An organization id."}
FLAG_NAME = {"type": "string", "pattern": "^[A-Za-z0-9_-]{1,64}$",
             "description": "A rollout flag's name."}
EVENT_SUFFIX = {"type": "string", "pattern": "^[a-z][a-z0-9-]{1,63}$",
                "description": "Evolution's event name in kebab case, sent with "
                               "`webhook_by_events` on (`qrcode-updated`, ...)."}
# POST /api/admin/feature-flags: names are the flags', so no schema class can list them.
FLAG_TOGGLES = {"type": "object", "minProperties": 1,
                "additionalProperties": {"type": "boolean"},
                "description": "Flag name to enabled, e.g. `{\"radical_solution\": false}`"}
# One Server-Sent Event of the QR stream (API.md section 6), as OpenAPI 3.0 tools read a
# text/event-stream schema: each event an object. `data` is the event's JSON object as text.
SSE_EVENT = {"type": "object", "required": ["event", "data"],
             "properties": {"event": {"type": "string",
                                      "enum": ["state", "qr", "connected", "timeout", "error"]},
                            "data": {"type": "string", "description": "A JSON object"},
                            "id": {"type": "string"}, "retry": {"type": "integer"}}}
# The preserved routes' answer headers (API.md section 5).
DEPRECATION = {"Deprecation": "`true`", "Sunset": "LEGACY_SUNSET_DATE as an HTTP-date",
               "Link": "The successor: `</api/channels/whatsapp/instances/{id}/connect>; "
                       "rel=\"successor-version\"`"}
PATH_PARAMETERS: Mapping[str, Mapping[str, Any]] = {
    "id": INSTANCE_ID, "orgId": ORGANIZATION_ID, "name": FLAG_NAME, "suffix": EVENT_SUFFIX}


@attrs.frozen
class Answer:
    description: str
    shape: Shape = None
    content_type: str = JSON
    headers: Mapping[str, str] = attrs.field(factory=dict)  # name -> description


@attrs.frozen
class Doc:
    summary: str
    status: int
    answer: Answer
    security: tuple[str, ...]
    roles: frozenset[Role] = frozenset()
    description: str = ""
    tag: str = ""
    body: Shape = None
    body_required: bool = True
    query: Schema | type[Schema] | None = None
    path: Mapping[str, Mapping[str, Any]] = attrs.field(factory=dict)
    headers: Mapping[str, Mapping[str, Any]] = attrs.field(factory=dict)  # request headers
    other_answers: Mapping[int, Answer] = attrs.field(factory=dict)
    # For a route registered with method "*", the methods its handler really serves.
    methods: tuple[str, ...] = ()
    deprecated: bool = False


def retry_later(description: str) -> Answer:
    """A problem that the client should retry after ``Retry-After`` seconds."""
    return Answer(description, ProblemSchema, PROBLEM_JSON,
                  {"Retry-After": "Seconds to wait before retrying"})


def documented(summary: str, *, status: int = 200, answer: Shape = None,
               answer_type: str = JSON, answer_description: str = "",
               answer_headers: Mapping[str, str] | None = None,
               security: tuple[str, ...] = MANAGEMENT,
               roles: frozenset[Role] = frozenset(), **more: Any) -> Callable[[H], H]:
    """Attach a ``Doc`` to the handler and hand the same handler back, unwrapped."""
    doc = Doc(summary=summary, status=status, security=security, roles=roles,
              answer=Answer(answer_description or summary, answer, answer_type,
                            answer_headers or {}), **more)

    def attach(handler: H) -> H:
        setattr(handler, DOC_ATTR, doc)
        return handler

    return attach


def doc_of(handler: Callable[..., Any]) -> Doc | None:
    found = getattr(handler, DOC_ATTR, None)
    return found if isinstance(found, Doc) else None


def path_parameter(doc: Doc, name: str) -> Mapping[str, Any] | None:
    return doc.path.get(name) or PATH_PARAMETERS.get(name)
