from __future__ import annotations

import asyncio
from collections.abc import Callable, Hashable, MutableMapping
from datetime import datetime
from typing import Any
from uuid import UUID

import attrs

from application.ports.inbox import InboxEvent
from application.ports.repositories import StoredResponse
from domain.audit import AuditEvent
from domain.instance import Instance
from domain.messages import Message
from domain.organization import Organization
from domain.rollout import Flag


@attrs.frozen
class InboxRow:
    event: InboxEvent
    next_attempt_at: datetime
    locked_until: datetime | None = None
    last_error: str | None = None
    outcome: str | None = None


@attrs.frozen
class AuditRow:
    seq: int
    event: AuditEvent


@attrs.frozen
class AuditHead:
    last_hash: str
    count: int


class InMemoryStore:
    """Every table of the embedded default, guarded by one lock held per unit of work."""

    def __init__(self) -> None:
        self.lock = asyncio.Lock()
        self.instances: dict[UUID, Instance] = {}
        self.instance_names: dict[str, UUID] = {}
        # Indexes, so that no request scans a table that only grows (ids as dict keys: ordered).
        self.instances_of: dict[str, dict[UUID, None]] = {}
        self.inbox_open: dict[UUID, None] = {}  # pending or processing: what claim looks at
        self.organizations: dict[str, Organization] = {}
        self.audit: dict[UUID, AuditRow] = {}
        self.audit_heads: dict[str, AuditHead] = {}
        self.flags: dict[str, Flag] = {}
        self.inbox: dict[UUID, InboxRow] = {}
        self.inbox_keys: dict[tuple[str, str], UUID] = {}
        self.messages: dict[tuple[UUID, str], Message] = {}
        self.idempotency: dict[tuple[str, str], StoredResponse] = {}


class Journal:
    """Undo closures for every write of a unit of work, replayed newest first on rollback."""

    def __init__(self) -> None:
        self._undo: list[Callable[[], None]] = []

    def put(self, table: MutableMapping[Any, Any], key: Hashable, value: object) -> None:
        if key in table:
            old = table[key]
            self._undo.append(lambda: table.__setitem__(key, old))
        else:
            self._undo.append(lambda: table.pop(key, None))
        table[key] = value

    def discard(self, table: MutableMapping[Any, Any], key: Hashable) -> None:
        if key in table:
            old = table.pop(key)
            self._undo.append(lambda: table.__setitem__(key, old))

    def rollback(self) -> None:
        while self._undo:
            self._undo.pop()()

    def forget(self) -> None:
        self._undo.clear()
