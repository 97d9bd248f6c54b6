"""Request ids, problem+json for every failure, and request metrics."""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Awaitable, Callable

import structlog
from aiohttp import web

from entrypoints.http.keys import REQUEST_ID
from entrypoints.http.problems import EDGE_PROBLEMS, from_exception, problem

log = structlog.get_logger(__name__)
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
_REQUEST_ID = re.compile(r"^[\w\-.:]{1,128}$")


@web.middleware
async def request_context(request: web.Request, handler: Handler) -> web.StreamResponse:
    given = request.headers.get("X-Request-ID", "")
    request_id = given if _REQUEST_ID.match(given) else uuid.uuid4().hex
    request[REQUEST_ID] = request_id
    structlog.contextvars.clear_contextvars()
    structlog.contextvars.bind_contextvars(request_id=request_id)
    started = time.perf_counter()
    response = await _problems(request, handler)
    if not response.prepared:
        response.headers["X-Request-ID"] = request_id
    elapsed = time.perf_counter() - started
    observe = request.app.get(OBSERVE_KEY)
    if observe is not None:
        observe(request, response.status, elapsed)
    log.info("request_finished", method=request.method, path=request.path,
             status=response.status, duration_ms=round(elapsed * 1000, 2))
    return response


async def _problems(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        slug, title = EDGE_PROBLEMS.get(exc.status, ("http-error", exc.reason))
        response = problem(exc.status, slug, title, exc.text if exc.text != exc.reason and
                           not (exc.text or "").startswith(f"{exc.status}:") else None, request)
        for name in ("Allow", "Retry-After"):
            if name in exc.headers:
                response.headers[name] = exc.headers[name]
        return response
    except Exception as exc:
        rendered = from_exception(exc, request)
        if rendered is not None:
            return rendered
        log.error("request_failed", path=request.path, exc_info=exc)
        return problem(500, "internal", "Internal server error", None, request)


OBSERVE_KEY = web.AppKey("observe_request", Callable[[web.Request, int, float], None])
