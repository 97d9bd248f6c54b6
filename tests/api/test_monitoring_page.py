"""The dashboard at /admin/monitoring over real HTTP: the login cookie, what a wrong token gets
(the form, never data), the data document, and a kill switch only the page itself can use."""

from __future__ import annotations

from typing import Any

from entrypoints.http.auth import TOKEN_COOKIE
from entrypoints.http.pages import static_url
from tests.api.conftest import Service, free_port, service_env, start_service

PAGE = "/admin/monitoring"
DATA = "/api/admin/monitoring/data"
SWITCH = "/admin/monitoring/kill-switch"


def _origin(service: Service) -> str:
    return str(service.client.make_url("/")).rstrip("/")


def _cookie(token: str) -> dict[str, str]:
    return {"Cookie": f"{TOKEN_COOKIE}={token}"}


def _is_login_form(html: str) -> bool:
    return 'name="token"' in html and "csrf-token" not in html and "Inbox backlog" not in html


async def test_without_a_token_the_page_is_the_login_form_401(service: Service) -> None:
    response = await service.client.get(PAGE)
    assert response.status == 401
    assert response.content_type == "text/html"
    assert _is_login_form(await response.text())
    assert "default-src 'self'" in response.headers["Content-Security-Policy"]


async def test_a_tenant_admin_or_broken_token_gets_the_form_again_with_a_message(
        service: Service) -> None:
    for token in (service.token("tenant_admin", "clinic-42"), "not-a-jwt",
                  service.token(ttl=-60)):
        response = await service.client.get(PAGE, params={"token": token},
                                            allow_redirects=False)
        assert response.status == 401, token
        html = await response.text()
        assert _is_login_form(html)
        assert "not an admin" in html
        assert TOKEN_COOKIE not in response.headers.get("Set-Cookie", "")
        response = await service.client.get(PAGE, headers=_cookie(token))
        assert response.status == 401
        assert _is_login_form(await response.text())


async def test_query_token_goes_into_an_httponly_strict_cookie_and_the_page_opens(
        service: Service) -> None:
    token = service.token()
    response = await service.client.get(PAGE, params={"token": token}, allow_redirects=False)
    assert response.status == 303
    assert response.headers["Location"] == PAGE
    set_cookie = response.headers["Set-Cookie"]
    assert set_cookie.startswith(f"{TOKEN_COOKIE}={token};")
    assert "HttpOnly" in set_cookie
    assert "SameSite=Strict" in set_cookie
    assert "Secure" not in set_cookie  # served over plain http on 127.0.0.1

    page = await service.client.get(PAGE, headers=_cookie(token))
    assert page.status == 200
    html = await page.text()
    assert 'name="csrf-token"' in html
    assert static_url("vendor/uplot-1.6.32.min.js") in html


async def test_the_cookie_is_secure_when_the_service_is_public_over_https() -> None:
    env = service_env(free_port(), PUBLIC_BASE_URL="https://wachannel.example")
    async for service in start_service(env):
        response = await service.client.get(PAGE, params={"token": service.token()},
                                            allow_redirects=False)
        assert response.status == 303
        attributes = [part.strip() for part in response.headers["Set-Cookie"].split(";")]
        assert "Secure" in attributes
        assert "HttpOnly" in attributes


async def test_no_other_site_may_frame_the_dashboard_or_its_login() -> None:
    env = service_env(free_port(), CONNECT_FRAME_ANCESTORS="https://app.clinic.example")
    async for service in start_service(env):
        for headers in ({}, _cookie(service.token())):
            response = await service.client.get(PAGE, headers=headers)
            policy = response.headers["Content-Security-Policy"]
            assert policy.endswith("frame-ancestors 'self'"), policy


async def test_logout_forgets_the_cookie_and_shows_the_form(service: Service) -> None:
    response = await service.client.post(f"{PAGE}/logout", headers=_cookie(service.token()))
    assert response.status == 200
    html = await response.text()
    assert _is_login_form(html)
    assert 'role="status">Logged out.' in html
    assert 'role="alert"' not in html
    assert response.headers["Set-Cookie"].startswith(f'{TOKEN_COOKIE}="";')


