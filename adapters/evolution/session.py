from __future__ import annotations

import aiohttp


def create_client_session(pool_size: int, keepalive_s: float = 30.0) -> aiohttp.ClientSession:
    """The one session per process, shared by the Evolution gateway and webhook delivery.

    Call it inside the running loop and close it at shutdown. No session-wide timeout: each
    call sets its own, so a slow webhook receiver cannot eat Evolution's budget.
    """
    connector = aiohttp.TCPConnector(limit=pool_size, limit_per_host=pool_size,
                                     keepalive_timeout=keepalive_s)
    return aiohttp.ClientSession(connector=connector,
                                 timeout=aiohttp.ClientTimeout(total=None))
