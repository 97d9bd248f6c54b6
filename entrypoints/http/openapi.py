"""The OpenAPI 3 document, read off the app's router and the marshmallow schemas.

Each route's handler carries its ``Doc`` (``documented.py``); nothing here lists paths, so the
document describes exactly the routes the app serves. A route whose handler has no ``Doc`` is
left out of the document and named by ``undocumented``, which the tests require to be empty.
"""

from __future__ import annotations

import re
import weakref
from collections.abc import Iterator, Mapping
from typing import Any

from aiohttp import web
from aiohttp.web_urldispatcher import AbstractRoute
from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin

from entrypoints.http.auth import TOKEN_COOKIE
from entrypoints.http.documented import Answer, Doc, Shape, doc_of, path_parameter
from entrypoints.http.problems import PROBLEM_JSON
from entrypoints.http.schemas.common import ProblemSchema

OPENAPI_VERSION = "3.0.3"
SECURITY_SCHEMES: dict[str, dict[str, Any]] = {
    "bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT",
               "description": "HS256 with AUTH_JWT_SECRET; claims `sub`, `role` (admin | "
                              "tenant_admin | system), `org` (for tenant_admin) and `exp`."},
    "tokenCookie": {"type": "apiKey", "in": "cookie", "name": TOKEN_COOKIE,
                    "description": "The same JWT, for a browser's EventSource."},
    "tokenQuery": {"type": "apiKey", "in": "query", "name": "token",
                   "description": "The same JWT, for a browser's EventSource."},
    "connectLink": {"type": "apiKey", "in": "query", "name": "t",
                    "description": "A connect link's token (POST .../connect-link): the connect "
                                   "page and its QR stream, for that instance only."},
    "evolutionSignature": {"type": "apiKey", "in": "header", "name": "x-evolution-signature",
                           "description": "`sha256=<hex>`: HMAC-SHA256 of the raw body with "
                                          "the organization's webhook secret."},
    "webhookJwt": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT",
                   "description": "HS256 with the organization's webhook secret (Evolution's "
                                  "`jwt_key`); accepted up to WEBHOOK_JWT_LEEWAY_S past `exp`."},
    "webhookApiKey": {"type": "apiKey", "in": "header", "name": "apikey",
                      "description": "The organization's webhook secret. The body's `apikey` "
                                     "equal to the instance's Evolution token also passes."},
}
REQUEST_ID_HEADER = {"description": "The request's id: the client's `X-Request-ID` when it "
                                    "is 1..128 of `[A-Za-z0-9_.:-]`, else a generated one.",
                     "schema": {"type": "string"}}
_TEMPLATE_PARAM = re.compile(r"\{([^}:]+)")
_documents: weakref.WeakKeyDictionary[web.Application, dict[str, Any]] = (
    weakref.WeakKeyDictionary())


def openapi_document(app: web.Application) -> dict[str, Any]:
    """Built on first use: the router is frozen once the app serves."""
    document = _documents.get(app)
    if document is None:
        document = _documents[app] = build(app)
    return document


def undocumented(app: web.Application) -> list[str]:
    """``METHOD path: why`` for every route the document cannot describe."""
    return [f"{route.method} {route.resource.canonical}: {reason}"
            for route in _routes(app) if (reason := _missing(route))]


def build(app: web.Application) -> dict[str, Any]:
    marshmallow = MarshmallowPlugin()
    spec = APISpec("wachannel", "0.1.0", OPENAPI_VERSION, plugins=[marshmallow],
                   info={"description": "WhatsApp channel service. The contract is API.md; "
                                        "choices it leaves open are in docs/api.md."})
    assert marshmallow.converter is not None
    marshmallow.converter.add_attribute_function(_full_match)
    spec.components.schema("Problem", schema=ProblemSchema)
    for name, scheme in SECURITY_SCHEMES.items():
        spec.components.security_scheme(name, scheme)
    paths: dict[str, dict[str, Any]] = {}
    names = _operation_names(app)
    for route in _routes(app):
        doc = doc_of(route.handler)
        if doc is None or _missing(route):
            continue
        path = _path(route)
        for method in _methods(route, doc):
            paths.setdefault(path, {})[method.lower()] = _operation(
                doc, path, method, names[route.handler, method, path],
                doc.tag or route.handler.__module__.rpartition(".")[2])
    for path in sorted(paths):
        spec.path(path=path, operations=paths[path])
    return spec.to_dict()


