"""Keyset cursors over (timestamp, key) pairs, shared by the storage adapters."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import TypeVar
from uuid import UUID

from application.errors import ValidationFailed
from application.pagination import decode_cursor, encode_cursor
from application.ports.repositories import Page

T = TypeVar("T")
# Where rows without a time of their own sort (oldest first), in every adapter alike.
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_BAD = {"cursor": ["is not a cursor this service issued"]}


def encode(at: datetime, key: object) -> str:
    return encode_cursor(at.isoformat(), str(key))


def decode(cursor: str) -> tuple[datetime, str]:
    """Raise ``ValidationFailed`` for a cursor this service did not issue."""
    at, key = decode_cursor(cursor, 2)
    try:
        parsed = datetime.fromisoformat(at)
    except ValueError as exc:
        raise ValidationFailed(_BAD) from exc
    if parsed.tzinfo is None:
        raise ValidationFailed(_BAD)
    return parsed, key


def decode_uuid(cursor: str) -> tuple[datetime, UUID]:
    at, key = decode(cursor)
    try:
        return at, UUID(key)
    except ValueError as exc:
        raise ValidationFailed(_BAD) from exc


def page_of(rows: Sequence[T], limit: int, cursor_of: Callable[[T], str]) -> Page[T]:
    """Build a page from up to ``limit + 1`` rows: the extra row only proves there is more."""
    items = list(rows[:limit])
    more = len(rows) > limit and bool(items)
    return Page(items, cursor_of(items[-1]) if more else None)
