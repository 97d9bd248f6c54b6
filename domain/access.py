"""Who is calling, and which organizations they may see."""

from __future__ import annotations

import enum
import math
from collections.abc import Mapping
from typing import Any

import attrs

from domain.text import clean_optional, is_organization_id, is_storable

MAX_TOKEN_LIFETIME_S = 366 * 86400  # API.md 2: exp not more than a year ahead


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
    # Whatever a client sends, an audit event must be able to store it.
    user_agent: str | None = attrs.field(default=None, converter=clean_optional)

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


def claims_problem(claims: Mapping[str, Any], now: float) -> str | None:
    """Why a management token's claims break API.md section 2, or None when they hold.

    The signature has verified by now; this judges what the signer wrote, so a token minted
    with a bad organization id, a list for a role, or an ``exp`` as a string is refused
    instead of reaching a query or a URL."""
    role = claims.get("role")
    if not isinstance(role, str) or role not in {r.value for r in Role}:
        return "the token names no known role"
    sub = claims.get("sub")
    if not isinstance(sub, str) or not 1 <= len(sub) <= 128 or not is_storable(sub):
        return "sub must be 1..128 characters"
    org = claims.get("org")
    if org is not None and not is_organization_id(org):
        return "org must be an organization id"
    if role == Role.TENANT_ADMIN and org is None:
        return "a tenant_admin token needs org"
    exp = claims.get("exp")
    if isinstance(exp, bool) or not isinstance(exp, int | float) or not math.isfinite(exp):
        return "exp must be a number of seconds"
    if exp > now + MAX_TOKEN_LIFETIME_S:
        return "exp is more than a year ahead"
    return None
