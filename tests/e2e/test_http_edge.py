"""The listening socket, as a client on the internet meets it: ``wachannel serve`` on a real port.

What aiohttp's own HTTP parser refuses (before any middleware runs) is still a problem+json
answer with an ``X-Request-ID``, logged once as a warning, never echoing the request's bytes.
A client that never finishes its headers is cut off after ``HTTP_HEADER_TIMEOUT_S``, without
cutting idle keep-alive connections or slow bodies.
"""

from __future__ import annotations

import asyncio
import contextlib
import http.client
import json
import re
import socket
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import attrs
import pytest

from tests.e2e.processes import WACHANNEL, Process, Processes, base_env
from tests.e2e.support import REPO, admin_token, bounded, free_port, wait_ready

pytestmark = pytest.mark.e2e

PROBLEM_JSON = "application/problem+json"
HEADER_TIMEOUT_S = 1.0  # the shared server's; the done-when test runs on the default (10 s)
BODY_TIMEOUT_S = 4.0  # the shared server's: longer than the slow body a test still accepts
# A stand-in for a bearer token or other caller bytes: it must appear in no answer, no log.
MARK = b"Zq7CallerSecret"


@attrs.frozen
class Served:
    port: int
    metrics_port: int
    process: Process

    def log(self) -> str:
        return self.process.log.read_text(errors="replace")


def _ready(port: int, process: Process, within_s: float = 20.0) -> None:
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        assert process.alive, f"serve exited before it was ready:\n{process.tail()}"
        with contextlib.suppress(OSError), urllib.request.urlopen(
                f"http://127.0.0.1:{port}/api/health", timeout=2) as answer:
            if answer.status == 200:
                return
        time.sleep(0.05)
    raise AssertionError(f"serve not ready within {within_s} s:\n{process.tail()}")


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    processes = Processes(tmp_path_factory.mktemp("edge"))
    port, metrics_port = free_port(), free_port()
    process = processes.serve("serve", port, base_env(
        PUBLIC_BASE_URL=f"http://127.0.0.1:{port}", HTTP_HEADER_TIMEOUT_S=str(HEADER_TIMEOUT_S),
        HTTP_BODY_TIMEOUT_S=str(BODY_TIMEOUT_S),
        HOST="127.0.0.1", METRICS_PORT=str(metrics_port)))
    try:
        _ready(port, process)
        yield Served(port, metrics_port, process)
    finally:
        processes.close()
        print(processes.report())


@attrs.frozen
class Answer:
    status: int
    headers: http.client.HTTPMessage
    body: bytes
    closed: bool


