"""Server-Sent Events framing for the QR stream."""

from __future__ import annotations

import asyncio
import json
from contextlib import aclosing

from aiohttp import web

from application.instances.qr_stream import QrStream, StreamEvent
from entrypoints.http.keys import REQUEST_ID

STREAMS = web.AppKey("sse_streams", set[asyncio.Task[object]])
DISCONNECT_POLL_S = 1.0
# EventSource waits this long before reconnecting (with Last-Event-ID) after a drop.
RETRY_HINT = b"retry: 3000\n\n"


async def stream_response(request: web.Request, events: QrStream,
                          extra_headers: dict[str, str] | None = None) -> web.StreamResponse:
    response = web.StreamResponse(headers={
        "Content-Type": "text/event-stream", "Cache-Control": "no-cache",
        "X-Accel-Buffering": "no", "X-Request-ID": request.get(REQUEST_ID, ""),
        **(extra_headers or {})})
    if request.method == "HEAD":  # the headers a GET would have, and no stream behind them
        await events.aclose()
        await response.prepare(request)
        await response.write_eof()
        return response
    task: asyncio.Task[object] = asyncio.current_task()  # type: ignore[assignment]
    open_streams = request.app[STREAMS]
    open_streams.add(task)
    watcher = asyncio.ensure_future(_cancel_when_gone(request, task))
    try:
        async with aclosing(events) as stream:
            await response.prepare(request)
            await response.write(RETRY_HINT)
            async for event in stream:
                await response.write(frame(event))
            await response.write_eof()
    except (ConnectionResetError, ConnectionError):
        pass  # the client left; closing the stream freed its slot
    except asyncio.CancelledError:
        task.uncancel()  # ours to absorb: the client left, or the server is stopping
    finally:
        watcher.cancel()
        open_streams.discard(task)
    return response


async def _cancel_when_gone(request: web.Request, task: asyncio.Task[object]) -> None:
    """A client that leaves is noticed within a second, not at the next ping."""
    while True:
        await asyncio.sleep(DISCONNECT_POLL_S)
        if request.transport is None or request.transport.is_closing():
            task.cancel()
            return


async def end_streams(app: web.Application) -> None:
    """On shutdown: streams would otherwise hold the server open for minutes."""
    for task in list(app.get(STREAMS, ())):
        task.cancel()


def frame(event: StreamEvent) -> bytes:
    if event.event == "ping":
        return b": ping\n\n"
    data = json.dumps(event.data if event.data is not None else {}, separators=(",", ":"))
    head = f"id: {event.id}\n" if event.id else ""
    return f"{head}event: {event.event}\ndata: {data}\n\n".encode()
