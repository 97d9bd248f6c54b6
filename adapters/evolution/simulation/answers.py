"""What Evolution answers on each endpoint, given the simulation's state."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Protocol

import attrs

from adapters.evolution import endpoints
from adapters.evolution.endpoints import EvolutionRefusal
from adapters.evolution.simulation import validation
from adapters.evolution.simulation.instances import SimInstance
from adapters.evolution.simulation.settings import SimulationSettings
from adapters.evolution.simulation.sockets import Sockets
from adapters.evolution.simulation.webhooks import WebhookSender

_OBJECT_OBJECT = {"error": True, "message": "[object Object]"}  # connect/restart's catch-all


@attrs.frozen
class SimRequest:
    instance: str | None
    apikey: str | None
    body: Any = None
    query: Mapping[str, str] = attrs.field(factory=dict)


Handler = Callable[[SimRequest], Awaitable[Any]]


class SimulatedState(Protocol):
    """What the answers read and change: the simulation, named by its parts rather than
    imported, so that the simulation and its answers do not import each other."""

    settings: SimulationSettings
    instances: dict[str, SimInstance]
    sockets: Sockets
    webhooks: WebhookSender

    def authorize(self, request: SimRequest) -> SimInstance: ...

    def add_instance(self, name: str, token: str | None, number: str | None) -> SimInstance: ...

    def store_webhook(self, inst: SimInstance, spec: dict[str, Any], events: list[str],
                      enabled: bool = True) -> dict[str, Any]: ...


class Answers:
    def __init__(self, sim: SimulatedState) -> None:
        self._sim = sim
        self._settings = sim.settings

    def table(self) -> dict[str, Handler]:
        return {endpoints.INFO.name: self.info, endpoints.CREATE.name: self.create,
                endpoints.CONNECT.name: self.connect, endpoints.STATE.name: self.state,
                endpoints.FETCH.name: self.fetch, endpoints.RESTART.name: self.restart,
                endpoints.LOGOUT.name: self.logout, endpoints.DELETE.name: self.delete,
                endpoints.SET_WEBHOOK.name: self.set_webhook,
                endpoints.FIND_WEBHOOK.name: self.find_webhook}

    async def info(self, request: SimRequest) -> Any:
        return {"status": 200, "message": "Welcome to the Evolution API, it is working!",
                "version": "2.3.6", "clientName": self._settings.client_name,
                "manager": f"{self._sim.webhooks.server_url}/manager",
                "documentation": "https://doc.evolution-api.com",
                "whatsappWebVersion": "2.3000.1028450369"}

    async def create(self, request: SimRequest) -> Any:
        body = request.body if isinstance(request.body, dict) else {}
        name = body.get("instanceName")
        if isinstance(name, str) and name in self._sim.instances:
            raise EvolutionRefusal.envelope(403, [f'This name "{name}" is already in use.'])
        if request.apikey != self._settings.global_key:
            raise EvolutionRefusal.envelope(401, "Unauthorized")
        validation.check_create(request.body)
        webhook = validation.inline_webhook(body)  # raises before anything is stored
        inst = self._sim.add_instance(name, body.get("token"), body.get("number"))
        if webhook is not None:
            self._sim.store_webhook(inst, *webhook)
        self._sim.webhooks.emit(inst, "INSTANCE_CREATE",
                                {"instanceName": inst.name, "instanceId": inst.instance_id})
        answer = _created(inst)
        if body.get("qrcode") is True:
            self._sim.sockets.open(inst)
            await asyncio.sleep(self._settings.scaled(self._settings.create_qr_wait_s))
            answer["instance"]["status"] = inst.state
            answer["qrcode"] = inst.qr_answer()
        return answer

    async def connect(self, request: SimRequest) -> Any:
        inst = self._sim.authorize(request)
        if request.query.get("number"):
            inst.number = request.query["number"]
        if inst.state == "open":
            return inst.state_answer()
        if inst.state == "close":
            return await self._open_and_wait(inst)
        return inst.qr_answer()

    async def state(self, request: SimRequest) -> Any:
        return self._sim.authorize(request).state_answer()

    async def fetch(self, request: SimRequest) -> Any:
        everything = request.apikey == self._settings.global_key
        rows = [i for i in self._sim.instances.values() if everything or i.token == request.apikey]
        if not rows:
            if not everything:
                raise EvolutionRefusal.envelope(401, "Unauthorized")
            return []
        name, instance_id = request.query.get("instanceName"), request.query.get("instanceId")
        if name is not None:
            rows = [i for i in rows if i.name == name]
            if not rows:
                raise EvolutionRefusal.envelope(404, [f'Instance "{name}" not found'])
        if instance_id is not None:
            rows = [i for i in rows if i.instance_id == instance_id]
        return [i.row(self._settings.client_name) for i in rows]

    async def restart(self, request: SimRequest) -> Any:
        inst = self._sim.authorize(request)
        if inst.state == "close":
            return dict(_OBJECT_OBJECT)
        if inst.state == "open":
            self._sim.sockets.reconnect_open(inst)
            return inst.state_answer()
        return await self._open_and_wait(inst)

    async def logout(self, request: SimRequest) -> Any:
        inst = self._sim.authorize(request)
        if inst.state == "close":
            raise validation.bad_request(f'The "{inst.name}" instance is not connected')
        self._sim.sockets.log_out(inst)
        return _success("Instance logged out")

    async def delete(self, request: SimRequest) -> Any:
        inst = self._sim.authorize(request)
        if inst.state != "close":
            self._sim.sockets.log_out(inst)
        self._sim.webhooks.emit(inst, "INSTANCE_DELETE",
                                {"instanceName": inst.name, "instanceId": inst.instance_id})
        self._sim.forget_later(inst, self._sim.webhooks.emit(inst, "REMOVE_INSTANCE", None))
        return _success("Instance deleted")

    async def set_webhook(self, request: SimRequest) -> Any:
        inst = self._sim.authorize(request)
        spec, events = validation.set_webhook(request.body)
        return self._sim.store_webhook(inst, spec, events, bool(spec["enabled"]))

    async def find_webhook(self, request: SimRequest) -> Any:
        return self._sim.authorize(request).webhook

    async def _open_and_wait(self, inst: SimInstance) -> Any:
        self._sim.sockets.open(inst)
        # Evolution holds the answer a fixed time and returns whatever QR exists by then.
        await asyncio.sleep(self._settings.scaled(self._settings.connect_wait_s))
        return inst.qr_answer() if inst.state == "connecting" else inst.state_answer()


def _created(inst: SimInstance) -> dict[str, Any]:
    hook = inst.webhook
    webhook = {} if hook is None else {
        "webhookUrl": hook["url"], "webhookHeaders": hook["headers"],
        "webhookByEvents": hook["webhookByEvents"], "webhookBase64": hook["webhookBase64"]}
    return {"instance": {"instanceName": inst.name, "instanceId": inst.instance_id,
                         "integration": "WHATSAPP-BAILEYS", "webhookWaBusiness": None,
                         "accessTokenWaBusiness": "", "status": inst.state},
            "hash": inst.token, "webhook": webhook, "websocket": {}, "rabbitmq": {}, "nats": {},
            "sqs": {}, "settings": {"rejectCall": False, "msgCall": "", "groupsIgnore": False,
                                    "alwaysOnline": False, "readMessages": False,
                                    "readStatus": False, "syncFullHistory": False,
                                    "wavoipToken": ""}}


def _success(message: str) -> dict[str, Any]:
    return {"status": "SUCCESS", "error": False, "response": {"message": message}}
