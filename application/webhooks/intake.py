"""Webhook intake (API.md 5a): authenticate, dedupe, store durably, then acknowledge."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping

import attrs
import structlog

from application.audit.drafts import audit_draft
from application.errors import (
    NotFound,
    RateLimited,
    Unauthenticated,
    ValidationFailed,
)
from application.json_input import parse_json
from application.ports.inbox import Admission, InboxEvent, InboxWriter
from application.ports.system import Clock, IdGenerator
from application.ports.telemetry import Telemetry
from application.ports.tokens import JwtCodec
from application.ports.unit_of_work import UnitOfWorkFactory
from application.webhooks.directory import Recipient, WebhookDirectory
from application.webhooks.rate_limit import TokenBuckets
from domain.access import Actor, Role
from domain.audit import AuditAction
from domain.errors import InvalidEnvelope
from domain.text import is_organization_id
from domain.webhook import Envelope, dedupe_key, parse_envelope

log = structlog.get_logger(__name__)


@attrs.frozen
class IntakePolicy:
    jwt_leeway_s: float = 1800.0
    rate_per_org: float = 200.0
    dev_bypass: bool = False
    rejection_audit_interval_s: float = 60.0


@attrs.frozen
class WebhookDelivery:
    body: bytes
    headers: Mapping[str, str]  # names lower-cased
    organization_id: str | None = None  # from the path, when the route carries it
    source_ip: str | None = None


class WebhookIntakeService:
    def __init__(self, uow: UnitOfWorkFactory, directory: WebhookDirectory, inbox: InboxWriter,
                 jwt: JwtCodec, clock: Clock, ids: IdGenerator, telemetry: Telemetry,
                 policy: IntakePolicy) -> None:
        self._uow = uow
        self._directory = directory
        self._inbox = inbox
        self._jwt = jwt
        self._clock = clock
        self._ids = ids
        self._telemetry = telemetry
        self._policy = policy
        self._buckets = TokenBuckets(policy.rate_per_org)
        self._rejections = TokenBuckets(1 / policy.rejection_audit_interval_s, burst=1)

    async def receive(self, delivery: WebhookDelivery) -> Admission:
        """Acknowledge only what is stored; a redelivery is a harmless duplicate."""
        if delivery.organization_id is not None and not is_organization_id(
                delivery.organization_id):
            raise NotFound("no organization has that id")  # no such id can exist
        envelope = _envelope(delivery.body)
        recipient = await self._directory.resolve(delivery.organization_id, envelope.instance)
        if not self._authentic(delivery, recipient, envelope):
            # Perhaps a secret rotated since the cache read it: judge on fresh data only.
            recipient = await self._directory.resolve(delivery.organization_id,
                                                      envelope.instance, fresh=True)
            if not self._authentic(delivery, recipient, envelope):
                await self._reject(delivery, recipient.organization.id, envelope)
                raise Unauthenticated("webhook signature, token or key did not verify")
        organization = recipient.organization
        self._limit(organization.id)
        try:
            key = dedupe_key(envelope, delivery.body, delivery.headers.get("webhook-id"))
        except InvalidEnvelope as exc:
            raise ValidationFailed(exc.errors, "the event cannot be identified") from exc
        admission = await self._inbox.admit(InboxEvent(
            self._ids.uuid(), organization.id, envelope.instance, envelope.kind, key,
            delivery.body, self._clock.now()))
        self._telemetry.webhook_received(envelope.kind,
                                         "duplicate" if admission.duplicate else "accepted")
        return admission

    def _limit(self, organization_id: str) -> None:
        wait = self._buckets.take(organization_id, self._clock.monotonic())
        if wait:
            self._telemetry.webhook_received("*", "rate_limited")
            raise RateLimited("webhook rate limit for this organization exceeded",
                              retry_after_s=max(1, round(wait + 0.5)))

    def _authentic(self, delivery: WebhookDelivery, recipient: Recipient,
                   envelope: Envelope) -> bool:
        """Any one of API.md 5a's methods: signature, bearer JWT, the secret as ``apikey``
        header, or the instance's own token as the body's ``apikey``."""
        if self._policy.dev_bypass:
            return True
        secrets = [_raw(s) for s in recipient.organization.valid_secrets(self._clock.now())]
        headers = delivery.headers
        return (_signed(headers.get("x-evolution-signature", ""), delivery.body, secrets)
                or self._bearer(headers.get("authorization", ""), secrets)
                or _secret_header(headers.get("apikey"), secrets)
                or _own_token(envelope.apikey, recipient.instance.evolution_token))

    def _bearer(self, header: str, secrets: list[bytes]) -> bool:
        if header[:7].lower() != "bearer ":
            return False
        token = header[7:].strip()
        return any(self._jwt.decode(token, s.decode(), self._policy.jwt_leeway_s)
                   for s in secrets)

    async def _reject(self, delivery: WebhookDelivery, organization_id: str,
                      envelope: Envelope) -> None:
        self._telemetry.webhook_received(envelope.kind, "rejected")
        log.warning("webhook_rejected", org_id=organization_id, webhook_event=envelope.kind)
        # At most one audit event per organization per interval: a flood cannot fill the log.
        if self._rejections.take(organization_id, self._clock.monotonic()):
            return
        actor = Actor("unauthenticated", Role.SYSTEM, None, delivery.source_ip,
                      delivery.headers.get("user-agent"))
        async with self._uow() as uow:
            await uow.audit.append(audit_draft(
                actor, organization_id, AuditAction.WEBHOOK_REJECTED, self._clock.now(),
                {"event": envelope.kind, "instance_name": envelope.instance}))
            await uow.commit()


def _envelope(body: bytes) -> Envelope:
    payload = parse_json(body)
    try:
        return parse_envelope(payload)
    except InvalidEnvelope as exc:
        raise ValidationFailed(exc.errors, "the body is not an Evolution webhook envelope") from exc


def _signed(signature: str, body: bytes, secrets: list[bytes]) -> bool:
    if not signature.startswith("sha256="):
        return False
    given = _raw(signature[7:].strip().lower())
    return any(hmac.compare_digest(given, _hmac(s, body)) for s in secrets)


def _secret_header(apikey: str | None, secrets: list[bytes]) -> bool:
    return bool(apikey) and any(hmac.compare_digest(_raw(apikey or ""), s) for s in secrets)


def _own_token(body_apikey: str | None, token: str | None) -> bool:
    return bool(body_apikey and token and
                hmac.compare_digest(_raw(body_apikey), _raw(token)))


def _hmac(secret: bytes, body: bytes) -> bytes:
    return hmac.new(secret, body, hashlib.sha256).hexdigest().encode()


def _raw(text: str) -> bytes:
    """Bytes for constant-time comparison: ``compare_digest`` refuses non-ASCII text, and
    headers or JSON may carry anything, lone surrogates included."""
    return text.encode("utf-8", "surrogatepass")
