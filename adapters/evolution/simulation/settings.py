from __future__ import annotations

from datetime import timedelta

import attrs


@attrs.frozen
class RetryPolicy:
    """Evolution 2.3's webhook retry defaults (WEBHOOK_RETRY_* variables)."""

    max_attempts: int = 10
    initial_delay_s: float = 5.0
    max_delay_s: float = 300.0
    jitter: float = 0.2
    non_retryable: frozenset[int] = frozenset({400, 401, 403, 404, 422})
    attempt_timeout_s: float = 30.0  # WEBHOOK_REQUEST_TIMEOUT_MS in the code (60 s in Docker)

    def delay_s(self, failed_attempt: int, spread: float) -> float:
        """Wait after attempt ``failed_attempt`` (1-based); ``spread`` is uniform in [-1, 1]."""
        delay = min(self.initial_delay_s * 2 ** (failed_attempt - 1), self.max_delay_s)
        delay += delay * self.jitter * spread
        return max(self.initial_delay_s, delay)


@attrs.frozen
class SimulationSettings:
    """Evolution's behaviour knobs. Every duration is multiplied by ``time_scale``."""

    global_key: str = "fake-evolution-key"
    time_scale: float = 1.0
    first_qr_s: float = 1.5
    qr_refresh_s: float = 45.0        # Evolution passes qrTimeout 45_000 to Baileys
    qr_limit: int = 30                # QRCODE_LIMIT
    qr_batch: int = 6                 # refs per socket before Baileys' silent reconnect
    connect_wait_s: float = 2.0       # /connect on a closed instance holds the answer this long
    create_qr_wait_s: float = 5.0     # create with "qrcode": true
    autoscan_s: float | None = None   # scan by itself this long after the first QR
    tz_offset: timedelta = timedelta(hours=-3)  # date_time is local time labelled Z
    expose_apikey: bool = True        # AUTHENTICATION_EXPOSE_IN_FETCH_INSTANCES
    client_name: str = "evolution_exchange"
    scan_number: str = "5511912345678"
    scan_profile_name: str = "Acme Vendas"
    retry: RetryPolicy = RetryPolicy()

    def scaled(self, seconds: float) -> float:
        return seconds * self.time_scale
