from __future__ import annotations

import time

import aiohttp

from adapters.evolution.api_gateway import EvolutionApiGateway
from adapters.evolution.circuit_breaker import BreakerBoard, Clock
from adapters.evolution.config import EvolutionHttpConfig
from adapters.evolution.http_transport import HttpTransport
from adapters.evolution.observer import EvolutionObserver, NullObserver

__all__ = ["EvolutionHttpConfig", "HttpEvolutionGateway"]


class HttpEvolutionGateway(EvolutionApiGateway):
    """Evolution v2 over HTTP through the process's shared ``aiohttp.ClientSession``.

    The session is borrowed, never closed here. Idempotent calls (connectionState,
    fetchInstances, webhook/find, the root check) are retried with jittered exponential backoff;
    create, connect, restart, logout and delete never are. Calls pass a circuit for Evolution as
    a whole and one for the instance; an open one fails fast with ``UpstreamUnavailable``.
    """

    def __init__(self, session: aiohttp.ClientSession, config: EvolutionHttpConfig,
                 observer: EvolutionObserver | None = None,
                 clock: Clock = time.monotonic) -> None:
        self._http = HttpTransport(session, config, observer or NullObserver(), clock)
        super().__init__(self._http, config.api_key)

    @property
    def breakers(self) -> BreakerBoard:
        return self._http.breakers

    def pool_in_use(self) -> int:
        """Evolution calls holding one of the pool's connections right now."""
        return self._http.pool_in_use()
