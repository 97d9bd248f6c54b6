"""The four webhook paths Evolution posts to (API.md sections 5 and 5a)."""

from __future__ import annotations

from aiohttp import web

from application.errors import NotFound
from application.webhooks.intake import WebhookDelivery
from domain.webhook import is_event_suffix
from entrypoints.http.documented import WEBHOOK, documented, retry_later
from entrypoints.http.keys import services
from entrypoints.http.paths import WEBHOOK as WEBHOOK_PATH
from entrypoints.http.schemas.admin import WebhookAck
from entrypoints.http.schemas.answers import WebhookEnvelope

routes = web.RouteTableDef()
# Organization from the path, or from the instance named in the body.
_WITH_ORG = (WEBHOOK_PATH, "/api/whatsapp/simple/webhook/{orgId}")
_BY_INSTANCE = ("/api/whatsapp/webhook", "/api/channels/whatsapp/webhook")


@documented("Evolution webhook", answer=WebhookAck, body=WebhookEnvelope, security=WEBHOOK,
            description="Acknowledged once durably stored; a redelivery is `duplicate: true`. "
                        "The organization is the path's, else the body's instance's.",
            headers={"webhook-id": {"type": "string"}},
            other_answers={429: retry_later("Past WEBHOOK_RATE_PER_ORG events/s"),
                           503: retry_later("Storage unavailable")})
async def receive(request: web.Request) -> web.Response:
    """Stored durably before the 200; processing follows in the worker."""
    suffix = request.match_info.get("suffix")
    if suffix is not None and not is_event_suffix(suffix):
        raise NotFound("unknown webhook path")
    body = await request.read()
    admission = await services(request).webhook_intake().receive(WebhookDelivery(
        body=body, headers={k.lower(): v for k, v in request.headers.items()},
        organization_id=request.match_info.get("orgId"), source_ip=request.remote))
    return web.json_response({"status": "accepted", "duplicate": admission.duplicate,
                              "event_id": str(admission.event_id)})


for _path in _WITH_ORG + _BY_INSTANCE:
    routes.post(_path)(receive)
    routes.post(_path + "/{suffix}")(receive)
