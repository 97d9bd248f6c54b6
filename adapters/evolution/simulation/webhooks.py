from __future__ import annotations

import asyncio
import json
import random
import re
import time
from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC, datetime
from typing import Any

import jwt
import structlog

from adapters.evolution.simulation.instances import SimInstance
from adapters.evolution.simulation.settings import SimulationSettings
from adapters.evolution.simulation.tasks import TaskSet

log = structlog.get_logger(__name__)

Deliver = Callable[[str, dict[str, str], bytes], Awaitable[int]]
"""POST ``body`` to ``url`` with ``headers``; return the status. Raising is a network error."""

# The 31 names /webhook/set accepts, in config spelling.
EVENT_NAMES = (
    "APPLICATION_STARTUP", "INSTANCE_CREATE", "INSTANCE_DELETE", "REMOVE_INSTANCE",
    "LOGOUT_INSTANCE", "STATUS_INSTANCE", "QRCODE_UPDATED", "CONNECTION_UPDATE", "MESSAGES_SET",
    "MESSAGES_UPSERT", "MESSAGES_EDITED", "MESSAGES_UPDATE", "MESSAGES_DELETE", "SEND_MESSAGE",
    "SEND_MESSAGE_UPDATE", "CONTACTS_SET", "CONTACTS_UPSERT", "CONTACTS_UPDATE",
    "PRESENCE_UPDATE", "CHATS_SET", "CHATS_UPSERT", "CHATS_UPDATE", "CHATS_DELETE",
    "GROUPS_UPSERT", "GROUP_UPDATE", "GROUP_PARTICIPANTS_UPDATE", "LABELS_EDIT",
    "LABELS_ASSOCIATION", "CALL", "TYPEBOT_START", "TYPEBOT_CHANGE_STATUS",
)
_BODY_NAMES = {"GROUP_PARTICIPANTS_UPDATE": "group-participants.update",
               "TYPEBOT_CHANGE_STATUS": "typebot.change-status"}
_BASE_HEADERS = {"Content-Type": "application/json",
                 "Accept": "application/json, text/plain, */*",
                 "User-Agent": "axios/1.12.2",
                 "Accept-Encoding": "gzip, compress, deflate, br"}
_HTTP_URL = re.compile(r"^https?://")
_spread = random.SystemRandom()


def body_name(event: str) -> str:
    return _BODY_NAMES.get(event, event.lower().replace("_", "."))


class WebhookSender:
    """Evolution's per-instance webhook: filter, envelope, ``jwt_key`` JWT, retry policy."""

    def __init__(self, settings: SimulationSettings, tasks: TaskSet,
                 deliver: Deliver | None = None, server_url: str | None = None) -> None:
        self.deliver = deliver
        self.server_url = server_url
        self._settings = settings
        self._tasks = tasks

    def emit(self, inst: SimInstance, event: str, data: Any) -> asyncio.Task[bool] | None:
        """Schedule one event for ``inst``'s webhook, built now; None when it is not sent."""
        hook, deliver = inst.webhook, self.deliver
        if (deliver is None or not hook or not hook.get("enabled")
                or event not in hook.get("events", ()) or not _HTTP_URL.match(hook["url"])):
            return None
        url = hook["url"]
        target = f"{url}/{event.lower().replace('_', '-')}" if hook["webhookByEvents"] else url
        body = self._envelope(inst, event, data)
        headers = self._headers(hook.get("headers") or {})
        return self._tasks.spawn(
            self._deliver(deliver, target, headers, body, f"{inst.name}:{event}"), "webhook")

    def _envelope(self, inst: SimInstance, event: str, data: Any) -> bytes:
        envelope: dict[str, Any] = {"event": body_name(event), "instance": inst.name,
                                    "data": data, "destination": inst.webhook["url"],
                                    "date_time": self._local_time()}
        if inst.sender:  # absent, not null, until the instance has been open once
            envelope["sender"] = inst.sender
        if self.server_url:
            envelope["server_url"] = self.server_url
        envelope["apikey"] = inst.token if self._settings.expose_apikey else None
        return json.dumps(envelope, ensure_ascii=False, separators=(",", ":")).encode()

    def _local_time(self) -> str:
        local = datetime.now(UTC) + self._settings.tz_offset
        return local.strftime("%Y-%m-%dT%H:%M:%S.") + f"{local.microsecond // 1000:03d}Z"

    def _headers(self, configured: Mapping[str, str]) -> dict[str, str]:
        headers = dict(_BASE_HEADERS)
        for name, value in configured.items():
            if name == "jwt_key":  # signed once per event, then reused by every retry
                headers["Authorization"] = f"Bearer {_jwt(value)}"
            else:
                headers[name] = value
        return headers

    async def _deliver(self, deliver: Deliver, url: str, headers: dict[str, str], body: bytes,
                       what: str) -> bool:
        policy = self._settings.retry
        for attempt in range(1, policy.max_attempts + 1):
            status = await self._attempt(deliver, url, headers, body)
            if status is not None and 200 <= status < 300:
                return True
            if status in policy.non_retryable:
                log.info("webhook_refused", webhook=what, status=status)
                return False
            if attempt < policy.max_attempts:
                delay = policy.delay_s(attempt, _spread.uniform(-1.0, 1.0))
                await asyncio.sleep(self._settings.scaled(delay))
        log.warning("webhook_dropped", webhook=what, attempts=policy.max_attempts)
        return False

    async def _attempt(self, deliver: Deliver, url: str, headers: dict[str, str],
                       body: bytes) -> int | None:
        timeout = self._settings.scaled(self._settings.retry.attempt_timeout_s)
        try:
            async with asyncio.timeout(timeout):
                return await deliver(url, headers, body)
        except Exception:  # a network error or a timeout: Evolution retries both
            return None


def _jwt(secret: str) -> str:
    now = int(time.time())
    claims = {"iat": now, "exp": now + 600, "app": "evolution", "action": "webhook"}
    return jwt.encode(claims, secret, algorithm="HS256")
