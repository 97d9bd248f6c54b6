from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import jwt

from application.ports.tokens import JwtCodec


class PyJwtCodec(JwtCodec):
    """HS256 only: a token naming another algorithm (``none`` included) never verifies."""

    def encode(self, claims: Mapping[str, Any], secret: str) -> str:
        return jwt.encode(dict(claims), secret, algorithm="HS256")

    def decode(self, token: str, secret: str, leeway_s: float = 0) -> Mapping[str, Any] | None:
        try:
            claims: Mapping[str, Any] = jwt.decode(
                token, secret, algorithms=["HS256"], leeway=leeway_s,
                options={"require": ["exp"]})
        except (jwt.PyJWTError, ValueError, TypeError):  # malformed input of any kind
            return None
        return claims
