"""The Evolution webhook envelope, its event names, the dedupe key and typed domain events."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import attrs

from domain.errors import InvalidEnvelope
from domain.instance import InstanceState, LifecycleSignal, QrCode
from domain.messages import Message, message_from_upsert
from domain.text import UNSTORABLE, clean_content, is_storable, text_or_none

# The events registered with Evolution on create (API.md 4a), in config spelling.
REGISTERED_EVENTS = (
    "QRCODE_UPDATED", "CONNECTION_UPDATE", "STATUS_INSTANCE", "LOGOUT_INSTANCE",
    "REMOVE_INSTANCE", "MESSAGES_UPSERT", "MESSAGES_UPDATE", "SEND_MESSAGE",
)
_MESSAGE_EVENTS = frozenset({"MESSAGES_UPSERT", "SEND_MESSAGE"})
# Events that move an instance or show a QR: a clinic is watching its screen for these, so
# they are processed before any backlog of messages.
LIFECYCLE_EVENTS = frozenset({"QRCODE_UPDATED", "CONNECTION_UPDATE", "STATUS_INSTANCE",
                              "LOGOUT_INSTANCE", "REMOVE_INSTANCE"})


def processing_order(kind: str, received_at: datetime) -> tuple[bool, datetime]:
    """Lifecycle events first, then oldest first."""
    return (kind not in LIFECYCLE_EVENTS, received_at)
_SUFFIX = re.compile(r"^[a-z][a-z0-9-]{1,63}$")

# Terminal close codes from Baileys' DisconnectReason, named for the clinic's screen.
_CLOSE_REASONS = {401: "logged_out", 403: "banned", 402: "payment_required",
                  406: "session_rejected", 428: "qr_limit_reached"}


def config_name(event: str) -> str:
    """``qrcode.updated`` / ``qrcode-updated`` / ``QRCODE_UPDATED`` -> ``QRCODE_UPDATED``."""
    return re.sub(r"[.\-]", "_", event).upper()


def is_event_suffix(segment: str) -> bool:
    return bool(_SUFFIX.fullmatch(segment))


@attrs.frozen
class Envelope:
    event: str
    instance: str
    data: Any
    date_time: datetime | None
    sender: str | None
    apikey: str | None

    @property
    def kind(self) -> str:
        return config_name(self.event)


def parse_envelope(body: Any) -> Envelope:
    """Read only what routing needs; unknown fields are kept by the caller's raw bytes."""
    if not isinstance(body, Mapping):
        raise InvalidEnvelope({"_schema": ["body must be a JSON object"]})
    errors: dict[str, list[str]] = {}
    for field in ("event", "instance"):
        value = body.get(field)
        if not isinstance(value, str) or not value.strip() or len(value) > 200:
            errors[field] = ["must be a non-empty string of at most 200 characters"]
        elif not is_storable(value):
            errors[field] = [UNSTORABLE]
    when = _parse_time(body.get("date_time"), errors)
    for field in ("sender", "apikey"):
        if body.get(field) is not None and not isinstance(body.get(field), str):
            errors[field] = ["must be a string or null"]
    if errors:
        raise InvalidEnvelope(errors)
    return Envelope(body["event"], body["instance"], body.get("data"), when,
                    body.get("sender"), body.get("apikey"))


def _parse_time(value: Any, errors: dict[str, list[str]]) -> datetime | None:
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
        # In UTC it must still be a time: "9999-12-31T23:59:59-14:00" is not one.
        (parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)).astimezone(UTC)
    except (ValueError, OverflowError):
        errors["date_time"] = ["must be an ISO 8601 timestamp"]
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def dedupe_key(envelope: Envelope, raw_body: bytes, webhook_id: str | None) -> str:
    """API.md 5a: the sender's id, else the message identity, else the body's hash.

    Each part identifies the event (and a message's id is also its row's key), so one that
    cannot be stored, or kept whole, is refused (``InvalidEnvelope``, naming where it came
    from) rather than cleaned or cut into another event's identity. The message's identity is
    judged even when a ``webhook-id`` names the delivery: the message row is keyed by it."""
    data = envelope.data if isinstance(envelope.data, Mapping) else {}
    key = data.get("key")
    identity = None
    if envelope.kind in _MESSAGE_EVENTS and isinstance(key, Mapping) and key.get("id"):
        identity = f"msg:{envelope.instance}:{envelope.kind}:{_identity('data.key.id', key['id'])}"
    elif envelope.kind == "MESSAGES_UPDATE" and data.get("keyId") and data.get("status"):
        # One message goes through several statuses; each is a distinct event.
        identity = (f"msg:{envelope.instance}:{envelope.kind}:"
                    f"{_identity('data.keyId', data['keyId'])}:"
                    f"{_identity('data.status', data['status'])}")
    if webhook_id:
        return f"id:{_identity('webhook-id', webhook_id)}"
    return identity or "sha256:" + hashlib.sha256(raw_body).hexdigest()


