"""The connect page in real Chromium: a QR a phone can read, replaced as it expires, then
"connected" when the fake Evolution reports the scan; refused links; the A/B layouts; axe."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path
from typing import Any

from playwright.async_api import Page, expect

from tests.api.conftest import Service
from tests.browser.conftest import screenshot
from tests.qr_decode import decode_png

BASE = "/api/channels/whatsapp/instances"
AXE = Path(__file__).parent / "vendor" / "axe-4.14.1.min.js"
FIGURES = Path(__file__).parent / "screenshots" / "connect-page-figures.json"


async def connect_link(service: Service, org: str = "clinic-42") -> tuple[dict[str, Any], str]:
    created = await service.quick_create(org)
    response = await service.client.post(f"{BASE}/{created['instance']['id']}/connect-link",
                                         headers=service.auth())
    assert response.status == 201, await response.text()
    return created["instance"], (await response.json())["url"]


async def scanned_code(page: Page, name: str) -> str:
    """The code a phone reads off the screen: the QR element, as pixels, decoded."""
    image = await page.locator("#qr").screenshot()
    (Path(__file__).parent / "screenshots").mkdir(exist_ok=True)
    (Path(__file__).parent / "screenshots" / f"{name}-qr.png").write_bytes(image)
    codes = decode_png(image)
    assert len(codes) == 1, f"no single QR readable on screen: {codes}"
    return codes[0]


async def test_page_shows_a_scannable_qr_then_connected_after_the_scan(
        service: Service, page: Page) -> None:
    instance, url = await connect_link(service)
    page_bytes: list[int] = []

    async def count(response: Any) -> None:
        if "/qr/stream" not in response.url:
            page_bytes.append(len(await response.body()) + len(str(response.headers)))

    page.on("response", count)
    started = time.perf_counter()
    await page.goto(url + "&lang=en")
    await expect(page.locator("#qr")).to_be_visible(timeout=2000)
    first_qr_s = time.perf_counter() - started
    code = await scanned_code(page, "connect")
    assert code == await page.locator("#qr").get_attribute("data-code")
    await expect(page.locator("#seconds-left")).to_have_text(re.compile(r"^(4[0-5]|3\d)$"))
    await screenshot(page, "connect-page")

    service.fake.scan(instance["evolution_name"])
    await expect(page.locator("#success")).to_be_visible(timeout=3000)
    await expect(page.locator("#state")).to_have_text("Connected")
    await expect(page.locator("#qr-panel")).to_be_hidden()
    await screenshot(page, "connect-connected")

    paints = await page.evaluate("window.wachannelQrPaints")
    paint_ms = max(p["painted"] - p["arrived"] for p in paints)
    transferred = sum(page_bytes)
    FIGURES.write_text(json.dumps({"first_qr_s": round(first_qr_s, 3),
                                   "paint_ms": round(paint_ms, 1),
                                   "page_bytes": transferred}))
    assert paint_ms < 300
    assert transferred < 60 * 1024


async def test_the_qr_is_replaced_by_the_next_one_after_it_expires(
        service: Service, page: Page) -> None:
    _, url = await connect_link(service)  # the fake refreshes its QR every 0.45 s here
    await page.goto(url)
    await expect(page.locator("#qr")).to_be_visible(timeout=2000)
    first = await page.locator("#qr").get_attribute("data-code")
    assert first
    await expect(page.locator("#qr")).not_to_have_attribute("data-code", first, timeout=5000)
    second = await page.locator("#qr").get_attribute("data-code")
    assert second != first
    shown = await scanned_code(page, "replaced")
    assert shown in (second, await page.locator("#qr").get_attribute("data-code"))
    paints = await page.evaluate("window.wachannelQrPaints")
    assert len({p["code"] for p in paints}) >= 2
    assert max(p["painted"] - p["arrived"] for p in paints) < 300


async def test_an_expired_or_foreign_link_shows_the_403_page_and_no_qr(
        service: Service, page: Page) -> None:
    first, first_url = await connect_link(service)
    second, _ = await connect_link(service)
    foreign = first_url.replace(first["id"], second["id"])
    response = await page.goto(foreign + "&lang=en")
    assert response is not None
    assert response.status == 403
    await expect(page.locator("#forbidden")).to_have_text("Invalid link")
    assert await page.locator("#qr").count() == 0
    response = await page.goto(f"{service.base_url}/connect/{first['id']}?t=expired.or.bad")
    assert response is not None
    assert response.status == 403
    await screenshot(page, "connect-forbidden")


async def put_variant(service: Service, variant: str) -> None:
    response = await service.client.put(
        "/api/admin/feature-flags/radical_solution", headers=service.auth(),
        json={"enabled": True, "percentage": 100, "allow_orgs": [], "deny_orgs": [],
              "variants": [{"name": variant, "weight": 100}]})
    assert response.status == 200, await response.text()


async def test_the_organizations_variant_picks_the_layout(service: Service, page: Page) -> None:
    await put_variant(service, "guided_steps")
    _, url = await connect_link(service)
    await page.goto(url + "&lang=es")
    await expect(page.locator("#connect")).to_have_attribute("data-variant", "guided_steps")
    await expect(page.locator("#steps li")).to_have_count(3)
    await expect(page.locator("#qr")).to_be_visible(timeout=2000)
    await screenshot(page, "connect-guided_steps")

    await put_variant(service, "unified_qr")
    _, url = await connect_link(service)
    await page.goto(url + "&lang=es")
    await expect(page.locator("#connect")).to_have_attribute("data-variant", "unified_qr")
    assert await page.locator("#steps").count() == 0


async def test_axe_finds_no_serious_or_critical_violation(service: Service, browser) -> None:
    # axe is injected as a script, which the page's own policy would rightly refuse.
    context = await browser.new_context(bypass_csp=True)
    page = await context.new_page()
    try:
        for variant in ("unified_qr", "guided_steps"):
            await put_variant(service, variant)
            _, url = await connect_link(service)
            await page.goto(url)
            await expect(page.locator("#qr")).to_be_visible(timeout=2000)
            await page.add_script_tag(path=str(AXE))
            result = await page.evaluate("axe.run(document, {resultTypes: ['violations']})")
            bad = [(v["id"], v["impact"], len(v["nodes"])) for v in result["violations"]
                   if v["impact"] in ("serious", "critical")]
            assert bad == [], variant
        response = await page.goto(f"{service.base_url}/connect/{'0' * 8}-0000-4000-8000-"
                                   f"{'0' * 12}?t=x")
        assert response is not None
        await page.add_script_tag(path=str(AXE))
        result = await page.evaluate("axe.run(document, {resultTypes: ['violations']})")
        assert [v["id"] for v in result["violations"]
                if v["impact"] in ("serious", "critical")] == []
    finally:
        await context.close()
