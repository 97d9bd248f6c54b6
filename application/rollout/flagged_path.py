"""Sliding window of outcomes on the flagged path, behind the rollout's `advance` guard."""

from __future__ import annotations

from collections import deque


class OutcomeWindow:
    """Successes and failures per minute over the last ``minutes``; time comes from callers."""

    def __init__(self, minutes: int = 15) -> None:
        self._minutes = minutes
        self._buckets: deque[tuple[int, int, int]] = deque()  # (minute, ok, failed)

    def record(self, ok: bool, at_s: float) -> None:
        minute = int(at_s // 60)
        self._trim(minute)
        if self._buckets and self._buckets[-1][0] == minute:
            m, good, bad = self._buckets.pop()
        else:
            m, good, bad = minute, 0, 0
        self._buckets.append((m, good + ok, bad + (not ok)))

    def error_rate(self, at_s: float) -> float:
        self._trim(int(at_s // 60))
        good = sum(b[1] for b in self._buckets)
        bad = sum(b[2] for b in self._buckets)
        return bad / (good + bad) if good + bad else 0.0

    def _trim(self, minute: int) -> None:
        while self._buckets and self._buckets[0][0] <= minute - self._minutes:
            self._buckets.popleft()
