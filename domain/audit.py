"""Audit events and the per-organization hash chain a HIPAA auditor can verify."""

from __future__ import annotations

import enum
import hashlib
import json
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any
from uuid import UUID

import attrs

GENESIS_HASH = "0" * 64


class AuditAction(enum.StrEnum):
    INSTANCE_CREATED = "instance_created"
    QR_GENERATED = "qr_generated"
    CONNECTION_ESTABLISHED = "connection_established"
    CONNECTION_LOST = "connection_lost"
    INSTANCE_RESTARTED = "instance_restarted"
    INSTANCE_LOGGED_OUT = "instance_logged_out"
    INSTANCE_DELETED = "instance_deleted"
    FLAG_CHANGED = "flag_changed"
    WEBHOOK_REJECTED = "webhook_rejected"
    SECRET_ROTATED = "secret_rotated"  # noqa: S105 (an action name, not a secret)
    BACKUP_CREATED = "backup_created"
    BACKUP_RESTORED = "backup_restored"
    WEBHOOK_REPLAYED = "webhook_replayed"


@attrs.frozen
class AuditDraft:
    """What a use case knows about an event before it takes its place in the chain."""

    organization_id: str
    action: AuditAction
    actor_id: str
    actor_type: str
    timestamp: datetime
    ip_address: str | None = None
    user_agent: str | None = None
    details: Mapping[str, Any] = attrs.field(factory=dict)


@attrs.frozen
class AuditEvent:
    id: UUID
    organization_id: str
    action: str
    actor_id: str
    actor_type: str
    timestamp: datetime
    ip_address: str | None
    user_agent: str | None
    details: Mapping[str, Any]
    prev_hash: str
    hash: str


def _timestamp(at: datetime) -> str:
    return at.isoformat(timespec="microseconds")


def canonical(event_id: UUID, draft: AuditDraft | AuditEvent) -> bytes:
    """The bytes the hash covers: every field but the hashes, in one fixed JSON form."""
    body = {
        "id": str(event_id),
        "organization_id": draft.organization_id,
        "action": str(draft.action),
        "actor_id": draft.actor_id,
        "actor_type": draft.actor_type,
        "timestamp": _timestamp(draft.timestamp),
        "ip_address": draft.ip_address,
        "user_agent": draft.user_agent,
        "details": draft.details,
    }
    return canonical_fields(body)


def canonical_fields(body: Mapping[str, Any]) -> bytes:
    """The one JSON form the hash covers; an exported line is re-hashed through it too."""
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                      default=str).encode()


def timestamp_text(at: datetime) -> str:
    return _timestamp(at)


def link_hash(prev_hash: str, payload: bytes) -> str:
    return hashlib.sha256(prev_hash.encode() + payload).hexdigest()


def seal(draft: AuditDraft, event_id: UUID, prev_hash: str) -> AuditEvent:
    """Place a draft after ``prev_hash`` in its organization's chain."""
    return AuditEvent(
        id=event_id, organization_id=draft.organization_id, action=str(draft.action),
        actor_id=draft.actor_id, actor_type=draft.actor_type, timestamp=draft.timestamp,
        ip_address=draft.ip_address, user_agent=draft.user_agent, details=draft.details,
        prev_hash=prev_hash, hash=link_hash(prev_hash, canonical(event_id, draft)),
    )


@attrs.frozen
class ChainVerdict:
    valid: bool
    checked: int
    first_invalid_id: UUID | None


def verify_chain(events: Iterable[AuditEvent]) -> ChainVerdict:
    """Walk one organization's events in chain order and name the first broken link.

    A link is broken when an event's content no longer hashes to its ``hash`` (edited) or its
    ``prev_hash`` is not the previous event's ``hash`` (deleted or reordered).
    """
    expected_prev = GENESIS_HASH
    checked = 0
    for event in events:
        checked += 1
        recomputed = link_hash(event.prev_hash, canonical(event.id, event))
        if event.prev_hash != expected_prev or recomputed != event.hash:
            return ChainVerdict(False, checked, event.id)
        expected_prev = event.hash
    return ChainVerdict(True, checked, None)
