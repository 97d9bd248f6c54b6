"""The HTTP conventions of API.md section 1, through the real app."""

from __future__ import annotations

from aiohttp import ClientSession

from tests.api.conftest import Service, free_port, service_env, start_service

PROBLEM = "application/problem+json"


async def test_health_is_pass_as_health_json(service: Service) -> None:
    response = await service.client.get("/api/health")
    assert response.status == 200
    assert response.content_type == "application/health+json"
    assert await response.json() == {"status": "pass"}


async def test_readiness_reports_each_check_in_the_health_check_format(service: Service) -> None:
    response = await service.client.get("/api/health/ready")
    body = await response.json(content_type="application/health+json")
    assert response.status == 200, body
    assert body["status"] == "pass"
    assert set(body["checks"]) == {"postgres:responseTime", "evolution:responseTime",
                                   "worker:heartbeat"}
    for name, unit in (("postgres:responseTime", "ms"), ("evolution:responseTime", "ms"),
                       ("worker:heartbeat", "s")):
        (check,) = body["checks"][name]
        assert check["status"] == "pass", (name, check)
        assert check["observedUnit"] == unit
        assert isinstance(check["observedValue"], int | float)
        assert check["time"].endswith("Z")
    # The embedded default's store is in memory, and says so.
    assert body["checks"]["postgres:responseTime"][0]["componentId"] == "memory"


async def test_request_id_is_echoed_when_sent_and_generated_otherwise(service: Service) -> None:
    echoed = await service.client.get("/api/health", headers={"X-Request-ID": "abc-123"})
    generated = await service.client.get("/api/health")
    assert echoed.headers["X-Request-ID"] == "abc-123"
    assert len(generated.headers["X-Request-ID"]) >= 16


async def test_unknown_route_is_404_problem(service: Service) -> None:
    response = await service.client.get("/api/nope")
    body = await response.json(content_type=PROBLEM)
    assert response.status == 404
    assert body["type"] == "/problems/not-found"
    assert body["request_id"] == response.headers["X-Request-ID"]


async def test_wrong_method_is_405_problem_with_allow(service: Service) -> None:
    response = await service.client.put("/api/health")
    body = await response.json(content_type=PROBLEM)
    assert response.status == 405
    assert body["type"] == "/problems/method-not-allowed"
    assert "GET" in response.headers["Allow"]


async def test_body_over_one_mebibyte_is_413_problem(service: Service) -> None:
    response = await service.client.post(
        "/api/channels/whatsapp/instances/quick-create", data=b"x" * (1024 * 1024 + 1),
        headers={**service.auth(), "Content-Type": "application/json"})
    body = await response.json(content_type=PROBLEM)
    assert response.status == 413
    assert body["type"] == "/problems/payload-too-large"


async def test_malformed_json_is_400_problem(service: Service) -> None:
    response = await service.client.post(
        "/api/channels/whatsapp/instances/quick-create", data=b"{not json",
        headers={**service.auth(), "Content-Type": "application/json"})
    body = await response.json(content_type=PROBLEM)
    assert response.status == 400
    assert body["type"] == "/problems/malformed-json"


async def test_schema_violation_is_422_with_field_errors(service: Service) -> None:
    response = await service.client.post(
        "/api/channels/whatsapp/instances/quick-create",
        json={"organization_id": "bad id!", "wait_for_qr": "perhaps", "extra": 1},
        headers=service.auth())
    body = await response.json(content_type=PROBLEM)
    assert response.status == 422
    assert body["type"] == "/problems/validation"
    assert set(body["errors"]) == {"organization_id", "wait_for_qr", "extra"}


async def test_list_limit_out_of_range_is_422(service: Service) -> None:
    response = await service.client.get("/api/channels/whatsapp/instances?limit=500",
                                        headers=service.auth())
    assert response.status == 422
    assert "limit" in (await response.json(content_type=PROBLEM))["errors"]


async def test_forged_cursor_is_422_not_500(service: Service) -> None:
    response = await service.client.get("/api/channels/whatsapp/instances?cursor=%%%%",
                                        headers=service.auth())
    assert response.status == 422


async def test_openapi_document_lists_every_contract_route(service: Service) -> None:
    response = await service.client.get("/api/openapi.json")
    spec = await response.json()
    assert spec["openapi"].startswith("3.")
    for path in ("/api/channels/whatsapp/instances/quick-create",
                 "/api/webhooks/evolution/{orgId}", "/api/admin/feature-flags/{name}/advance",
                 "/api/admin/audit/verify"):
        assert path in spec["paths"]
    quick = spec["paths"]["/api/channels/whatsapp/instances/quick-create"]["post"]
    assert "201" in quick["responses"]


async def test_metrics_need_a_system_or_admin_token(service: Service) -> None:
    anonymous = await service.client.get("/metrics")
    tenant = await service.client.get("/metrics", headers=service.auth("tenant_admin", "c1"))
    system = await service.client.get("/metrics", headers=service.auth("system"))
    assert anonymous.status == 401
    assert tenant.status == 403
    text = await system.text()
    assert system.status == 200
    for name in ("wachannel_qr_generation_seconds", "wachannel_http_request_duration_seconds",
                 "wachannel_webhook_processing_seconds", "wachannel_errors_total",
                 "wachannel_evolution_pool_in_use", "process_resident_memory_bytes"):
        assert name in text


async def test_expired_or_unsigned_token_is_401(service: Service) -> None:
    expired = service.token(ttl=-60)
    response = await service.client.get("/api/channels/whatsapp/instances",
                                        headers={"Authorization": f"Bearer {expired}"})
    forged = await service.client.get("/api/channels/whatsapp/instances",
                                      headers={"Authorization": "Bearer eyJhbGciOiJub25lIn0."
                                                                "eyJzdWIiOiJ4Iiwicm9sZSI6ImFkbWluIn0."})
    assert response.status == 401
    assert forged.status == 401
    assert (await forged.json(content_type=PROBLEM))["type"] == "/problems/unauthenticated"


async def test_metrics_port_serves_metrics_without_a_token(http: ClientSession) -> None:
    metrics_port = free_port()
    async for running in start_service(service_env(free_port(), METRICS_PORT=str(metrics_port),
                                                   HOST="127.0.0.1")):
        async with http.get(f"http://127.0.0.1:{metrics_port}/metrics") as response:
            assert response.status == 200
            assert "wachannel_qr_streams_open" in await response.text()
        guarded = await running.client.get("/metrics")
        assert guarded.status == 401


async def test_readiness_is_503_naming_the_failing_check_when_evolution_is_down(
        service: Service) -> None:
    service.container.evolution().down = True
    response = await service.client.get("/api/health/ready")
    body = await response.json(content_type=None)
    assert response.status == 503
    assert body["status"] == "fail"
    assert body["checks"]["evolution:responseTime"][0]["status"] == "fail"
    assert body["checks"]["evolution:responseTime"][0]["output"]
    assert body["checks"]["postgres:responseTime"][0]["status"] == "pass"
