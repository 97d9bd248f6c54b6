"""No secret, token, phone number, message text, QR code or DSN reaches the log (STYLE: Logging).

First the redaction processor on its own, through ``configure_logging`` into a buffer; then the
proof on the real app: every log line of a quick-create, signed, rejected and message webhooks.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import io
import json
import logging
import time
from collections.abc import Iterator
from typing import Any

import jwt
import pytest
import structlog

from entrypoints.logging import REDACTED, configure_logging
from tests.api.conftest import free_port, service_env, sign, start_service
from tests.shared import evolution_sample

JWT = jwt.encode({"sub": "ops", "role": "admin", "exp": 2_000_000_000},
                 "a-signing-secret-of-at-least-32-bytes!", algorithm="HS256")
WEBHOOK_SECRET = "eyomFYyU8ATVDCZ4Zwrsk-A_-UGY1fNoVRaAvmv7QcI"
INSTANCE_TOKEN = "4E6279F0-585E-40B0-9985-183BC423C50A"
PHONE = "5511987654321"
JID = f"{PHONE}@s.whatsapp.net"
TEXT = "Olá! Vocês entregam em Campinas?"
QR_CODE = "2@4/wt5DeuswleajeomddBy1rDEyjxR1oNrzQG47NIDIWYAbJhE0AXU1rNNhHyrs7vCDXuMbomgodgMDxOa86j"
QR_IMAGE = "data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAVwAAAFcCAYAAACEFgYsAAAjJElEQVR4Aez"
DSN = "postgresql://wachannel:s3cr3t-pw@db.internal:5432/wachannel"


@pytest.fixture
def buffer() -> Iterator[io.StringIO]:
    """``configure_logging`` into a buffer; the previous configuration comes back after."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    stream = io.StringIO()
    configure_logging(level="debug", stream=stream)
    try:
        yield stream
    finally:
        structlog.reset_defaults()
        for handler in root.handlers[:]:
            root.removeHandler(handler)
        for handler in handlers:
            root.addHandler(handler)
        root.setLevel(level)


def records(stream: io.StringIO) -> list[dict[str, Any]]:
    lines = [line for line in stream.getvalue().splitlines() if line.strip()]
    return [json.loads(line) for line in lines]


def readable(stream: io.StringIO) -> str:
    """The raw output and every JSON line decoded, so escaped non-ASCII text is seen too."""
    decoded = []
    for line in stream.getvalue().splitlines():
        try:
            decoded.append(json.dumps(json.loads(line), ensure_ascii=False))
        except ValueError:
            decoded.append(line)
    return stream.getvalue() + "\n" + "\n".join(decoded)


def assert_absent(stream: io.StringIO, *secrets: str) -> None:
    text = readable(stream)
    leaked = [s for s in secrets if s in text]
    assert not leaked, f"leaked {leaked} in:\n{text}"


@pytest.mark.parametrize(("key", "value"), [
    ("secret", WEBHOOK_SECRET), ("webhook_secret", WEBHOOK_SECRET),
    ("previous_secret", WEBHOOK_SECRET), ("token", INSTANCE_TOKEN),
    ("evolution_token", INSTANCE_TOKEN), ("access_token", JWT), ("apikey", INSTANCE_TOKEN),
    ("apiKey", INSTANCE_TOKEN), ("api_key", INSTANCE_TOKEN),
    ("authorization", f"Bearer {JWT}"), ("Authorization", f"Bearer {JWT}"),
    ("password", "hunter2-hunter2"), ("jwt", JWT), ("jwt_key", WEBHOOK_SECRET),
    ("signature", "sha256=" + "ab" * 32), ("x_evolution_signature", "sha256=" + "ab" * 32),
    ("cookie", f"wachannel_token={JWT}"), ("phone", PHONE), ("phone_number", PHONE),
    ("remote_jid", JID), ("wuid", JID), ("text", TEXT), ("message_text", TEXT),
    ("body", json.dumps({"text": TEXT})), ("raw_body", TEXT), ("qr", QR_CODE),
    ("qrcode", QR_CODE), ("qr_code", QR_CODE), ("code", QR_CODE), ("base64", QR_IMAGE),
    ("pairing_code", "WZYEH1YY"), ("dsn", DSN), ("database_url", DSN),
])
def test_sensitive_keys_are_redacted(buffer: io.StringIO, key: str, value: str) -> None:
    structlog.get_logger("test").info("something_happened", **{key: value},
                                      request_id="req-1")
    [record] = records(buffer)
    assert record[key] == REDACTED
    assert record["request_id"] == "req-1"
    assert_absent(buffer, value)