async def test_login_form_post_sets_the_cookie_only_from_our_own_origin(
        service: Service) -> None:
    token = service.token()
    foreign = await service.client.post(f"{PAGE}/login", data={"token": token},
                                        headers={"Origin": "https://evil.example"},
                                        allow_redirects=False)
    assert foreign.status == 403
    assert "Set-Cookie" not in foreign.headers
    ours = await service.client.post(f"{PAGE}/login", data={"token": token},
                                     headers={"Origin": _origin(service)},
                                     allow_redirects=False)
    assert ours.status == 303
    assert "HttpOnly" in ours.headers["Set-Cookie"]
    for content_type in ("multipart/form-data", "application/json", "text/plain"):
        odd = await service.client.post(f"{PAGE}/login", data=b'{"token": "x"}',
                                        headers={"Content-Type": content_type,
                                                 "Origin": _origin(service)})
        assert odd.status == 401, content_type
        assert _is_login_form(await odd.text())
    bad = await service.client.post(f"{PAGE}/login", data={"token": "x" * 5000},
                                    headers={"Origin": _origin(service)},
                                    allow_redirects=False)
    assert bad.status == 401
    assert _is_login_form(await bad.text())


async def test_data_is_for_admins_only_by_cookie_or_bearer(service: Service) -> None:
    await service.quick_create()
    denied = await service.client.get(DATA, headers=_cookie(
        service.token("tenant_admin", "clinic-42")))
    assert denied.status == 403
    assert denied.content_type == "application/problem+json"
    assert (await service.client.get(DATA)).status == 401
    for headers in (_cookie(service.token()), service.auth()):
        response = await service.client.get(DATA, headers=headers)
        assert response.status == 200
        body: dict[str, Any] = await response.json()
        assert body["flag"]["name"] == "radical_solution"
        assert sum(body["instances"].values()) == 1
        assert body["series"]["t"]
        assert body["dead_letters"] == []
        assert isinstance(body["alerts"], list)


async def test_kill_switch_needs_the_page_token_and_our_origin_then_quick_create_is_403(
        service: Service) -> None:
    token = service.token()
    page = await (await service.client.get(PAGE, headers=_cookie(token))).text()
    csrf = page.split('name="csrf-token" content="', 1)[1].split('"', 1)[0]
    ours = {**_cookie(token), "Origin": _origin(service)}
    attempts = [
        ({**ours, "X-CSRF-Token": "0" * 64}, 403),  # a guessed token
        ({**ours}, 403),  # no token
        ({**_cookie(token), "Origin": "https://evil.example", "X-CSRF-Token": csrf}, 403),
        ({**ours, "Sec-Fetch-Site": "cross-site", "X-CSRF-Token": csrf}, 403),
        ({"Origin": _origin(service), "X-CSRF-Token": csrf}, 401),  # no cookie
        ({**service.auth(), "Origin": _origin(service), "X-CSRF-Token": csrf}, 401),
    ]
    for headers, status in attempts:
        refused = await service.client.post(SWITCH, json={"enabled": False}, headers=headers)
        assert refused.status == status, headers
        assert refused.content_type == "application/problem+json"
    await service.quick_create()  # still on

    bad_body = await service.client.post(SWITCH, json={"enabled": "no"},
                                         headers={**ours, "X-CSRF-Token": csrf})
    assert bad_body.status == 422
    switched = await service.client.post(SWITCH, json={"enabled": False},
                                         headers={**ours, "X-CSRF-Token": csrf})
    assert switched.status == 200
    assert (await switched.json())["items"][0]["enabled"] is False

    created = await service.client.post(
        "/api/channels/whatsapp/instances/quick-create",
        json={"organization_id": "clinic-42"}, headers=service.auth())
    assert created.status == 403
    assert (await created.json())["type"].endswith("/problems/feature-disabled")
    audit = await service.client.get("/api/admin/audit", headers=service.auth(),
                                     params={"action": "flag_changed"})
    assert any(e["actor_id"] == "tester" and e["details"]["new"]["enabled"] is False
               for e in (await audit.json())["items"])


async def test_vendor_files_are_ours_cached_and_nothing_else_is_served(
        service: Service) -> None:
    response = await service.client.get(static_url("vendor/uplot-1.6.32.min.js"))
    assert response.status == 200
    assert response.content_type == "text/javascript"
    assert response.headers["Cache-Control"] == "public, max-age=31536000, immutable"
    licence = await service.client.get("/static/vendor/uplot-1.6.32.license.txt")
    assert "MIT License" in await licence.text()
    for name in ("nothing.js", "..%2Fpage.css", "UPLOT.JS"):
        assert (await service.client.get(f"/static/vendor/{name}")).status == 404
