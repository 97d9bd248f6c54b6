"""Configuration (API.md section 11), read once from the environment into a frozen object.

This is the only module that reads ``os.environ``. A bad value stops start-up with one line
naming the variable.
"""

from __future__ import annotations

import base64
import binascii
import os
import re
from collections.abc import Callable, Mapping
from datetime import date
from typing import Any, TypeVar

import attrs

T = TypeVar("T")
DEV_JWT_SECRET = "wachannel-development-only-jwt-secret-change-me"  # noqa: S105 (dev default)
DEV_ENCRYPTION_KEY = "d2FjaGFubmVsLWRldmVsb3BtZW50LW9ubHkta2V5ISE="  # 32 bytes, dev only


class ConfigError(Exception):
    """One line naming the variable and what is wrong with it."""


@attrs.frozen
class Settings:
    app_env: str
    host: str
    port: int
    public_base_url: str
    metrics_port: int | None
    database_url: str | None
    database_pool_size: int
    evolution_adapter: str
    evolution_base_url: str | None
    evolution_api_key: str | None
    evolution_pool_size: int
    evolution_cache_ttl_s: float
    evolution_breaker_failures: int
    evolution_breaker_open_s: float
    auth_jwt_secret: str
    data_encryption_key: str
    data_encryption_old_keys: tuple[str, ...]
    max_instances_per_org: int
    legacy_sunset_date: date
    qr_timeout_ms: int
    qr_refresh_s: float
    qr_stream_max_s: float
    qr_stream_ping_s: float
    qr_streams_per_org: int
    webhook_jwt_leeway_s: float
    webhook_secret_grace_s: float
    webhook_dev_bypass: bool
    webhook_rate_per_org: float
    webhook_process_timeout_ms: int
    webhook_max_attempts: int
    webhook_inbox_retention_days: int
    rollout_initial_percentage: int
    rollout_max_error_rate: float
    fake_evolution_autoscan_s: float | None
    fake_evolution_time_scale: float
    audit_retention_days: int
    alert_cooldown_s: float
    http_header_timeout_s: float
    http_body_timeout_s: float
    shutdown_grace_s: float
    shutdown_drain_s: float
    log_level: str
    # Defaults keep the pages' settings out of every other group's constructor calls.
    connect_frame_ancestors: tuple[str, ...] = ()
    connect_link_ttl_s: float = 900
    # How often the dashboard's sampler reads the telemetry (one chart point each time).
    monitoring_sample_s: float = 5.0
    # Alerts: thresholds of API.md 10 and the channels (URLs may hold secrets: never echoed).
    alert_qr_consecutive_failures: int = 5
    alert_api_response_ms: float = 10_000
    alert_webhook_processing_ms: float = 5_000
    alert_silence_s: float = 3_600
    slack_webhook_url: str | None = None
    smtp_url: str | None = None
    alert_email: str | None = None
    alert_email_from: str = "wachannel@localhost"
    sms_webhook_url: str | None = None
    alert_phone: str | None = None
    # Backups and sync (docs/operations.md, the backup runbook).
    backup_dir: str | None = None
    backup_interval_s: float = 86_400
    backup_retention_count: int = 14
    sync_interval_s: float = 3_600
    # Operations core: the leader's health sweep, the workers' heartbeat, TLS.
    health_sweep_s: float = 60.0
    worker_stale_s: float = 15.0
    tls_cert_file: str | None = None
    tls_key_file: str | None = None
    allow_plain_http: bool = False
    operations_metrics: bool = True

    @property
    def embedded(self) -> bool:
        """No database: the in-memory store, with the worker running inside ``serve``."""
        return self.database_url is None

    @property
    def production(self) -> bool:
        return self.app_env == "production"


def load_settings(env: Mapping[str, str] | None = None) -> Settings:
    e = _Env(os.environ if env is None else env)
    app_env = e.choice("APP_ENV", ("development", "staging", "production"), "development")
    settings = Settings(app_env=app_env, **_server(e, app_env), **_storage(e),
                        **_evolution(e), **_secrets(e, app_env), **_qr(e), **_webhooks(e),
                        **_rollout(e, app_env), **_operations(e), **_pages(e),
                        **_alerts(e), **_operations_core(e))
    _check(settings)
    _check_transport(settings)
    return settings


# Each group reads the variables of one part of API.md section 11.

