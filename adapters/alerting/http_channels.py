"""Channels that are one JSON POST: a Slack incoming webhook and an SMS gateway."""

from __future__ import annotations

from typing import Any

import aiohttp

from adapters.alerting.text import body
from application.ports.alerts import AlertChannel
from domain.alerts import Notice


class _JsonPostChannel(AlertChannel):
    def __init__(self, url: str, timeout_s: float = 10.0) -> None:
        self._url = url  # may hold a token in its path: it is never logged
        self._timeout = aiohttp.ClientTimeout(total=timeout_s)
        self._session: aiohttp.ClientSession | None = None

    async def send(self, notice: Notice) -> None:
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=self._timeout)
        async with self._session.post(self._url, json=self._payload(notice)) as answer:
            if answer.status >= 300:
                raise ChannelRefused(f"{self.name} answered {answer.status}")

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()

    def _payload(self, notice: Notice) -> dict[str, Any]:
        raise NotImplementedError


class ChannelRefused(RuntimeError):
    """The channel's server answered, and not with success (the status only, never the URL)."""


class SlackWebhookChannel(_JsonPostChannel):
    """Slack's incoming webhook: ``{"text": ...}``."""

    name = "slack"

    def _payload(self, notice: Notice) -> dict[str, Any]:
        return {"text": body(notice)}


class SmsWebhookChannel(_JsonPostChannel):
    """An HTTP SMS gateway: ``{"to": phone, "text": ...}`` (kept short for one message)."""

    name = "sms"

    def __init__(self, url: str, phone: str, timeout_s: float = 10.0) -> None:
        super().__init__(url, timeout_s)
        self._phone = phone

    def _payload(self, notice: Notice) -> dict[str, Any]:
        return {"to": self._phone, "text": f"{notice.title}: {notice.detail}"[:160]}
