"""The connect page's messages in Chromium: the stream's time runs out, the QR limit is reached,
Evolution is down; each is said with a retry button (the keyboard reaches it), and retrying
brings the QR back."""

from __future__ import annotations

from playwright.async_api import Page, expect

from tests.api.conftest import free_port, service_env, start_service
from tests.browser.conftest import screenshot

BASE = "/api/channels/whatsapp/instances"


async def test_a_timed_out_stream_shows_the_message_and_retry_brings_the_qr_back(
        page: Page) -> None:
    async for service in start_service(service_env(free_port(), QR_STREAM_MAX_S="1.5")):
        created = await service.quick_create()
        response = await service.client.post(
            f"{BASE}/{created['instance']['id']}/connect-link", headers=service.auth())
        url = (await response.json())["url"]
        await page.goto(url + "&lang=en")
        await expect(page.locator("#qr")).to_be_visible(timeout=2000)
        await expect(page.locator("#problem")).to_be_visible(timeout=4000)
        await expect(page.locator("#problem-text")).to_have_text("The time to scan ran out.")
        await expect(page.locator("#qr")).to_be_hidden()
        await expect(page.locator("#retry")).to_be_focused()
        await screenshot(page, "connect-timeout")
        await page.keyboard.press("Enter")
        await expect(page.locator("#qr")).to_be_visible(timeout=2000)
        await expect(page.locator("#problem")).to_be_hidden()


async def test_the_qr_limit_reached_is_said_with_a_retry(page: Page) -> None:
    async for service in start_service(service_env(free_port())):
        created = await service.quick_create()
        response = await service.client.post(
            f"{BASE}/{created['instance']['id']}/connect-link", headers=service.auth())
        url = (await response.json())["url"]
        await page.goto(url + "&lang=es")
        await expect(page.locator("#qr")).to_be_visible(timeout=2000)
        # Evolution gives up after its QR limit: CONNECTION_UPDATE refused, status 428.
        service.fake.emit(created["instance"]["evolution_name"], "CONNECTION_UPDATE", {
            "instance": created["instance"]["evolution_name"], "state": "refused",
            "statusReason": 428})
        await expect(page.locator("#problem-text")).to_have_text(
            "Se alcanzó el límite de códigos QR. Vuelva a intentarlo.", timeout=3000)
        await expect(page.locator("#qr")).to_be_hidden()
        await expect(page.locator("#retry")).to_be_visible()


async def test_evolution_unavailable_is_said_with_a_retry(page: Page) -> None:
    # No cache: the stream's first refresh asks Evolution, which is down.
    async for service in start_service(service_env(free_port(), EVOLUTION_CACHE_TTL_S="0")):
        created = await service.quick_create(wait_for_qr=True)
        response = await service.client.post(
            f"{BASE}/{created['instance']['id']}/connect-link", headers=service.auth())
        url = (await response.json())["url"]
        service.fake.fail_next("unavailable", times=50)
        await page.goto(url + "&lang=pt")
        await expect(page.locator("#problem-text")).to_have_text(
            "O serviço do WhatsApp não está disponível agora.", timeout=3000)
        await expect(page.locator("#retry")).to_have_text("Tentar de novo")
        await screenshot(page, "connect-unavailable")
