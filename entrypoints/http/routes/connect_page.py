"""The connect page a clinic opens (API.md 6a), and the link that opens it."""

from __future__ import annotations

from urllib.parse import quote

from aiohttp import web

from application.presenters import rfc3339
from entrypoints.http.auth import ADMIN, TENANT_ROLES, authenticate
from entrypoints.http.documented import FLAG_NAME, MANAGEMENT, Answer, documented
from entrypoints.http.keys import services
from entrypoints.http.page_text import TEXT, pick_language
from entrypoints.http.pages import render
from entrypoints.http.paths import INSTANCES, connect_page_url, qr_stream_url
from entrypoints.http.routes.instances import instance_id
from entrypoints.http.schemas.connect_page import ConnectLinkResponse, VariantsResponse

routes = web.RouteTableDef()
CONNECT_LINK = ("connectLink",)
HTML = "text/html"


@routes.post(INSTANCES + "/{id}/connect-link")
@documented("A signed link to the connect page", status=201, answer=ConnectLinkResponse,
            security=MANAGEMENT, roles=TENANT_ROLES,
            description="Valid CONNECT_LINK_TTL_S (900 s) for this instance only.")
async def connect_link(request: web.Request) -> web.Response:
    actor = authenticate(request, TENANT_ROLES)
    container = services(request)
    link = await container.connect_links().mint(actor, instance_id(request))
    url = connect_page_url(container.settings().public_base_url, link.instance_id, link.token)
    return web.json_response({"url": url, "expires_at": rfc3339(link.expires_at)}, status=201)


@routes.get("/connect/{id}")
@documented("The connect page (HTML)", answer={"type": "string"}, answer_type=HTML,
            security=CONNECT_LINK, tag="pages",
            other_answers={403: Answer("A bad, expired or foreign link: a page saying so, no QR",
                                       {"type": "string"}, HTML)},
            description="The QR from the stream, its time left, the state and the pairing code. "
                        "A bad, expired or foreign link is a 403 page, never the QR.")
async def connect_page(request: web.Request) -> web.Response:
    lang = pick_language(request.query.get("lang"), request.headers.get("Accept-Language", ""))
    token = request.query.get("t", "")
    page = await services(request).connect_links().open_page(instance_id(request), token)
    if page is None:
        return render(request, "connect_forbidden.html", {"lang": lang, "t": TEXT[lang]},
                      status=403)
    stream = qr_stream_url("", page.instance.id) + "?t=" + quote(token, safe="")
    return render(request, "connect.html", {
        "lang": lang, "t": TEXT[lang], "variant": page.variant, "stream_url": stream,
        "instance_name": page.instance.display_name or ""})


@routes.get("/api/admin/feature-flags/{name}/variants")
@documented("The connect page's A/B test, per variant", answer=VariantsResponse,
            security=MANAGEMENT, roles=ADMIN, path={"name": FLAG_NAME},
            description="Views and outcomes (connected, timeout, error) of the connect page "
                        "per variant of the flag, counted on every replica.")
async def variants(request: web.Request) -> web.Response:
    authenticate(request, ADMIN)
    summary = await services(request).connect_links().variants(request.match_info["name"])
    return web.json_response(summary)
