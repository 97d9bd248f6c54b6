"""Opaque keyset cursors shared by every repository, so pages stay stable under inserts."""

from __future__ import annotations

import base64
import binascii

from application.errors import ValidationFailed
from domain.text import is_storable

MAX_LIMIT = 200
DEFAULT_LIMIT = 50


def encode_cursor(*parts: str) -> str:
    return base64.urlsafe_b64encode("|".join(parts).encode()).decode().rstrip("=")


def decode_cursor(cursor: str, arity: int) -> list[str]:
    """Raise ``ValidationFailed`` for a cursor this service did not issue."""
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        parts = base64.urlsafe_b64decode(padded.encode()).decode().split("|")
    except (binascii.Error, UnicodeDecodeError, ValueError) as exc:
        raise ValidationFailed({"cursor": ["is not a cursor this service issued"]}) from exc
    if len(parts) != arity or not all(is_storable(part) for part in parts):
        raise ValidationFailed({"cursor": ["is not a cursor this service issued"]})
    return parts
