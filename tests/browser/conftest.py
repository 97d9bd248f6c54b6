"""Real Chromium (Debian's ``/usr/bin/chromium``) driven by Playwright, for the pages' tests.

Playwright cannot download its own browser builds here, so it drives the system's Chromium.
Without one, every browser test fails with one line saying how to get it: never a skip.
Screenshots go to ``tests/browser/screenshots/`` (gitignored) for a person to look at.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from playwright.async_api import Browser, Page, async_playwright

from tests.api.conftest import service  # noqa: F401 (the served app, for the pages' tests)

CHROMIUM = Path(os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium"))
SCREENSHOTS = Path(__file__).parent / "screenshots"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    here = Path(__file__).parent
    for item in items:
        if here in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.browser)


def _require_chromium() -> None:
    if not CHROMIUM.exists():
        pytest.fail(f"no browser: {CHROMIUM} is missing (apt-get install -y chromium, "
                    "or set CHROMIUM_PATH)", pytrace=False)


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    _require_chromium()
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=["--no-sandbox", "--disable-gpu"])
        try:
            yield launched
        finally:
            await launched.close()


@pytest.fixture
async def page(browser: Browser) -> AsyncIterator[Page]:
    context = await browser.new_context(viewport={"width": 900, "height": 1000})
    opened = await context.new_page()
    try:
        yield opened
    finally:
        await context.close()


async def screenshot(page: Page, name: str) -> bytes:
    """The page as a PNG, also kept under screenshots/ for a person to look at."""
    SCREENSHOTS.mkdir(exist_ok=True)
    return await page.screenshot(full_page=True, path=SCREENSHOTS / f"{name}.png")
