from __future__ import annotations

import pytest

from entrypoints.settings import ConfigError, load_settings


def test_alert_thresholds_and_channels_are_read() -> None:
    s = load_settings({"ALERT_QR_CONSECUTIVE_FAILURES": "3", "ALERT_API_RESPONSE_MS": "300",
                       "SLACK_WEBHOOK_URL": "https://hooks.slack.test/T/B/tok",
                       "SMTP_URL": "smtps://u:p@mail.test", "ALERT_EMAIL": "oncall@x.test",
                       "SMS_WEBHOOK_URL": "https://sms.test/send", "ALERT_PHONE": "+551100"})
    assert (s.alert_qr_consecutive_failures, s.alert_api_response_ms) == (3, 300)
    assert s.smtp_url == "smtps://u:p@mail.test"
    assert s.alert_phone == "+551100"


@pytest.mark.parametrize(("env", "named"), [
    ({"SLACK_WEBHOOK_URL": "hooks.slack.test/T/B/s3cr3t"}, "SLACK_WEBHOOK_URL"),
    ({"SMTP_URL": "imap://u:s3cr3t@mail.test", "ALERT_EMAIL": "a@b.test"}, "SMTP_URL"),
    ({"SMTP_URL": "smtp://u:s3cr3t@mail.test"}, "ALERT_EMAIL"),
    ({"SMS_WEBHOOK_URL": "https://sms.test/s3cr3t"}, "ALERT_PHONE"),
    ({"ALERT_QR_CONSECUTIVE_FAILURES": "0"}, "ALERT_QR_CONSECUTIVE_FAILURES"),
])
def test_bad_alert_settings_name_the_variable_and_never_show_a_secret(
        env: dict[str, str], named: str) -> None:
    with pytest.raises(ConfigError) as refused:
        load_settings(env)
    assert str(refused.value).startswith(named)
    assert "s3cr3t" not in str(refused.value)
