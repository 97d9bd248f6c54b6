"""Live answers validate against the schemas /api/openapi.json is generated from."""

from __future__ import annotations

from marshmallow import Schema

from entrypoints.http.schemas import admin, instances
from entrypoints.http.schemas.common import ProblemSchema
from tests.api.conftest import Service

BASE = "/api/channels/whatsapp/instances"


def violations(schema: type[Schema], body: object) -> dict[str, object]:
    # RAISE on unknown fields: an answer may not carry what the document does not describe.
    return dict(schema(unknown="raise").validate(body))  # type: ignore[arg-type]


async def test_instance_answers_match_their_documented_schemas(service: Service) -> None:
    created = await service.quick_create(wait_for_qr=True)
    instance_id = created["instance"]["id"]
    h = service.auth()
    assert violations(instances.QuickCreateResponse, created) == {}
    answers = {
        instances.InstanceSchema: await service.client.get(f"{BASE}/{instance_id}", headers=h),
        instances.InstancePage: await service.client.get(BASE, headers=h),
        instances.ConnectResponse: await service.client.post(f"{BASE}/{instance_id}/connect",
                                                             headers=h),
        instances.StatusResponse: await service.client.get(f"{BASE}/{instance_id}/status",
                                                           headers=h),
        instances.MessagePage: await service.client.get(f"{BASE}/{instance_id}/messages",
                                                        headers=h),
    }
    for schema, response in answers.items():
        assert violations(schema, await response.json()) == {}, schema.__name__


async def test_admin_answers_match_their_documented_schemas(service: Service) -> None:
    await service.quick_create("clinic-doc")
    h = service.auth()
    answers = {
        admin.FlagList: await service.client.get("/api/admin/feature-flags", headers=h),
        admin.AuditPage: await service.client.get("/api/admin/audit", headers=h),
        admin.VerifyResponse: await service.client.get("/api/admin/audit/verify", headers=h),
        admin.RotateResponse: await service.client.post(
            "/api/admin/organizations/clinic-doc/webhook-secret/rotate", headers=h),
    }
    for schema, response in answers.items():
        assert violations(schema, await response.json()) == {}, schema.__name__


async def test_problem_answers_match_the_problem_schema(service: Service) -> None:
    response = await service.client.get(f"{BASE}/not-a-uuid", headers=service.auth())
    assert violations(ProblemSchema, await response.json(content_type=None)) == {}
