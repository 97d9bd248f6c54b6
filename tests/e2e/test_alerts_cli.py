"""`wachannel alerts test` as an operator runs it: one test alert to every configured channel,
one line per channel saying whether it arrived, exit 1 when one did not."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from aiohttp import web

from tests.e2e.processes import REPO, WACHANNEL, base_env
from tests.e2e.support import bounded, free_port

pytestmark = [pytest.mark.e2e]


@pytest.fixture
async def slack() -> AsyncIterator[tuple[str, list[str]]]:
    got: list[str] = []

    async def hook(request: web.Request) -> web.Response:
        got.append((await request.json())["text"])
        return web.Response(text="ok")

    app = web.Application()
    app.router.add_post("/hook/s3cr3t", hook)
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        yield f"http://127.0.0.1:{port}/hook/s3cr3t", got
    finally:
        await runner.cleanup()


@bounded(60)
async def test_alerts_test_says_which_channel_succeeded(slack) -> None:
    url, got = slack
    closed = f"http://127.0.0.1:{free_port()}/sms"  # nothing listens there
    env = base_env(SLACK_WEBHOOK_URL=url, SMS_WEBHOOK_URL=closed, ALERT_PHONE="+5511999990000")
    done = await asyncio.create_subprocess_exec(
        str(WACHANNEL), "alerts", "test", env=env, cwd=str(REPO),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await done.communicate()
    # The log shares standard output (JSON lines); the answer is the plain lines.
    lines = [line for line in out.decode().splitlines() if not line.startswith("{")]
    assert done.returncode == 1, err.decode()
    assert lines == ["log: sent", "slack: sent", "sms: failed"]
    assert len(got) == 1
    assert got[0].startswith("[warning] test")
    assert "s3cr3t" not in out.decode() + err.decode()