def exchange(port: int, raw: bytes, timeout_s: float = 5.0) -> Answer:
    """Send ``raw`` as it is, read one answer, and whether the server then hung up."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout_s) as sock:
        with contextlib.suppress(ConnectionError):  # the server may stop reading early
            sock.sendall(raw)
        answer = http.client.HTTPResponse(sock)
        answer.begin()
        body = answer.read()
        try:
            closed = sock.recv(1) == b""
        except ConnectionResetError:
            closed = True
        return Answer(answer.status, answer.headers, body, closed)


def log_lines_naming(served: Served, request_id: str, within_s: float = 3.0) -> list[str]:
    deadline = time.monotonic() + within_s
    while True:
        lines = [line for line in served.log().splitlines() if request_id in line]
        if lines or time.monotonic() > deadline:
            return lines
        time.sleep(0.05)


GET = b"GET /api/health HTTP/1.1\r\nHost: x\r\n"
POST = b"POST /api/channels/whatsapp/instances/quick-create HTTP/1.1\r\nHost: x\r\n"
REFUSED = {
    "a header over 8190 bytes": (
        GET + b"Authorization: Bearer " + MARK * 600 + b"\r\n\r\n", 431, "header-too-large"),
    "too many headers": (
        GET + b"".join(b"X-Field-%d: %s\r\n" % (i, MARK) for i in range(200)) + b"\r\n",
        431, "header-too-large"),
    "a request line over 8192 bytes": (
        b"GET /" + MARK * 600 + b" HTTP/1.1\r\nHost: x\r\n\r\n", 414, "uri-too-long"),
    "a control character in a header value": (
        GET + b"X-Note: " + MARK + b"\x01\r\n\r\n", 400, "bad-request"),
    "a control character in a header name": (
        GET + b"X-" + MARK + b"\x7f: 1\r\n\r\n", 400, "bad-request"),
    "Transfer-Encoding with Content-Length": (
        POST + b"Transfer-Encoding: chunked\r\nContent-Length: 5\r\nX-Note: " + MARK
        + b"\r\n\r\n0\r\n\r\n", 400, "bad-request"),
    "a bad method": (b"G(T /" + MARK + b" HTTP/1.1\r\nHost: x\r\n\r\n", 400, "bad-request"),
    "a Content-Length that is not a number": (
        POST + b"Content-Length: " + MARK + b"\r\n\r\n", 400, "bad-request"),
    "Content-Length twice": (
        POST + b"Content-Length: 1\r\nContent-Length: 2\r\nX-Note: " + MARK + b"\r\n\r\nab",
        400, "bad-request"),
    "a bad HTTP version": (b"GET /" + MARK + b" HTTP/9.9\r\nHost: x\r\n\r\n", 400,
                           "bad-request"),
}


@pytest.mark.parametrize(("raw", "status", "slug"), REFUSED.values(), ids=REFUSED.keys())
def test_a_request_the_parser_refuses_is_problem_json_with_a_request_id(
        served: Served, raw: bytes, status: int, slug: str) -> None:
    answer = exchange(served.port, raw)

    assert answer.status == status, answer.body
    assert answer.headers.get_content_type() == PROBLEM_JSON
    request_id = answer.headers["X-Request-ID"]
    assert re.fullmatch(r"[0-9a-f]{32}", request_id), request_id
    body = json.loads(answer.body)
    assert body["type"] == f"/problems/{slug}"
    assert body["status"] == status
    assert body["code"] == slug
    assert body["title"]
    assert body["detail"]
    assert body["request_id"] == request_id
    assert MARK not in answer.body
    assert answer.closed, "the connection is closed after a framing error"


@pytest.mark.parametrize(("raw", "status", "slug"), REFUSED.values(), ids=REFUSED.keys())
def test_a_refused_request_is_logged_once_as_a_warning_without_its_bytes(
        served: Served, raw: bytes, status: int, slug: str) -> None:
    request_id = exchange(served.port, raw).headers["X-Request-ID"]

    [line] = log_lines_naming(served, request_id)
    logged = json.loads(line)
    assert logged["level"] == "warning", logged
    assert logged["status"] == status
    assert "exception" not in logged
    assert "Traceback" not in line
    assert MARK.decode() not in served.log()


def test_the_metrics_port_refuses_the_same_way(served: Served) -> None:
    raw, status, slug = REFUSED["a header over 8190 bytes"]
    answer = exchange(served.metrics_port, raw.replace(b"/api/health", b"/metrics"))
    assert answer.status == status, answer.body
    assert answer.headers.get_content_type() == PROBLEM_JSON
    assert json.loads(answer.body)["type"] == f"/problems/{slug}"
    with socket.create_connection(("127.0.0.1", served.metrics_port)) as sock:
        sock.sendall(b"GET /metrics HTTP/1.1\r\nX-Slow: ")
        assert _closed_within(sock, HEADER_TIMEOUT_S + 4) is not None


def test_serve_says_where_it_listens(served: Served) -> None:
    assert f"listening on http://127.0.0.1:{served.port}" in served.log()


# Slow and idle clients --------------------------------------------------------------------

def _closed_within(sock: socket.socket, seconds: float) -> float | None:
    """Seconds until the server hung up on ``sock``, or None if it did not within ``seconds``."""
    started = time.monotonic()
    sock.settimeout(seconds)
    try:
        hung_up = sock.recv(1) == b""
    except ConnectionResetError:
        hung_up = True
    except TimeoutError:
        return None
    return time.monotonic() - started if hung_up else None


def test_headers_that_never_end_are_cut_off_after_the_header_timeout(served: Served) -> None:
    with socket.create_connection(("127.0.0.1", served.port)) as sock:
        sock.sendall(GET + b"X-Slow: ")
        waited = _closed_within(sock, HEADER_TIMEOUT_S + 4)
    assert waited is not None, "a client that never finished its headers is still connected"
    assert waited >= HEADER_TIMEOUT_S * 0.8


def test_a_connection_that_sends_nothing_is_closed_after_the_header_timeout(
        served: Served) -> None:
    with socket.create_connection(("127.0.0.1", served.port)) as sock:
        waited = _closed_within(sock, HEADER_TIMEOUT_S + 4)
    assert waited is not None


def _ask(sock: socket.socket, raw: bytes) -> tuple[int, bytes]:
    sock.sendall(raw)
    answer = http.client.HTTPResponse(sock)
    answer.begin()
    return answer.status, answer.read()


def test_an_idle_keep_alive_connection_outlives_the_header_timeout(served: Served) -> None:
    with socket.create_connection(("127.0.0.1", served.port), timeout=10) as sock:
        assert _ask(sock, GET + b"\r\n")[0] == 200
        time.sleep(HEADER_TIMEOUT_S * 2.5)
        assert _ask(sock, GET + b"\r\n")[0] == 200


def test_a_slow_body_is_not_cut_off_by_the_header_timeout(served: Served) -> None:
    headers = (POST + b"Authorization: Bearer " + admin_token().encode()
               + b"\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n")
    with socket.create_connection(("127.0.0.1", served.port), timeout=10) as sock:
        sock.sendall(headers + b"{")
        time.sleep(HEADER_TIMEOUT_S * 2.5)
        sock.sendall(b"}")
        answer = http.client.HTTPResponse(sock)
        answer.begin()
        body = json.loads(answer.read())
    assert answer.status == 422, body  # the whole body was read: it lacks organization_id
    assert body["type"] == "/problems/validation"


async def _slowloris(port: int, within_s: float) -> float | None:
    """A request line and one header, then one more byte a second; when was it cut off?"""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    opened = time.monotonic()
    try:
        writer.write(GET + b"X-Slow: ")
        while time.monotonic() - opened < within_s:
            try:
                if await asyncio.wait_for(reader.read(1), timeout=1.0) == b"":
                    return time.monotonic() - opened
            except TimeoutError:
                writer.write(b"a")
            except ConnectionError:
                return time.monotonic() - opened
        return None
    finally:
        writer.close()


@bounded(60)
async def test_fifty_slowloris_clients_are_cut_off_while_health_stays_fast(
        tmp_path: Path) -> None:
    """Done-when of issue 11 item 7, on the defaults (HTTP_HEADER_TIMEOUT_S=10)."""
    processes = Processes(tmp_path)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    serve = processes.serve("serve", port, base_env(PUBLIC_BASE_URL=url))
    try:
        async with aiohttp.ClientSession() as http_client:
            await wait_ready(http_client, url, alive=lambda: serve.alive)
            lorises = [asyncio.create_task(_slowloris(port, within_s=15)) for _ in range(50)]
            latencies = []
            while not all(task.done() for task in lorises):
                started = time.perf_counter()
                async with http_client.get(f"{url}/api/health") as response:
                    assert response.status == 200
                    await response.read()
                latencies.append(time.perf_counter() - started)
                await asyncio.sleep(0.02)
            cut_after = [task.result() for task in lorises]
    finally:
        processes.close()

    assert None not in cut_after, f"{cut_after.count(None)} of 50 still connected after 15 s"
    assert min(cut_after) >= 9.0, f"cut off before the header timeout: {min(cut_after):.1f} s"
    latencies.sort()
    p99_ms = latencies[int(len(latencies) * 0.99) - 1] * 1000
    assert len(latencies) >= 100
    assert p99_ms < 50, f"/api/health p99 {p99_ms:.1f} ms over {len(latencies)} requests"
    print(f"50 slowloris cut after {min(cut_after):.2f}..{max(cut_after):.2f} s; "
          f"/api/health p99 {p99_ms:.1f} ms over {len(latencies)} requests")


# Start-up -------------------------------------------------------------------------------

def test_a_port_in_use_is_one_line_naming_the_address_and_a_non_zero_exit() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = subprocess.run(  # noqa: S603 (our own console script)
            [str(WACHANNEL), "serve", "--host", "127.0.0.1", "--port", str(port)],
            env=base_env(PUBLIC_BASE_URL=f"http://127.0.0.1:{port}"), capture_output=True,
            text=True, timeout=60, check=False, cwd=str(REPO))
    output = done.stdout + done.stderr
    assert done.returncode != 0
    assert "Traceback" not in output, output
    [line] = [line for line in done.stderr.splitlines() if f"127.0.0.1:{port}" in line]
    assert line.startswith("wachannel: "), line
    assert "in use" in line, line
    assert done.stderr.rstrip().endswith(line)



def test_a_database_that_does_not_answer_is_one_line_and_a_non_zero_exit() -> None:
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        dead = closed.getsockname()[1]  # nothing listens once the socket closes
    port = free_port()
    done = subprocess.run(  # noqa: S603 (our own console script)
        [str(WACHANNEL), "serve", "--host", "127.0.0.1", "--port", str(port)],
        env=base_env(PUBLIC_BASE_URL=f"http://127.0.0.1:{port}",
                     DATABASE_URL=f"postgresql://postgres@127.0.0.1:{dead}/nowhere"),
        capture_output=True, text=True, timeout=60, check=False, cwd=str(REPO))
    output = done.stdout + done.stderr
    assert done.returncode == 1, output
    assert "Traceback" not in output, output
    last = done.stderr.rstrip().splitlines()[-1]
    assert last.startswith("wachannel: cannot start:"), last
    assert "StorageUnavailable" in last, last


def test_a_client_that_leaves_mid_body_is_not_a_server_failure(served: Served) -> None:
    for _ in range(5):
        with socket.create_connection(("127.0.0.1", served.port), timeout=5) as sock:
            sock.sendall(b"POST /api/webhooks/evolution/clinic-gone HTTP/1.1\r\nHost: x\r\n"
                         b"Content-Type: application/json\r\nContent-Length: 100000\r\n\r\n"
                         b'{"event":')
            time.sleep(0.1)  # the handler is reading the body when the client leaves
    deadline = time.monotonic() + 5
    while True:
        with urllib.request.urlopen(f"http://127.0.0.1:{served.metrics_port}/metrics",
                                    timeout=5) as answer:
            metrics = answer.read().decode()
        gone = [line for line in metrics.splitlines()
                if line.startswith("wachannel_http_request_duration_seconds_count")
                and "clinic" not in line and 'status="499"' in line]
        if gone or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert gone, "the abandoned requests are counted as 499"
    assert 'status="500"' not in metrics
    assert "Traceback" not in served.log()
    assert "request_failed" not in served.log()


def test_an_unknown_expectation_is_a_417_problem_and_the_connection_closes(
        served: Served) -> None:
    with socket.create_connection(("127.0.0.1", served.port), timeout=5) as sock:
        sock.sendall(b"POST /api/webhooks/evolution/clinic-x HTTP/1.1\r\nHost: x\r\n"
                     b"Expect: 100-continue-" + MARK + b"\r\nContent-Length: 2\r\n\r\n")
        answer = http.client.HTTPResponse(sock)
        answer.begin()
        body = answer.read()
    assert answer.status == 417
    assert answer.headers["Content-Type"].startswith(PROBLEM_JSON)
    assert answer.headers["X-Request-ID"]
    # Not kept alive: the body the client held back is never read as the next request.
    assert answer.headers["Connection"].lower() == "close"
    assert MARK not in body
    assert json.loads(body)["type"] == "/problems/expectation-failed"


def test_expect_100_continue_still_gets_its_continue(served: Served) -> None:
    with socket.create_connection(("127.0.0.1", served.port), timeout=5) as sock:
        sock.sendall(b"POST /api/webhooks/evolution/clinic-x HTTP/1.1\r\nHost: x\r\n"
                     b"Expect: 100-continue\r\nContent-Length: 2\r\n\r\n")
        assert sock.recv(100).startswith(b"HTTP/1.1 100 Continue")
        sock.sendall(b"{}")
        assert b"HTTP/1.1 " in sock.recv(1000)


def test_a_body_that_stalls_past_its_timeout_is_408_and_the_connection_closes(
        served: Served) -> None:
    headers = (b"POST /api/webhooks/evolution/clinic-x HTTP/1.1\r\nHost: x\r\n"
               b"Content-Type: application/json\r\nContent-Length: 100\r\n\r\n")
    with socket.create_connection(("127.0.0.1", served.port), timeout=10) as sock:
        started = time.monotonic()
        sock.sendall(headers + b'{"event":')
        answer = http.client.HTTPResponse(sock)
        answer.begin()
        body = json.loads(answer.read())
        waited = time.monotonic() - started
    assert answer.status == 408, body
    assert body["type"] == "/problems/request-timeout"
    assert answer.headers["Connection"].lower() == "close"
    assert BODY_TIMEOUT_S - 0.5 < waited < BODY_TIMEOUT_S + 3
