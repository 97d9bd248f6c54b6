"""The README tour's last step, as a newcomer does it on the embedded default: `wachannel
serve`, one command for a link, the link in a browser, a scannable QR within 2 s, and
"connected" after the simulated scan."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import pytest
from playwright.async_api import Page, expect

from tests.browser.conftest import screenshot
from tests.e2e.processes import WACHANNEL, Processes, base_env, cli_token
from tests.e2e.support import REPO, free_port, quick_create, wait_ready
from tests.qr_decode import decode_png


@pytest.fixture
def processes(tmp_path: Path) -> Iterator[Processes]:
    started = Processes(tmp_path)
    try:
        yield started
    finally:
        started.close()


async def test_serve_mint_open_and_connect_as_the_readme_says(
        processes: Processes, page: Page) -> None:
    port = free_port()
    env = base_env(PORT=str(port), PUBLIC_BASE_URL=f"http://127.0.0.1:{port}",
                   FAKE_EVOLUTION_AUTOSCAN_S="4")
    serve = processes.serve("serve", port, env)
    base_url = f"http://127.0.0.1:{port}"
    async with aiohttp.ClientSession() as http:
        await wait_ready(http, base_url, alive=lambda: serve.alive)
        created = await quick_create(http, base_url, cli_token(env), "clinic-42")
    instance_id = created["instance"]["id"]

    minted = await asyncio.create_subprocess_exec(
        str(WACHANNEL), "connect-link", instance_id, env=env, cwd=str(REPO),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await asyncio.wait_for(minted.communicate(), 30)
    assert minted.returncode == 0, err.decode()
    url = out.decode().strip()
    assert url.startswith(f"{base_url}/connect/{instance_id}?t=")

    opened = time.perf_counter()
    await page.goto(url + "&lang=en")
    await expect(page.locator("#qr")).to_be_visible(timeout=2000)
    assert time.perf_counter() - opened < 2.0
    assert decode_png(await page.locator("#qr").screenshot()) == [
        await page.locator("#qr").get_attribute("data-code")]
    await screenshot(page, "readme-tour-qr")
    await expect(page.locator("#success")).to_be_visible(timeout=10_000)
    await expect(page.locator("#state")).to_have_text("Connected")
