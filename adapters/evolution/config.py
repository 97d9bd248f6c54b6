from __future__ import annotations

import attrs


@attrs.frozen
class EvolutionHttpConfig:
    base_url: str = attrs.field(converter=lambda url: str(url).rstrip("/"))
    api_key: str = attrs.field(repr=False)  # the global AUTHENTICATION_API_KEY
    connect_timeout_s: float = 2.0
    request_timeout_s: float = 10.0
    # connect and restart: Evolution itself waits a fixed 2 s for the first QR before answering.
    qr_timeout_s: float = 5.0
    retry_attempts: int = 3       # total attempts for idempotent calls, the first included
    retry_start_s: float = 0.1
    retry_max_s: float = 1.0
    breaker_failure_threshold: int = 5
    breaker_open_s: float = 30.0
