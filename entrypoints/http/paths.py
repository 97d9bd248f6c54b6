"""The service's own addresses, as others are told them: Evolution (where to post webhooks)
and the clinic's screen (where its QR stream is). Built here, beside the routes they name, so
that the application layer never spells an HTTP path."""

from __future__ import annotations

from urllib.parse import quote
from uuid import UUID

INSTANCES = "/api/channels/whatsapp/instances"
WEBHOOK = "/api/webhooks/evolution/{orgId}"


def webhook_url(public_base_url: str, organization_id: str) -> str:
    return public_base_url.rstrip("/") + WEBHOOK.format(orgId=quote(organization_id, safe=""))


def qr_stream_url(public_base_url: str, instance_id: UUID | str) -> str:
    return f"{public_base_url.rstrip('/')}{INSTANCES}/{instance_id}/qr/stream"


def connect_page_url(public_base_url: str, instance_id: UUID | str, token: str) -> str:
    return f"{public_base_url.rstrip('/')}/connect/{instance_id}?t={quote(token, safe='')}"