def _server(e: _Env, app_env: str) -> dict[str, Any]:
    port = e.integer("PORT", 8080, 1, 65535)
    return {
        # Development runs with a published JWT secret: reachable from this machine only.
        "host": e.text("HOST") or ("127.0.0.1" if app_env == "development"
                                   else "0.0.0.0"),  # noqa: S104
        "port": port,
        "public_base_url": (e.url("PUBLIC_BASE_URL") or f"http://127.0.0.1:{port}").rstrip("/"),
        "metrics_port": e.integer("METRICS_PORT", None, 1, 65535),
        "http_header_timeout_s": e.number("HTTP_HEADER_TIMEOUT_S", 10, 0.5, 3600),
        "http_body_timeout_s": e.number("HTTP_BODY_TIMEOUT_S", 30, 0.5, 3600),
        "shutdown_grace_s": e.number("SHUTDOWN_GRACE_S", 30, 1, 3600),
        "shutdown_drain_s": e.number("SHUTDOWN_DRAIN_S", 2, 0, 600),
        "legacy_sunset_date": e.parse("LEGACY_SUNSET_DATE", date.fromisoformat,
                                      date(2027, 6, 30)),
    }


def _storage(e: _Env) -> dict[str, Any]:
    return {"database_url": e.text("DATABASE_URL"),
            "database_pool_size": e.integer("DATABASE_POOL_SIZE", 10, 1, 500),
            **_backups(e)}


def _backups(e: _Env) -> dict[str, Any]:
    # Read with the storage: backups are where the store is copied to.
    return {"backup_dir": e.text("BACKUP_DIR"),
            "backup_interval_s": e.number("BACKUP_INTERVAL_S", 86_400, 60, 2_592_000),
            "backup_retention_count": e.integer("BACKUP_RETENTION_COUNT", 14, 1, 10_000),
            "sync_interval_s": e.number("SYNC_INTERVAL_S", 3_600, 60, 2_592_000)}


def _evolution(e: _Env) -> dict[str, Any]:
    base_url = e.url("EVOLUTION_API_BASE_URL")
    return {
        "evolution_adapter": e.choice("EVOLUTION_ADAPTER", ("http", "fake"),
                                      "http" if base_url else "fake"),
        "evolution_base_url": base_url and base_url.rstrip("/"),
        "evolution_api_key": e.text("EVOLUTION_API_KEY"),
        "evolution_pool_size": e.integer("EVOLUTION_POOL_SIZE", 10, 1, 1000),
        "evolution_cache_ttl_s": e.number("EVOLUTION_CACHE_TTL_S", 30, 0, 45),
        "evolution_breaker_failures": e.integer("EVOLUTION_BREAKER_FAILURES", 5, 1, 1000),
        "evolution_breaker_open_s": e.number("EVOLUTION_BREAKER_OPEN_S", 30, 0.1, 3600),
        "fake_evolution_autoscan_s": e.number("FAKE_EVOLUTION_AUTOSCAN_S", 20, 0,
                                              86_400) or None,
        "fake_evolution_time_scale": e.number("FAKE_EVOLUTION_TIME_SCALE", 1.0, 0.001, 100),
    }


def _secrets(e: _Env, app_env: str) -> dict[str, Any]:
    prod = app_env == "production"
    return {
        "auth_jwt_secret": e.text("AUTH_JWT_SECRET") or ("" if prod else DEV_JWT_SECRET),
        "data_encryption_key": e.key("DATA_ENCRYPTION_KEY") or (
            "" if prod else DEV_ENCRYPTION_KEY),
        "data_encryption_old_keys": e.keys("DATA_ENCRYPTION_OLD_KEYS"),
    }


def _qr(e: _Env) -> dict[str, Any]:
    return {
        "max_instances_per_org": e.integer("MAX_INSTANCES_PER_ORG", 10, 1, 10_000),
        "qr_timeout_ms": e.integer("QR_TIMEOUT_MS", 5000, 100, 120_000),
        "qr_refresh_s": e.number("QR_REFRESH_S", 30, 1, 3600),
        "qr_stream_max_s": e.number("QR_STREAM_MAX_S", 300, 1, 86_400),
        "qr_stream_ping_s": e.number("QR_STREAM_PING_S", 15, 0.1, 3600),
        "qr_streams_per_org": e.integer("QR_STREAMS_PER_ORG", 20, 1, 100_000),
    }


def _webhooks(e: _Env) -> dict[str, Any]:
    return {
        "webhook_jwt_leeway_s": e.number("WEBHOOK_JWT_LEEWAY_S", 1800, 0, 86_400),
        "webhook_secret_grace_s": e.number("WEBHOOK_SECRET_GRACE_S", 86_400, 0, 2_592_000),
        "webhook_dev_bypass": e.flag("WEBHOOK_DEV_BYPASS"),
        "webhook_rate_per_org": e.number("WEBHOOK_RATE_PER_ORG", 200, 0.1, 1_000_000),
        "webhook_process_timeout_ms": e.integer("WEBHOOK_PROCESS_TIMEOUT_MS", 2000, 10,
                                                600_000),
        "webhook_max_attempts": e.integer("WEBHOOK_MAX_ATTEMPTS", 8, 1, 100),
        "webhook_inbox_retention_days": e.integer("WEBHOOK_INBOX_RETENTION_DAYS", 7, 1, 3650),
    }


