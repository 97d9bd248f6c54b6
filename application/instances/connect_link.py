"""Connect links (API.md 6a): a signed link that opens one instance's connect page, and only
that instance's, for ``CONNECT_LINK_TTL_S``, to whoever holds it (a clinic's browser)."""

from __future__ import annotations

import hmac
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

import attrs

from application.access import visible_instance
from application.errors import FeatureDisabled, Unauthenticated
from application.ports.system import Clock
from application.ports.tokens import JwtCodec
from application.ports.unit_of_work import UnitOfWorkFactory
from application.rollout.service import RolloutService
from domain.access import Actor, Role
from domain.instance import Instance, InstanceState
from domain.rollout import RADICAL_SOLUTION

LINK_TYPE = "connect_link"
LAYOUTS = ("unified_qr", "guided_steps")


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
                 rollout: RolloutService, ttl_s: float) -> None:
        self._uow = uow
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
        return ConnectPage(instance, await self._variant(instance.organization_id), expires_at)

    def stream_actor(self, instance_id: UUID, token: str) -> Actor:
        """Who a link's holder is on the QR stream: this instance's organization, and the
        stream route checks the link names this very instance."""
        claims = self._claims(instance_id, token)
        if claims is None:
            raise Unauthenticated("the connect link is invalid or expired")
        return Actor(f"connect-link:{instance_id}", Role.TENANT_ADMIN, str(claims["org"]))

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
