"""Live answers are what /api/openapi.json documents for their route: status, type and body.

Each answer is looked up in the served document by the route that matched it (method and path
template), so a handler answering differently from its ``@documented`` description, or a
schema drifting from what a use case returns, fails here.
"""

from __future__ import annotations

import json
from typing import Any

from aiohttp import ClientResponse
from openapi_schema_validator import OAS30Validator

from tests.api.conftest import Service, sign

BASE = "/api/channels/whatsapp/instances"


class Document:
    def __init__(self, spec: dict[str, Any]) -> None:
        self.spec = spec

    async def violations(self, method: str, template: str, response: ClientResponse) -> list[str]:
        operation = self.spec["paths"][template][method.lower()]
        answers = operation["responses"]
        answer = answers.get(str(response.status), answers["default"])
        content = answer.get("content")
        body = await response.read()
        if content is None:
            return [] if not body else [f"{response.status} has a body; none is documented"]
        if response.content_type not in content:
            return [f"{response.status} is {response.content_type}, documented {list(content)}"]
        schema = content[response.content_type]["schema"]
        if response.content_type == "text/plain":
            return []
        validator = OAS30Validator({**schema, "components": self.spec["components"]},
                                   format_checker=OAS30Validator.FORMAT_CHECKER)
        return [f"{'/'.join(map(str, e.absolute_path))}: {e.message}"
                for e in validator.iter_errors(json.loads(body))]


async def document(service: Service) -> Document:
    return Document(await (await service.client.get("/api/openapi.json")).json())


async def assert_conforms(doc: Document, method: str, template: str,
                          response: ClientResponse, status: int) -> None:
    assert response.status == status, f"{method} {template}: {await response.text()}"
    assert await doc.violations(method, template, response) == [], f"{method} {template}"


async def test_instance_answers_match_the_document(service: Service) -> None:
    doc = await document(service)
    h = service.auth()
    created = await service.client.post(f"{BASE}/quick-create", headers=h,
                                        json={"organization_id": "clinic-42",
                                              "wait_for_qr": True})
    await assert_conforms(doc, "POST", f"{BASE}/quick-create", created, 201)
    instance_id = (await created.json())["instance"]["id"]
    one = f"{BASE}/{instance_id}"
    answers = [
        ("GET", BASE, await service.client.get(BASE, headers=h), 200),
        ("GET", f"{BASE}/{{id}}", await service.client.get(one, headers=h), 200),
        ("POST", f"{BASE}/{{id}}/connect", await service.client.post(f"{one}/connect",
                                                                     headers=h), 200),
        ("GET", f"{BASE}/{{id}}/status", await service.client.get(f"{one}/status",
                                                                  headers=h), 200),
        ("GET", f"{BASE}/{{id}}/messages", await service.client.get(f"{one}/messages",
                                                                    headers=h), 200),
        ("GET", "/api/whatsapp/instances/{id}/connect", await service.client.get(
            f"/api/whatsapp/instances/{instance_id}/connect", headers=h), 200),
        ("POST", "/api/whatsapp/instances/{id}/connect", await service.client.post(
            f"/api/whatsapp/instances/{instance_id}/connect", headers=h), 200),
        ("POST", f"{BASE}/{{id}}/restart", await service.client.post(f"{one}/restart",
                                                                     headers=h), 202),
        ("POST", f"{BASE}/{{id}}/logout", await service.client.post(f"{one}/logout",
                                                                    headers=h), 200),
        ("DELETE", f"{BASE}/{{id}}", await service.client.delete(one, headers=h), 204),
    ]
    for method, template, response, status in answers:
        await assert_conforms(doc, method, template, response, status)


async def test_admin_answers_match_the_document(service: Service) -> None:
    doc = await document(service)
    await service.quick_create("clinic-doc")
    h = service.auth()
    flags = "/api/admin/feature-flags"
    answers = [
        ("GET", flags, await service.client.get(flags, headers=h), 200),
        ("POST", flags, await service.client.post(flags, json={"radical_solution": True},
                                                  headers=h), 200),
        ("PUT", f"{flags}/{{name}}", await service.client.put(
            f"{flags}/radical_solution", headers=h,
            json={"enabled": True, "percentage": 10, "allow_orgs": [], "deny_orgs": []}), 200),
        ("POST", f"{flags}/{{name}}/advance", await service.client.post(
            f"{flags}/radical_solution/advance", headers=h), 200),
        ("GET", "/api/feature-flags/evaluate", await service.client.get(
            "/api/feature-flags/evaluate?organization_id=clinic-doc", headers=h), 200),
        ("GET", "/api/admin/audit", await service.client.get("/api/admin/audit", headers=h),
         200),
        ("GET", "/api/admin/audit/verify", await service.client.get(
            "/api/admin/audit/verify", headers=h), 200),
        ("POST", "/api/admin/organizations/{orgId}/webhook-secret/rotate",
         await service.client.post(
             "/api/admin/organizations/clinic-doc/webhook-secret/rotate", headers=h), 201),
    ]
    for method, template, response, status in answers:
        await assert_conforms(doc, method, template, response, status)


async def test_operations_and_webhook_answers_match_the_document(service: Service) -> None:
    doc = await document(service)
    created = await service.quick_create("clinic-hook")
    secret = await service.org_secret("clinic-hook")
    body = json.dumps({"event": "connection.update",
                       "instance": created["instance"]["evolution_name"],
                       "data": {"state": "connecting"},
                       "date_time": "2026-11-24T19:00:00.123Z"}).encode()
    webhook = await service.client.post("/api/webhooks/evolution/clinic-hook/connection-update",
                                         data=body, headers=sign(secret, body))
    await assert_conforms(doc, "POST", "/api/webhooks/evolution/{orgId}/{suffix}", webhook, 200)
    for template, status, headers in (("/api/health", 200, {}), ("/api/health/ready", 200, {}),
                                      ("/metrics", 200, service.auth("system")),
                                      ("/api/openapi.json", 200, {})):
        response = await service.client.get(template, headers=headers)
        await assert_conforms(doc, "GET", template, response, status)


async def test_problem_answers_match_the_default_answer(service: Service) -> None:
    doc = await document(service)
    h = service.auth()
    problems = [
        ("GET", f"{BASE}/{{id}}", await service.client.get(f"{BASE}/not-a-uuid", headers=h),
         404),
        ("GET", BASE, await service.client.get(f"{BASE}?limit=500", headers=h), 422),
        ("POST", f"{BASE}/quick-create", await service.client.post(
            f"{BASE}/quick-create", data=b"{", headers=h), 400),
        ("GET", "/api/admin/audit", await service.client.get("/api/admin/audit"), 401),
        ("POST", "/api/whatsapp/webhook", await service.client.post(
            "/api/whatsapp/webhook", json={"event": "x", "instance": "y"}), 404),
    ]
    for method, template, response, status in problems:
        await assert_conforms(doc, method, template, response, status)


async def test_an_answer_the_document_does_not_describe_is_caught(service: Service) -> None:
    """The checker itself: a body with an undocumented field is a violation."""
    doc = await document(service)
    response = await service.client.get("/api/health")
    doc.spec["components"]["schemas"]["Health"]["properties"].pop("status")
    assert await doc.violations("GET", "/api/health", response) != []