def _rollout(e: _Env, app_env: str) -> dict[str, Any]:
    return {
        "rollout_initial_percentage": e.integer(
            "ROLLOUT_INITIAL_PERCENTAGE", 100 if app_env == "development" else 10, 0, 100),
        "rollout_max_error_rate": e.number("ROLLOUT_MAX_ERROR_RATE", 0.01, 0, 1),
    }


def _operations(e: _Env) -> dict[str, Any]:
    return {
        "audit_retention_days": e.integer("AUDIT_RETENTION_DAYS", 2557, 2557, 100_000),
        "alert_cooldown_s": e.number("ALERT_COOLDOWN_S", 300, 0, 86_400),
        "log_level": e.choice("LOG_LEVEL", ("debug", "info", "warning", "error"), "info"),
        "monitoring_sample_s": e.number("MONITORING_SAMPLE_S", 5, 0.2, 3600),
    }


def _pages(e: _Env) -> dict[str, Any]:
    ancestors = e.items("CONNECT_FRAME_ANCESTORS")
    for origin in ancestors:
        if not re.fullmatch(r"https?://[A-Za-z0-9.-]+(:[0-9]{1,5})?", origin):
            raise ConfigError("CONNECT_FRAME_ANCESTORS: each entry must be an origin like "
                              f"https://app.example.com, got {origin!r}")
    return {"connect_frame_ancestors": ancestors,
            "connect_link_ttl_s": e.number("CONNECT_LINK_TTL_S", 900, 30, 86_400)}


def _alerts(e: _Env) -> dict[str, Any]:
    smtp, sms = _secret_url(e, "SMTP_URL", ("smtp", "smtps")), e.text("SMS_WEBHOOK_URL")
    if smtp and not e.text("ALERT_EMAIL"):
        raise ConfigError("ALERT_EMAIL: required when SMTP_URL is set (who gets the email)")
    if sms and not e.text("ALERT_PHONE"):
        raise ConfigError("ALERT_PHONE: required when SMS_WEBHOOK_URL is set")
    return {
        "alert_qr_consecutive_failures": e.integer("ALERT_QR_CONSECUTIVE_FAILURES", 5, 1, 1000),
        "alert_api_response_ms": e.number("ALERT_API_RESPONSE_MS", 10_000, 1, 600_000),
        "alert_webhook_processing_ms": e.number("ALERT_WEBHOOK_PROCESSING_MS", 5_000, 1,
                                                600_000),
        "alert_silence_s": e.number("ALERT_SILENCE_S", 3_600, 1, 30 * 86_400),
        "slack_webhook_url": _secret_url(e, "SLACK_WEBHOOK_URL", ("http", "https")),
        "smtp_url": smtp, "alert_email": e.text("ALERT_EMAIL"),
        "alert_email_from": e.text("ALERT_EMAIL_FROM") or "wachannel@localhost",
        "sms_webhook_url": _secret_url(e, "SMS_WEBHOOK_URL", ("http", "https")),
        "alert_phone": e.text("ALERT_PHONE"),
    }


def _secret_url(e: _Env, name: str, schemes: tuple[str, ...]) -> str | None:
    """A URL that may carry a token or password: a bad one is named, never shown."""
    value = e.text(name)
    if value is not None and not re.match(rf"^({'|'.join(schemes)})://[^\s/]+", value):
        raise ConfigError(f"{name}: must be a {' or '.join(s + '://' for s in schemes)} URL "
                          "(value not shown: it may hold a secret)")
    return value


def _operations_core(e: _Env) -> dict[str, Any]:
    cert, key = e.text("TLS_CERT_FILE"), e.text("TLS_KEY_FILE")
    if bool(cert) != bool(key):
        raise ConfigError(f"{'TLS_KEY_FILE' if cert else 'TLS_CERT_FILE'}: required with "
                          f"{'TLS_CERT_FILE' if cert else 'TLS_KEY_FILE'} (HTTPS needs both)")
    for name, path in (("TLS_CERT_FILE", cert), ("TLS_KEY_FILE", key)):
        if path is not None and not os.path.isfile(path):
            raise ConfigError(f"{name}: no readable file at {path!r}")
    return {"health_sweep_s": e.number("HEALTH_SWEEP_S", 60, 0.2, 86_400),
            "worker_stale_s": e.number("WORKER_STALE_S", 15, 1, 3600),
            "tls_cert_file": cert, "tls_key_file": key,
            "allow_plain_http": e.flag("ALLOW_PLAIN_HTTP"),
            # Off only to measure what the metrics cost (benchmarks/webhook_load.py).
            "operations_metrics": not e.flag("METRICS_DISABLED")}


