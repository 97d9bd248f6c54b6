"""The listening socket's side of HTTP, below the application and its middlewares.

aiohttp's parser refuses some requests before any middleware runs (a header over the limit,
a control character, Transfer-Encoding with Content-Length, a bad method). Its own answer is a
``400 text/plain`` that echoes the start of the offending bytes (a bearer token, say) and logs
a traceback; here it is a problem+json document with an ``X-Request-ID``, one warning line,
and none of the caller's bytes. A client that does not finish its request headers within the
header timeout is disconnected, so that slow clients cannot hold the process's sockets.
"""

from __future__ import annotations

import asyncio
import errno
import os
import signal
import socket
import ssl
import uuid
from collections.abc import Callable
from typing import Any

import structlog
from aiohttp import HttpVersion11, web
from aiohttp.http_exceptions import (
    BadHttpMethod,
    BadStatusLine,
    HttpProcessingError,
    InvalidURLError,
    LineTooLong,
)
from aiohttp.streams import StreamReader
from aiohttp.web_protocol import RequestHandler
from aiohttp.web_request import BaseRequest
from aiohttp.web_urldispatcher import ResourceRoute
from aiohttp.web_urldispatcher import _default_expect_handler as _default_expect

from entrypoints.http.keys import DRAINING
from entrypoints.http.problems import EDGE_PROBLEMS, PROBLEM_JSON

log = structlog.get_logger(__name__)

MAX_FIELD_SIZE = 8190  # API.md: a header (name and value) over 8190 bytes is refused
# Two bytes above the field limit so that LineTooLong, which carries the limit it hit,
# tells a long request line (414) from a long header (431).
MAX_LINE_SIZE = 8192
MAX_HEADERS = 128
KEEPALIVE_IDLE_S = 75.0  # an idle keep-alive connection; longer than most proxies' own idle
SHUTDOWN_TIMEOUT_S = 60.0

_MALFORMED = "Malformed request"
# What llhttp says about framing and header syntax, mapped to a detail of our own: its text
# is followed by the offending bytes, which are never repeated.
_KNOWN_REASONS = {
    "Content-Length can't be present with Transfer-Encoding":
        "Content-Length and Transfer-Encoding were both sent; send one of them.",
    "Duplicate Content-Length": "Content-Length was sent more than once.",
    "Invalid character in Content-Length": "Content-Length is not a decimal number.",
    "Request has invalid `Transfer-Encoding`": "Transfer-Encoding must end with chunked.",
    "Invalid header value char": "A header value holds a character HTTP does not allow "
                                 "(a control character, for instance).",
    "Invalid header token": "A header name holds a character HTTP does not allow.",
    "Invalid character in chunk size": "The chunked body is malformed.",
}


def _classify(exc: HttpProcessingError, handler: RequestHandler) -> tuple[int, str, str, str]:
    """Status, slug, title and a detail that owes nothing to the request's bytes."""
    if isinstance(exc, LineTooLong):
        if exc.args[1:2] == (handler.max_field_size,):
            return (431, *EDGE_PROBLEMS[431],
                    f"A header field is longer than {handler.max_field_size} bytes.")
        return (414, *EDGE_PROBLEMS[414],
                f"The request line is longer than {handler.max_line_size} bytes.")
    if exc.message == "Too many headers received":
        return (431, *EDGE_PROBLEMS[431],
                f"The request has more than {handler.max_headers} header fields.")
    if isinstance(exc, BadHttpMethod):
        detail = "The request method is not an HTTP method this service knows."
    elif isinstance(exc, BadStatusLine):
        detail = "The request line is not `METHOD target HTTP/1.1` ended by CRLF."
    elif isinstance(exc, InvalidURLError):
        detail = "The request target is not a valid URL."
    else:
        reason = exc.message.split(":\n", 1)[0]
        detail = _KNOWN_REASONS.get(reason, "The request is not valid HTTP/1.1.")
    slug, _ = EDGE_PROBLEMS[400]
    return 400, slug, _MALFORMED, detail


