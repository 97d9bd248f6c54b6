from __future__ import annotations

import secrets
import time
import uuid
from datetime import UTC, datetime

from application.ports.system import Clock, IdGenerator


class SystemClock(Clock):
    def now(self) -> datetime:
        return datetime.now(UTC)

    def monotonic(self) -> float:
        return time.monotonic()


class RandomIdGenerator(IdGenerator):
    def uuid(self) -> uuid.UUID:
        return uuid.uuid4()

    def secret(self) -> str:
        return secrets.token_urlsafe(32)

    def hex8(self) -> str:
        return secrets.token_hex(4)
