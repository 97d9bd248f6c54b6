"""structlog JSON logs with request ids, and a redaction step no secret gets past."""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import MutableMapping
from typing import Any

import structlog

REDACTED = "[redacted]"
_SENSITIVE_KEY = re.compile(
    r"secret|token|apikey|api_key|authorization|password|jwt|signature|cookie|phone|"
    r"remote_jid|wuid|text|body|qr|code|base64|pairing|dsn|database_url", re.I)
# Values that look like credentials or phone numbers, wherever they appear.
_SENSITIVE_VALUE = re.compile(
    r"(?i)bearer\s+[\w\-.~+/]+=*|eyJ[\w-]+\.[\w-]+\.[\w-]*|\+?\d[\d\s\-]{9,}\d|"
    r"postgres(?:ql)?://\S+")
_SAFE_KEYS = frozenset({"event", "level", "timestamp", "logger", "request_id", "org_id",
                        "status", "status_code", "method", "path", "route", "instance_id",
                        "event_id", "duration_ms", "error", "alert", "state", "outcome"})


def redact(_: Any, __: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    for key, value in list(event.items()):
        if key not in _SAFE_KEYS and _SENSITIVE_KEY.search(key):
            event[key] = REDACTED
        elif isinstance(value, str):
            event[key] = _SENSITIVE_VALUE.sub(REDACTED, value)
    return event


def configure_logging(level: str = "info", stream: Any = None) -> None:
    logging.basicConfig(format="%(message)s", stream=stream or sys.stdout,
                        level=level.upper(), force=True)
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,
            redact,
            structlog.processors.JSONRenderer(),
        ],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level.upper())),
        logger_factory=structlog.PrintLoggerFactory(stream or sys.stdout),
        cache_logger_on_first_use=False,
    )
