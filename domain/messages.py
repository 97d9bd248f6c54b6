"""Patient messages as the clinic sees them, read from Evolution's message objects."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import attrs

from domain.text import text_or_none

_TEXT_FIELDS = (("conversation", None), ("extendedTextMessage", "text"),
                ("imageMessage", "caption"), ("videoMessage", "caption"),
                ("documentMessage", "caption"))


@attrs.frozen
class Message:
    id: str
    remote_jid: str
    from_me: bool
    push_name: str | None
    type: str
    text: str | None
    timestamp: datetime | None
    status: str | None


def phone_jid(key: Mapping[str, Any]) -> str:
    """Prefer the phone-number JID: Baileys 7 may put an ``@lid`` in ``remoteJid``."""
    remote = str(key.get("remoteJid") or "")
    alt = key.get("remoteJidAlt")
    if remote.endswith("@lid") and isinstance(alt, str) and alt:
        return alt
    return remote


def _text(message: Any) -> str | None:
    if not isinstance(message, Mapping):
        return None
    for field, inner in _TEXT_FIELDS:
        value = message.get(field)
        if inner is None and isinstance(value, str):
            return value
        if inner is not None and isinstance(value, Mapping) and isinstance(value.get(inner), str):
            return str(value[inner])
    return None


def _timestamp(value: Any) -> datetime | None:
    try:
        if isinstance(value, Mapping):  # int64 as protobufjs Long {"low","high"} in 2.3.6
            # The low word arrives signed; read it unsigned or dates past 2038 land in 1901.
            low = int(value.get("low") or 0) & 0xFFFFFFFF
            value = (int(value.get("high") or 0) << 32) + low
        return datetime.fromtimestamp(int(value), UTC)
    except (TypeError, ValueError, OverflowError, OSError):
        return None


def _content_id(data: Mapping[str, Any]) -> str:
    """An id for a message Evolution sent without one: the same content names the same
    message (a redelivery stays one row), and other content another (none is overwritten)."""
    canonical = json.dumps(data, sort_keys=True, default=str, ensure_ascii=True)
    return "content:" + hashlib.sha256(canonical.encode()).hexdigest()[:32]


def message_from_upsert(data: Mapping[str, Any]) -> Message:
    key = data["key"]
    return Message(
        id=str(key.get("id") or "") or _content_id(data),
        remote_jid=phone_jid(key),
        from_me=bool(key.get("fromMe")),
        push_name=text_or_none(data.get("pushName")),
        type=str(data.get("messageType") or "unknown"),
        text=_text(data.get("message")),
        timestamp=_timestamp(data.get("messageTimestamp")),
        status=text_or_none(data.get("status")),
    )
