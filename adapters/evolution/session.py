from __future__ import annotations

import ssl

import aiohttp


def create_client_session(pool_size: int, keepalive_s: float = 30.0) -> aiohttp.ClientSession:
    """The one session per process, shared by the Evolution gateway and webhook delivery.

    Call it inside the running loop and close it at shutdown. No session-wide timeout: each
    call sets its own, so a slow webhook receiver cannot eat Evolution's budget.
    """
    # Evolution's certificate and host name are verified against the system's trust store,
    # spelled out so that no default can quietly turn it off.
    verified = ssl.create_default_context(ssl.Purpose.SERVER_AUTH)
    connector = aiohttp.TCPConnector(limit=pool_size, limit_per_host=pool_size,
                                     keepalive_timeout=keepalive_s, ssl=verified)
    return aiohttp.ClientSession(connector=connector,
                                 timeout=aiohttp.ClientTimeout(total=None))
