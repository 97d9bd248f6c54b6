"""The in-process worker's sign of life, for readiness."""

from __future__ import annotations

import time
from typing import Any


class Heartbeat:
    def __init__(self, stale_after_s: float = 15.0) -> None:
        self._stale_after_s = stale_after_s
        self._last: float | None = None

    def beat(self) -> None:
        self._last = time.monotonic()

    def check(self) -> dict[str, Any]:
        if self._last is None:
            # Not required: with a database the worker may run as `wachannel worker` elsewhere.
            return {"status": "warn", "required": False,
                    "detail": "no worker loop in this process"}
        age = time.monotonic() - self._last
        return {"status": "pass" if age < self._stale_after_s else "fail",
                "last_beat_s_ago": round(age, 2)}