@pytest.mark.parametrize(("key", "value", "secret"), [
    ("error", f"Bearer {JWT}", JWT),
    ("error", f"bearer {INSTANCE_TOKEN} refused", INSTANCE_TOKEN),
    ("detail", f"token {JWT} expired", JWT),
    ("detail", "call +55 11 91234-5678 now", "91234-5678"),
    ("detail", f"from {JID}", PHONE),
    ("detail", "number 5511912345678 opened", "5511912345678"),
    ("reason", f"cannot connect to {DSN}", "s3cr3t-pw"),
    ("reason", "cannot connect to postgres://app:pw-9f8e7d@db/app", "pw-9f8e7d"),
    ("event", f"sending Bearer {JWT}", JWT),
    ("state", f"{PHONE}:12@s.whatsapp.net", PHONE),
])
def test_credentials_and_numbers_inside_free_text_are_redacted(
        buffer: io.StringIO, key: str, value: str, secret: str) -> None:
    logger = structlog.get_logger("test")
    if key == "event":
        logger.warning(value)
    else:
        logger.warning("something_failed", **{key: value})
    [record] = records(buffer)
    assert REDACTED in record[key]
    assert_absent(buffer, secret)


def test_a_phone_number_written_with_an_area_code_in_parentheses_is_redacted(
        buffer: io.StringIO) -> None:
    structlog.get_logger("test").warning("callback_requested",
                                         detail="ligar para +55 (11) 91234-5678 amanhã")
    assert_absent(buffer, "91234-5678", "91234")


def test_secrets_nested_in_dicts_and_lists_are_redacted(buffer: io.StringIO) -> None:
    """A whole payload logged under a harmless key must not carry its secrets through."""
    structlog.get_logger("test").info(
        "webhook_inspected",
        payload={"apikey": INSTANCE_TOKEN, "headers": {"authorization": f"Bearer {JWT}"},
                 "data": {"key": {"remoteJid": JID}, "message": {"conversation": TEXT},
                          "qrcode": {"code": QR_CODE, "base64": QR_IMAGE}}},
        attempts=[{"secret": WEBHOOK_SECRET}, f"Bearer {JWT}", DSN])
    [record] = records(buffer)
    assert record["event"] == "webhook_inspected"
    assert_absent(buffer, INSTANCE_TOKEN, JWT, PHONE, TEXT, QR_CODE, QR_IMAGE, WEBHOOK_SECRET,
                  "s3cr3t-pw")


def test_exception_text_is_redacted(buffer: io.StringIO) -> None:
    try:
        raise ConnectionError(f"{DSN} refused; retried with Bearer {JWT} for {JID}")
    except ConnectionError:
        structlog.get_logger("test").exception("storage_failed", request_id="req-9")
    [record] = records(buffer)
    assert "ConnectionError" in record["exception"]
    assert_absent(buffer, "s3cr3t-pw", JWT, PHONE)


def test_safe_keys_survive_unchanged(buffer: io.StringIO) -> None:
    safe = {"request_id": "0f8e2c4b9a7d4e61b3c5d7e9f1a2b3c4", "org_id": "clinic-42",
            "instance_id": "4b0d7c1e-8e4a-4d5b-9a51-0c1f2e3d4a5b",
            "event_id": "9a7d4e61-b3c5-4d7e-9f1a-2b3c4d5e6f70", "status": 201,
            "method": "POST", "path": "/api/channels/whatsapp/instances/quick-create",
            "duration_ms": 12.5, "state": "connected", "outcome": "applied",
            "webhook_event": "CONNECTION_UPDATE", "attempts": 3}
    structlog.get_logger("test").info("request_finished", **safe)
    [record] = records(buffer)
    assert {k: record[k] for k in safe} == safe
    assert record["event"] == "request_finished"
    assert record["level"] == "info"
    assert "timestamp" in record


