"""Per-key token buckets; pure bookkeeping, time supplied by the caller."""

from __future__ import annotations

import math


class TokenBuckets:
    def __init__(self, rate_per_s: float, burst: float | None = None,
                 max_keys: int = 100_000) -> None:
        self._rate = rate_per_s
        self._burst = burst if burst is not None else max(1.0, rate_per_s)
        self._state: dict[str, tuple[float, float]] = {}
        self._max_keys = max_keys

    def take(self, key: str, now: float) -> float:
        """0 when a token was taken, else the seconds until one is available."""
        tokens, last = self._state.get(key, (self._burst, now))
        tokens = min(self._burst, tokens + (now - last) * self._rate)
        if tokens >= 1:
            self._remember(key, (tokens - 1, now))
            return 0.0
        self._remember(key, (tokens, now))
        return (1 - tokens) / self._rate if self._rate > 0 else math.inf

    def _remember(self, key: str, value: tuple[float, float]) -> None:
        if key not in self._state and len(self._state) >= self._max_keys:
            self._state.clear()  # bounded memory beats exactness under a key flood
        self._state[key] = value
