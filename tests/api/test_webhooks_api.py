"""The four webhook paths and every authentication mode (API.md sections 5 and 5a)."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import jwt
import pytest

from application.ports.evolution import InstanceRef
from tests.api.conftest import Service, free_port, service_env, sign, start_service
from tests.shared import evolution_sample

PROBLEM = "application/problem+json"


def envelope(name: str, instance: str, **data: Any) -> bytes:
    body = evolution_sample(name)
    body["instance"] = instance
    if isinstance(body.get("data"), dict) and "instance" in body["data"]:
        body["data"]["instance"] = instance
    body["data"] = {**(body["data"] or {}), **data} if data else body["data"]
    return json.dumps(body).encode()


async def created(service: Service, org: str = "clinic-w") -> tuple[dict[str, Any], str]:
    body = await service.quick_create(org)
    return body["instance"], await service.org_secret(org)


async def wait_for_state(service: Service, instance_id: str, state: str) -> dict[str, Any]:
    async with asyncio.timeout(3):
        while True:
            current = await (await service.client.get(
                f"/api/channels/whatsapp/instances/{instance_id}", headers=service.auth())).json()
            if current["state"] == state:
                return dict(current)
            await asyncio.sleep(0.02)


@pytest.mark.parametrize("path", [
    "/api/webhooks/evolution/clinic-w", "/api/webhooks/evolution/clinic-w/connection-update",
    "/api/whatsapp/simple/webhook/clinic-w", "/api/whatsapp/webhook",
    "/api/channels/whatsapp/webhook", "/api/channels/whatsapp/webhook/connection-update"])
async def test_signed_connection_update_on_every_path_is_accepted_and_applied(
        service: Service, path: str) -> None:
    instance, secret = await created(service)
    body = envelope("connection_update.json", instance["evolution_name"])
    response = await service.client.post(path, data=body, headers=sign(secret, body))
    ack = await response.json()
    assert response.status == 200, ack
    assert ack["status"] == "accepted"
    assert ack["duplicate"] is False
    connected = await wait_for_state(service, instance["id"], "connected")
    assert connected["phone_number"] == "5511912345678"
    assert connected["profile_name"] == "Acme Vendas"


async def test_redelivery_is_a_duplicate_and_stores_nothing(service: Service) -> None:
    instance, secret = await created(service)
    body = envelope("messages_upsert.json", instance["evolution_name"])
    first = await (await service.client.post("/api/webhooks/evolution/clinic-w", data=body,
                                             headers=sign(secret, body))).json()
    again = await (await service.client.post("/api/webhooks/evolution/clinic-w", data=body,
                                             headers=sign(secret, body))).json()
    assert again["duplicate"] is True
    assert again["event_id"] == first["event_id"]
    await asyncio.sleep(0.3)
    messages = await (await service.client.get(
        f"/api/channels/whatsapp/instances/{instance['id']}/messages",
        headers=service.auth())).json()
    assert [m["text"] for m in messages["items"]] == ["Olá! Vocês entregam em Campinas?"]
    assert messages["items"][0]["remote_jid"] == "5511987654321@s.whatsapp.net"


@pytest.mark.parametrize("mode", ["jwt", "jwt_expired_within_leeway", "apikey_header",
                                  "body_apikey"])
async def test_every_configured_auth_mode_is_accepted(service: Service, mode: str) -> None:
    instance, secret = await created(service)
    body = json.loads(envelope("connection_update.json", instance["evolution_name"]))
    headers = {"Content-Type": "application/json"}
    now = int(time.time())
    if mode.startswith("jwt"):
        iat = now - 1200 if mode.endswith("leeway") else now  # Evolution's retry 20 min later
        token = jwt.encode({"iat": iat, "exp": iat + 600, "app": "evolution",
                            "action": "webhook"}, secret, algorithm="HS256")
        headers["Authorization"] = f"Bearer {token}"
    elif mode == "apikey_header":
        headers["apikey"] = secret
    else:
        async with service.container.uow() as uow:
            stored = await uow.instances.get_by_name(instance["evolution_name"])
        assert stored is not None
        body["apikey"] = stored.evolution_token
    response = await service.client.post("/api/webhooks/evolution/clinic-w",
                                         data=json.dumps(body), headers=headers)
    assert response.status == 200, await response.text()


@pytest.mark.parametrize("headers", [
    {}, {"x-evolution-signature": "sha256=" + "0" * 64}, {"apikey": "guess"},
    {"Authorization": "Bearer not-a-jwt"},
])
async def test_unauthenticated_webhook_is_401_and_not_stored(
        service: Service, headers: dict[str, str]) -> None:
    instance, _ = await created(service)
    body = envelope("connection_update.json", instance["evolution_name"])
    response = await service.client.post("/api/webhooks/evolution/clinic-w", data=body,
                                         headers={**headers, "Content-Type": "application/json"})
    assert response.status == 401
    assert (await response.json(content_type=PROBLEM))["type"] == "/problems/unauthenticated"
    signed = await service.client.post("/api/webhooks/evolution/clinic-w", data=body,
                                       headers=sign(await service.org_secret("clinic-w"), body))
    assert (await signed.json())["duplicate"] is False  # the rejected delivery left no trace
    audit = await (await service.client.get("/api/admin/audit?action=webhook_rejected",
                                            headers=service.auth())).json()
    assert len(audit["items"]) == 1


async def test_jwt_expired_beyond_leeway_is_401(service: Service) -> None:
    instance, secret = await created(service)
    iat = int(time.time()) - 600 - 1800 - 60
    token = jwt.encode({"iat": iat, "exp": iat + 600}, secret, algorithm="HS256")
    body = envelope("connection_update.json", instance["evolution_name"])
    response = await service.client.post(
        "/api/webhooks/evolution/clinic-w", data=body,
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"})
    assert response.status == 401


async def test_unknown_organization_or_instance_is_404(service: Service) -> None:
    instance, secret = await created(service)
    body = envelope("connection_update.json", instance["evolution_name"])
    unknown_org = await service.client.post("/api/webhooks/evolution/nobody", data=body,
                                            headers=sign(secret, body))
    stranger = envelope("connection_update.json", "nobody-00000000")
    unknown_instance = await service.client.post("/api/whatsapp/webhook", data=stranger,
                                                 headers=sign(secret, stranger))
    bad_suffix = await service.client.post("/api/webhooks/evolution/clinic-w/NOT_AN_EVENT!",
                                           data=body, headers=sign(secret, body))
    assert unknown_org.status == unknown_instance.status == bad_suffix.status == 404


@pytest.mark.parametrize(("body", "status"), [
    (b"{oops", 400), (b"[]", 422), (b'{"event": 1, "instance": "x"}', 422),
    (b'{"instance": "x"}', 422), (b"", 400), (b"\xff\xfe", 400)])
async def test_malformed_bodies_are_4xx_never_5xx(service: Service, body: bytes,
                                                  status: int) -> None:
    response = await service.client.post("/api/webhooks/evolution/clinic-w", data=body,
                                         headers={"Content-Type": "application/json"})
    assert response.status == status


async def test_rate_limit_per_organization_is_429_with_retry_after() -> None:
    async for limited in start_service(service_env(free_port(), WEBHOOK_RATE_PER_ORG="1")):
        instance, secret = await created(limited)
        responses = []
        for n in range(5):
            body = envelope("connection_update.json", instance["evolution_name"], statusReason=n)
            responses.append(await limited.client.post("/api/webhooks/evolution/clinic-w",
                                                       data=body, headers=sign(secret, body)))
        throttled = [r for r in responses if r.status == 429]
        assert len([r for r in responses if r.status == 200]) <= 1  # a burst of one per second
        assert len(throttled) >= 4
        assert all(int(r.headers["Retry-After"]) >= 1 for r in throttled)
        problem = await throttled[0].json(content_type=PROBLEM)
        assert problem["type"] == "/problems/rate-limited"


async def test_secret_rotation_keeps_the_old_secret_during_grace(service: Service) -> None:
    instance, old = await created(service)
    rotated = await service.client.post(
        "/api/admin/organizations/clinic-w/webhook-secret/rotate", headers=service.auth())
    new = (await rotated.json())["secret"]
    assert rotated.status == 201
    assert new != old
    for secret in (old, new):
        body = envelope("connection_update.json", instance["evolution_name"],
                        statusReason=len(secret))
        response = await service.client.post("/api/webhooks/evolution/clinic-w", data=body,
                                             headers=sign(secret, body))
        assert response.status == 200
    registered = await service.fake.find_webhook(InstanceRef(instance["evolution_name"]))
    assert registered is not None
    assert registered.headers["jwt_key"] == new


async def test_fake_evolution_deliveries_drive_the_instance_to_connected(service: Service) -> None:
    """Evolution's own deliveries (jwt_key Bearer tokens) go through the real webhook path."""
    body = await service.quick_create("clinic-f", wait_for_qr=True)
    service.fake.scan(body["instance"]["evolution_name"])
    connected = await wait_for_state(service, body["instance"]["id"], "connected")
    assert connected["last_event_at"] is not None
    audit = await (await service.client.get(
        "/api/admin/audit?organization_id=clinic-f", headers=service.auth())).json()
    actions = {e["action"] for e in audit["items"]}
    assert {"instance_created", "qr_generated", "connection_established"} <= actions
