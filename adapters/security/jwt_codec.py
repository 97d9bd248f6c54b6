from __future__ import annotations

import hashlib
import secrets
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from typing import Any

import jwt

from application.ports.tokens import JwtCodec


class PyJwtCodec(JwtCodec):
    """HS256 only: a token naming another algorithm (``none`` included) never verifies.

    A token that verified is remembered until its ``exp``: the same admin token arrives with
    every request and Evolution reuses one webhook token for ten minutes, and checking the
    signature again would cost a tenth of a millisecond each time for the same answer.
    Entries are found by a digest, keyed with a per-process random key, of secret, token and
    leeway: only a token that verified under that very secret finds one, so lookups teach a
    forger nothing, and a rotated secret never meets an entry made under the old one.
    Failures are never remembered: a flood of forged tokens cannot push out the genuine ones.
    """

    def __init__(self, cache_size: int = 4096,
                 wall_clock: Callable[[], float] = time.time) -> None:
        self._cache_size = cache_size
        self._now = wall_clock
        self._digest_key = secrets.token_bytes(32)
        self._verified: OrderedDict[bytes, tuple[dict[str, Any], float]] = OrderedDict()

    def encode(self, claims: Mapping[str, Any], secret: str) -> str:
        return jwt.encode(dict(claims), secret, algorithm="HS256")

    def decode(self, token: str, secret: str, leeway_s: float = 0) -> Mapping[str, Any] | None:
        try:
            key = self._entry_key(token, secret, leeway_s)
        except UnicodeEncodeError:
            return None  # no HS256 token holds an unpaired surrogate
        found = self._verified.get(key)
        if found is not None:
            claims, exp = found
            if exp > self._now() - leeway_s:  # PyJWT's own rule for an expired token
                self._verified.move_to_end(key)
                return dict(claims)
            del self._verified[key]
        try:
            claims = jwt.decode(token, secret, algorithms=["HS256"], leeway=leeway_s,
                                options={"require": ["exp"]})
        except (jwt.PyJWTError, ValueError, TypeError):  # malformed input of any kind
            return None
        self._remember(key, claims)
        return dict(claims)

    def _entry_key(self, token: str, secret: str, leeway_s: float) -> bytes:
        digest = hashlib.blake2b(key=self._digest_key, digest_size=32)
        for part in (secret.encode(), token.encode(), repr(float(leeway_s)).encode()):
            digest.update(len(part).to_bytes(4, "big"))
            digest.update(part)
        return digest.digest()

    def _remember(self, key: bytes, claims: dict[str, Any]) -> None:
        try:
            exp = float(claims["exp"])
        except (TypeError, ValueError):  # PyJWT accepted it as an int-like string: not worth it
            return
        if self._cache_size <= 0:
            return
        self._verified[key] = (claims, exp)
        if len(self._verified) > self._cache_size:
            self._verified.popitem(last=False)
