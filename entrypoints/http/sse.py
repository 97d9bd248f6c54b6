"""Server-Sent Events framing for the QR stream."""

from __future__ import annotations

import json
from contextlib import aclosing

from aiohttp import web

from application.qr_stream import QrStream, StreamEvent
from entrypoints.http.keys import REQUEST_ID


async def stream_response(request: web.Request, events: QrStream,
                          extra_headers: dict[str, str] | None = None) -> web.StreamResponse:
    response = web.StreamResponse(headers={
        "Content-Type": "text/event-stream", "Cache-Control": "no-cache",
        "X-Accel-Buffering": "no", "X-Request-ID": request.get(REQUEST_ID, ""),
        **(extra_headers or {})})
    async with aclosing(events) as stream:
        try:
            await response.prepare(request)
            async for event in stream:
                await response.write(frame(event))
        except (ConnectionResetError, ConnectionError):
            return response  # the client left; closing the stream frees its subscription
    await response.write_eof()
    return response


def frame(event: StreamEvent) -> bytes:
    if event.event == "ping":
        return b": ping\n\n"
    data = json.dumps(event.data if event.data is not None else {}, separators=(",", ":"))
    return f"event: {event.event}\ndata: {data}\n\n".encode()
