from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from adapters.postgres.db import Db
from application.ports.repositories import FlagRepository
from domain.rollout import Flag, Variant

SELECT = """
SELECT name, enabled, percentage, allow_orgs, deny_orgs, variants, updated_at, updated_by
FROM flags WHERE name = $1"""
SELECT_ALL = """
SELECT name, enabled, percentage, allow_orgs, deny_orgs, variants, updated_at, updated_by
FROM flags"""
UPSERT = """
INSERT INTO flags (name, enabled, percentage, allow_orgs, deny_orgs, variants, updated_at,
    updated_by)
VALUES ($1, $2, $3, $4, $5, $6::jsonb, $7, $8)
ON CONFLICT (name) DO UPDATE SET enabled = $2, percentage = $3, allow_orgs = $4,
    deny_orgs = $5, variants = $6::jsonb, updated_at = $7, updated_by = $8"""


class AsyncpgFlagRepository(FlagRepository):
    def __init__(self, db: Db) -> None:
        self._db = db

    async def get(self, name: str) -> Flag | None:
        row = await self._db.read_row(SELECT, name)
        return None if row is None else _to_entity(row)

    async def save(self, flag: Flag) -> None:
        await self._db.execute(UPSERT, *_to_row(flag))

    async def all(self) -> list[Flag]:
        # Sorted here, not in SQL, so the order is code point order whatever the collation.
        return sorted((_to_entity(r) for r in await self._db.read_rows(SELECT_ALL)),
                      key=lambda f: f.name)


def _to_row(flag: Flag) -> tuple[Any, ...]:
    variants = [{"name": v.name, "weight": v.weight} for v in flag.variants]
    return (flag.name, flag.enabled, flag.percentage, sorted(flag.allow_orgs),
            sorted(flag.deny_orgs), json.dumps(variants), flag.updated_at, flag.updated_by)


def _to_entity(row: Mapping[str, Any]) -> Flag:
    variants = tuple(Variant(v["name"], int(v["weight"])) for v in json.loads(row["variants"]))
    return Flag(
        name=row["name"], enabled=row["enabled"], percentage=row["percentage"],
        allow_orgs=frozenset(row["allow_orgs"]), deny_orgs=frozenset(row["deny_orgs"]),
        variants=variants, updated_at=row["updated_at"], updated_by=row["updated_by"],
    )