MAX_IDENTITY = 200  # WhatsApp message ids are about 20 to 40 characters


def _identity(field: str, value: Any) -> str:
    # A float (orjson reads integers past 64 bits as one) would name two ids alike.
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise InvalidEnvelope({field: ["must be a string"]})
    text = str(value)
    if not is_storable(text):
        raise InvalidEnvelope({field: [UNSTORABLE]})
    if len(text) > MAX_IDENTITY:
        raise InvalidEnvelope({field: [f"must be at most {MAX_IDENTITY} characters"]})
    return text


# Typed events ---------------------------------------------------------------------------------

@attrs.frozen
class QrUpdated:
    qr: QrCode


@attrs.frozen
class StateSignalled:
    signal: LifecycleSignal


@attrs.frozen
class MessageReceived:
    message: Message


@attrs.frozen
class MessageStatusChanged:
    message_id: str
    status: str


@attrs.frozen
class Unhandled:
    kind: str


DomainEvent = QrUpdated | StateSignalled | MessageReceived | MessageStatusChanged | Unhandled


def interpret(envelope: Envelope, received_at: datetime) -> DomainEvent:
    """Turn an envelope into the one thing it means for an instance.

    Everything read from ``data`` is content: cleaned here, once, so that what was
    acknowledged can always be stored (API.md section 1)."""
    data = clean_content(envelope.data) if isinstance(envelope.data, Mapping) else {}
    at = _trusted_time(envelope.date_time, received_at)
    kind = envelope.kind
    if kind == "QRCODE_UPDATED":
        qr = data.get("qrcode")
        if isinstance(qr, Mapping) and qr.get("code"):
            return QrUpdated(QrCode.issue(str(qr["code"]), str(qr.get("base64") or ""),
                                          text_or_none(qr.get("pairingCode")), received_at))
        return _signal(InstanceState.DISCONNECTED, "qr_limit_reached", at)
    if kind == "CONNECTION_UPDATE":
        return _connection_update(data, at)
    if kind == "STATUS_INSTANCE" and data.get("status") == "closed":
        reason = _close_reason(data.get("disconnectionReasonCode"))
        return _signal(InstanceState.DISCONNECTED, reason, at)
    if kind == "LOGOUT_INSTANCE":
        return _signal(InstanceState.LOGGED_OUT, "logged_out", at)
    if kind == "REMOVE_INSTANCE":
        return _signal(InstanceState.DELETED, "removed_in_evolution", at)
    if kind in _MESSAGE_EVENTS and isinstance(data.get("key"), Mapping):
        return MessageReceived(message_from_upsert(data))
    if kind == "MESSAGES_UPDATE" and data.get("keyId") and data.get("status"):
        return MessageStatusChanged(str(data["keyId"]), str(data["status"]))
    return Unhandled(kind)


def _signal(target: InstanceState, reason: str | None, at: datetime | None,
            phone: str | None = None, profile: str | None = None) -> StateSignalled:
    return StateSignalled(LifecycleSignal(target, reason, at, phone, profile))


def _connection_update(data: Mapping[str, Any], at: datetime | None) -> DomainEvent:
    state = data.get("state")
    if state == "open":
        wuid = str(data.get("wuid") or "")
        phone = wuid.split("@", 1)[0].split(":", 1)[0] or None
        return _signal(InstanceState.CONNECTED, None, at, phone,
                       text_or_none(data.get("profileName")))
    if state == "connecting":
        return _signal(InstanceState.CONNECTING, None, at)
    if state == "refused":
        return _signal(InstanceState.DISCONNECTED, "qr_limit_reached", at)
    if state == "close":
        return _signal(InstanceState.DISCONNECTED, _close_reason(data.get("statusReason")), at)
    return Unhandled("CONNECTION_UPDATE")


# Evolution's date_time is its local clock labelled Z: up to 14 hours off UTC either way.
_CLOCK_SKEW = timedelta(days=1)


def _trusted_time(at: datetime | None, received_at: datetime) -> datetime | None:
    """Evolution's time for ordering, unless it claims to be from tomorrow or later: such a
    time (a broken clock, or a forged body) would make every later event look stale and
    freeze the instance, so the event is ordered as if it carried none."""
    return None if at is not None and at > received_at + _CLOCK_SKEW else at


def _close_reason(code: Any) -> str:
    return _CLOSE_REASONS.get(code, "connection_closed") if isinstance(code, int) else (
        "connection_closed")
