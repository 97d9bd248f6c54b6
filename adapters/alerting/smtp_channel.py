from __future__ import annotations

from email.message import EmailMessage
from urllib.parse import unquote, urlsplit

import aiosmtplib

from adapters.alerting.text import body
from application.ports.alerts import AlertChannel
from domain.alerts import Notice


class SmtpEmailChannel(AlertChannel):
    """Email over SMTP. ``smtp://`` upgrades with STARTTLS when the server offers it,
    ``smtps://`` is TLS from the start; user and password come from the URL."""

    name = "email"

    def __init__(self, url: str, to: str, sender: str, timeout_s: float = 10.0) -> None:
        parts = urlsplit(url)
        self._tls = parts.scheme == "smtps"
        self._host = parts.hostname or "localhost"
        self._port = parts.port or (465 if self._tls else 25)
        self._user = unquote(parts.username) if parts.username else None
        self._password = unquote(parts.password) if parts.password else None
        self._to = to
        self._sender = sender
        self._timeout_s = timeout_s

    async def send(self, notice: Notice) -> None:
        message = EmailMessage()
        message["From"] = self._sender
        message["To"] = self._to
        message["Subject"] = f"wachannel {notice.title}"
        message.set_content(body(notice))
        await aiosmtplib.send(message, hostname=self._host, port=self._port,
                              username=self._user, password=self._password,
                              use_tls=self._tls, start_tls=None if not self._tls else False,
                              timeout=self._timeout_s)
