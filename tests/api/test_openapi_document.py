"""GET /api/openapi.json: a valid OpenAPI 3 document of exactly the routes the app serves."""

from __future__ import annotations

from typing import Any

import pytest
from aiohttp import web
from openapi_spec_validator import validate

from entrypoints.http.documented import doc_of, documented
from entrypoints.http.openapi import build, undocumented
from tests.api.conftest import Service

BASE = "/api/channels/whatsapp/instances"
WEBHOOKS = ("/api/webhooks/evolution/{orgId}", "/api/whatsapp/simple/webhook/{orgId}",
            "/api/whatsapp/webhook", "/api/channels/whatsapp/webhook")


async def served(service: Service) -> dict[str, Any]:
    response = await service.client.get("/api/openapi.json")
    assert response.status == 200
    assert response.content_type == "application/json"
    document: dict[str, Any] = await response.json()
    return document


def app_of(service: Service) -> web.Application:
    app = service.client.app
    assert app is not None
    return app


def parameters(operation: dict[str, Any], where: str) -> dict[str, dict[str, Any]]:
    return {p["name"]: p for p in operation["parameters"] if p["in"] == where}


async def test_served_document_is_valid_openapi_3(service: Service) -> None:
    document = await served(service)
    assert document["openapi"].startswith("3.")
    validate(document)  # raises on the first violation of the OpenAPI 3 schema


async def test_every_route_of_the_router_is_an_operation(service: Service) -> None:
    app = app_of(service)
    paths = (await served(service))["paths"]
    assert undocumented(app) == []
    for route in app.router.routes():
        doc = doc_of(route.handler)
        assert doc is not None
        methods = doc.methods if route.method == "*" else (route.method,)
        path = route.resource.canonical if route.resource else ""
        for method in methods:
            assert method.lower() in paths.get(path, {}), f"{method} {path}"
    served_count = sum(len(ops) for ops in paths.values())
    routed = sum(len(doc_of(r.handler).methods) if r.method == "*" else 1  # type: ignore[union-attr]
                 for r in app.router.routes())
    assert served_count == routed  # and nothing the router does not serve


async def test_the_routes_the_old_table_left_out_are_there(service: Service) -> None:
    paths = (await served(service))["paths"]
    legacy = paths["/api/whatsapp/instances/{id}/connect"]
    assert {"get", "post"} <= legacy.keys()
    assert legacy["get"]["deprecated"] is True
    assert {"Deprecation", "Sunset", "Link"} <= legacy["post"]["responses"]["200"]["headers"].keys()
    assert "get" in paths["/metrics"]
    for path in WEBHOOKS:
        suffixed = paths[path + "/{suffix}"]["post"]
        assert parameters(suffixed, "path")["suffix"]["required"] is True


async def test_path_templates_declare_their_parameters(service: Service) -> None:
    paths = (await served(service))["paths"]
    instance = paths[f"{BASE}/{{id}}"]["get"]
    assert parameters(instance, "path")["id"]["schema"]["format"] == "uuid"
    rotate = paths["/api/admin/organizations/{orgId}/webhook-secret/rotate"]["post"]
    assert parameters(rotate, "path")["orgId"]["schema"]["pattern"] == "^[A-Za-z0-9_-]{1,64}$"
    flag = paths["/api/admin/feature-flags/{name}"]["put"]
    assert set(parameters(flag, "path")) == {"name"}


@pytest.mark.parametrize(("path", "names"), [
    (BASE, {"limit", "cursor", "organization_id", "state"}),
    (f"{BASE}/{{id}}/messages", {"limit", "cursor"}),
    ("/api/admin/audit", {"limit", "cursor", "organization_id", "action", "since", "until"}),
    ("/api/admin/audit/verify", {"organization_id"}),
    ("/api/feature-flags/evaluate", {"organization_id"}),
])
async def test_query_parameters_come_from_the_schema_the_handler_loads(
        service: Service, path: str, names: set[str]) -> None:
    operation = (await served(service))["paths"][path]["get"]
    query = parameters(operation, "query")
    assert set(query) == names
    if "limit" in query:
        assert query["limit"]["schema"] == {"type": "integer", "default": 50, "minimum": 1,
                                            "maximum": 200}


