"""Tenant isolation: the checks every use case makes before touching an organization's data."""

from __future__ import annotations

from uuid import UUID

from application.errors import Forbidden, NotFound, ValidationFailed
from application.ports.unit_of_work import UnitOfWork
from domain.access import Actor, Role
from domain.instance import Instance


async def visible_instance(uow: UnitOfWork, actor: Actor, instance_id: UUID,
                           *, lock: bool = False) -> Instance:
    """The instance if the actor may see it; another tenant's instance is simply not found."""
    instance = await uow.instances.get(instance_id, lock=lock)
    if instance is None or not actor.sees(instance.organization_id):
        raise NotFound(f"instance {instance_id} not found")
    return instance


def target_organization(actor: Actor, requested: str | None) -> str:
    """The organization a write is for: a tenant admin's own, or the one an admin names."""
    if actor.role is Role.TENANT_ADMIN:
        if requested is not None and requested != actor.organization_id:
            raise Forbidden("tenant administrators may only act on their own organization")
        assert actor.organization_id is not None  # guaranteed when the token was accepted
        return actor.organization_id
    if actor.role is Role.ADMIN and requested:
        return requested
    if actor.role is Role.ADMIN:
        raise ValidationFailed({"organization_id": ["is required for administrators"]})
    raise Forbidden("this role may not act on tenant data")


def readable_organization(actor: Actor, requested: str | None) -> str | None:
    """The organization filter of a read: admins may read all; tenants only their own."""
    if actor.role is Role.ADMIN:
        return requested
    if actor.role is Role.TENANT_ADMIN:
        if requested is not None and requested != actor.organization_id:
            raise Forbidden("tenant administrators may only read their own organization")
        return actor.organization_id
    raise Forbidden("this role may not read tenant data")
