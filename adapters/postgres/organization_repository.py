from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from adapters.crypto.cipher import SecretCipher
from adapters.postgres.db import Db
from application.errors import Conflict
from application.ports.repositories import OrganizationRepository
from domain.organization import Organization

SELECT = """
SELECT id, webhook_secret, previous_secret, previous_valid_until
FROM organizations WHERE id = $1"""
SELECT_LOCKED = """
SELECT id, webhook_secret, previous_secret, previous_valid_until
FROM organizations WHERE id = $1 FOR UPDATE"""
INSERT = """
INSERT INTO organizations (id, webhook_secret, previous_secret, previous_valid_until)
VALUES ($1, $2, $3, $4)
ON CONFLICT (id) DO NOTHING
RETURNING id"""
UPSERT = """
INSERT INTO organizations (id, webhook_secret, previous_secret, previous_valid_until)
VALUES ($1, $2, $3, $4)
ON CONFLICT (id) DO UPDATE
SET webhook_secret = $2, previous_secret = $3, previous_valid_until = $4"""


class AsyncpgOrganizationRepository(OrganizationRepository):
    def __init__(self, db: Db, cipher: SecretCipher) -> None:
        self._db = db
        self._cipher = cipher

    async def get(self, organization_id: str, *, lock: bool = False) -> Organization | None:
        if lock:
            row = await self._db.fetchrow(SELECT_LOCKED, organization_id)
        else:
            row = await self._db.read_row(SELECT, organization_id)
        return None if row is None else _to_entity(row, self._cipher)

    async def add(self, organization: Organization) -> None:
        if await self._db.fetchval(INSERT, *_to_row(organization, self._cipher)) is None:
            raise Conflict(f"organization {organization.id} exists")

    async def save(self, organization: Organization) -> None:
        await self._db.execute(UPSERT, *_to_row(organization, self._cipher))


def _to_row(organization: Organization, cipher: SecretCipher) -> tuple[Any, ...]:
    return (organization.id, cipher.encrypt(organization.webhook_secret),
            cipher.encrypt_optional(organization.previous_secret),
            organization.previous_valid_until)


def _to_entity(row: Mapping[str, Any], cipher: SecretCipher) -> Organization:
    return Organization(
        id=row["id"], webhook_secret=cipher.decrypt(row["webhook_secret"]),
        previous_secret=cipher.decrypt_optional(row["previous_secret"]),
        previous_valid_until=row["previous_valid_until"],
    )