def _full_match(converter: Any, field: Any, **_: Any) -> dict[str, Any]:
    """The pattern of a validator that matches in full (apispec knows only ``Regexp``).

    A JSON schema pattern is searched, not matched, so it is anchored here; the anchors and
    ASCII classes mean the same in ECMA 262 regular expressions as in Python's.
    """
    for validator in field.validators:
        pattern = getattr(validator, "pattern", None)
        if isinstance(pattern, re.Pattern) and getattr(validator, "regex", None) is None:
            return {"pattern": f"^(?:{pattern.pattern})$"}
    return {}


def _routes(app: web.Application) -> Iterator[AbstractRoute]:
    for route in app.router.routes():
        if route.resource is not None:
            yield route


def _path(route: AbstractRoute) -> str:
    assert route.resource is not None
    return route.resource.canonical


def _methods(route: AbstractRoute, doc: Doc) -> tuple[str, ...]:
    return doc.methods if route.method == "*" else (route.method,)


def _missing(route: AbstractRoute) -> str | None:
    doc = doc_of(route.handler)
    if doc is None:
        return "its handler has no @documented"
    if route.method == "*" and not doc.methods:
        return "a route for any method must name the methods it serves"
    unknown = [p for p in _TEMPLATE_PARAM.findall(_path(route)) if not path_parameter(doc, p)]
    if unknown:
        return f"path parameters without a schema: {', '.join(unknown)}"
    return None


def _operation_names(app: web.Application) -> dict[tuple[Any, str, str], str]:
    """The handler's name, made unique by path and method where one handler serves several."""
    keys = [(route.handler, method, _path(route)) for route in _routes(app)
            if (doc := doc_of(route.handler)) is not None for method in _methods(route, doc)]
    names: dict[tuple[Any, str, str], str] = {}
    for handler, method, path in keys:
        # HEAD is aiohttp's echo of a GET: it takes the GET's name.
        served = {(m, p) for h, m, p in keys if h is handler and m != "HEAD"}
        name = handler.__name__
        if len({p for _, p in served}) > 1:
            name += _slug(path)
        if len({m for m, p in served if p == path}) > 1:
            name += f"_{method.lower()}"
        names[handler, method, path] = name if method != "HEAD" else f"{name}_head"
    return names


def _slug(path: str) -> str:
    return "_" + "_".join(p for p in re.split(r"[^A-Za-z0-9]+", path) if p)


def _operation(doc: Doc, path: str, method: str, operation_id: str,
               tag: str) -> dict[str, Any]:
    head = method == "HEAD"
    operation: dict[str, Any] = {
        "operationId": operation_id,
        "summary": doc.summary + (" (headers only)" if head else ""),
        "parameters": _parameters(doc, path),
        "responses": {str(doc.status): _answer(doc.answer, head),
                      **{str(s): _answer(a, head) for s, a in doc.other_answers.items()},
                      "default": _answer(Answer("A problem (RFC 9457)", ProblemSchema,
                                                PROBLEM_JSON), head)},
        "security": [{name: []} if name else {} for name in doc.security],
    }
    operation["tags"] = [tag]
    description = doc.description
    if doc.roles:
        roles = sorted(role.value for role in doc.roles)
        operation["x-roles"] = roles
        description = f"{description}\n\nRoles: {', '.join(roles)}.".strip()
    if description:
        operation["description"] = description
    if doc.deprecated:
        operation["deprecated"] = True
    if doc.body is not None and not head:
        operation["requestBody"] = {"required": doc.body_required,
                                    "content": {"application/json": {"schema": _shape(doc.body)}}}
    return operation


def _parameters(doc: Doc, path: str) -> list[dict[str, Any]]:
    parameters: list[dict[str, Any]] = [
        {"in": "path", "name": name, "required": True,
         "schema": dict(path_parameter(doc, name) or {})}
        for name in _TEMPLATE_PARAM.findall(path)]
    if doc.query is not None:
        parameters.append({"in": "query", "schema": doc.query})
    parameters.extend({"in": "header", "name": name, "required": False, "schema": dict(schema)}
                      for name, schema in doc.headers.items())
    parameters.append({"in": "header", "name": "X-Request-ID", "required": False,
                       "schema": {"type": "string"},
                       "description": "Echoed when it is 1..128 of `[A-Za-z0-9_.:-]`."})
    return parameters


def _answer(answer: Answer, head: bool) -> dict[str, Any]:
    described: dict[str, Any] = {
        "description": answer.description,
        "headers": {"X-Request-ID": REQUEST_ID_HEADER,
                    **{name: {"description": text, "schema": {"type": "string"}}
                       for name, text in answer.headers.items()}}}
    # HEAD answers carry GET's headers and no body to check.
    if answer.shape is not None and not head:
        described["content"] = {answer.content_type: {"schema": _shape(answer.shape)}}
    return described


def _shape(shape: Shape) -> Any:
    return dict(shape) if isinstance(shape, Mapping) else shape
