"""Evolution v2 webhook bodies, as its WebhookController sends them, for the intake tests."""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any

EVOLUTION_TIME = "2026-01-05T09:00:00.000Z"  # Evolution's local time, mislabelled Z
PHONE = "5511999999999"


def envelope(event: str, instance: str, data: Any = None, *,
             date_time: str | None = EVOLUTION_TIME, apikey: str | None = None) -> bytes:
    body = {"event": event, "instance": instance, "data": data,
            "destination": "https://wachannel.test/api/webhooks/evolution/x",
            "date_time": date_time, "server_url": "http://evolution.test", "apikey": apikey}
    return json.dumps(body, separators=(",", ":")).encode()


def qrcode_updated(instance: str, code: str = "2@first-qr", *,
                   date_time: str | None = EVOLUTION_TIME) -> bytes:
    data = {"qrcode": {"instance": instance, "pairingCode": None, "code": code,
                       "base64": "data:image/png;base64,iVBORw0KGgo="}}
    return envelope("qrcode.updated", instance, data, date_time=date_time)


def connection_update(instance: str, state: str, *, date_time: str | None = EVOLUTION_TIME,
                      status_reason: int = 200, profile_name: str | None = None) -> bytes:
    data: dict[str, Any] = {"instance": instance, "state": state, "statusReason": status_reason}
    if state == "open":
        data |= {"wuid": f"{PHONE}@s.whatsapp.net", "profileName": profile_name,
                 "profilePictureUrl": None}
    return envelope("connection.update", instance, data, date_time=date_time)


def message_upsert(instance: str, message_id: str, text: str = "Hola, quiero una cita", *,
                   date_time: str | None = EVOLUTION_TIME) -> bytes:
    data = {"key": {"remoteJid": f"{PHONE}@s.whatsapp.net", "fromMe": False, "id": message_id},
            "pushName": "Ana", "status": "DELIVERY_ACK", "message": {"conversation": text},
            "messageType": "conversation", "messageTimestamp": 1_767_614_400,
            "instanceId": "6c0f1b2e", "source": "android"}
    return envelope("messages.upsert", instance, data, date_time=date_time)


def message_update(instance: str, message_id: str, status: str) -> bytes:
    data = {"messageId": "cmf00000", "keyId": message_id,
            "remoteJid": f"{PHONE}@s.whatsapp.net", "fromMe": True, "participant": None,
            "status": status, "instanceId": "6c0f1b2e"}
    return envelope("messages.update", instance, data)


def hmac_headers(secret: str, body: bytes) -> dict[str, str]:
    digest = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return {"x-evolution-signature": f"sha256={digest}"}