class EdgeRequestHandler(RequestHandler):
    """aiohttp's protocol, with problem+json for its own errors and a header deadline."""

    def __init__(self, manager: web.Server, *, header_timeout_s: float, **kwargs: Any) -> None:
        super().__init__(manager, **kwargs)
        self._header_timeout_s = header_timeout_s
        self._header_deadline: asyncio.TimerHandle | None = None
        self._last_body: StreamReader | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        self._arm_header_deadline()

    def data_received(self, data: bytes) -> None:
        seen = self._request_count
        super().data_received(data)
        if self._request_count != seen:  # a request's headers are complete (or refused)
            self._disarm_header_deadline()
            self._last_body = self._messages[-1][1] if self._messages else None
        elif data and self._between_requests():
            self._arm_header_deadline()  # the first bytes of the next request: its clock starts

    def connection_lost(self, exc: BaseException | None) -> None:
        self._disarm_header_deadline()
        super().connection_lost(exc)

    def _between_requests(self) -> bool:
        # Body bytes of the current request arrive here too, and so may a pipelined request
        # while an answer (a QR stream, say) is still being written: neither is on this clock.
        body = self._last_body
        return (not self._upgraded and self._payload_parser is None
                and not self._request_in_progress and not self._messages
                and (body is None or body.is_eof()))

    def _arm_header_deadline(self) -> None:
        if self._header_deadline is None:
            self._header_deadline = self._loop.call_later(self._header_timeout_s,
                                                          self._headers_too_slow)

    def _disarm_header_deadline(self) -> None:
        if self._header_deadline is not None:
            self._header_deadline.cancel()
            self._header_deadline = None

    def _headers_too_slow(self) -> None:
        self._header_deadline = None
        self.force_close()

    def handle_error(self, request: BaseRequest, status: int = 500,
                     exc: BaseException | None = None,
                     message: str | None = None) -> web.StreamResponse:
        if request.writer.output_size > 0:
            raise ConnectionError("an answer has already been sent on this connection")
        if not isinstance(exc, HttpProcessingError):
            # A fault of this service, not of the request: logged as one, with its traceback.
            self.log_exception("Error handling request", exc_info=exc)
            slug, title = EDGE_PROBLEMS[500]
            return _problem(500, slug, title, None)
        status, slug, title, detail = _classify(exc, self)
        response = _problem(status, slug, title, detail)
        log.warning("http_request_refused", status=status, problem=slug, detail=detail,
                    request_id=response.headers["X-Request-ID"], remote=request.remote)
        return response


def _problem(status: int, slug: str, title: str, detail: str | None) -> web.Response:
    """problems.problem's document without a request behind it (no path, no request id)."""
    request_id = uuid.uuid4().hex
    body: dict[str, Any] = {"type": f"/problems/{slug}", "title": title, "status": status,
                            "code": slug, "request_id": request_id}
    if detail:
        body["detail"] = detail
    response = web.json_response(body, status=status, content_type=PROBLEM_JSON,
                                 headers={"X-Request-ID": request_id})
    response.force_close()  # the framing is in doubt: nothing more is read from this client
    return response


