"""An organization's webhook secret and its rotation with overlap."""

from __future__ import annotations

from datetime import datetime, timedelta

import attrs


@attrs.define(eq=False)
class Organization:
    id: str
    webhook_secret: str
    previous_secret: str | None = None
    previous_valid_until: datetime | None = None

    def rotate(self, new_secret: str, at: datetime, grace: timedelta) -> datetime:
        """Make ``new_secret`` current; the old one keeps working until the returned time."""
        self.previous_secret = self.webhook_secret
        self.previous_valid_until = at + grace
        self.webhook_secret = new_secret
        return self.previous_valid_until

    def valid_secrets(self, at: datetime) -> tuple[str, ...]:
        if self.previous_secret and self.previous_valid_until and at < self.previous_valid_until:
            return (self.webhook_secret, self.previous_secret)
        return (self.webhook_secret,)
