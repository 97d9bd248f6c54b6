"""The operators' dashboard in real Chromium, after a short load through the real app: charts
with data, the kill switch through its confirmation (quick-create then answers 403), axe."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from playwright.async_api import Browser, Page, expect

from tests.api.conftest import Service, free_port, service_env, sign, start_service
from tests.browser.conftest import screenshot
from tests.shared import evolution_sample

AXE = Path(__file__).parent / "vendor" / "axe-4.14.1.min.js"
ORGS = ("clinic-a", "clinic-b")


@pytest.fixture
async def service() -> AsyncIterator[Service]:
    # A point every half second, so a few seconds of load make a chart with several points.
    port = free_port()
    async for running in start_service(service_env(port, MONITORING_SAMPLE_S="0.5")):
        yield running


async def short_load(service: Service) -> None:
    """Quick-creates (each connects and gets its QR from the fake Evolution, whose webhooks
    come back over HTTP) and signed message webhooks, as Evolution would send them."""
    for round_ in range(3):
        for org in ORGS:
            created = (await service.quick_create(org))["instance"]
            body = evolution_sample("messages_upsert.json")
            body["instance"] = created["evolution_name"]
            body["data"]["key"]["id"] = f"MSG-{org}-{round_}"
            raw = json.dumps(body).encode()
            response = await service.client.post(f"/api/webhooks/evolution/{org}", data=raw,
                                                 headers=sign(await service.org_secret(org), raw))
            assert response.status == 200, await response.text()


async def open_dashboard(service: Service, page: Page) -> None:
    await page.goto(f"{service.base_url}/admin/monitoring?token={service.token()}")
    assert page.url == f"{service.base_url}/admin/monitoring"  # the token left the address
    await expect(page.locator("#flag-state")).to_have_text("on")


async def test_dashboard_shows_charts_with_data_after_a_short_load(
        service: Service, page: Page) -> None:
    await short_load(service)
    await open_dashboard(service, page)
    for chart in ("qr", "webhook"):
        plot = page.locator(f"#chart-{chart} .plot")
        await expect(plot.locator("canvas")).to_have_count(1)
        # points with a value, not only an axis: the load's observations were sampled
        await expect(plot).to_have_attribute("data-points", _at_least_one(), timeout=5000)
    await expect(page.locator("#chart-instances-latest")).to_contain_text("awaiting_qr")
    await expect(page.locator("#instances-body")).to_contain_text("awaiting_qr")
    await short_load(service)  # the page refreshes itself: new points appear without reload
    before = int(await page.locator("#chart-qr .plot").get_attribute("data-points") or "0")
    await expect(page.locator("#chart-qr .plot")).not_to_have_attribute(
        "data-points", str(before), timeout=5000)
    await screenshot(page, "monitoring-dashboard")  # docs/images/ has a copy of one


async def test_kill_switch_through_its_confirmation_makes_quick_create_403(
        service: Service, page: Page) -> None:
    await service.quick_create(ORGS[0])
    await open_dashboard(service, page)
    await page.get_by_role("button", name="Turn off (kill switch)").click()
    dialog = page.get_by_role("dialog")
    await expect(dialog).to_be_visible()
    await dialog.get_by_role("button", name="Cancel").click()
    await expect(dialog).to_be_hidden()
    await service.quick_create(ORGS[0])  # cancelled: nothing changed

    await page.get_by_role("button", name="Turn off (kill switch)").click()
    await page.get_by_role("button", name="Yes, turn it off").click()
    await expect(page.locator("#flag-state")).to_have_text("off (kill switch)")
    await expect(page.locator("#status")).to_contain_text("radical_solution is now off")
    response = await service.client.post(
        "/api/channels/whatsapp/instances/quick-create",
        json={"organization_id": ORGS[0]}, headers=service.auth())
    assert response.status == 403
    assert (await response.json())["type"].endswith("/problems/feature-disabled")

    await page.get_by_role("button", name="Turn back on").click()
    await page.get_by_role("button", name="Yes, turn it on").click()
    await expect(page.locator("#flag-state")).to_have_text("on")
    await service.quick_create(ORGS[0])


async def test_login_form_then_dashboard_with_no_serious_axe_violation(
        service: Service, browser: Browser) -> None:
    # axe is injected as a script, which the page's own policy would rightly refuse.
    context = await browser.new_context(bypass_csp=True)
    page = await context.new_page()
    try:
        await page.goto(f"{service.base_url}/admin/monitoring")
        assert await _serious(page) == []
        await page.get_by_label("Admin token").fill("not-a-token")
        await page.get_by_role("button", name="Log in").click()
        await expect(page.get_by_role("alert")).to_contain_text("not an admin")
        await page.get_by_label("Admin token").fill(service.token())
        await page.get_by_role("button", name="Log in").click()
        await expect(page.locator("#flag-state")).to_have_text("on")
        cookie = next(c for c in await context.cookies() if c["name"] == "wachannel_token")
        assert cookie["httpOnly"] is True
        assert cookie["sameSite"] == "Strict"
        await short_load(service)
        await expect(page.locator("#chart-qr .plot canvas")).to_have_count(1)
        assert await _serious(page) == []
        await page.get_by_role("button", name="Turn off (kill switch)").focus()
        await page.keyboard.press("Enter")  # the switch and its dialog work from the keyboard
        await expect(page.get_by_role("dialog")).to_be_visible()
        assert await _serious(page) == []
        await page.keyboard.press("Escape")
        await expect(page.get_by_role("dialog")).to_be_hidden()
    finally:
        await context.close()


async def _serious(page: Page) -> list[tuple[str, str, int]]:
    if not AXE.exists():
        pytest.fail(f"axe-core is missing: {AXE}", pytrace=False)
    await page.add_script_tag(path=str(AXE))
    result = await page.evaluate("axe.run(document, {resultTypes: ['violations']})")
    return [(v["id"], v["impact"], len(v["nodes"])) for v in result["violations"]
            if v["impact"] in ("serious", "critical")]


def _at_least_one() -> re.Pattern[str]:
    return re.compile(r"^[1-9][0-9]*$")
