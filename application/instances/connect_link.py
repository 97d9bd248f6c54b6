"""Connect links (API.md 6a): a signed link that opens one instance's connect page, and only
that instance's, for ``CONNECT_LINK_TTL_S``, to whoever holds it (a clinic's browser)."""

from __future__ import annotations

import hmac
from collections.abc import AsyncGenerator
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

import attrs

from application.access import visible_instance
from application.errors import FeatureDisabled, NotFound, Unauthenticated
from application.instances.qr_stream import QrStream, QrStreamService, StreamEvent
from application.ports.connect_page import ConnectPageCounts
from application.ports.system import Clock
from application.ports.tokens import JwtCodec
from application.ports.unit_of_work import UnitOfWorkFactory
from application.rollout.service import RolloutService
from domain.access import Actor, Role
from domain.connect_page import PageOutcome, rates
from domain.instance import Instance, InstanceState
from domain.rollout import RADICAL_SOLUTION

LINK_TYPE = "connect_link"
LAYOUTS = ("unified_qr", "guided_steps")
# The first of these a stream sends is its outcome (the page stops at an error, too).
_ENDINGS = {"connected": PageOutcome.CONNECTED, "timeout": PageOutcome.TIMEOUT,
            "error": PageOutcome.ERROR}


@attrs.frozen
class ConnectLink:
    instance_id: UUID
    token: str
    expires_at: datetime


@attrs.frozen
class ConnectPage:
    """What the page shows before its stream opens: the instance and the organization's layout."""

    instance: Instance
    variant: str
    expires_at: datetime


class ConnectLinkService:
    """``secret`` is the links' own signing key: a management token never verifies as a link,
    nor a link as a management token."""

    def __init__(self, uow: UnitOfWorkFactory, jwt: JwtCodec, secret: str, clock: Clock,
                 rollout: RolloutService, streams: QrStreamService, counts: ConnectPageCounts,
                 ttl_s: float) -> None:
        self._uow = uow
        self._streams = streams
        self._counts = counts
        self._jwt = jwt
        self._secret = secret
        self._clock = clock
        self._rollout = rollout
        self._ttl = timedelta(seconds=ttl_s)

    async def mint(self, actor: Actor, instance_id: UUID) -> ConnectLink:
        """A link for an instance the actor sees (another tenant's is NotFound)."""
        async with self._uow() as uow:
            instance = await visible_instance(uow, actor, instance_id)
        expires_at = self._clock.now() + self._ttl
        claims = {"typ": LINK_TYPE, "sub": str(instance.id), "org": instance.organization_id,
                  "act": actor.id, "exp": int(expires_at.timestamp())}
        return ConnectLink(instance.id, self._jwt.encode(claims, self._secret), expires_at)

    async def open_page(self, instance_id: UUID, token: str) -> ConnectPage | None:
        """The page to show, or None for a bad, expired or foreign link (or a deleted
        instance): the caller answers 403 and shows no QR."""
        claims = self._claims(instance_id, token)
        if claims is None:
            return None
        async with self._uow() as uow:
            instance = await uow.instances.get(instance_id)
        if instance is None or instance.state is InstanceState.DELETED or not hmac.compare_digest(
                instance.organization_id.encode(), str(claims["org"]).encode()):
            return None
        expires_at = datetime.fromtimestamp(float(claims["exp"]), tz=self._clock.now().tzinfo)
        variant = await self._variant(instance.organization_id)
        await self._counts.add(RADICAL_SOLUTION, variant, PageOutcome.VIEW)
        return ConnectPage(instance, variant, expires_at)

    async def open_stream(self, instance_id: UUID, token: str,
                          last_event_id: str | None) -> QrStream:
        """The QR stream for a link's holder, this instance's only; how it ends (connected,
        timeout, a first error) is counted for the organization's variant."""
        claims = self._claims(instance_id, token)
        if claims is None:
            raise Unauthenticated("the connect link is invalid or expired")
        org = str(claims["org"])
        actor = Actor(f"connect-link:{instance_id}", Role.TENANT_ADMIN, org)
        inner = await self._streams.open(actor, instance_id, last_event_id)
        return QrStream(self._counted(inner, await self._variant(org)), release=lambda: None)

    async def variants(self, flag: str) -> dict[str, Any]:
        """Views and outcomes per variant of ``flag``, with each outcome's share of views."""
        known = {item["name"]: item for item in (await self._rollout.list())["items"]}
        if flag not in known:
            raise NotFound(f"no flag named {flag}")
        counted = await self._counts.summary(flag)
        names = [v["name"] for v in known[flag]["variants"]]
        names += [n for n in counted if n not in names]
        return {"flag": flag, "variants": [
            {"name": name, "views": counted.get(name, {}).get(PageOutcome.VIEW, 0),
             **{str(o): counted.get(name, {}).get(o, 0) for o in PageOutcome
                if o is not PageOutcome.VIEW},
             "rates": rates(counted.get(name, {}))} for name in names]}

    async def _counted(self, inner: QrStream,
                       variant: str) -> AsyncGenerator[StreamEvent, None]:
        ended = False
        try:
            async for event in inner:
                if not ended and event.event in _ENDINGS:
                    ended = True
                    await self._counts.add(RADICAL_SOLUTION, variant, _ENDINGS[event.event])
                yield event
        finally:
            await inner.aclose()

    def _claims(self, instance_id: UUID, token: str) -> dict[str, Any] | None:
        claims = self._jwt.decode(token, self._secret) if token else None
        if not claims or claims.get("typ") != LINK_TYPE or not isinstance(claims.get("org"), str):
            return None
        if not hmac.compare_digest(str(claims.get("sub", "")).encode(), str(instance_id).encode()):
            return None
        return dict(claims)

    async def _variant(self, organization_id: str) -> str:
        try:
            variant = await self._rollout.require(RADICAL_SOLUTION, organization_id)
        except FeatureDisabled:
            variant = None
        return variant if variant in LAYOUTS else LAYOUTS[0]
