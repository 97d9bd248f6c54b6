from __future__ import annotations

import enum
from abc import ABC, abstractmethod
from collections.abc import Mapping

import attrs


@attrs.frozen
class InstanceRef:
    """How to address one Evolution instance: its name and, when known, its own token."""

    name: str
    token: str | None = None


@attrs.frozen
class WebhookRegistration:
    url: str
    headers: Mapping[str, str]
    events: tuple[str, ...]
    by_events: bool = False
    base64: bool = False


@attrs.frozen
class CreateInstanceRequest:
    name: str
    token: str
    webhook: WebhookRegistration
    number: str | None = None


@attrs.frozen
class CreatedInstance:
    name: str
    evolution_id: str
    token: str


@attrs.frozen
class QrPayload:
    code: str
    base64: str
    pairing_code: str | None


class ConnectStatus(enum.StrEnum):
    QR = "qr"            # a QR is ready now
    PENDING = "pending"  # the socket is opening; the QR will come by QRCODE_UPDATED
    OPEN = "open"        # already connected: nothing to scan


@attrs.frozen
class ConnectResult:
    status: ConnectStatus
    qr: QrPayload | None = None


@attrs.frozen
class RemoteInstance:
    name: str
    evolution_id: str
    connection_status: str
    owner_jid: str | None
    profile_name: str | None
    token: str | None


class EvolutionGateway(ABC):
    """Evolution API v2, seen from the use cases.

    Every method raises ``UpstreamError`` when Evolution refuses (its message in ``detail``),
    ``UpstreamTimeout`` when it does not answer in time, ``UpstreamUnavailable`` when it cannot
    be reached or its circuit is open, and ``NotFound`` for an instance Evolution does not know.
    """

    @abstractmethod
    async def create_instance(self, request: CreateInstanceRequest) -> CreatedInstance:
        """Create the instance with its webhook inline, without waiting for a QR.

        Not idempotent. A name already in use raises ``Conflict``: the instance may exist from an
        earlier create that timed out, and the caller decides whether to adopt it.
        """

    @abstractmethod
    async def connect(self, ref: InstanceRef) -> ConnectResult:
        """Open the socket if closed and return the current QR, a pending marker, or OPEN."""

    @abstractmethod
    async def connection_state(self, ref: InstanceRef) -> str:
        """Evolution's in-memory state: ``open``, ``connecting``, ``close`` or ``unknown``.

        Idempotent and safe to retry.
        """

    @abstractmethod
    async def restart(self, ref: InstanceRef) -> ConnectResult:
        """Close and reopen the socket; answers like ``connect``."""

    @abstractmethod
    async def logout(self, ref: InstanceRef) -> None:
        """End the WhatsApp session; the instance stays. Logging out a closed instance is a
        no-op, not an error."""

    @abstractmethod
    async def delete(self, ref: InstanceRef) -> None:
        """Delete the instance in Evolution. Deleting an unknown instance is a no-op."""

    @abstractmethod
    async def set_webhook(self, ref: InstanceRef, webhook: WebhookRegistration) -> None:
        """Replace the instance's webhook configuration. Idempotent."""

    @abstractmethod
    async def find_webhook(self, ref: InstanceRef) -> WebhookRegistration | None:
        """The instance's webhook configuration, or None. Idempotent."""

    @abstractmethod
    async def fetch_instances(self) -> list[RemoteInstance]:
        """Every instance Evolution holds for this client. Idempotent."""

    @abstractmethod
    async def check(self) -> None:
        """Return when Evolution answers; raise ``UpstreamUnavailable`` otherwise."""
