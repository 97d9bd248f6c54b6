"""The Evolution v2 endpoints this service calls, shared by the HTTP transport, the simulation
and the fake server so that all three agree on paths, methods and which calls may be retried."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import attrs


@attrs.frozen
class Endpoint:
    name: str              # metric and log name, e.g. "instance_connect"
    method: str
    path: str              # aiohttp-style template; "{instance}" is the instance name
    idempotent: bool = False
    waits_for_qr: bool = False  # Evolution holds these open for a fixed 2 s (connect, restart)
    success_status: int = 200

    def url_path(self, instance: str | None) -> str:
        if instance is None:
            return self.path
        return self.path.replace("{instance}", quote(instance, safe=""))


INFO = Endpoint("info", "GET", "/", idempotent=True)
CREATE = Endpoint("instance_create", "POST", "/instance/create", success_status=201)
CONNECT = Endpoint("instance_connect", "GET", "/instance/connect/{instance}", waits_for_qr=True)
STATE = Endpoint("instance_connection_state", "GET", "/instance/connectionState/{instance}",
              idempotent=True)
FETCH = Endpoint("instance_fetch", "GET", "/instance/fetchInstances", idempotent=True)
RESTART = Endpoint("instance_restart", "POST", "/instance/restart/{instance}", waits_for_qr=True)
LOGOUT = Endpoint("instance_logout", "DELETE", "/instance/logout/{instance}")
DELETE = Endpoint("instance_delete", "DELETE", "/instance/delete/{instance}")
SET_WEBHOOK = Endpoint("webhook_set", "POST", "/webhook/set/{instance}", success_status=201)
FIND_WEBHOOK = Endpoint("webhook_find", "GET", "/webhook/find/{instance}", idempotent=True)

ENDPOINTS = (INFO, CREATE, CONNECT, STATE, FETCH, RESTART, LOGOUT, DELETE, SET_WEBHOOK,
          FIND_WEBHOOK)

_REASONS = {400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found",
            500: "Internal Server Error"}


class EvolutionRefusal(Exception):
    """Evolution answered with an error status; ``body`` is its parsed JSON (or text)."""

    def __init__(self, status: int, body: Any) -> None:
        super().__init__(f"Evolution answered {status}")
        self.status = status
        self.body = body

    @classmethod
    def envelope(cls, status: int, message: list[str] | str) -> EvolutionRefusal:
        """Build the body Evolution's global error handler sends."""
        reason = _REASONS.get(status, "Error")
        return cls(status, {"status": status, "error": reason, "response": {"message": message}})

    @property
    def message(self) -> str:
        body = self.body
        if isinstance(body, dict):
            response = body.get("response")
            raw = response.get("message") if isinstance(response, dict) else body.get("message")
            if isinstance(raw, list):
                return "; ".join(str(item) for item in raw)
            if raw is not None:
                return str(raw)
        return str(body)[:500] if body else f"HTTP {self.status}"
