"""structlog JSON logs with request ids, and a redaction step no secret gets past."""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import Mapping, MutableMapping
from typing import Any

import structlog

REDACTED = "[redacted]"
_SENSITIVE_KEY = re.compile(
    r"secret|token|apikey|api_key|authorization|password|jwt|signature|cookie|phone|"
    r"remote_?jid|wuid|text|body|message|conversation|caption|push_?name|qr|code|base64|"
    r"pairing|dsn|database_url", re.I)
# Values that look like credentials or phone numbers, wherever they appear.
_SENSITIVE_VALUE = re.compile(
    r"(?i)bearer\s+[\w\-.~+/]+=*|eyJ[\w-]+\.[\w-]+\.[\w-]*|"
    r"\+?\(?\d[\d\s\-()]{7,}\d|postgres(?:ql)?://\S+")
# Written by this service itself, never carrying caller data: kept exactly as they are.
_TRUSTED_KEYS = frozenset({"level", "timestamp", "logger", "request_id", "org_id",
                           "status", "status_code", "method", "path", "route", "instance_id",
                           "event_id", "duration_ms", "alert"})


def _scrub(key: str, value: Any) -> Any:
    """Redact by key name, then inside values, however deeply nested."""
    if key in _TRUSTED_KEYS:
        return value
    if key != "event" and _SENSITIVE_KEY.search(key):  # the event's name, scrubbed below
        return REDACTED
    if isinstance(value, str):
        return _SENSITIVE_VALUE.sub(REDACTED, value)
    if isinstance(value, Mapping):
        return {k: _scrub(str(k), v) for k, v in value.items()}
    if isinstance(value, list | tuple | set):
        return [_scrub("", v) for v in value]
    return value


def redact(_: Any, __: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    for key, value in list(event.items()):
        event[key] = _scrub(key, value)
    return event


def configure_logging(level: str = "info", stream: Any = None) -> None:
    """One JSON line per event, for structlog and standard-library loggers (aiohttp, asyncpg)
    alike, and the same redaction for both."""
    out = stream or sys.stdout
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    handler = logging.StreamHandler(out)
    handler.setFormatter(structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=shared,
        processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                    structlog.processors.format_exc_info, redact,
                    structlog.processors.JSONRenderer()]))
    logging.basicConfig(handlers=[handler], level=level.upper(), force=True)
    structlog.configure(
        processors=[*shared, structlog.processors.format_exc_info, redact,
                    structlog.processors.JSONRenderer()],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level.upper())),
        logger_factory=structlog.PrintLoggerFactory(out),
        cache_logger_on_first_use=False,
    )
