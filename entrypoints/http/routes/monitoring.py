"""The operators' dashboard (API.md section 10): the page, its login, its data and its kill switch.

The page is for a browser, which cannot set an Authorization header: the admin token lives in
an HttpOnly, SameSite=Strict cookie. What changes state from the page (the kill switch, login
and logout) must also come from our own origin and, for the kill switch, carry a token derived
from the cookie that only a page we rendered can know.
"""

from __future__ import annotations

import hashlib
import hmac
from urllib.parse import urlsplit

from aiohttp import web

from application.errors import (
    ApplicationError,
    Forbidden,
    Unauthenticated,
    ValidationFailed,
)
from domain.access import Actor
from domain.rollout import RADICAL_SOLUTION
from domain.text import is_storable
from entrypoints.http.auth import ADMIN, JWT_SECRET_KEY, TOKEN_COOKIE, authenticate, token_actor
from entrypoints.http.documented import BROWSER, PUBLIC, Answer, documented
from entrypoints.http.keys import services
from entrypoints.http.pages import page_headers, render
from entrypoints.http.schemas.common import json_body

routes = web.RouteTableDef()
# The token comes in the form's body, which no OpenAPI security scheme can name ("" is that).
FORM_TOKEN = ("",)
PAGE = "/admin/monitoring"
CSRF_HEADER = "X-CSRF-Token"
HTML = "text/html"
MAX_TOKEN = 4096  # far above any JWT we mint; a bigger form field is not a token
LOGIN_PAGE = Answer("The login form (no data), with a message when a token was refused",
                    {"type": "string"}, HTML)
DATA_SHAPE = {"type": "object",
              "required": ["series", "instances", "inbox", "flag", "dead_letters", "alerts"],
              "properties": {"series": {"type": "object"}, "instances": {"type": "object"},
                             "inbox": {"type": "object"},
                             "flag": {"type": "object", "nullable": True},
                             "stage": {"type": "object", "nullable": True},
                             "sampled_at": {"type": "number"},
                             "dead_letters": {"type": "array", "items": {"type": "object"}},
                             "alerts": {"type": "array", "items": {"type": "object"}}}}
KILL_SWITCH = {"type": "object", "required": ["enabled"], "additionalProperties": False,
               "properties": {"enabled": {"type": "boolean"}},
               "description": "`false` is the kill switch; `true` turns the flow back on."}


@routes.get(PAGE)
@documented("The monitoring dashboard", answer={"type": "string"}, answer_type=HTML,
            security=BROWSER, roles=ADMIN, tag="pages",
            description="With `?token=` the token is moved into the cookie and the browser is "
                        "sent back here without it (303). Without an admin token: the login "
                        "form, 401.",
            other_answers={303: Answer("The token was stored in the cookie", None, HTML),
                           401: LOGIN_PAGE})
async def monitoring_page(request: web.Request) -> web.StreamResponse:
    if "token" in request.query:
        return _login(request, request.query["token"])
    token = request.cookies.get(TOKEN_COOKIE)
    try:
        authenticate(request, ADMIN, allow_browser=True)
    except ApplicationError:
        message = "That token is not an admin's, or it has expired." if token else ""
        return _login_form(request, message)
    # A bearer header shows the page too, but only the cookie's holder can use the kill switch.
    csrf = _csrf(request, token) if token else ""
    return _page(request, "monitoring.html", {
        "lang": "en", "csrf": csrf, "flag_name": RADICAL_SOLUTION,
        "interval_ms": int(services(request).settings().monitoring_sample_s * 1000)})


@routes.post(PAGE + "/login")
@documented("Log in to the dashboard", answer={"type": "string"}, answer_type=HTML,
            status=303, security=FORM_TOKEN, tag="pages",
            description="A form post (`application/x-www-form-urlencoded`, field `token`) "
                        "from our own origin; an admin token is kept in an HttpOnly, "
                        "SameSite=Strict cookie (Secure over HTTPS).",
            other_answers={401: LOGIN_PAGE,
                           403: Answer("Posted from another origin", {"type": "string"},
                                       HTML)})
async def monitoring_login(request: web.Request) -> web.StreamResponse:
    token = await _form_token(request)
    if not token.strip():
        return _login_form(request, "Paste an admin token.")
    if not _same_origin(request):  # or another site could log a browser in as its own admin
        return _login_form(request, "Log in from this page.", status=403)
    return _login(request, token)


@routes.post(PAGE + "/logout")
@documented("Log out of the dashboard", answer={"type": "string"}, answer_type=HTML,
            answer_description="The login form again", security=PUBLIC, tag="pages",
            description="Forgets the cookie. Not origin-checked: the worst another site can do "
                        "with it is log an operator out.")
async def monitoring_logout(request: web.Request) -> web.StreamResponse:
    response = _login_form(request, "", status=200, notice="Logged out.")
    response.del_cookie(TOKEN_COOKIE, path="/")
    return response


