"""The connect page inside the clinic's web app: framed by an origin in
CONNECT_FRAME_ANCESTORS it works; framed by any other origin Chromium refuses to show it. And
the pairing code, for an instance created with a phone number."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest
from aiohttp import web
from playwright.async_api import Page, expect

from tests.api.conftest import Service, free_port, service_env, start_service
from tests.browser.conftest import screenshot

BASE = "/api/channels/whatsapp/instances"


@pytest.fixture
async def clinic_app() -> AsyncIterator[Callable[[int, str], Awaitable[str]]]:
    """The clinic's web app on its own origin (a port of its own), framing a given URL."""
    runners: list[web.AppRunner] = []

    async def serve(port: int, framed: str) -> str:
        async def page(_: web.Request) -> web.Response:
            return web.Response(text=f'<!doctype html><title>Clinic</title><main><iframe '
                                     f'title="connect" src="{framed}" width="700" height="900">'
                                     "</iframe></main>", content_type="text/html")
        app = web.Application()
        app.router.add_get("/", page)
        runner = web.AppRunner(app)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", port).start()
        runners.append(runner)
        return f"http://127.0.0.1:{port}/"

    yield serve
    for runner in runners:
        await runner.cleanup()


async def link(service: Service, **body: str) -> tuple[dict[str, str], str]:
    created = await service.quick_create(**body)
    response = await service.client.post(f"{BASE}/{created['instance']['id']}/connect-link",
                                         headers=service.auth())
    assert response.status == 201
    return created["instance"], (await response.json())["url"]


async def test_framed_by_an_allowed_origin_the_page_works_and_by_another_it_is_refused(
        clinic_app, page: Page) -> None:
    allowed_port, other_port = free_port(), free_port()
    env = service_env(free_port(), CONNECT_FRAME_ANCESTORS=f"http://127.0.0.1:{allowed_port}")
    async for service in start_service(env):
        _, url = await link(service)
        await page.goto(await clinic_app(allowed_port, url))
        await expect(page.frame_locator("iframe").locator("#qr")).to_be_visible(timeout=3000)
        await screenshot(page, "connect-framed")

        await page.goto(await clinic_app(other_port, url))  # waits for the frame's load too
        refused = page.frames[1]
        assert await refused.locator("#connect").count() == 0


async def test_the_pairing_code_is_shown_for_an_instance_with_a_phone_number(
        service: Service, page: Page) -> None:
    _, url = await link(service, phone_number="5511999999999")
    await page.goto(url + "&lang=pt")
    await expect(page.locator("#pairing")).to_be_visible(timeout=2000)
    await expect(page.locator("#pairing-code")).to_have_text(re.compile(r"^[1-9A-Z]{8}$"))
    await expect(page.locator("#pairing")).to_contain_text("Código de pareamento")
