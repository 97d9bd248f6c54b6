"""Helpers of the backup drills: Evolution's own HTTP API (as an operator or a disaster would
use it), our backup routes, and the store's tables read and cut over a real connection."""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp
import asyncpg

from tests.e2e.conftest import Evolution
from tests.e2e.support import INSTANCES, bearer, eventually


async def evolution_call(http: aiohttp.ClientSession, evolution: Evolution, method: str,
                         path: str, body: Any = None) -> tuple[int, Any]:
    async with http.request(method, f"{evolution.url}{path}", json=body,
                            headers={"apikey": evolution.key}) as response:
        return response.status, await response.json()


async def evolution_names(http: aiohttp.ClientSession, evolution: Evolution) -> set[str]:
    status, rows = await evolution_call(http, evolution, "GET", "/instance/fetchInstances")
    assert status == 200, rows
    return {row["name"] for row in rows}


async def lose_everything(http: aiohttp.ClientSession, evolution: Evolution, dsn: str,
                          base_url: str, token: str, created: list[dict[str, Any]]) -> None:
    """The disaster: every instance deleted at Evolution, then our rows and organizations gone.

    Our rows go only after the service heard Evolution's removals, so that no late
    ``REMOVE_INSTANCE`` can land on an instance the restore brings back.
    """
    names = [c["instance"]["evolution_name"] for c in created]
    for chunk in range(0, len(names), 25):
        answers = await asyncio.gather(*(evolution_call(
            http, evolution, "DELETE", f"/instance/delete/{n}") for n in names[chunk:chunk + 25]))
        assert all(status == 200 for status, _ in answers), answers
    await evolution.server.wait_deliveries()

    async def all_deleted() -> bool:
        conn = await asyncpg.connect(dsn)
        try:
            left = await conn.fetchval("SELECT count(*) FROM instances WHERE state <> 'deleted'")
            pending = await conn.fetchval(
                "SELECT count(*) FROM webhook_inbox WHERE status IN ('pending', 'processing')")
        finally:
            await conn.close()
        return bool(left == 0 and pending == 0)

    await eventually(all_deleted, 30, "the service heard every removal")
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute("DELETE FROM instances")
        await conn.execute("DELETE FROM organizations")
    finally:
        await conn.close()
    async with http.get(f"{base_url}{INSTANCES}", headers=bearer(token)) as response:
        assert (await response.json())["items"] == []


async def post_json(http: aiohttp.ClientSession, url: str, token: str, body: Any = None
                    ) -> tuple[int, Any]:
    async with http.post(url, headers=bearer(token), json=body) as response:
        return response.status, await response.json()
