"""Settings of the operations core: plain HTTP refused in production, TLS files, the sweep."""

from __future__ import annotations

from pathlib import Path

import pytest

from entrypoints.settings import ConfigError, load_settings
from tests.unit.entrypoints.test_settings import PRODUCTION


def refusal(env: dict[str, str]) -> str:
    with pytest.raises(ConfigError) as raised:
        load_settings(env)
    message = str(raised.value)
    assert "\n" not in message
    return message


@pytest.mark.parametrize("name", ["EVOLUTION_API_BASE_URL", "PUBLIC_BASE_URL"])
def test_production_refuses_a_plain_http_url_naming_the_variable(name: str) -> None:
    message = refusal({**PRODUCTION, name: "http://plain.example.com"})
    assert message.startswith(f"{name}: ")
    assert "ALLOW_PLAIN_HTTP" in message


@pytest.mark.parametrize("name", ["EVOLUTION_API_BASE_URL", "PUBLIC_BASE_URL"])
def test_allow_plain_http_admits_it_when_a_tls_proxy_sits_in_front(name: str) -> None:
    s = load_settings({**PRODUCTION, name: "http://plain.example.com", "ALLOW_PLAIN_HTTP": "1"})
    assert s.allow_plain_http is True


def test_staging_and_development_take_plain_http() -> None:
    for app_env in ("staging", "development"):
        load_settings({**PRODUCTION, "APP_ENV": app_env,
                       "EVOLUTION_API_BASE_URL": "http://evolution:8080"})


def test_tls_needs_both_files_and_both_must_exist(tmp_path: Path) -> None:
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert.write_text("c")
    assert refusal({"TLS_CERT_FILE": str(cert)}).startswith("TLS_KEY_FILE: ")
    assert refusal({"TLS_KEY_FILE": str(key)}).startswith("TLS_CERT_FILE: ")
    assert refusal({"TLS_CERT_FILE": str(cert), "TLS_KEY_FILE": str(key)}).startswith(
        "TLS_KEY_FILE: ")
    key.write_text("k")
    s = load_settings({"TLS_CERT_FILE": str(cert), "TLS_KEY_FILE": str(key)})
    assert (s.tls_cert_file, s.tls_key_file) == (str(cert), str(key))


def test_health_sweep_defaults_to_a_minute_and_is_bounded() -> None:
    assert load_settings({}).health_sweep_s == 60
    assert load_settings({"HEALTH_SWEEP_S": "5"}).health_sweep_s == 5
    assert refusal({"HEALTH_SWEEP_S": "0"}).startswith("HEALTH_SWEEP_S: ")
    assert load_settings({}).worker_stale_s == 15
