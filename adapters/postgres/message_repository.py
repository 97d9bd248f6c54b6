from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any
from uuid import UUID

from adapters import keyset
from adapters.crypto.cipher import SecretCipher
from adapters.postgres.db import Db
from application.ports.repositories import MessageRepository, Page
from domain.messages import Message

INSERT = """
INSERT INTO messages (instance_id, message_id, remote_jid, from_me, push_name, type, text,
    "timestamp", sort_at, status)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
ON CONFLICT (instance_id, message_id) DO NOTHING
RETURNING message_id"""
SET_STATUS = """
UPDATE messages SET status = $3 WHERE instance_id = $1 AND message_id = $2
RETURNING message_id"""
FIND = """
SELECT message_id, remote_jid, from_me, push_name, type, text, "timestamp", status
FROM messages
WHERE instance_id = $1 AND ($2::timestamptz IS NULL OR (sort_at, message_id) < ($2, $3::text))
ORDER BY sort_at DESC, message_id DESC
LIMIT $4"""


def _key(message: Message) -> tuple[datetime, str]:
    return (message.timestamp or keyset.EPOCH, message.id)


class AsyncpgMessageRepository(MessageRepository):
    def __init__(self, db: Db, cipher: SecretCipher) -> None:
        self._db = db
        self._cipher = cipher

    async def upsert(self, instance_id: UUID, message: Message) -> bool:
        row = _to_row(instance_id, message, self._cipher)
        return await self._db.fetchval(INSERT, *row) is not None

    async def set_status(self, instance_id: UUID, message_id: str, status: str) -> bool:
        return await self._db.fetchval(SET_STATUS, instance_id, message_id, status) is not None

    async def find(self, instance_id: UUID, limit: int, cursor: str | None) -> Page[Message]:
        before = keyset.decode(cursor) if cursor else (None, None)
        rows = await self._db.read_rows(FIND, instance_id, *before, limit + 1)
        items = [_to_entity(row, self._cipher) for row in rows]
        return keyset.page_of(items, limit, lambda m: keyset.encode(*_key(m)))


def _to_row(instance_id: UUID, message: Message, cipher: SecretCipher) -> tuple[Any, ...]:
    return (instance_id, message.id, message.remote_jid, message.from_me, message.push_name,
            message.type, cipher.encrypt_optional(message.text), message.timestamp,
            _key(message)[0], message.status)


def _to_entity(row: Mapping[str, Any], cipher: SecretCipher) -> Message:
    return Message(
        id=row["message_id"], remote_jid=row["remote_jid"], from_me=row["from_me"],
        push_name=row["push_name"], type=row["type"], text=cipher.decrypt_optional(row["text"]),
        timestamp=row["timestamp"], status=row["status"],
    )
