from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from datetime import datetime
from typing import Any, Generic, TypeVar
from uuid import UUID

import attrs

from domain.audit import AuditDraft, AuditEvent
from domain.instance import Instance, InstanceState
from domain.messages import Message
from domain.organization import Organization
from domain.rollout import Flag

T = TypeVar("T")


@attrs.frozen
class Page(Generic[T]):
    items: list[T]
    next_cursor: str | None


@attrs.frozen
class InstanceQuery:
    organization_id: str | None = None
    state: InstanceState | None = None
    limit: int = 50
    cursor: str | None = None


@attrs.frozen
class AuditQuery:
    organization_id: str | None = None
    action: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    limit: int = 50
    cursor: str | None = None


@attrs.frozen
class StoredResponse:
    """A first answer kept for ``Idempotency-Key`` replays."""

    request_hash: str
    status: int
    body: Mapping[str, Any]
    created_at: datetime


class InstanceRepository(ABC):
    @abstractmethod
    async def add(self, instance: Instance) -> None:
        """Store a new instance. Raises ``Conflict`` if its id or evolution name exists."""

    @abstractmethod
    async def get(self, instance_id: UUID, *, lock: bool = False) -> Instance | None:
        """The instance, or None. ``lock`` holds it against concurrent writers until commit."""

    @abstractmethod
    async def get_by_name(self, evolution_name: str, *, lock: bool = False) -> Instance | None:
        """The instance with that Evolution name, or None."""

    @abstractmethod
    async def save(self, instance: Instance) -> None:
        """Write back an instance loaded from this repository. Idempotent."""

    @abstractmethod
    async def find(self, query: InstanceQuery) -> Page[Instance]:
        """Instances matching ``query``, oldest first, paginated by an opaque cursor."""

    @abstractmethod
    async def count_active(self, organization_id: str) -> int:
        """Instances of the organization that are neither failed nor deleted."""

    @abstractmethod
    async def all(self) -> list[Instance]:
        """Every instance (backups and sync only: not for request paths)."""

    @abstractmethod
    async def count_by_state(self) -> dict[InstanceState, int]:
        """How many instances are in each state, of every organization; a state none is in
        is absent."""


class OrganizationRepository(ABC):
    @abstractmethod
    async def get(self, organization_id: str, *, lock: bool = False) -> Organization | None:
        """The organization with its decrypted secrets, or None."""

    @abstractmethod
    async def add(self, organization: Organization) -> None:
        """Store a new organization. Raises ``Conflict`` if it exists (committed by another
        unit of work meanwhile included); the unit of work stays usable, so the existing
        organization can then be read in it."""

    @abstractmethod
    async def save(self, organization: Organization) -> None:
        """Write back an organization (secrets are encrypted at rest). Idempotent."""


class AuditLog(ABC):
    @abstractmethod
    async def append(self, draft: AuditDraft) -> AuditEvent:
        """Seal ``draft`` after its organization's latest event and store it.

        Concurrent appends for one organization are serialised, so the chain never forks.
        Append-only: nothing in this port edits or deletes an event.
        """

    @abstractmethod
    async def query(self, query: AuditQuery) -> Page[AuditEvent]:
        """Events matching ``query``, newest first."""

    @abstractmethod
    async def chain(self, organization_id: str) -> list[AuditEvent]:
        """One organization's events in chain order, oldest first."""

    @abstractmethod
    async def organizations(self) -> list[str]:
        """Every organization that has at least one event."""

    @abstractmethod
    async def chain_page(self, organization_id: str, after: int, limit: int,
                         since: datetime | None = None, until: datetime | None = None
                         ) -> list[tuple[int, AuditEvent]]:
        """Up to ``limit`` of the organization's events in chain order, each with its position
        in the chain, starting after position ``after`` (0: from the first). ``since`` is
        inclusive, ``until`` exclusive. Pass the last position back to read on."""


class FlagRepository(ABC):
    @abstractmethod
    async def get(self, name: str) -> Flag | None:
        """The flag, or None."""

    @abstractmethod
    async def save(self, flag: Flag) -> None:
        """Create or replace the flag. Idempotent."""

    @abstractmethod
    async def all(self) -> list[Flag]:
        """Every flag, by name."""


class MessageRepository(ABC):
    @abstractmethod
    async def upsert(self, instance_id: UUID, message: Message) -> bool:
        """Store the message once per (instance, message id); True when it was new."""

    @abstractmethod
    async def set_status(self, instance_id: UUID, message_id: str, status: str) -> bool:
        """Record a delivery status; False when the message is unknown."""

    @abstractmethod
    async def find(self, instance_id: UUID, limit: int, cursor: str | None) -> Page[Message]:
        """The instance's messages, newest first."""


class IdempotencyRepository(ABC):
    @abstractmethod
    async def get(self, scope: str, key: str, not_before: datetime) -> StoredResponse | None:
        """The response stored for (scope, key) at or after ``not_before``, or None."""

    @abstractmethod
    async def put(self, scope: str, key: str, response: StoredResponse,
                  replace_before: datetime) -> None:
        """Keep the first response for (scope, key); one stored before ``replace_before`` has
        expired and is replaced. Raises ``Conflict`` if a live one is stored."""