def test_every_line_is_json_at_the_configured_level(buffer: io.StringIO) -> None:
    configure_logging(level="warning", stream=buffer)
    logger = structlog.get_logger("test")
    logger.info("hidden")
    logger.warning("shown", status="x")
    assert [r["event"] for r in records(buffer)] == ["shown"]


# The proof on the real app ---------------------------------------------------------------------

def _envelope(name: str, instance: str, **data: Any) -> bytes:
    body = evolution_sample(name)
    body["instance"] = instance
    if isinstance(body.get("data"), dict):
        if "instance" in body["data"]:
            body["data"]["instance"] = instance
        body["data"].update(data)
    return json.dumps(body).encode()


async def test_the_running_app_logs_no_secret_number_text_or_qr(buffer: io.StringIO) -> None:
    async for service in start_service(service_env(free_port(), LOG_LEVEL="debug")):
        created = await service.quick_create("clinic-log", wait_for_qr=True)
        instance = created["instance"]
        name = instance["evolution_name"]
        secret = await service.org_secret("clinic-log")
        async with service.container.uow() as uow:
            stored = await uow.instances.get_by_name(name)
        assert stored is not None
        admin = service.auth()

        update = _envelope("connection_update.json", name)
        accepted = await service.client.post("/api/webhooks/evolution/clinic-log", data=update,
                                             headers=sign(secret, update))
        assert accepted.status == 200, await accepted.text()

        forged = jwt.encode({"exp": int(time.time()) + 600}, "wrong-secret-wrong-secret-wrong!",
                            algorithm="HS256")
        rejected = await service.client.post(
            "/api/whatsapp/webhook", data=update,
            headers={"x-evolution-signature": "sha256=" + hmac.new(
                b"wrong", update, hashlib.sha256).hexdigest(),
                "Authorization": f"Bearer {forged}", "apikey": stored.evolution_token[::-1],
                "Content-Type": "application/json"})
        assert rejected.status == 401

        message = _envelope("messages_upsert.json", name)
        upsert = await service.client.post("/api/channels/whatsapp/webhook/messages-upsert",
                                           data=message, headers=sign(secret, message))
        assert upsert.status == 200, await upsert.text()
        by_token = json.loads(message)
        by_token["apikey"], by_token["data"]["key"]["id"] = stored.evolution_token, "B2"
        second = await service.client.post("/api/whatsapp/simple/webhook/clinic-log",
                                           data=json.dumps(by_token))
        assert second.status == 200, await second.text()
        bad_admin = await service.client.get("/api/channels/whatsapp/instances",
                                             headers={"Authorization": f"Bearer {forged}"})
        assert bad_admin.status == 401

        async with asyncio.timeout(5):
            while True:  # the worker has applied the events
                listed = await (await service.client.get(
                    f"/api/channels/whatsapp/instances/{instance['id']}/messages",
                    headers=admin)).json()
                if len(listed["items"]) == 2:
                    break
                await asyncio.sleep(0.02)
        assert listed["items"][0]["text"] == TEXT
        await service.fake.wait_deliveries()

        qr = created["qr"] or {}
        secrets = [secret, stored.evolution_token, admin["Authorization"][7:], forged, PHONE,
                   "5511912345678", TEXT, "entregam em Campinas", "eyJ"]
        secrets += [v for v in (qr.get("code"), qr.get("base64")) if v]
        assert "request_finished" in buffer.getvalue(), "nothing was logged"
        assert "webhook_rejected" in buffer.getvalue()
        assert_absent(buffer, *secrets)


def test_standard_library_log_lines_are_json_and_redacted(buffer: io.StringIO) -> None:
    import logging

    logging.getLogger("aiohttp.access").warning("GET /x?token=%s from %s", JWT, DSN)
    [record] = records(buffer)
    assert record["level"] == "warning"
    assert_absent(buffer, JWT, "s3cr3t-pw")
