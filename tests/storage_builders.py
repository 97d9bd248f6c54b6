"""Entities with random ids for the storage suites, so tests never need to clean up."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from application.ports.inbox import InboxEvent
from domain.audit import AuditAction, AuditDraft
from domain.instance import Instance, InstanceState, QrCode
from domain.messages import Message

T0 = datetime(2026, 11, 24, 19, 0, 0, 123456, tzinfo=UTC)


def org_id() -> str:
    return f"org-{uuid.uuid4().hex[:10]}"


def an_instance(organization_id: str | None = None, *, at: datetime = T0,
                **changes: Any) -> Instance:
    org = organization_id or org_id()
    instance = Instance(
        id=uuid.uuid4(), organization_id=org, evolution_name=f"{org}-{uuid.uuid4().hex[:8]}",
        display_name="Recepción", phone_number=None, created_at=at, updated_at=at,
    )
    for name, value in changes.items():
        setattr(instance, name, value)
    return instance


def a_full_instance() -> Instance:
    """Every optional field set, to prove the round trip loses nothing."""
    return an_instance(
        state=InstanceState.CONNECTED, state_reason="qr_limit_reached",
        phone_number="5511999999999", profile_name="Clínica Sol",
        connected_at=T0 + timedelta(seconds=3), last_event_at=T0 + timedelta(seconds=4),
        last_evolution_time=T0 + timedelta(hours=3),
        qr=QrCode.issue("2@abc,def", "data:image/png;base64,iVBOR", "ABCD1234", T0),
        evolution_token="evo-token-123",
    )


def a_draft(organization_id: str, *, at: datetime = T0, action: AuditAction =
            AuditAction.INSTANCE_CREATED, **details: Any) -> AuditDraft:
    return AuditDraft(organization_id, action, "user-1", "user", at, "10.0.0.1", "pytest",
                      details or {"instance_id": str(uuid.uuid4()), "n": 1.5})


def an_event(organization_id: str | None = None, *, dedupe_key: str | None = None,
             at: datetime = T0) -> InboxEvent:
    return InboxEvent(
        id=uuid.uuid4(), organization_id=organization_id or org_id(),
        instance_name="clinic-42-3f9a1c2b", event="CONNECTION_UPDATE",
        dedupe_key=dedupe_key or f"sha256:{uuid.uuid4().hex}",
        body=b'{"event":"connection.update","data":{"state":"open"}}\x00\xff', received_at=at,
    )


def a_message(message_id: str | None = None, *, at: datetime | None = T0,
              text: str | None = "Olá, quero marcar consulta") -> Message:
    return Message(id=message_id or uuid.uuid4().hex.upper(), remote_jid="5511@s.whatsapp.net",
                   from_me=False, push_name="Ana", type="conversation", text=text,
                   timestamp=at, status="DELIVERY_ACK")
