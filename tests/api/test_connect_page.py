"""The connect link and the connect page over real HTTP (API.md 6a)."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from urllib.parse import parse_qs, urlsplit

from entrypoints.container import _connect_link_secret
from tests.api.conftest import Service

BASE = "/api/channels/whatsapp/instances"


async def mint(service: Service, instance_id: str, **auth: str) -> dict[str, str]:
    response = await service.client.post(f"{BASE}/{instance_id}/connect-link",
                                         headers=service.auth(**auth))
    assert response.status == 201, await response.text()
    body: dict[str, str] = await response.json()
    return body


def page_path(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.path}?{parts.query}"


def forged(service: Service, instance_id: str, org: str, exp: float) -> str:
    secret = _connect_link_secret(service.container.settings())
    return service.container.jwt().encode(
        {"typ": "connect_link", "sub": instance_id, "org": org, "exp": int(exp)}, secret)


async def test_connect_link_is_201_with_a_signed_url_valid_for_900_s(service: Service) -> None:
    created = await service.quick_create()
    instance_id = created["instance"]["id"]
    link = await mint(service, instance_id)
    parts = urlsplit(link["url"])
    assert f"{parts.scheme}://{parts.netloc}" == service.base_url
    assert parts.path == f"/connect/{instance_id}"
    assert parse_qs(parts.query)["t"][0]
    expires = datetime.fromisoformat(link["expires_at"].replace("Z", "+00:00"))
    assert abs((expires - datetime.now(UTC)).total_seconds() - 900) < 5


async def test_connect_page_renders_with_one_origin_policy_in_the_asked_language(
        service: Service) -> None:
    created = await service.quick_create()
    link = await mint(service, created["instance"]["id"])
    response = await service.client.get(page_path(link["url"]),
                                        headers={"Accept-Language": "pt-BR,pt;q=0.9,en;q=0.5"})
    html = await response.text()
    assert response.status == 200
    assert response.content_type == "text/html"
    assert "default-src 'self'" in response.headers["Content-Security-Policy"]
    assert '<html lang="pt">' in html
    assert "Conectar o WhatsApp" in html
    assert f"{BASE}/{created['instance']['id']}/qr/stream?t=" in html
    english = await service.client.get(page_path(link["url"]) + "&lang=en",
                                       headers={"Accept-Language": "pt"})
    assert "Connect WhatsApp" in await english.text()


async def test_a_link_for_another_instance_a_management_token_or_an_expired_link_is_403(
        service: Service) -> None:
    first = (await service.quick_create())["instance"]["id"]
    second = (await service.quick_create())["instance"]["id"]
    foreign = parse_qs(urlsplit((await mint(service, first))["url"]).query)["t"][0]
    expired = forged(service, second, "clinic-42", time.time() - 1)
    for token in (foreign, service.token(), expired, "", "not-a-token"):
        response = await service.client.get(f"/connect/{second}", params={"t": token})
        html = await response.text()
        assert response.status == 403, token
        assert response.content_type == "text/html"
        assert "qr/stream" not in html
        assert 'id="qr"' not in html


async def test_another_tenant_cannot_mint_a_link_for_an_instance_it_does_not_see(
        service: Service) -> None:
    instance_id = (await service.quick_create("clinic-42"))["instance"]["id"]
    response = await service.client.post(f"{BASE}/{instance_id}/connect-link",
                                         headers=service.auth("tenant_admin", "clinic-7"))
    assert response.status == 404


async def test_the_stream_takes_the_link_for_its_instance_only(service: Service) -> None:
    first = (await service.quick_create())["instance"]["id"]
    second = (await service.quick_create())["instance"]["id"]
    token = parse_qs(urlsplit((await mint(service, first))["url"]).query)["t"][0]
    own = await service.client.get(f"{BASE}/{first}/qr/stream", params={"t": token})
    assert own.status == 200
    assert own.headers["Content-Type"] == "text/event-stream"
    own.close()
    other = await service.client.get(f"{BASE}/{second}/qr/stream", params={"t": token})
    assert other.status == 401
    assert other.content_type == "application/problem+json"


async def test_views_and_outcomes_are_counted_per_variant_and_summarised_for_admins(
        service: Service) -> None:
    instance = (await service.quick_create(wait_for_qr=True))["instance"]
    url = (await mint(service, instance["id"]))["url"]
    for _ in range(2):
        assert (await service.client.get(page_path(url))).status == 200
    stream = await service.client.get(
        f"{BASE}/{instance['id']}/qr/stream",
        params={"t": parse_qs(urlsplit(url).query)["t"][0]})
    service.fake.scan(instance["evolution_name"])
    assert b"event: connected" in await stream.read()
    response = await service.client.get("/api/admin/feature-flags/radical_solution/variants",
                                        headers=service.auth())
    assert response.status == 200, await response.text()
    body = await response.json()
    assert body["flag"] == "radical_solution"
    shown = [v for v in body["variants"] if v["views"]]
    assert [(v["views"], v["connected"], v["timeout"], v["error"]) for v in shown] == [
        (2, 1, 0, 0)]
    assert shown[0]["rates"]["connected"] == 0.5
    assert {v["name"] for v in body["variants"]} == {"unified_qr", "guided_steps"}
    tenant = await service.client.get("/api/admin/feature-flags/radical_solution/variants",
                                      headers=service.auth("tenant_admin", "clinic-42"))
    assert tenant.status == 403
    missing = await service.client.get("/api/admin/feature-flags/no_such_flag/variants",
                                       headers=service.auth())
    assert missing.status == 404


async def test_the_link_token_never_reaches_the_log(service: Service, capsys) -> None:
    instance_id = (await service.quick_create())["instance"]["id"]
    link = await mint(service, instance_id)
    token = parse_qs(urlsplit(link["url"]).query)["t"][0]
    await service.client.get(page_path(link["url"]))
    stream = await service.client.get(f"{BASE}/{instance_id}/qr/stream", params={"t": token})
    stream.close()
    await service.client.get(f"/connect/{instance_id}", params={"t": token + "x"})
    logged = capsys.readouterr()
    assert "request_finished" in logged.out + logged.err
    assert token not in logged.out + logged.err
    assert token.split(".")[2] not in logged.out + logged.err
