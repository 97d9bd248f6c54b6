from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from uuid import UUID

from adapters import keyset
from adapters.crypto.cipher import SecretCipher
from adapters.postgres.db import Db
from application.errors import Conflict
from application.ports.repositories import InstanceQuery, InstanceRepository, Page
from domain.instance import INACTIVE_STATES, Instance, InstanceState, QrCode

# One column list, in ``_to_row``'s order: every statement below is built from it.
COLUMNS = ("id", "organization_id", "evolution_name", "display_name", "phone_number",
           "created_at", "updated_at", "state", "state_reason", "profile_name", "connected_at",
           "last_event_at", "last_evolution_time", "qr_code", "qr_base64", "qr_pairing_code",
           "qr_issued_at", "qr_expires_at", "evolution_token")
_LIST = ", ".join(COLUMNS)
_VALUES = ", ".join(f"${n}" for n in range(1, len(COLUMNS) + 1))
_SET = ", ".join(f"{c} = ${n}" for n, c in enumerate(COLUMNS, 1) if c != "id")
# Built from the constant column list above, never from input: S608 does not apply.
_SELECT = f"SELECT {_LIST} FROM instances"  # noqa: S608

INSERT = (f"INSERT INTO instances ({_LIST}) VALUES ({_VALUES}) "  # noqa: S608
          "ON CONFLICT DO NOTHING RETURNING id")
UPSERT = (f"INSERT INTO instances ({_LIST}) VALUES ({_VALUES}) "  # noqa: S608
          f"ON CONFLICT (id) DO UPDATE SET {_SET}")
SELECT_BY_ID = f"{_SELECT} WHERE id = $1"
SELECT_BY_ID_LOCKED = f"{SELECT_BY_ID} FOR UPDATE"
SELECT_BY_NAME = f"{_SELECT} WHERE evolution_name = $1"
SELECT_BY_NAME_LOCKED = f"{SELECT_BY_NAME} FOR UPDATE"
# $3/$4 is the cursor: the (created_at, id) of the last row of the previous page.
FIND = f"""{_SELECT}
WHERE ($1::text IS NULL OR organization_id = $1) AND ($2::text IS NULL OR state = $2)
  AND ($3::timestamptz IS NULL OR (created_at, id) > ($3, $4::uuid))
ORDER BY created_at, id
LIMIT $5"""
SELECT_ALL = f"{_SELECT} ORDER BY created_at, id"
COUNT_BY_STATE = "SELECT state, count(*) AS n FROM instances GROUP BY state"
COUNT_ACTIVE = """
SELECT count(*) FROM instances WHERE organization_id = $1 AND state <> ALL($2::text[])"""


class AsyncpgInstanceRepository(InstanceRepository):
    def __init__(self, db: Db, cipher: SecretCipher) -> None:
        self._db = db
        self._cipher = cipher

    async def add(self, instance: Instance) -> None:
        if await self._db.fetchval(INSERT, *_to_row(instance, self._cipher)) is None:
            raise Conflict(f"instance {instance.id} or name {instance.evolution_name} exists")

    async def get(self, instance_id: UUID, *, lock: bool = False) -> Instance | None:
        if lock:
            return self._entity(await self._db.fetchrow(SELECT_BY_ID_LOCKED, instance_id))
        return self._entity(await self._db.read_row(SELECT_BY_ID, instance_id))

    async def get_by_name(self, evolution_name: str, *, lock: bool = False) -> Instance | None:
        if lock:
            return self._entity(await self._db.fetchrow(SELECT_BY_NAME_LOCKED, evolution_name))
        return self._entity(await self._db.read_row(SELECT_BY_NAME, evolution_name))

    async def save(self, instance: Instance) -> None:
        await self._db.execute(UPSERT, *_to_row(instance, self._cipher))

    async def find(self, query: InstanceQuery) -> Page[Instance]:
        after = keyset.decode_uuid(query.cursor) if query.cursor else (None, None)
        state = str(query.state) if query.state is not None else None
        rows = await self._db.read_rows(FIND, query.organization_id, state, *after, query.limit + 1)
        items = [_to_entity(row, self._cipher) for row in rows]
        return keyset.page_of(items, query.limit, lambda i: keyset.encode(i.created_at, i.id))

    async def count_active(self, organization_id: str) -> int:
        inactive = sorted(str(s) for s in INACTIVE_STATES)
        return int(await self._db.read_value(COUNT_ACTIVE, organization_id, inactive))

    async def all(self) -> list[Instance]:
        return [_to_entity(row, self._cipher) for row in await self._db.read_rows(SELECT_ALL)]

    async def count_by_state(self) -> dict[InstanceState, int]:
        # instances_state_idx: an index-only count, no row is read or decrypted.
        return {InstanceState(row["state"]): row["n"]
                for row in await self._db.read_rows(COUNT_BY_STATE)}

    def _entity(self, row: Mapping[str, Any] | None) -> Instance | None:
        return None if row is None else _to_entity(row, self._cipher)


def _to_row(instance: Instance, cipher: SecretCipher) -> tuple[Any, ...]:
    qr = instance.qr
    return (
        instance.id, instance.organization_id, instance.evolution_name, instance.display_name,
        instance.phone_number, instance.created_at, instance.updated_at, str(instance.state),
        instance.state_reason, instance.profile_name, instance.connected_at,
        instance.last_event_at, instance.last_evolution_time,
        qr and qr.code, qr and qr.base64, qr and qr.pairing_code, qr and qr.issued_at,
        qr and qr.expires_at, cipher.encrypt_optional(instance.evolution_token),
    )


def _to_entity(row: Mapping[str, Any], cipher: SecretCipher) -> Instance:
    qr = None
    if row["qr_code"] is not None:
        qr = QrCode(row["qr_code"], row["qr_base64"], row["qr_pairing_code"],
                    row["qr_issued_at"], row["qr_expires_at"])
    return Instance(
        id=row["id"], organization_id=row["organization_id"],
        evolution_name=row["evolution_name"], display_name=row["display_name"],
        phone_number=row["phone_number"], created_at=row["created_at"],
        updated_at=row["updated_at"], state=InstanceState(row["state"]),
        state_reason=row["state_reason"], profile_name=row["profile_name"],
        connected_at=row["connected_at"], last_event_at=row["last_event_at"],
        last_evolution_time=row["last_evolution_time"], qr=qr,
        evolution_token=cipher.decrypt_optional(row["evolution_token"]),
    )
