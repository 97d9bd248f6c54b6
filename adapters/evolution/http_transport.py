from __future__ import annotations

import asyncio
import json
import math
import random
import time
from collections.abc import Mapping
from typing import Any

import aiohttp
import structlog
from aiohttp_retry import ExponentialRetry, RetryClient

from adapters.evolution.circuit_breaker import BreakerBoard
from adapters.evolution.config import EvolutionHttpConfig
from adapters.evolution.endpoints import Endpoint, EvolutionRefusal
from adapters.evolution.observer import EvolutionObserver
from application.errors import UpstreamTimeout, UpstreamUnavailable
from application.ports.system import Clock

log = structlog.get_logger(__name__)

_jitter = random.SystemRandom()
# Only failures where the request surely did no harm, or the call is idempotent anyway. Timeouts
# are not retried: a slow Evolution gets no extra load and the caller's deadline holds.
_RETRY_ON_EXCEPTIONS = {aiohttp.ClientOSError, aiohttp.ServerDisconnectedError}
_RETRY_ON_STATUSES = {502, 503, 504}  # a 500 from Evolution is a deterministic TypeError


class _JitteredBackoff(ExponentialRetry):
    def get_timeout(self, attempt: int, response: aiohttp.ClientResponse | None = None) -> float:
        # aiohttp-retry counts from 1; the first wait should be ``start_timeout``.
        return super().get_timeout(attempt - 1, response) * _jitter.uniform(0.5, 1.0)


class HttpTransport:
    """Evolution v2 over HTTP through the process's shared ``aiohttp.ClientSession``.

    The session is borrowed, never closed here. Idempotent calls (connectionState,
    fetchInstances, webhook/find, the root check) are retried with jittered exponential backoff;
    create, connect, restart, logout and delete never are. Calls pass a circuit for Evolution as
    a whole and one for the instance; an open one fails fast with ``UpstreamUnavailable``.
    """

    def __init__(self, session: aiohttp.ClientSession, config: EvolutionHttpConfig, *,
                 observer: EvolutionObserver, clock: Clock) -> None:
        self._session = session
        self._config = config
        self._observer = observer
        # aiohttp hands a freed pooled connection to whichever request asks next, ahead of
        # those already queued for one; under load some calls then waited hundreds of ms while
        # newer ones passed. A FIFO semaphore as wide as the pool queues calls in arrival order
        # before they reach the connector, which then never has to queue anything. A retried
        # call keeps its slot through its backoff: retries are rare, and a slot given up there
        # would send it to the back of the line.
        limit = session.connector.limit if session.connector is not None else 0
        self._slots = asyncio.Semaphore(limit) if limit else None
        self._in_use = 0
        self.breakers = BreakerBoard(config.breaker_failure_threshold, config.breaker_open_s,
                                     clock=clock, on_change=observer.circuit_changed)
        backoff = _JitteredBackoff(
            attempts=config.retry_attempts, start_timeout=config.retry_start_s,
            max_timeout=config.retry_max_s, statuses=_RETRY_ON_STATUSES,
            exceptions=_RETRY_ON_EXCEPTIONS, retry_all_server_errors=False)
        # Wraps the shared session without owning it: never close this client.
        self._retrying = RetryClient(client_session=session, retry_options=backoff)
        self._timeouts = {
            # ceil_threshold: aiohttp would round a 5 s timeout up to the next whole second,
            # letting the caller's own deadline fire first and the failure go uncounted.
            qr: aiohttp.ClientTimeout(total=config.qr_timeout_s if qr else config.request_timeout_s,
                                      sock_connect=config.connect_timeout_s,
                                      ceil_threshold=math.inf)
            for qr in (False, True)}

    async def call(self, endpoint: Endpoint, instance: str | None, apikey: str,
                   body: Any = None, query: Mapping[str, str] | None = None) -> Any:
        try:
            permit = self.breakers.admit(instance)
        except UpstreamUnavailable:
            self._observer.request_finished(endpoint.name, "circuit_open", 0.0)
            raise
        started, outcome, failed = time.perf_counter(), "cancelled", None
        try:
            status, payload = await self._exchange(endpoint, instance, apikey, body, query)
            outcome, failed = _verdict(status)
        except TimeoutError as e:
            outcome, failed = "timeout", True
            raise UpstreamTimeout(f"Evolution did not answer {endpoint.name} in time") from e
        except aiohttp.ClientError as e:
            outcome, failed = "unavailable", True
            raise UpstreamUnavailable(f"Evolution unreachable: {type(e).__name__}") from e
        finally:
            permit.settle(failed)
            self._finished(endpoint, instance, outcome, time.perf_counter() - started)
        if status >= 400:
            raise EvolutionRefusal(status, payload)
        return payload

    async def _exchange(self, endpoint: Endpoint, instance: str | None, apikey: str, body: Any,
                        query: Mapping[str, str] | None) -> tuple[int, Any]:
        url = self._config.base_url + endpoint.url_path(instance)
        options: dict[str, Any] = {"headers": {"apikey": apikey}, "params": query,
                                   "timeout": self._timeouts[endpoint.waits_for_qr]}
        if body is not None:
            options["json"] = body
        client = self._retrying if endpoint.idempotent else self._session
        # One deadline for the wait in line and the call, as aiohttp's own total would be.
        async with asyncio.timeout(options["timeout"].total):
            if self._slots is not None:
                await self._slots.acquire()
            self._in_use += 1
            try:
                async with client.request(endpoint.method, url, **options) as response:
                    return response.status, _decode(await response.read())
            finally:
                self._in_use -= 1
                if self._slots is not None:
                    self._slots.release()

    def _finished(self, endpoint: Endpoint, instance: str | None, outcome: str,
                  seconds: float) -> None:
        self._observer.request_finished(endpoint.name, outcome, seconds)
        if outcome not in ("ok", "refused"):
            # No body, headers or URL query: they can carry tokens, QR codes and numbers.
            log.warning("evolution_request_failed", endpoint=endpoint.name, instance=instance,
                        outcome=outcome, seconds=round(seconds, 3))

    def pool_in_use(self) -> int:
        """Evolution calls holding one of the pool's connections right now."""
        return self._in_use


def _verdict(status: int) -> tuple[str, bool]:
    """Outcome name and whether it counts against the circuits (only 5xx: a 4xx is an answer)."""
    if status < 400:
        return "ok", False
    if status < 500:
        return "refused", False
    return "server_error", True


def _decode(raw: bytes) -> Any:
    try:
        return json.loads(raw) if raw else None
    except ValueError:
        return raw.decode("utf-8", "replace")
