from __future__ import annotations

import asyncio
import json
from collections import Counter, deque
from collections.abc import Mapping
from typing import Any

from adapters.evolution.endpoints import Endpoint
from adapters.evolution.gateway import EvolutionApiGateway
from adapters.evolution.simulation import Deliver, EvolutionSimulation, SimulationSettings
from adapters.evolution.simulation.controls import SimulationControls
from application.errors import ApplicationError, UpstreamError, UpstreamTimeout, UpstreamUnavailable

_FAILURES = {"unavailable": lambda: UpstreamUnavailable("Evolution is down (simulated)"),
             "timeout": lambda: UpstreamTimeout("Evolution did not answer (simulated)"),
             "error": lambda: UpstreamError("Evolution refused (simulated)")}


class _SimulationTransport:
    def __init__(self, sim: EvolutionSimulation) -> None:
        self.sim = sim
        self.calls: Counter[str] = Counter()
        self.down = False
        self.latency_s = 0.0
        self.failures: deque[ApplicationError] = deque()

    async def call(self, endpoint: Endpoint, instance: str | None, apikey: str,
                   body: Any = None, query: Mapping[str, str] | None = None) -> Any:
        self.calls[endpoint.name] += 1
        if self.latency_s:
            await asyncio.sleep(self.latency_s)
        if self.down:
            raise _FAILURES["unavailable"]()
        if self.failures:
            raise self.failures.popleft()
        # Through JSON both ways, as over the wire: nobody shares mutable state with Evolution.
        answer = await self.sim.dispatch(endpoint, instance, apikey, _wire(body), query)
        return _wire(answer)


def _wire(value: Any) -> Any:
    return None if value is None else json.loads(json.dumps(value))


class FakeEvolutionGateway(EvolutionApiGateway, SimulationControls):
    """Evolution v2 in process: the embedded default when no Evolution is configured, and the
    fake for unit tests. It runs the same simulation as the fake HTTP server and the same
    request/answer mapping as the HTTP transport's gateway; only the HTTP hop is skipped.

    Shortcuts: no circuit breakers or retries; ``connect`` on a closed instance answers at once
    (Evolution holds it 2 s) so it is PENDING until the first QR, ``first_qr_s`` later; state
    changes (scan, logout, delete) are immediate and only their webhooks are asynchronous; QR
    images are real PNGs of the code; a scan needs a QR on screen and opens at once. Webhooks go
    through ``deliver`` (none sent when it is None) with Evolution's envelope, JWT and retries.

    Options are ``SimulationSettings`` fields (``first_qr_s``, ``qr_refresh_s``, ``qr_limit``,
    ``autoscan_s``, ``time_scale``, ``tz_offset``, ...); ``api_key`` is the global key.
    """

    def __init__(self, deliver: Deliver | None = None, *, api_key: str = "fake-evolution-key",
                 latency_s: float = 0.0, server_url: str | None = "http://localhost:8080",
                 **options: Any) -> None:
        options.setdefault("connect_wait_s", 0.0)
        settings = SimulationSettings(global_key=api_key, **options)
        self.sim = EvolutionSimulation(settings, deliver, server_url)
        self._fake = _SimulationTransport(self.sim)
        self._fake.latency_s = latency_s
        super().__init__(self._fake, api_key)

    @property
    def down(self) -> bool:
        """While true every call raises ``UpstreamUnavailable``."""
        return self._fake.down

    @down.setter
    def down(self, value: bool) -> None:
        self._fake.down = value

    @property
    def latency_s(self) -> float:
        return self._fake.latency_s

    @latency_s.setter
    def latency_s(self, value: float) -> None:
        self._fake.latency_s = value

    @property
    def calls(self) -> Counter[str]:
        """Calls per endpoint name (``instance_connect``...), failed ones included."""
        return self._fake.calls

    def fail_next(self, kind: str = "unavailable", times: int = 1) -> None:
        """The next ``times`` calls raise: ``unavailable``, ``timeout`` or ``error``."""
        self._fake.failures.extend(_FAILURES[kind]() for _ in range(times))

    async def close(self) -> None:
        """Cancel every timer and pending webhook."""
        await self.sim.close()
