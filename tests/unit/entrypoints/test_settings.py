"""Configuration (API.md section 11): defaults, one-line refusals, and the production guard."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from entrypoints.settings import (
    DEV_ENCRYPTION_KEY,
    DEV_JWT_SECRET,
    ConfigError,
    Settings,
    load_settings,
)

WACHANNEL = Path(sys.executable).with_name("wachannel")
KEY = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="  # 32 bytes, urlsafe base64
KEY_33_BYTES = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8g"
PRODUCTION = {
    "APP_ENV": "production",
    "DATABASE_URL": "postgresql://wachannel:pw@db.internal:5432/wachannel",
    "EVOLUTION_API_BASE_URL": "https://evolution.internal",
    "EVOLUTION_API_KEY": "evolution-global-key",
    "AUTH_JWT_SECRET": "p" * 32,
    "DATA_ENCRYPTION_KEY": KEY,
    "PUBLIC_BASE_URL": "https://wachannel.example.com",
}


def refusal(env: dict[str, str]) -> str:
    with pytest.raises(ConfigError) as raised:
        load_settings(env)
    message = str(raised.value)
    assert "\n" not in message
    return message


def test_empty_environment_is_the_embedded_development_default() -> None:
    s = load_settings({})
    assert s.app_env == "development"
    assert s.port == 8080
    assert s.public_base_url == "http://127.0.0.1:8080"
    assert s.qr_timeout_ms == 5000
    assert s.evolution_cache_ttl_s == 30
    assert s.evolution_pool_size == 10
    assert s.webhook_jwt_leeway_s == 1800
    assert s.webhook_secret_grace_s == 86_400
    assert s.webhook_dev_bypass is False
    assert s.rollout_initial_percentage == 100
    assert s.database_url is None
    assert s.embedded is True
    assert s.production is False
    assert s.evolution_adapter == "fake"
    assert s.auth_jwt_secret == DEV_JWT_SECRET
    assert s.data_encryption_key == DEV_ENCRYPTION_KEY


def test_http_header_timeout_is_ten_seconds_unless_configured() -> None:
    assert load_settings({}).http_header_timeout_s == 10
    assert load_settings({}).http_body_timeout_s == 30
    assert (load_settings({}).shutdown_grace_s, load_settings({}).shutdown_drain_s) == (30, 2)
    assert load_settings({"HTTP_BODY_TIMEOUT_S": "2"}).http_body_timeout_s == 2
    assert load_settings({"HTTP_HEADER_TIMEOUT_S": "2.5"}).http_header_timeout_s == 2.5


def test_development_listens_on_loopback_only_unless_host_is_set() -> None:
    assert load_settings({}).host == "127.0.0.1"
    assert load_settings({"HOST": "0.0.0.0"}).host == "0.0.0.0"  # noqa: S104


@pytest.mark.parametrize("app_env", ["staging", "production"])
def test_a_deployed_service_listens_on_every_interface_unless_host_is_set(app_env: str) -> None:
    assert load_settings({**PRODUCTION, "APP_ENV": app_env}).host == "0.0.0.0"  # noqa: S104
    assert load_settings({**PRODUCTION, "APP_ENV": app_env, "HOST": "10.0.0.5"}).host == "10.0.0.5"


@pytest.mark.parametrize("app_env", ["staging", "production"])
def test_rollout_starts_at_ten_percent_outside_development(app_env: str) -> None:
    s = load_settings({**PRODUCTION, "APP_ENV": app_env})
    assert s.rollout_initial_percentage == 10


def test_evolution_adapter_is_http_when_a_base_url_is_given() -> None:
    s = load_settings({"EVOLUTION_API_BASE_URL": "https://evo.example.com/",
                       "EVOLUTION_API_KEY": "k"})
    assert s.evolution_adapter == "http"
    assert s.evolution_base_url == "https://evo.example.com"
    assert s.evolution_api_key == "k"


def test_evolution_adapter_can_be_swapped_to_fake_in_staging() -> None:
    s = load_settings({"APP_ENV": "staging", "EVOLUTION_ADAPTER": "fake",
                       "EVOLUTION_API_BASE_URL": "https://evo.example.com"})
    assert s.evolution_adapter == "fake"


def test_explicit_values_are_read() -> None:
    s = load_settings({"PORT": "9000", "QR_TIMEOUT_MS": "7000", "EVOLUTION_CACHE_TTL_S": "0",
                       "WEBHOOK_JWT_LEEWAY_S": "0", "WEBHOOK_SECRET_GRACE_S": "60",
                       "ROLLOUT_INITIAL_PERCENTAGE": "0", "WEBHOOK_DEV_BYPASS": "1",
                       "APP_ENV": "Development", "LOG_LEVEL": "DEBUG"})
    assert (s.port, s.qr_timeout_ms, s.evolution_cache_ttl_s) == (9000, 7000, 0)
    assert (s.webhook_jwt_leeway_s, s.webhook_secret_grace_s) == (0, 60)
    assert s.rollout_initial_percentage == 0
    assert s.webhook_dev_bypass is True
    assert s.public_base_url == "http://127.0.0.1:9000"
    assert s.log_level == "debug"


@pytest.mark.parametrize(("name", "value"), [
    ("APP_ENV", "prod"),
    ("PORT", "http"), ("PORT", "0"), ("PORT", "65536"), ("PORT", "80.5"),
    ("METRICS_PORT", "-1"),
    ("PUBLIC_BASE_URL", "wachannel.example.com"), ("PUBLIC_BASE_URL", "ftp://x"),
    ("EVOLUTION_ADAPTER", "grpc"),
    ("EVOLUTION_POOL_SIZE", "0"),
    ("EVOLUTION_CACHE_TTL_S", "46"), ("EVOLUTION_CACHE_TTL_S", "soon"),
    ("EVOLUTION_CACHE_TTL_S", "nan"), ("EVOLUTION_CACHE_TTL_S", "inf"),
    ("MAX_INSTANCES_PER_ORG", "0"),
    ("LEGACY_SUNSET_DATE", "2027-02-30"), ("LEGACY_SUNSET_DATE", "next june"),
    ("QR_TIMEOUT_MS", "99"), ("QR_TIMEOUT_MS", "5s"),
    ("WEBHOOK_JWT_LEEWAY_S", "-1"), ("WEBHOOK_SECRET_GRACE_S", "2592001"),
    ("WEBHOOK_RATE_PER_ORG", "0"), ("WEBHOOK_PROCESS_TIMEOUT_MS", "1"),
    ("WEBHOOK_MAX_ATTEMPTS", "0"), ("WEBHOOK_INBOX_RETENTION_DAYS", "0"),
    ("ROLLOUT_INITIAL_PERCENTAGE", "101"), ("ROLLOUT_MAX_ERROR_RATE", "1.5"),
    ("AUDIT_RETENTION_DAYS", "30"),
    ("LOG_LEVEL", "verbose"),
    ("HTTP_HEADER_TIMEOUT_S", "0"), ("HTTP_HEADER_TIMEOUT_S", "-1"),
    ("HTTP_HEADER_TIMEOUT_S", "3601"), ("HTTP_HEADER_TIMEOUT_S", "10s"),
    ("HTTP_HEADER_TIMEOUT_S", "nan"), ("HTTP_HEADER_TIMEOUT_S", "inf"),
])
def test_a_bad_value_is_one_line_naming_the_variable(name: str, value: str) -> None:
    message = refusal({name: value})
    assert message.startswith(f"{name}:"), message


@pytest.mark.parametrize("name", ["PORT", "QR_TIMEOUT_MS", "EVOLUTION_CACHE_TTL_S",
                                  "WEBHOOK_JWT_LEEWAY_S", "ROLLOUT_INITIAL_PERCENTAGE",
                                  "LEGACY_SUNSET_DATE", "APP_ENV", "PUBLIC_BASE_URL",
                                  "LOG_LEVEL", "WEBHOOK_RATE_PER_ORG",
                                  "HTTP_HEADER_TIMEOUT_S"])
@settings(max_examples=60, deadline=None)
@given(value=st.text(max_size=30))
def test_any_value_loads_or_is_refused_in_one_line_naming_the_variable(
        name: str, value: str) -> None:
    try:
        load_settings({name: value})
    except ConfigError as exc:
        message = str(exc)
    else:
        return
    assert message.startswith(f"{name}:")
    assert "\n" not in message


def test_http_evolution_without_an_api_key_is_refused() -> None:
    message = refusal({"EVOLUTION_API_BASE_URL": "https://evo.example.com"})
    assert message.startswith("EVOLUTION_API_KEY:")


def test_evolution_base_url_that_is_not_a_url_is_refused() -> None:
    message = refusal({"EVOLUTION_API_BASE_URL": "evolution.internal:8080",
                       "EVOLUTION_API_KEY": "k"})
    assert message.startswith("EVOLUTION_API_BASE_URL:")


@pytest.mark.parametrize("app_env", ["staging", "production"])
def test_webhook_dev_bypass_outside_development_is_refused(app_env: str) -> None:
    message = refusal({**PRODUCTION, "APP_ENV": app_env, "WEBHOOK_DEV_BYPASS": "1"})
    assert message.startswith("WEBHOOK_DEV_BYPASS:")


def test_a_valid_production_configuration_loads() -> None:
    s = load_settings(PRODUCTION)
    assert isinstance(s, Settings)
    assert s.production is True
    assert s.embedded is False
    assert s.evolution_adapter == "http"
    assert s.auth_jwt_secret == "p" * 32
    assert s.data_encryption_key == KEY
    assert s.rollout_initial_percentage == 10


@pytest.mark.parametrize(("change", "variable"), [
    ({"DATABASE_URL": None}, "DATABASE_URL"),
    ({"DATABASE_URL": "   "}, "DATABASE_URL"),
    ({"EVOLUTION_ADAPTER": "fake"}, "EVOLUTION_ADAPTER"),
    ({"EVOLUTION_API_BASE_URL": None, "EVOLUTION_API_KEY": None}, "EVOLUTION_ADAPTER"),
    ({"EVOLUTION_API_KEY": None}, "EVOLUTION_API_KEY"),
    ({"WEBHOOK_DEV_BYPASS": "1"}, "WEBHOOK_DEV_BYPASS"),
    ({"WEBHOOK_DEV_BYPASS": "true"}, "WEBHOOK_DEV_BYPASS"),
    ({"AUTH_JWT_SECRET": None}, "AUTH_JWT_SECRET"),
    ({"AUTH_JWT_SECRET": "p" * 31}, "AUTH_JWT_SECRET"),
    ({"DATA_ENCRYPTION_KEY": None}, "DATA_ENCRYPTION_KEY"),
    ({"DATA_ENCRYPTION_KEY": DEV_ENCRYPTION_KEY}, "DATA_ENCRYPTION_KEY"),
], ids=lambda v: "-".join(f"{k}={v}" for k, v in v.items()) if isinstance(v, dict) else v)
def test_production_refuses_an_unsafe_configuration(change: dict[str, str | None],
                                                    variable: str) -> None:
    env = {**PRODUCTION, **change}
    message = refusal({k: v for k, v in env.items() if v is not None})
    assert message.startswith(f"{variable}:"), message


def test_production_refuses_the_published_development_jwt_secret() -> None:
    """DEV_JWT_SECRET is in the source: anyone could mint an admin token with it."""
    message = refusal({**PRODUCTION, "AUTH_JWT_SECRET": DEV_JWT_SECRET})
    assert message.startswith("AUTH_JWT_SECRET:")


@pytest.mark.parametrize("key", ["not-a-key", "c2hvcnQ=", KEY[:-8], KEY_33_BYTES])
def test_a_malformed_data_encryption_key_is_refused_at_start_up(key: str) -> None:
    """Else `serve` dies later, on first use of the cipher, with a traceback."""
    message = refusal({**PRODUCTION, "DATA_ENCRYPTION_KEY": key})
    assert message.startswith("DATA_ENCRYPTION_KEY:")


def test_a_malformed_old_data_encryption_key_is_refused_at_start_up() -> None:
    message = refusal({**PRODUCTION, "DATA_ENCRYPTION_OLD_KEYS": f"{DEV_ENCRYPTION_KEY},nope"})
    assert message.startswith("DATA_ENCRYPTION_OLD_KEYS:")


def test_serve_in_production_with_nothing_configured_exits_with_one_line() -> None:
    started = time.monotonic()
    done = subprocess.run(  # noqa: S603 (our own console script)
        [str(WACHANNEL), "serve"], env={"APP_ENV": "production"},
        capture_output=True, text=True, timeout=30, check=False)
    assert time.monotonic() - started < 10
    assert done.returncode != 0
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert "DATABASE_URL" in lines[0]
    assert "Traceback" not in done.stderr + done.stdout
