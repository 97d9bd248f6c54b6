from __future__ import annotations

from collections import Counter

from application.ports.connect_page import ConnectPageCounts
from domain.connect_page import PageOutcome


class InMemoryConnectPageCounts(ConnectPageCounts):
    """The embedded default's counts: one process, lost on exit like the rest of its store."""

    def __init__(self) -> None:
        self._counts: Counter[tuple[str, str, str]] = Counter()

    async def add(self, flag: str, variant: str, outcome: PageOutcome) -> None:
        self._counts[flag, variant, str(outcome)] += 1

    async def summary(self, flag: str) -> dict[str, dict[str, int]]:
        found: dict[str, dict[str, int]] = {}
        for (name, variant, outcome), count in sorted(self._counts.items()):
            if name == flag:
                found.setdefault(variant, {})[outcome] = count
        return found