def _check_transport(s: Settings) -> None:
    """Production speaks TLS to Evolution and is reached over TLS, unless ALLOW_PLAIN_HTTP=1
    says a TLS proxy sits in front (or beside Evolution)."""
    if not s.production or s.allow_plain_http:
        return
    for name, url in (("EVOLUTION_API_BASE_URL", s.evolution_base_url),
                      ("PUBLIC_BASE_URL", s.public_base_url)):
        if url is not None and url.lower().startswith("http://"):
            raise ConfigError(f"{name}: http:// is refused in production (use https://, or "
                              "set ALLOW_PLAIN_HTTP=1 when a TLS proxy sits in front)")


def _check(s: Settings) -> None:
    if s.evolution_adapter == "http" and not (s.evolution_base_url and s.evolution_api_key):
        raise ConfigError("EVOLUTION_API_KEY: required (with EVOLUTION_API_BASE_URL) for the "
                          "http Evolution adapter")
    if s.webhook_dev_bypass and s.app_env != "development":
        raise ConfigError("WEBHOOK_DEV_BYPASS: unsigned webhooks are allowed only with "
                          "APP_ENV=development")
    if not s.production:
        return
    if s.database_url is None:
        raise ConfigError("DATABASE_URL: required when APP_ENV=production (no in-memory store)")
    if s.public_base_url.startswith(("http://127.", "http://localhost")):
        raise ConfigError("PUBLIC_BASE_URL: required in production: the address Evolution posts "
                          "webhooks to")
    if s.evolution_adapter == "fake":
        raise ConfigError("EVOLUTION_ADAPTER: the fake Evolution adapter is refused in production")
    if len(s.auth_jwt_secret) < 32 or s.auth_jwt_secret == DEV_JWT_SECRET:
        raise ConfigError("AUTH_JWT_SECRET: required in production, at least 32 characters, "
                          "and not the published development secret")
    if not s.data_encryption_key or s.data_encryption_key == DEV_ENCRYPTION_KEY:
        raise ConfigError("DATA_ENCRYPTION_KEY: required in production (a 32-byte urlsafe "
                          "base64 key; `wachannel keygen` prints one)")


class _Env:
    def __init__(self, env: Mapping[str, str]) -> None:
        self._env = env

    def text(self, name: str) -> str | None:
        value = self._env.get(name, "").strip()
        return value or None

    def parse(self, name: str, convert: Callable[[str], T], default: T) -> T:
        raw = self.text(name)
        if raw is None:
            return default
        try:
            return convert(raw)
        except (ValueError, TypeError) as exc:
            raise ConfigError(f"{name}: cannot read {raw!r} ({exc})") from None

    def integer(self, name: str, default: Any, low: int, high: int) -> Any:
        value = self.parse(name, int, default)
        if value is not None and not low <= value <= high:
            raise ConfigError(f"{name}: must be between {low} and {high}, got {value}")
        return value

    def number(self, name: str, default: float, low: float, high: float) -> float:
        value = self.parse(name, float, float(default))
        if not low <= value <= high:
            raise ConfigError(f"{name}: must be between {low} and {high}, got {value}")
        return value

    def choice(self, name: str, options: tuple[str, ...], default: str) -> str:
        value = (self.text(name) or default).lower()
        if value not in options:
            raise ConfigError(f"{name}: must be one of {', '.join(options)}, got {value!r}")
        return value

    def flag(self, name: str) -> bool:
        return (self.text(name) or "0").lower() in ("1", "true", "yes", "on")

    def url(self, name: str) -> str | None:
        value = self.text(name)
        if value is not None and not re.match(r"^https?://[^\s/]+", value):
            raise ConfigError(f"{name}: must be an http(s) URL, got {value!r}")
        return value

    def items(self, name: str) -> tuple[str, ...]:
        return tuple(v.strip() for v in (self.text(name) or "").split(",") if v.strip())

    def key(self, name: str) -> str | None:
        value = self.text(name)
        if value is not None:
            _check_key(name, value)
        return value

    def keys(self, name: str) -> tuple[str, ...]:
        values = self.items(name)
        for value in values:
            _check_key(name, value)
        return values


def _check_key(name: str, value: str) -> None:
    """An AES-256 key: 32 bytes, urlsafe base64 (what `wachannel keygen` prints)."""
    try:
        raw = base64.urlsafe_b64decode(value.encode() + b"=" * (-len(value) % 4))
    except (binascii.Error, ValueError):
        raw = b""
    if len(raw) != 32:
        raise ConfigError(f"{name}: must be a 32-byte urlsafe-base64 key "
                          "(`wachannel keygen` prints one)")
