"""The JSON shapes of API.md, built once here so replays and live answers are identical."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from domain.audit import AuditEvent
from domain.instance import Instance, QrCode
from domain.messages import Message


def rfc3339(at: datetime | None) -> str | None:
    if at is None:
        return None
    return at.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def instance_view(instance: Instance) -> dict[str, Any]:
    return {
        "id": str(instance.id), "organization_id": instance.organization_id,
        "evolution_name": instance.evolution_name, "display_name": instance.display_name,
        "state": str(instance.state), "state_reason": instance.state_reason,
        "phone_number": instance.phone_number, "profile_name": instance.profile_name,
        "created_at": rfc3339(instance.created_at), "updated_at": rfc3339(instance.updated_at),
        "connected_at": rfc3339(instance.connected_at),
        "last_event_at": rfc3339(instance.last_event_at),
    }


def qr_view(qr: QrCode | None) -> dict[str, Any] | None:
    if qr is None:
        return None
    return {"code": qr.code, "base64": qr.base64, "pairing_code": qr.pairing_code,
            "issued_at": rfc3339(qr.issued_at), "expires_at": rfc3339(qr.expires_at)}


def message_view(message: Message) -> dict[str, Any]:
    return {"id": message.id, "remote_jid": message.remote_jid, "from_me": message.from_me,
            "push_name": message.push_name, "type": message.type, "text": message.text,
            "timestamp": rfc3339(message.timestamp), "status": message.status}


def audit_view(event: AuditEvent) -> dict[str, Any]:
    return {"id": str(event.id), "organization_id": event.organization_id,
            "action": event.action, "actor_id": event.actor_id, "actor_type": event.actor_type,
            "timestamp": rfc3339(event.timestamp), "ip_address": event.ip_address,
            "user_agent": event.user_agent, "details": dict(event.details),
            "prev_hash": event.prev_hash, "hash": event.hash}