class EdgeServer(web.Server):
    def __init__(self, *args: Any, header_timeout_s: float, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._header_timeout_s = header_timeout_s

    def __call__(self) -> RequestHandler:
        limits = {"max_line_size": MAX_LINE_SIZE, "max_field_size": MAX_FIELD_SIZE,
                  "max_headers": MAX_HEADERS}
        return EdgeRequestHandler(self, loop=self._loop, header_timeout_s=self._header_timeout_s,
                                  **(limits | self._kwargs))


class EdgeRunner(web.AppRunner):
    """An AppRunner whose connections are EdgeRequestHandlers."""

    def __init__(self, app: web.Application, *, header_timeout_s: float, **kwargs: Any) -> None:
        kwargs.setdefault("keepalive_timeout", KEEPALIVE_IDLE_S)
        kwargs.setdefault("shutdown_timeout", SHUTDOWN_TIMEOUT_S)
        super().__init__(app, **kwargs)
        self._header_timeout_s = header_timeout_s

    async def _make_server(self) -> web.Server:
        plain = await super()._make_server()  # runs the application's start-up
        return EdgeServer(plain.request_handler, request_factory=plain.request_factory,
                          handler_cancellation=plain.handler_cancellation,
                          header_timeout_s=self._header_timeout_s, **plain._kwargs)


class CannotListen(Exception):
    """One line: the address, and why nothing can listen on it."""


def url_of(address: Any, scheme: str = "http") -> str:
    host, port = address[0], address[1]
    return f"{scheme}://[{host}]:{port}" if ":" in host else f"{scheme}://{host}:{port}"


def tls_context(cert_file: str, key_file: str) -> ssl.SSLContext:
    """The server side of HTTPS: TLS 1.2 or newer, the certificate chain and its key.

    Raises ``CannotListen`` (one line naming the variable) when they cannot be loaded."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    try:
        context.load_cert_chain(cert_file, key_file)
    except (ssl.SSLError, OSError) as exc:
        # Which file is wrong is not always knowable; both are named, never their content.
        raise CannotListen(f"TLS_CERT_FILE / TLS_KEY_FILE: cannot load the certificate and "
                           f"key ({getattr(exc, 'reason', None) or type(exc).__name__})"
                           ) from None
    return context


async def serve(app: web.Application, host: str, port: int, header_timeout_s: float,
                listening: Callable[[str], None],
                ssl_context: ssl.SSLContext | None = None, *, grace_s: float = 30.0,
                drain_s: float = 2.0) -> None:
    """Run ``app`` on host:port until SIGINT or SIGTERM, then shut down gracefully; HTTPS
    only when ``ssl_context`` is given.

    On the signal readiness fails at once (``DRAINING``) while the listener still accepts for
    ``drain_s``, so that a balancer stops sending here first; then the listener closes and
    requests in flight get what is left of ``grace_s`` to finish. A signal during start-up
    (a database that does not answer, say) abandons it at once; a second signal abandons the
    graceful shutdown.
    """
    loop = asyncio.get_running_loop()
    main = asyncio.current_task()
    assert main is not None
    stop = asyncio.Event()
    drain_s = min(drain_s, grace_s / 2)
    runner = EdgeRunner(app, header_timeout_s=header_timeout_s, access_log=None,
                        shutdown_timeout=grace_s - drain_s)

    def on_signal() -> None:
        if stop.is_set() or not runner.addresses:
            main.cancel()
        stop.set()

    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, on_signal)
    try:
        await runner.setup()
        site = web.TCPSite(runner, host, port, ssl_context=ssl_context)
        try:
            await site.start()
        except OSError as exc:
            raise CannotListen(f"cannot listen on {url_of((host, port))}: "
                               f"{_reason(exc)}") from None
        for address in runner.addresses:
            listening(url_of(address, "https" if ssl_context else "http"))
        await stop.wait()
        draining = app.get(DRAINING)
        if draining is not None:
            draining.active = True
            await asyncio.sleep(drain_s)
    finally:
        await runner.cleanup()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(signum)


def _reason(exc: OSError) -> str:
    if isinstance(exc, socket.gaierror):
        return f"unknown host ({exc.strerror})"
    if exc.errno == errno.EADDRINUSE:
        return "address already in use (another process listens there; choose another " \
               "port with --port or PORT)"
    # asyncio's message repeats the address as a tuple; the system's own words suffice.
    return os.strerror(exc.errno).lower() if exc.errno else str(exc)


async def _expect(request: web.Request) -> web.StreamResponse | None:
    """``Expect: 100-continue`` as aiohttp answers it; any other expectation is a 417 problem
    that closes the connection: aiohttp's own answer was text echoing the header, and left
    the connection open while the body it still waited for never came, so the next request
    on it was read from the wrong place."""
    expect = request.headers.get("Expect", "")
    if request.version != HttpVersion11 or expect.lower() == "100-continue":
        return await _default_expect(request)
    return _problem(417, *EDGE_PROBLEMS[417],
                    "The only expectation this service meets is 100-continue.")


def answer_expectations(app: web.Application) -> None:
    """Every route answers ``Expect`` through ``_expect``. aiohttp takes an expect handler only
    route by route when a route is added; the attribute it keeps is set here once for all
    (checked against aiohttp 3.14)."""
    for route in app.router.routes():
        if isinstance(route, ResourceRoute):
            route._expect_handler = _expect