async def test_bodies_and_answers_are_the_marshmallow_schemas(service: Service) -> None:
    document = await served(service)
    quick = document["paths"][f"{BASE}/quick-create"]["post"]
    body = quick["requestBody"]["content"]["application/json"]["schema"]
    assert body == {"$ref": "#/components/schemas/QuickCreateRequest"}
    assert quick["requestBody"]["required"] is False
    created = quick["responses"]["201"]["content"]["application/json"]["schema"]
    assert created == {"$ref": "#/components/schemas/QuickCreateResponse"}
    assert "Idempotency-Key" in parameters(quick, "header")
    problem = quick["responses"]["default"]["content"]["application/problem+json"]["schema"]
    assert problem == {"$ref": "#/components/schemas/Problem"}
    assert document["components"]["schemas"]["QuickCreateRequest"]["additionalProperties"] is False
    delete = document["paths"][f"{BASE}/{{id}}"]["delete"]
    assert "content" not in delete["responses"]["204"]
    ready = document["paths"]["/api/health/ready"]["get"]["responses"]
    assert "application/health+json" in ready["503"]["content"]


async def test_security_requirements_follow_who_may_call(service: Service) -> None:
    document = await served(service)
    paths = document["paths"]
    schemes = document["components"]["securitySchemes"]
    assert schemes["bearer"] == {"type": "http", "scheme": "bearer", "bearerFormat": "JWT",
                                 "description": schemes["bearer"]["description"]}
    assert paths[BASE]["get"]["security"] == [{"bearer": []}]
    assert paths[BASE]["get"]["x-roles"] == ["admin", "tenant_admin"]
    assert paths["/api/admin/feature-flags"]["get"]["x-roles"] == ["admin"]
    assert paths["/metrics"]["get"]["x-roles"] == ["admin", "system"]
    for public in ("/api/health", "/api/health/ready", "/api/openapi.json"):
        assert paths[public]["get"]["security"] == []
    stream = paths[f"{BASE}/{{id}}/qr/stream"]["get"]["security"]
    assert stream == [{"bearer": []}, {"tokenCookie": []}, {"tokenQuery": []},
                      {"connectLink": []}]
    assert schemes["tokenCookie"]["name"] == "wachannel_token"
    for path in WEBHOOKS:
        webhook = paths[path]["post"]
        assert webhook["security"] == [{"evolutionSignature": []}, {"webhookJwt": []},
                                       {"webhookApiKey": []}, {}]
        assert set(webhook["responses"]) == {"200", "429", "503", "default"}
        assert "Retry-After" in webhook["responses"]["429"]["headers"]
    assert schemes["evolutionSignature"] == {**schemes["evolutionSignature"], "type": "apiKey",
                                             "in": "header", "name": "x-evolution-signature"}
    assert schemes["webhookApiKey"]["name"] == "apikey"


async def test_document_says_what_the_live_routes_answer_to_an_anonymous_call(
        service: Service) -> None:
    """Drift between ``security`` and the handler's own check shows as a wrong status."""
    paths = (await served(service))["paths"]
    for path, operations in paths.items():
        concrete = (path.replace("{id}", "00000000-0000-4000-8000-000000000000")
                    .replace("{orgId}", "clinic-1").replace("{name}", "radical_solution")
                    .replace("{suffix}", "qrcode-updated").replace("{file}", "page.css"))
        for method, operation in operations.items():
            response = await service.client.request(method.upper(), concrete)
            if operation["security"] == []:
                assert response.status < 400, f"{method} {path}"
            elif operation["security"] == [{"connectLink": []}]:  # a page: 403, never a QR
                assert response.status == 403, f"{method} {path}: {response.status}"
            elif {} in operation["security"]:  # a webhook: the body's apikey may authenticate
                assert 400 <= response.status < 500, f"{method} {path}: {response.status}"
            else:
                assert response.status == 401, f"{method} {path}: {response.status}"


def test_a_route_without_documentation_is_named_and_left_out() -> None:
    async def forgotten(request: web.Request) -> web.Response:
        return web.Response()

    @documented("Known", security=())
    async def known(request: web.Request) -> web.Response:
        return web.Response()

    app = web.Application()
    app.router.add_post("/forgotten/{id}", forgotten)
    app.router.add_post("/known", known)
    app.router.add_route("*", "/any", known)
    assert undocumented(app) == [
        "POST /forgotten/{id}: its handler has no @documented",
        "* /any: a route for any method must name the methods it serves"]
    assert set(build(app)["paths"]) == {"/known"}


def test_a_path_parameter_without_a_schema_is_refused() -> None:
    @documented("Somewhere", security=())
    async def somewhere(request: web.Request) -> web.Response:
        return web.Response()

    app = web.Application()
    app.router.add_get("/things/{thing}", somewhere)
    assert undocumented(app) == [
        "HEAD /things/{thing}: path parameters without a schema: thing",
        "GET /things/{thing}: path parameters without a schema: thing"]
