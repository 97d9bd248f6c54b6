from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from adapters.postgres.db import Db
from application.errors import Conflict
from application.ports.repositories import IdempotencyRepository, StoredResponse

SELECT = """
SELECT request_hash, status, body, created_at
FROM idempotency_keys WHERE scope = $1 AND key = $2 AND created_at >= $3"""
INSERT = """
INSERT INTO idempotency_keys (scope, key, request_hash, status, body, created_at)
VALUES ($1, $2, $3, $4, $5::jsonb, $6)
ON CONFLICT (scope, key) DO UPDATE
SET request_hash = EXCLUDED.request_hash, status = EXCLUDED.status, body = EXCLUDED.body,
    created_at = EXCLUDED.created_at
WHERE idempotency_keys.created_at < $7
RETURNING key"""


class AsyncpgIdempotencyRepository(IdempotencyRepository):
    def __init__(self, db: Db) -> None:
        self._db = db

    async def get(self, scope: str, key: str, not_before: datetime) -> StoredResponse | None:
        row = await self._db.read_row(SELECT, scope, key, not_before)
        return None if row is None else _to_entity(row)

    async def put(self, scope: str, key: str, response: StoredResponse,
                  replace_before: datetime) -> None:
        row = (scope, key, *_to_row(response), replace_before)
        if await self._db.fetchval(INSERT, *row) is None:
            raise Conflict(f"idempotency key {key} already used in {scope}")


def _to_row(response: StoredResponse) -> tuple[Any, ...]:
    return (response.request_hash, response.status, json.dumps(response.body),
            response.created_at)


def _to_entity(row: Mapping[str, Any]) -> StoredResponse:
    return StoredResponse(request_hash=row["request_hash"], status=row["status"],
                          body=json.loads(row["body"]), created_at=row["created_at"])
