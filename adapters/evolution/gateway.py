"""The Evolution gateway: which endpoint each port method calls, with which key, and how
Evolution's refusals map to application errors. One class over a transport (real HTTP, or the
in-process simulation), so the fake cannot drift from the real adapter in these rules."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Protocol

from adapters.evolution import endpoints, payloads
from adapters.evolution.endpoints import Endpoint, EvolutionRefusal
from application.errors import (
    ApplicationError,
    Conflict,
    NotFound,
    UpstreamError,
    UpstreamUnavailable,
)
from application.ports.evolution import (
    ConnectResult,
    CreatedInstance,
    CreateInstanceRequest,
    EvolutionGateway,
    InstanceRef,
    RemoteInstance,
    WebhookRegistration,
)

_Handler = Callable[[EvolutionRefusal], ApplicationError | None]
_UNAVAILABLE_STATUSES = frozenset({502, 503, 504})  # a proxy in front of Evolution, not Evolution


class Transport(Protocol):
    async def call(self, endpoint: Endpoint, instance: str | None, apikey: str,
                   body: Any = None, query: Mapping[str, str] | None = None) -> Any:
        """Evolution's parsed answer; raises ``EvolutionRefusal`` for an error status and
        ``UpstreamTimeout`` / ``UpstreamUnavailable`` when there is no answer. ``instance``
        fills the path's ``{instance}`` and names the instance's circuit."""
        ...


def translate(refusal: EvolutionRefusal) -> ApplicationError:
    if refusal.status == 401:
        return UpstreamError("Evolution rejected the API key")
    if refusal.status == 404:
        return NotFound(refusal.message)
    if refusal.status in _UNAVAILABLE_STATUSES:
        return UpstreamUnavailable(f"Evolution answered {refusal.status}")
    return UpstreamError(refusal.message)


def _conflict_on_403(refusal: EvolutionRefusal) -> ApplicationError | None:
    return Conflict(refusal.message) if refusal.status == 403 else translate(refusal)


def _absent_is_done(refusal: EvolutionRefusal) -> ApplicationError | None:
    return None if refusal.status == 404 else translate(refusal)


def _closed_is_done(refusal: EvolutionRefusal) -> ApplicationError | None:
    if refusal.status == 400 and "is not connected" in refusal.message:
        return None
    return _absent_is_done(refusal)


class EvolutionApiGateway(EvolutionGateway):
    def __init__(self, transport: Transport, api_key: str) -> None:
        self.transport = transport
        self._api_key = api_key

    async def create_instance(self, request: CreateInstanceRequest) -> CreatedInstance:
        raw = await self._call(endpoints.CREATE, None, payloads.create_body(request),
                               on_refusal=_conflict_on_403)
        return payloads.read_created(raw, request)

    async def connect(self, ref: InstanceRef) -> ConnectResult:
        return payloads.read_connect(await self._call(endpoints.CONNECT, ref))

    async def connection_state(self, ref: InstanceRef) -> str:
        return payloads.read_state(await self._call(endpoints.STATE, ref))

    async def restart(self, ref: InstanceRef) -> ConnectResult:
        return payloads.read_connect(await self._call(endpoints.RESTART, ref))

    async def logout(self, ref: InstanceRef) -> None:
        await self._call(endpoints.LOGOUT, ref, on_refusal=_closed_is_done)

    async def delete(self, ref: InstanceRef) -> None:
        await self._call(endpoints.DELETE, ref, on_refusal=_absent_is_done)

    async def set_webhook(self, ref: InstanceRef, webhook: WebhookRegistration) -> None:
        await self._call(endpoints.SET_WEBHOOK, ref, payloads.set_webhook_body(webhook))

    async def find_webhook(self, ref: InstanceRef) -> WebhookRegistration | None:
        return payloads.read_webhook(await self._call(endpoints.FIND_WEBHOOK, ref))

    async def fetch_instances(self) -> list[RemoteInstance]:
        return payloads.read_instances(await self._call(endpoints.FETCH, None))

    async def check(self) -> None:
        def unavailable(refusal: EvolutionRefusal) -> ApplicationError:
            return UpstreamUnavailable(f"Evolution answered {refusal.status}")

        await self._call(endpoints.INFO, None, on_refusal=unavailable)

    async def _call(self, endpoint: Endpoint, ref: InstanceRef | None, body: Any = None,
                    on_refusal: _Handler | None = None) -> Any:
        # The instance token suffices on /{instance} routes; create, fetchInstances and the
        # root need the global key (a token would filter or be refused).
        apikey = ref.token if ref is not None and ref.token else self._api_key
        instance = ref.name if ref is not None else _body_name(body)
        try:
            return await self.transport.call(endpoint, instance, apikey, body)
        except EvolutionRefusal as refusal:
            error = on_refusal(refusal) if on_refusal else translate(refusal)
            if error is None:
                return None
            raise error from refusal


def _body_name(body: Any) -> str | None:
    # create carries the name in its body; the transport still needs it for the per-instance
    # circuit, though the path has none.
    name = body.get("instanceName") if isinstance(body, Mapping) else None
    return name if isinstance(name, str) else None
