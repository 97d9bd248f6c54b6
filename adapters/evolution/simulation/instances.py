from __future__ import annotations

import asyncio
import base64
import secrets
import uuid
from datetime import UTC, datetime
from typing import Any

import attrs

from adapters.qr.images import png_data_url

_PAIRING_ALPHABET = "123456789ABCDEFGHJKLMNPQRSTVWXYZ"


@attrs.define(eq=False)
class SimInstance:
    """One Evolution instance: its database row and its in-memory Baileys socket."""

    name: str
    token: str
    number: str | None = None
    instance_id: str = attrs.field(factory=lambda: str(uuid.uuid4()))
    created_at: str = attrs.field(factory=lambda: utc_iso())
    state: str = "close"        # in memory: what connect and connectionState see
    db_status: str = "close"    # the row's connectionStatus: lags behind ``state``
    count: int = 0              # QRs produced; never reset by a successful scan
    qr: dict[str, Any] | None = None
    owner_jid: str | None = None
    profile_name: str | None = None
    sender: str | None = None   # set on the first open in this process, kept after logout
    webhook: dict[str, Any] | None = None
    disconnection_code: int | None = None
    disconnection_at: str | None = None
    timers: list[asyncio.Task[Any]] = attrs.field(factory=list)

    def state_answer(self) -> dict[str, Any]:
        return {"instance": {"instanceName": self.name, "state": self.state}}

    def qr_answer(self) -> dict[str, Any]:
        """What /connect returns while connecting: the QR object, or a bare count."""
        return {**self.qr, "count": self.count} if self.qr else {"count": self.count}

    def new_qr(self) -> dict[str, Any]:
        self.qr = self.new_qr_payload(self.number is not None)
        return self.qr

    @staticmethod
    def new_qr_payload(pairing: bool = False) -> dict[str, Any]:
        """A fresh QR as Evolution sends it, with a scannable image of its code."""
        code = _qr_code()
        pairing_code = "".join(secrets.choice(_PAIRING_ALPHABET) for _ in range(8))
        return {"pairingCode": pairing_code if pairing else None, "code": code,
                "base64": png_data_url(code)}

    def row(self, client_name: str) -> dict[str, Any]:
        """The fetchInstances element: a raw database row (abridged)."""
        return {"id": self.instance_id, "name": self.name, "connectionStatus": self.db_status,
                "ownerJid": self.owner_jid, "profileName": self.profile_name,
                "profilePicUrl": None, "integration": "WHATSAPP-BAILEYS",
                "number": self.number, "businessId": None, "token": self.token,
                "clientName": client_name, "disconnectionReasonCode": self.disconnection_code,
                "disconnectionObject": None, "disconnectionAt": self.disconnection_at,
                "createdAt": self.created_at, "updatedAt": utc_iso()}


def webhook_row(instance_id: str, spec: dict[str, Any], events: list[str],
                previous: dict[str, Any] | None, enabled: bool = True) -> dict[str, Any]:
    now = utc_iso()
    return {"id": previous["id"] if previous else "cm" + secrets.token_hex(11),
            "url": spec["url"], "headers": spec.get("headers") or {}, "enabled": enabled,
            "events": events, "webhookByEvents": bool(spec.get("byEvents")),
            "webhookBase64": bool(spec.get("base64")),
            "createdAt": previous["createdAt"] if previous else now, "updatedAt": now,
            "instanceId": instance_id}


def utc_iso() -> str:
    now = datetime.now(UTC)
    return now.strftime("%Y-%m-%dT%H:%M:%S.") + f"{now.microsecond // 1000:03d}Z"


def _qr_code() -> str:
    # Baileys rc.6: "ref,noiseKey,identityKey,advSecret", the last three 44-char base64.
    keys = ",".join(base64.b64encode(secrets.token_bytes(32)).decode() for _ in range(3))
    return f"2@{secrets.token_urlsafe(60)},{keys}"


