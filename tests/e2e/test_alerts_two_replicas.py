"""Issue 13's alert done-when: two ``wachannel serve`` replicas and a worker on one Postgres
database, the fake Evolution server, and three local sinks (a Slack-compatible webhook, an
SMTP server run by aiosmtpd, an SMS gateway). Five consecutive QR failures spread over both
replicas reach each sink once; more within the cooldown reach none; one success brings one
recovery notice. A slow Evolution answer and a slow webhook each raise their own alert (the
thresholds scaled down to 300 ms and 1 s: a 0.5 s answer, a handler held 1.3 s on a lock)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from email import message_from_bytes
from typing import Any

import aiohttp
import asyncpg
import pytest
from aiohttp import web
from aiosmtpd.controller import Controller

from tests.e2e.conftest import Evolution
from tests.e2e.processes import Processes, base_env, cli_token
from tests.e2e.support import (
    INSTANCES,
    bearer,
    bounded,
    eventually,
    free_port,
    qr_envelope,
    quick_create,
    rotate_secret,
    signed,
    wait_ready,
)

pytestmark = [pytest.mark.e2e, pytest.mark.integration]

ORG = "clinic-alerts"
QUIET_S = 2.0  # long enough for a duplicate from the other replica to have arrived


class Sinks:
    """What each channel's server received, as text: one entry per notice."""

    def __init__(self) -> None:
        self.slack: list[str] = []
        self.sms: list[dict[str, Any]] = []
        self.email: list[str] = []

    def count(self, words: str) -> dict[str, int]:
        return {"slack": sum(words in t for t in self.slack),
                "sms": sum(words in m["text"] for m in self.sms),
                "email": sum(words in s for s in self.email)}


class _SmtpHandler:
    def __init__(self, sinks: Sinks) -> None:
        self._sinks = sinks

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self._sinks.email.append(str(message_from_bytes(envelope.content)["Subject"]))
        return "250 OK"


@pytest.fixture
async def sinks() -> AsyncIterator[tuple[Sinks, dict[str, str]]]:
    found = Sinks()

    async def slack(request: web.Request) -> web.Response:
        found.slack.append((await request.json())["text"])
        return web.Response(text="ok")

    async def sms(request: web.Request) -> web.Response:
        found.sms.append(await request.json())
        return web.json_response({"queued": True})

    app = web.Application()
    app.router.add_post("/services/T000/B000/s3cr3t-slack-token", slack)
    app.router.add_post("/sms/send", sms)
    runner = web.AppRunner(app)
    await runner.setup()
    http_port, smtp_port = free_port(), free_port()
    await web.TCPSite(runner, "127.0.0.1", http_port).start()
    smtp = Controller(_SmtpHandler(found), hostname="127.0.0.1", port=smtp_port)
    smtp.start()
    base = f"http://127.0.0.1:{http_port}"
    env = {"SLACK_WEBHOOK_URL": f"{base}/services/T000/B000/s3cr3t-slack-token",
           "SMS_WEBHOOK_URL": f"{base}/sms/send", "ALERT_PHONE": "+5511999990000",
           "SMTP_URL": f"smtp://127.0.0.1:{smtp_port}", "ALERT_EMAIL": "oncall@clinic.test"}
    try:
        yield found, env
    finally:
        smtp.stop()
        await runner.cleanup()


async def _connect(http: aiohttp.ClientSession, url: str, token: str, instance_id: str) -> int:
    async with http.post(f"{url}{INSTANCES}/{instance_id}/connect",
                         headers=bearer(token)) as answer:
        return answer.status


