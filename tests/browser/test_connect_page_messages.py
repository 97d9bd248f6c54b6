"""The connect page's messages in Chromium: the stream's time runs out, the page says so with
a retry button the keyboard reaches, and retrying brings the QR back."""

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
