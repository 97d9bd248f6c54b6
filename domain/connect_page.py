"""What the connect page's A/B test counts: how often each layout is seen and how it ends."""

from __future__ import annotations

import enum
from collections.abc import Mapping


class PageOutcome(enum.StrEnum):
    VIEW = "view"
    CONNECTED = "connected"
    TIMEOUT = "timeout"
    ERROR = "error"


def rates(counts: Mapping[str, int]) -> dict[str, float | None]:
    """Each ending as a share of views (None before any view)."""
    views = counts.get(PageOutcome.VIEW, 0)
    return {str(o): (round(counts.get(o, 0) / views, 4) if views else None)
            for o in PageOutcome if o is not PageOutcome.VIEW}
