"""The HTTP channels against a real local server: what they post, and a refusal that names
the status, never the URL (it may hold a token)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from adapters.alerting.http_channels import ChannelRefused, SlackWebhookChannel, SmsWebhookChannel
from domain.alerts import Notice

NOTICE = Notice("alert", "a-1", "qr_failures", "", "critical", "5 in a row",
                datetime(2026, 1, 1, tzinfo=UTC))


@pytest.fixture
async def server() -> AsyncIterator[tuple[TestServer, list[dict[str, str]]]]:
    got: list[dict[str, str]] = []

    async def ok(request: web.Request) -> web.Response:
        got.append(await request.json())
        return web.Response(text="ok")

    async def refuse(request: web.Request) -> web.Response:
        return web.Response(status=403, text="invalid_token")

    app = web.Application()
    app.router.add_post("/ok/s3cr3t", ok)
    app.router.add_post("/refuse/s3cr3t", refuse)
    async with TestServer(app, host="127.0.0.1") as running:
        yield running, got


async def test_slack_and_sms_post_their_shapes(server) -> None:
    running, got = server
    slack = SlackWebhookChannel(str(running.make_url("/ok/s3cr3t")))
    sms = SmsWebhookChannel(str(running.make_url("/ok/s3cr3t")), "+5511999990000")
    try:
        await slack.send(NOTICE)
        await sms.send(NOTICE)
    finally:
        await slack.close()
        await sms.close()
    assert got[0]["text"].startswith("[critical] qr_failures\n5 in a row")
    assert got[1] == {"to": "+5511999990000", "text": "[critical] qr_failures: 5 in a row"}


async def test_a_refusal_raises_with_the_status_and_not_the_url(server) -> None:
    running, _ = server
    slack = SlackWebhookChannel(str(running.make_url("/refuse/s3cr3t")))
    try:
        with pytest.raises(ChannelRefused) as refused:
            await slack.send(NOTICE)
    finally:
        await slack.close()
    assert "403" in str(refused.value)
    assert "s3cr3t" not in str(refused.value)
