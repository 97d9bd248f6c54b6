"""Evolution v2 JSON, both ways: request bodies from port types, answers into port types.

Readers are tolerant: a field Evolution adds or drops must not break the service, so every
shape is checked and anything unexpected degrades to the safest port value."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import structlog

from application.errors import UpstreamError
from application.ports.evolution import (
    ConnectResult,
    ConnectStatus,
    CreatedInstance,
    CreateInstanceRequest,
    QrPayload,
    RemoteInstance,
    WebhookRegistration,
)

log = structlog.get_logger(__name__)

INTEGRATION = "WHATSAPP-BAILEYS"
_STATES = frozenset({"open", "connecting", "close"})


def webhook_fields(webhook: WebhookRegistration) -> dict[str, Any]:
    # ``events`` is always sent: a missing list makes Evolution fail with a TypeError, and an
    # empty one would subscribe to all 31 events.
    return {"url": webhook.url, "byEvents": webhook.by_events, "base64": webhook.base64,
            "headers": dict(webhook.headers), "events": list(webhook.events)}


def create_body(request: CreateInstanceRequest) -> dict[str, Any]:
    # Never "qrcode": true: Evolution would hold the request for a fixed 5 s.
    body: dict[str, Any] = {"instanceName": request.name, "integration": INTEGRATION,
                            "token": request.token}
    if request.number:
        body["number"] = request.number
    body["webhook"] = webhook_fields(request.webhook)
    return body


def set_webhook_body(webhook: WebhookRegistration) -> dict[str, Any]:
    return {"webhook": {"enabled": True, **webhook_fields(webhook)}}


def read_created(raw: Any, request: CreateInstanceRequest) -> CreatedInstance:
    instance = _mapping(raw, "instance")
    evolution_id = instance.get("instanceId")
    if not isinstance(evolution_id, str) or not evolution_id:
        raise UpstreamError("Evolution's create answer carries no instanceId")
    token = raw.get("hash") if isinstance(raw, Mapping) else None
    return CreatedInstance(request.name, evolution_id,
                           token if isinstance(token, str) and token else request.token)


def read_connect(raw: Any) -> ConnectResult:
    """The /connect and /restart union: error, open, QR object or a bare ``{"count": N}``."""
    if not isinstance(raw, Mapping):
        raise UpstreamError("Evolution sent a connect answer that is not an object")
    if raw.get("error") is True:
        # Evolution catches its own errors here and answers 200; the text is usually useless.
        raise UpstreamError(f"Evolution could not connect: {raw.get('message') or 'unknown'}")
    if isinstance(raw.get("instance"), Mapping):
        state = raw["instance"].get("state")
        return ConnectResult(ConnectStatus.OPEN if state == "open" else ConnectStatus.PENDING)
    code = raw.get("code")
    if isinstance(code, str) and code:
        pairing = raw.get("pairingCode")
        qr = QrPayload(code, str(raw.get("base64") or ""),
                       pairing if isinstance(pairing, str) else None)
        return ConnectResult(ConnectStatus.QR, qr)
    if "count" not in raw:
        log.warning("evolution_connect_answer_unrecognised", keys=sorted(raw)[:10])
    return ConnectResult(ConnectStatus.PENDING)


def read_state(raw: Any) -> str:
    state = _mapping(raw, "instance").get("state")
    # The key is absent when the instance is in Evolution's database but not loaded in memory.
    return state if state in _STATES else "unknown"


def read_instances(raw: Any) -> list[RemoteInstance]:
    if not isinstance(raw, list):
        raise UpstreamError("Evolution's fetchInstances answer is not a list")
    return [_remote(row) for row in raw
            if isinstance(row, Mapping) and isinstance(row.get("name"), str)]


def _remote(row: Mapping[str, Any]) -> RemoteInstance:
    return RemoteInstance(
        name=row["name"], evolution_id=str(row.get("id") or ""),
        connection_status=str(row.get("connectionStatus") or "unknown"),
        owner_jid=_opt_str(row.get("ownerJid")), profile_name=_opt_str(row.get("profileName")),
        token=_opt_str(row.get("token")))


def read_webhook(raw: Any) -> WebhookRegistration | None:
    """The stored row, or None when there is none or it is disabled (it delivers nothing)."""
    if not isinstance(raw, Mapping) or not raw.get("enabled") or not raw.get("url"):
        return None
    headers = raw.get("headers") if isinstance(raw.get("headers"), Mapping) else {}
    events = raw.get("events") if isinstance(raw.get("events"), list) else []
    return WebhookRegistration(
        url=str(raw["url"]), headers={str(k): str(v) for k, v in headers.items()},
        events=tuple(str(e) for e in events), by_events=bool(raw.get("webhookByEvents")),
        base64=bool(raw.get("webhookBase64")))


def _mapping(raw: Any, key: str) -> Mapping[str, Any]:
    value = raw.get(key) if isinstance(raw, Mapping) else None
    return value if isinstance(value, Mapping) else {}


def _opt_str(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None