@bounded(90)
async def test_qr_failures_on_two_replicas_alert_each_channel_once_then_recover_once(
        postgres_dsn: str, evolution_factory, processes: Processes,
        http: aiohttp.ClientSession, sinks: tuple[Sinks, dict[str, str]]) -> None:
    found, sink_env = sinks
    evolution: Evolution = await evolution_factory(time_scale=1.0)
    ports = {"a": free_port(), "b": free_port()}
    shared = {"DATABASE_URL": postgres_dsn, "EVOLUTION_API_BASE_URL": evolution.url,
              "EVOLUTION_API_KEY": evolution.key, **sink_env,
              "ALERT_QR_CONSECUTIVE_FAILURES": "5", "ALERT_COOLDOWN_S": "300",
              # scaled down so the test need not wait 10 s and 5 s
              "ALERT_API_RESPONSE_MS": "300", "ALERT_WEBHOOK_PROCESSING_MS": "1000",
              # every connect asks Evolution (no cached QR), and the breaker stays closed
              "EVOLUTION_CACHE_TTL_S": "0", "EVOLUTION_BREAKER_FAILURES": "1000",
              "QR_TIMEOUT_MS": "1500"}
    env = {name: base_env(**shared, PUBLIC_BASE_URL=f"http://127.0.0.1:{port}")
           for name, port in ports.items()}
    replica = {name: processes.serve(f"serve-{name}", port, env[name])
               for name, port in ports.items()}
    processes.worker("worker", env["a"])
    url = {name: f"http://127.0.0.1:{port}" for name, port in ports.items()}
    token = cli_token(env["a"])
    await asyncio.gather(*(wait_ready(http, url[n], alive=lambda n=n: replica[n].alive)
                           for n in url))
    created = await quick_create(http, url["a"], token, ORG)
    instance_id = created["instance"]["id"]
    # The create's own QR: one success before the run of failures.
    await eventually(lambda: _ok(http, url["b"], token, instance_id), 10, "a first QR")

    evolution.server.down = True
    for i in range(5):
        assert await _connect(http, url["ab"[i % 2]], token, instance_id) >= 500
    await eventually(lambda: _all_have(found, "[critical] qr_failures", 1), 15,
                     "the QR alert at every sink")
    for i in range(3):  # still failing, within the cooldown
        assert await _connect(http, url["ab"[i % 2]], token, instance_id) >= 500
    await asyncio.sleep(QUIET_S)
    assert found.count("[critical] qr_failures") == {"slack": 1, "sms": 1, "email": 1}

    evolution.server.down = False
    assert await _connect(http, url["b"], token, instance_id) == 200
    assert await _connect(http, url["a"], token, instance_id) == 200
    await eventually(lambda: _all_have(found, "[resolved] qr_failures", 1), 15,
                     "the recovery at every sink")
    await asyncio.sleep(QUIET_S)
    assert found.count("[resolved] qr_failures") == {"slack": 1, "sms": 1, "email": 1}
    assert found.count("[critical] qr_failures") == {"slack": 1, "sms": 1, "email": 1}
    assert found.sms[0]["to"] == "+5511999990000"

    # A slow Evolution answer (latency above the scaled-down 300 ms) raises its own.
    evolution.server.latency_s = 0.5
    assert await _connect(http, url["a"], token, instance_id) == 200
    evolution.server.latency_s = 0.0
    await eventually(lambda: _all_have(found, "[warning] api_response_slow", 1), 15,
                     "the slow Evolution answer alert")
    assert found.count("[warning] webhook_processing_slow") == {"slack": 0, "sms": 0,
                                                                 "email": 0}
    # A slow webhook handler: the instance's row is held by another transaction, so the
    # worker's processing of a QR webhook for it waits 1.3 s, above the scaled-down 1 s.
    secret = await rotate_secret(http, url["a"], token, ORG)
    body, headers = signed(secret, qr_envelope(created["instance"]["evolution_name"],
                                               f"2@slow-{uuid.uuid4().hex}"))
    holder = await asyncpg.connect(postgres_dsn)
    try:
        async with holder.transaction():
            await holder.execute("SELECT 1 FROM instances WHERE id = $1 FOR UPDATE",
                                 uuid.UUID(instance_id))
            async with http.post(f"{url['a']}/api/webhooks/evolution/{ORG}", data=body,
                                 headers=headers) as answer:
                assert answer.status == 200, await answer.text()
            await asyncio.sleep(1.3)
    finally:
        await holder.close()
    await eventually(lambda: _all_have(found, "[warning] webhook_processing_slow", 1), 15,
                     "the slow webhook alert")

    async with http.get(f"{url['b']}/api/admin/alerts", headers=bearer(token)) as answer:
        assert answer.status == 200
        items = (await answer.json())["items"]
    qr = [i for i in items if i["rule"] == "qr_failures"]
    assert len(qr) == 1
    assert qr[0]["state"] == "resolved"
    assert qr[0]["channels"] == {"log": "sent", "slack": "sent", "email": "sent", "sms": "sent"}
    # Counted where sent: the alert and its recovery, once each over both replicas.
    assert sum([await _sent(http, url[n], token, "qr_failures", "slack") for n in url]) == 2
    logs = "".join(p.tail(10_000) for p in processes.started)
    assert "s3cr3t-slack-token" not in logs


async def _sent(http: aiohttp.ClientSession, url: str, token: str, rule: str,
                channel: str) -> float:
    async with http.get(f"{url}/metrics", headers=bearer(token)) as answer:
        assert answer.status == 200
        text = await answer.text()
    series = f'wachannel_alerts_sent_total{{channel="{channel}",rule="{rule}"}} '
    return sum(float(line.split()[-1]) for line in text.splitlines() if line.startswith(series))


async def _ok(http: aiohttp.ClientSession, url: str, token: str, instance_id: str) -> bool:
    return await _connect(http, url, token, instance_id) == 200


async def _all_have(found: Sinks, words: str, n: int) -> bool:
    return all(v >= n for v in found.count(words).values())


