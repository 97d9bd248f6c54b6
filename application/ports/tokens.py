from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from typing import Any


class JwtCodec(ABC):
    """HS256 JSON Web Tokens."""

    @abstractmethod
    def encode(self, claims: Mapping[str, Any], secret: str) -> str:
        """Sign ``claims`` with ``secret``."""

    @abstractmethod
    def decode(self, token: str, secret: str, leeway_s: float = 0) -> Mapping[str, Any] | None:
        """The claims if the signature verifies and ``exp`` (required) is not older than the
        leeway; None otherwise. Never raises for a bad token."""
