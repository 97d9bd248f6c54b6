"""Rollout flags: evaluate, change, kill, advance through the stages (API.md section 7)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import attrs

from application.access import readable_organization
from application.audit.drafts import audit_draft
from application.errors import FeatureDisabled, NotFound, RolloutUnhealthy, ValidationFailed
from application.ports.notifier import FLAGS_TOPIC
from application.ports.system import Clock
from application.ports.unit_of_work import UnitOfWork, UnitOfWorkFactory
from application.presenters import rfc3339
from application.rollout.flagged_path import OutcomeWindow
from domain.access import Actor
from domain.audit import AuditAction
from domain.errors import InvalidFlag
from domain.rollout import RADICAL_SOLUTION, Flag, Variant, initial_flag

FLAG_AUDIT_ORG = "_platform"  # flags are platform-wide; their chain lives under this id


@attrs.frozen
class FlagChange:
    enabled: bool
    percentage: int
    allow_orgs: frozenset[str] = frozenset()
    deny_orgs: frozenset[str] = frozenset()
    variants: tuple[Variant, ...] | None = None


class RolloutService:
    """Flags are read through a one-second cache, also cleared by the flags signal, so a kill
    switch reaches every replica within a second even if a signal is lost."""

    def __init__(self, uow: UnitOfWorkFactory, clock: Clock, initial_percentage: int,
                 max_error_rate: float, flagged_path: OutcomeWindow,
                 cache_ttl_s: float = 1.0) -> None:
        self._uow = uow
        self._clock = clock
        self._initial_percentage = initial_percentage
        self._max_error_rate = max_error_rate
        self._flagged_path = flagged_path
        self._cache_ttl_s = cache_ttl_s
        self._cache: tuple[float, dict[str, Flag]] | None = None

    async def ensure_initial(self) -> None:
        """A new store starts with ``radical_solution`` at the initial percentage."""
        async with self._uow() as uow:
            if await uow.flags.get(RADICAL_SOLUTION) is None:
                await uow.flags.save(initial_flag(self._initial_percentage, self._clock.now()))
                await uow.commit()

    def invalidate(self) -> None:
        self._cache = None

    async def require(self, name: str, organization_id: str) -> str | None:
        """The organization's variant of an enabled flag; ``FeatureDisabled`` otherwise."""
        flag = (await self._flags()).get(name)
        evaluation = flag.evaluate(organization_id) if flag else None
        if evaluation is None or not evaluation.enabled:
            raise FeatureDisabled(f"{name} is not enabled for organization {organization_id}")
        return evaluation.variant

    async def evaluate(self, actor: Actor, organization_id: str | None) -> dict[str, Any]:
        org = readable_organization(actor, organization_id)
        if org is None:
            raise ValidationFailed({"organization_id": ["is required"]})
        flags = await self._flags()
        return {"flags": {name: attrs.asdict(flag.evaluate(org)) for name, flag in flags.items()}}

    async def list(self) -> dict[str, Any]:
        async with self._uow() as uow:
            flags = await uow.flags.all()
        return {"items": [flag_view(f) for f in flags]}

    async def put(self, actor: Actor, name: str, change: FlagChange) -> dict[str, Any]:
        async with self._uow() as uow:
            old = await uow.flags.get(name)
            variants = change.variants if change.variants is not None else (
                old.variants if old else ())
            new = _flag(name, change, variants, self._clock, actor)
            return flag_view(await self._store(uow, actor, old, new))

    async def toggle(self, actor: Actor, switches: Mapping[str, bool]) -> dict[str, Any]:
        """The kill switch and bulk toggle: ``{"radical_solution": false}``."""
        async with self._uow() as uow:
            changed = []
            for name, enabled in switches.items():
                old = await uow.flags.get(name)
                if old is None:
                    raise NotFound(f"flag {name} not found")
                changed.append(await self._store(
                    uow, actor, old, old.switched(enabled, self._clock.now(), actor.id), False))
            await uow.commit()
        return {"items": [flag_view(f) for f in changed]}

    async def advance(self, actor: Actor, name: str) -> dict[str, Any]:
        async with self._uow() as uow:
            old = await uow.flags.get(name)
            if old is None:  # an unknown flag is not found, however healthy the path
                raise NotFound(f"flag {name} not found")
            rate = self._flagged_path.error_rate(self._clock.monotonic())
            if rate > self._max_error_rate:
                raise RolloutUnhealthy(
                    f"error rate {rate:.2%} over the last 15 minutes is above "
                    f"{self._max_error_rate:.2%}", error_rate=rate)
            return flag_view(await self._store(uow, actor, old,
                                               old.advanced(self._clock.now(), actor.id)))

    async def _store(self, uow: UnitOfWork, actor: Actor, old: Flag | None, new: Flag,
                     commit: bool = True) -> Flag:
        await uow.flags.save(new)
        await uow.audit.append(audit_draft(
            actor, FLAG_AUDIT_ORG, AuditAction.FLAG_CHANGED, self._clock.now(),
            {"flag": new.name, "old": old.as_dict() if old else None, "new": new.as_dict()}))
        uow.notify(FLAGS_TOPIC, {"name": new.name})
        if commit:
            await uow.commit()
        self.invalidate()
        return new

    async def _flags(self) -> dict[str, Flag]:
        now = self._clock.monotonic()
        if self._cache is None or now - self._cache[0] > self._cache_ttl_s:
            async with self._uow() as uow:
                flags = await uow.flags.all()
            self._cache = (now, {f.name: f for f in flags})
        return self._cache[1]


def _flag(name: str, change: FlagChange, variants: tuple[Variant, ...], clock: Clock,
          actor: Actor) -> Flag:
    try:
        return Flag(name, change.enabled, change.percentage, change.allow_orgs, change.deny_orgs,
                    variants, clock.now(), actor.id)
    except InvalidFlag as exc:
        raise ValidationFailed(exc.errors) from exc


def flag_view(flag: Flag) -> dict[str, Any]:
    return {**flag.as_dict(), "updated_at": rfc3339(flag.updated_at),
            "updated_by": flag.updated_by}
