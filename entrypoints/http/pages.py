"""Server-rendered pages: jinja2 templates, our own static files, and one set of page headers.

Every page is rendered through :func:`render`, so every page carries the same Content Security
Policy: nothing from another origin, and framing only by ``CONNECT_FRAME_ANCESTORS``.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from functools import cache
from pathlib import Path
from typing import Any

import aiohttp_jinja2
import jinja2
from aiohttp import web

from application.errors import NotFound
from entrypoints.http.documented import PUBLIC, documented

HERE = Path(__file__).parent
TEMPLATES = HERE / "templates"
STATIC = HERE / "static"
STATIC_PREFIX = "/static/"
# Static URLs carry a digest of the file, so a year of caching never serves a stale file.
STATIC_CACHE = "public, max-age=31536000, immutable"
FRAME_ANCESTORS = web.AppKey("frame_ancestors", tuple)
# Third-party files sit in vendor/ beside their licences, one level down and no further.
_STATIC_NAME = re.compile(
    r"(vendor/)?[a-z0-9][a-z0-9_-]*(\.[a-z0-9_-]+)*\.(css|js|png|svg|txt)")
_STATIC_TYPES = {"css": "text/css", "js": "text/javascript", "png": "image/png",
                 "svg": "image/svg+xml", "txt": "text/plain"}


def setup_pages(app: web.Application, frame_ancestors: tuple[str, ...]) -> None:
    """Templates, ``/static/`` and the page headers, for every page of ``app``."""
    aiohttp_jinja2.setup(app, loader=jinja2.FileSystemLoader(TEMPLATES), autoescape=True,
                         undefined=jinja2.StrictUndefined)
    aiohttp_jinja2.get_env(app).globals["static_url"] = static_url
    app[FRAME_ANCESTORS] = frame_ancestors
    app.router.add_get(STATIC_PREFIX + "{file:(vendor/)?[^/]+}", static_file)


def static_url(name: str) -> str:
    return f"{STATIC_PREFIX}{name}?v={_digest(name)}"


@cache
def _digest(name: str) -> str:
    return hashlib.sha256((STATIC / name).read_bytes()).hexdigest()[:12]


def render(request: web.Request, template: str, context: Mapping[str, Any],
           status: int = 200) -> web.Response:
    response = aiohttp_jinja2.render_template(template, request, dict(context), status=status)
    response.headers.update(page_headers(request.app[FRAME_ANCESTORS]))
    return response


def page_headers(frame_ancestors: tuple[str, ...]) -> dict[str, str]:
    ancestors = " ".join(("'self'", *frame_ancestors))
    policy = ("default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
              "connect-src 'self'; base-uri 'none'; form-action 'self'; object-src 'none'; "
              f"frame-ancestors {ancestors}")
    return {"Content-Security-Policy": policy, "X-Content-Type-Options": "nosniff",
            "Referrer-Policy": "no-referrer", "Cache-Control": "no-store"}


@documented("A static file of the pages", answer={"type": "string", "format": "binary"},
            answer_type="text/css", security=PUBLIC, tag="pages",
            path={"file": {"type": "string", "pattern": _STATIC_NAME.pattern,
                           "description": "A file of entrypoints/http/static/."}},
            description="Stylesheets, scripts and images of the pages, cached for a year: "
                        "the pages link them with a digest of their content.")
async def static_file(request: web.Request) -> web.FileResponse:
    name = request.match_info["file"]
    # Only names of the fixed shape, looked up in the folder's own listing: no path escapes.
    if not _STATIC_NAME.fullmatch(name) or name not in _listing():
        raise NotFound("no such static file")
    return web.FileResponse(STATIC / name, headers={
        "Cache-Control": STATIC_CACHE, "X-Content-Type-Options": "nosniff",
        "Content-Type": _STATIC_TYPES[name.rsplit(".", 1)[1]]})


@cache
def _listing() -> frozenset[str]:
    return frozenset(p.relative_to(STATIC).as_posix() for p in (
        *STATIC.iterdir(), *(STATIC / "vendor").glob("*")) if p.is_file())
