from __future__ import annotations

import aiohttp

from adapters.evolution.simulation.webhooks import Deliver


def aiohttp_deliverer(session: aiohttp.ClientSession) -> Deliver:
    """Real HTTP for the simulated Evolution's webhooks, over the process's shared session.

    The per-attempt timeout is the simulation's (Evolution's 30 s, scaled), not set here.
    """

    async def deliver(url: str, headers: dict[str, str], body: bytes) -> int:
        # auto_decompress off: the answer body is never read, like axios ignoring it.
        async with session.post(url, data=body, headers=headers,
                                auto_decompress=False) as response:
            return response.status

    return deliver
