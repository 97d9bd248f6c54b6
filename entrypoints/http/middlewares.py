"""Request ids, problem+json for every failure, and request metrics."""

from __future__ import annotations

import asyncio
import re
import time
import uuid
from collections.abc import Awaitable, Callable

import structlog
from aiohttp import web
from aiohttp.http_exceptions import BadHttpMessage
from aiohttp.web_protocol import RequestPayloadError

from entrypoints.http.keys import REQUEST_ID
from entrypoints.http.problems import CLIENT_GONE, EDGE_PROBLEMS, from_exception, problem

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
        if request.body_exists:
            await _body_in_time(request)
        return await handler(request)
    except TimeoutError:
        # Read before the handler, so that this is the body's clock and no one else's.
        response = problem(408, *EDGE_PROBLEMS[408], "The request body did not arrive in time.",
                           request)
        response.force_close()
        return response
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
    except (BadHttpMessage, RequestPayloadError) as exc:
        # Raised while reading the body (a Content-Encoding that does not decode, a broken
        # chunk): the request is at fault, and its bytes are not repeated back.
        log.info("request_body_refused", path=request.path, error=type(exc).__name__)
        slug, title = EDGE_PROBLEMS[400]
        return problem(400, slug, title, "The request body could not be read as sent.",
                       request)
    except ConnectionError as exc:
        if request.transport is not None and not request.transport.is_closing():
            return _internal(request, exc)
        # The client went away mid-request: nothing to answer, and no fault of ours.
        log.info("client_went_away", path=request.path)
        slug, title = EDGE_PROBLEMS[CLIENT_GONE]
        return problem(CLIENT_GONE, slug, title, None, request)
    except Exception as exc:
        rendered = from_exception(exc, request)
        if rendered is not None:
            return rendered
        return _internal(request, exc)


async def _body_in_time(request: web.Request) -> None:
    """The whole body (at most 1 MiB), read now within ``HTTP_BODY_TIMEOUT_S``: a client that
    sends its headers and then trickles its body would otherwise hold a connection for ever.
    aiohttp keeps what it read, so the handler's own read returns it at once."""
    async with asyncio.timeout(request.app.get(BODY_TIMEOUT_KEY, 30.0)):
        await request.read()


def _internal(request: web.Request, exc: Exception) -> web.Response:
    log.error("request_failed", path=request.path, exc_info=exc)
    return problem(500, "internal", "Internal server error", None, request)


BODY_TIMEOUT_KEY = web.AppKey("body_timeout_s", float)
OBSERVE_KEY = web.AppKey("observe_request", Callable[[web.Request, int, float], None])
