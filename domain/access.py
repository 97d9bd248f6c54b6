"""Who is calling, and which organizations they may see."""

from __future__ import annotations

import enum

import attrs


class Role(enum.StrEnum):
    ADMIN = "admin"
    TENANT_ADMIN = "tenant_admin"
    SYSTEM = "system"


@attrs.frozen
class Actor:
    id: str
    role: Role
    organization_id: str | None = None
    ip_address: str | None = None
    user_agent: str | None = None

    def sees(self, organization_id: str) -> bool:
        """Tenant data is visible to admins and to the tenant admin of that organization."""
        if self.role is Role.ADMIN:
            return True
        return self.role is Role.TENANT_ADMIN and self.organization_id == organization_id

    @property
    def actor_type(self) -> str:
        return "user" if self.role in (Role.ADMIN, Role.TENANT_ADMIN) else str(self.role)


SYSTEM_ACTOR = Actor("wachannel", Role.SYSTEM)
EVOLUTION_ACTOR = Actor("evolution", Role.SYSTEM)
