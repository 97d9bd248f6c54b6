from __future__ import annotations

import asyncpg

from adapters.postgres.db import translated
from application.ports.connect_page import ConnectPageCounts
from domain.connect_page import PageOutcome

_ADD = ("INSERT INTO connect_page_counts (flag, variant, outcome, count) VALUES ($1, $2, $3, 1) "
        "ON CONFLICT (flag, variant, outcome) DO UPDATE "
        "SET count = connect_page_counts.count + 1")
_SUMMARY = ("SELECT variant, outcome, count FROM connect_page_counts WHERE flag = $1 "
            "ORDER BY variant, outcome")


class AsyncpgConnectPageCounts(ConnectPageCounts):
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def add(self, flag: str, variant: str, outcome: PageOutcome) -> None:
        with translated():
            await self._pool.execute(_ADD, flag, variant, str(outcome))

    async def summary(self, flag: str) -> dict[str, dict[str, int]]:
        with translated():
            rows = await self._pool.fetch(_SUMMARY, flag)
        found: dict[str, dict[str, int]] = {}
        for row in rows:
            found.setdefault(row["variant"], {})[row["outcome"]] = int(row["count"])
        return found
