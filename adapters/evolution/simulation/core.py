from __future__ import annotations

import asyncio
import uuid
from collections.abc import Mapping
from typing import Any

from adapters.evolution.endpoints import Endpoint, EvolutionRefusal
from adapters.evolution.simulation.answers import Answers, SimRequest
from adapters.evolution.simulation.instances import SimInstance, webhook_row
from adapters.evolution.simulation.settings import SimulationSettings
from adapters.evolution.simulation.sockets import Sockets
from adapters.evolution.simulation.tasks import TaskSet
from adapters.evolution.simulation.webhooks import Deliver, WebhookSender


class EvolutionSimulation:
    """Evolution v2 (Baileys) as a state machine speaking its JSON: each endpoint's answer, its
    guards (404, then 403, then 401) and its webhooks. Both the in-process fake gateway and the
    fake HTTP server are thin skins over this class."""

    def __init__(self, settings: SimulationSettings | None = None,
                 deliver: Deliver | None = None,
                 server_url: str | None = "http://localhost:8080") -> None:
        self.settings = settings or SimulationSettings()
        self.instances: dict[str, SimInstance] = {}
        self._tasks = TaskSet()
        self.webhooks = WebhookSender(self.settings, self._tasks, deliver, server_url)
        self.sockets = Sockets(self.settings, self.webhooks, self._tasks)
        self._handlers = Answers(self).table()

    async def dispatch(self, endpoint: Endpoint, instance: str | None, apikey: str | None,
                       body: Any = None, query: Mapping[str, str] | None = None) -> Any:
        """Evolution's JSON answer to ``endpoint``; raises ``EvolutionRefusal`` as it would."""
        return await self._handlers[endpoint.name](
            SimRequest(instance, apikey, body, dict(query or {})))

    def authorize(self, request: SimRequest) -> SimInstance:
        """The guards of every /{instance} endpoint: unknown is 404 whatever the key."""
        inst = self.instances.get(request.instance or "")
        if inst is None:
            raise EvolutionRefusal.envelope(
                404, [f'The "{request.instance}" instance does not exist'])
        if request.apikey not in (self.settings.global_key, inst.token):
            raise EvolutionRefusal.envelope(401, "Unauthorized")
        return inst

    def scan(self, name: str, number: str | None = None,
             profile_name: str | None = None) -> None:
        """The phone scans the QR on screen: ``connecting`` then ``open`` webhooks. Raises
        ``RuntimeError`` when no QR is showing."""
        self.sockets.scan(self.instances[name], number or self.settings.scan_number,
                          profile_name or self.settings.scan_profile_name)

    def emit(self, name: str, event: str, data: Any) -> asyncio.Task[bool] | None:
        """Send any event (say MESSAGES_UPSERT) through ``name``'s webhook, as Evolution would."""
        return self.webhooks.emit(self.instances[name], event, data)

    def add_instance(self, name: str, token: str | None, number: str | None) -> SimInstance:
        inst = SimInstance(name, token or str(uuid.uuid4()).upper(), number)
        self.instances[name] = inst
        return inst

    def store_webhook(self, inst: SimInstance, spec: dict[str, Any], events: list[str],
                      enabled: bool = True) -> dict[str, Any]:
        inst.webhook = webhook_row(inst.instance_id, spec, events, inst.webhook, enabled)
        return inst.webhook

    def forget_later(self, inst: SimInstance, removal: asyncio.Task[bool] | None) -> None:
        """Evolution awaits the ``remove.instance`` webhook, retries and all, before it deletes
        the rows: until then the name is still in use."""
        async def forget() -> None:
            if removal is not None:
                await asyncio.wait([removal])
            if self.instances.get(inst.name) is inst:
                del self.instances[inst.name]

        self._tasks.spawn(forget(), "webhook")

    async def wait_deliveries(self) -> None:
        """Until every webhook (retries included) and pending deletion has finished."""
        await self._tasks.wait("webhook")

    async def close(self) -> None:
        """Cancel every timer and delivery; the simulation is unusable afterwards."""
        await self._tasks.cancel_all()
