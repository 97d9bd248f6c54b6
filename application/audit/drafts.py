"""How use cases phrase audit events: one helper so every event names actor, IP and agent."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from domain.access import Actor
from domain.audit import AuditAction, AuditDraft
from domain.instance import Instance


def audit_draft(actor: Actor, organization_id: str, action: AuditAction, at: datetime,
                details: Mapping[str, Any] | None = None) -> AuditDraft:
    return AuditDraft(organization_id=organization_id, action=action, actor_id=actor.id,
                      actor_type=actor.actor_type, timestamp=at, ip_address=actor.ip_address,
                      user_agent=actor.user_agent, details=dict(details or {}))


def instance_details(instance: Instance, **extra: Any) -> dict[str, Any]:
    return {"instance_id": str(instance.id), "instance_name": instance.evolution_name, **extra}