@routes.get("/api/admin/monitoring/data")
@documented("The dashboard's data", answer=DATA_SHAPE, security=BROWSER, roles=ADMIN,
            description="What the dashboard page fetches every few seconds: the sampled time "
                        "series (one column per series, aligned on `t`), instances by state, "
                        "inbox counts, the rollout flag and its stage, the latest dead letters and "
                        "alerts.")
async def monitoring_data(request: web.Request) -> web.Response:
    actor = authenticate(request, ADMIN, allow_browser=True)
    return web.json_response(await services(request).monitoring().data(actor))


@routes.post(PAGE + "/kill-switch")
@documented("The dashboard's kill switch", answer={"type": "object"}, body=KILL_SWITCH,
            security=("tokenCookie",), roles=ADMIN, tag="pages",
            headers={CSRF_HEADER: {"type": "string", "pattern": "^[0-9a-f]{64}$"}},
            description="Turns `radical_solution` off (or back on) through the rollout use "
                        "case, audited `flag_changed`. Only from the dashboard page: our own "
                        "`Origin` and the page's `X-CSRF-Token`, else 403.")
async def monitoring_kill_switch(request: web.Request) -> web.Response:
    actor = _page_actor(request)
    body = await json_body(request)
    if not isinstance(body, dict) or set(body) != {"enabled"} or not isinstance(
            body["enabled"], bool):
        raise ValidationFailed({"enabled": ["expected {\"enabled\": true|false} only"]})
    return web.json_response(
        await services(request).rollout().toggle(actor, {RADICAL_SOLUTION: body["enabled"]}))


async def _form_token(request: web.Request) -> str:
    """The form's ``token``; anything but a URL-encoded form (the login form's only
    encoding) has none, so a broken multipart header never reaches a parser."""
    if request.content_type != "application/x-www-form-urlencoded":
        return ""
    try:
        form = await request.post()
    except (ValueError, UnicodeDecodeError):
        return ""
    token = form.get("token")
    return token if isinstance(token, str) else ""


def _login(request: web.Request, token: str) -> web.StreamResponse:
    """Keep an admin token in the cookie; anything else gets the form back."""
    token = token.strip()
    if not token or len(token) > MAX_TOKEN or not is_storable(token):
        return _login_form(request, "Paste an admin token.")
    try:
        token_actor(request, token, ADMIN)
    except ApplicationError:
        return _login_form(request, "That token is not an admin's, or it has expired.")
    response = _see_page()
    response.set_cookie(TOKEN_COOKIE, token, path="/", httponly=True, samesite="Strict",
                        secure=_served_over_https(request))
    return response


def _see_page() -> web.Response:
    return web.Response(status=303, headers={"Location": PAGE})


def _login_form(request: web.Request, message: str, status: int = 401,
                notice: str = "") -> web.Response:
    return _page(request, "monitoring_login.html",
                 {"lang": "en", "message": message, "notice": notice}, status=status)


def _page(request: web.Request, template: str, context: dict[str, object],
          status: int = 200) -> web.Response:
    """A page of ours that no other site may frame, whatever CONNECT_FRAME_ANCESTORS lets
    frame the connect page: a framed kill switch could be clicked through a decoy."""
    response = render(request, template, context, status=status)
    response.headers.update(page_headers(()))
    return response


def _page_actor(request: web.Request) -> Actor:
    """The cookie's admin, for a request the dashboard page itself made."""
    token = request.cookies.get(TOKEN_COOKIE)
    if not token:
        raise Unauthenticated("log in on the dashboard first")
    actor = token_actor(request, token, ADMIN)
    sent = request.headers.get(CSRF_HEADER, "")
    if not _same_origin(request) or not hmac.compare_digest(sent, _csrf(request, token)):
        raise Forbidden("only the dashboard page may do this")
    return actor


def _csrf(request: web.Request, token: str) -> str:
    key = request.app[JWT_SECRET_KEY].encode()
    return hmac.new(key, b"monitoring-csrf:" + token.encode(), hashlib.sha256).hexdigest()


def _same_origin(request: web.Request) -> bool:
    """A browser names the page a state change comes from; it must be one of ours.

    ``Sec-Fetch-Site`` is the browser's own word, which no page can set; our pages send no
    referrer, so a form post's ``Origin`` is ``null`` there. Browsers without it send
    ``Origin`` on every POST, so a POST with neither is not from a page of ours either.
    """
    site = request.headers.get("Sec-Fetch-Site")
    if site is not None:
        return site == "same-origin"
    origin = request.headers.get("Origin")
    return origin is not None and urlsplit(origin).netloc == request.host


def _served_over_https(request: web.Request) -> bool:
    return request.secure or services(request).settings().public_base_url.startswith(
        "https://")
