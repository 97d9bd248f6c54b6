"""Rollout flags: deterministic, monotonic bucketing of organizations, stages, kill switch."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from datetime import datetime

import attrs

from domain.errors import InvalidFlag

BUCKETS = 10_000
STAGES = (10, 25, 50, 100)
RADICAL_SOLUTION = "radical_solution"
DEFAULT_VARIANTS = (("unified_qr", 50), ("guided_steps", 50))


def bucket(flag_name: str, organization_id: str) -> int:
    """Stable position of an organization in [0, 10000) for one flag.

    A percentage admits buckets below ``percentage * 100``, so raising it only ever adds
    organizations: that is what makes the rollout monotonic.
    """
    digest = hashlib.sha256(f"{flag_name}:{organization_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") % BUCKETS


def _variant_point(flag_name: str, organization_id: str) -> int:
    digest = hashlib.sha256(f"{flag_name}:variant:{organization_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") % BUCKETS


@attrs.frozen
class Variant:
    name: str
    weight: int


@attrs.frozen
class Evaluation:
    enabled: bool
    variant: str | None


@attrs.frozen
class Flag:
    name: str
    enabled: bool
    percentage: int
    allow_orgs: frozenset[str] = frozenset()
    deny_orgs: frozenset[str] = frozenset()
    variants: tuple[Variant, ...] = ()
    updated_at: datetime | None = None
    updated_by: str | None = None

    def __attrs_post_init__(self) -> None:
        errors: dict[str, list[str]] = {}
        if not 0 <= self.percentage <= 100:
            errors["percentage"] = ["must be between 0 and 100"]
        if any(v.weight < 0 for v in self.variants) or (
            self.variants and sum(v.weight for v in self.variants) == 0
        ):
            errors["variants"] = ["weights must be non-negative and not all zero"]
        if self.allow_orgs & self.deny_orgs:
            errors["allow_orgs"] = ["an organization cannot be both allowed and denied"]
        if errors:
            raise InvalidFlag(errors)

    def evaluate(self, organization_id: str) -> Evaluation:
        on = self._admits(organization_id)
        return Evaluation(on, self.variant_for(organization_id) if on else None)

    def _admits(self, organization_id: str) -> bool:
        if not self.enabled or organization_id in self.deny_orgs:
            return False
        if organization_id in self.allow_orgs:
            return True
        return bucket(self.name, organization_id) < self.percentage * (BUCKETS // 100)

    def variant_for(self, organization_id: str) -> str | None:
        total = sum(v.weight for v in self.variants)
        if total == 0:
            return None
        point = _variant_point(self.name, organization_id) * total // BUCKETS
        for variant in self.variants:
            if point < variant.weight:
                return variant.name
            point -= variant.weight
        return self.variants[-1].name

    def switched(self, enabled: bool, at: datetime, by: str) -> Flag:
        return attrs.evolve(self, enabled=enabled, updated_at=at, updated_by=by)

    def advanced(self, at: datetime, by: str) -> Flag:
        return attrs.evolve(self, enabled=True, percentage=next_stage(self.percentage),
                            updated_at=at, updated_by=by)

    def as_dict(self) -> dict[str, object]:
        return {
            "name": self.name, "enabled": self.enabled, "percentage": self.percentage,
            "allow_orgs": sorted(self.allow_orgs), "deny_orgs": sorted(self.deny_orgs),
            "variants": [{"name": v.name, "weight": v.weight} for v in self.variants],
        }


def next_stage(percentage: int) -> int:
    for stage in STAGES:
        if percentage < stage:
            return stage
    return 100


def variants_from(pairs: Iterable[tuple[str, int]]) -> tuple[Variant, ...]:
    return tuple(Variant(name, weight) for name, weight in pairs)


def initial_flag(percentage: int, at: datetime) -> Flag:
    """The ``radical_solution`` flag a new store starts with (API.md section 7)."""
    return Flag(RADICAL_SOLUTION, True, percentage, variants=variants_from(DEFAULT_VARIANTS),
                updated_at=at, updated_by="system")
