"""The floor for evolution_overhead.py: the thinnest aiohttp service that causes the same
Evolution traffic as wachannel's quick-create and connect (benchmark use).

No auth, no storage, no audit, no schemas, no circuit breakers, no logs. One ClientSession with
the service's default pool of 10 connections.
  POST /quick-create  {"organization_id"}: one POST /instance/create (inline webhook pointing
                      back here), 201 at once, then GET /instance/connect in the background,
                      as the service opens the socket;
  POST /connect/{name}: one GET /instance/connect/{name}, 200 with the QR;
  POST /hook[/{event}]: reads the webhook body and answers 200;
  GET /health: 200, for readiness.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import secrets

import aiohttp
from aiohttp import web

SESSION = web.AppKey("session", aiohttp.ClientSession)
TASKS = web.AppKey("tasks", set)
EVENTS = ["QRCODE_UPDATED", "CONNECTION_UPDATE", "MESSAGES_UPSERT", "LOGOUT_INSTANCE"]


def build(evolution: str, apikey: str, own_url: str) -> web.Application:
    headers = {"apikey": apikey}

    async def quick_create(request: web.Request) -> web.Response:
        payload = json.loads(await request.read())
        name = f"{payload['organization_id']}-{secrets.token_hex(4)}"
        body = {"instanceName": name, "integration": "WHATSAPP-BAILEYS",
                "token": secrets.token_urlsafe(24),
                "webhook": {"url": f"{own_url}/hook", "byEvents": False, "base64": False,
                            "headers": {"jwt_key": "x" * 43}, "events": EVENTS}}
        session = request.app[SESSION]
        async with session.post(f"{evolution}/instance/create", json=body,
                                headers=headers) as answer:
            await answer.read()
            if answer.status != 201:
                return web.json_response({"error": answer.status}, status=502)
        task = asyncio.ensure_future(_connect(session, evolution, name, headers))
        request.app[TASKS].add(task)
        task.add_done_callback(request.app[TASKS].discard)
        return web.json_response({"instance": {"id": name, "evolution_name": name}},
                                 status=201)

    async def connect(request: web.Request) -> web.Response:
        qr = await _connect(request.app[SESSION], evolution, request.match_info["name"],
                            headers)
        return web.json_response({"qr": qr})

    async def hook(request: web.Request) -> web.Response:
        await request.read()
        return web.json_response({"status": "accepted"})

    async def session(app: web.Application):  # type: ignore[no-untyped-def]
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=10)) as created:
            app[SESSION] = created
            app[TASKS] = set()
            yield
            for task in app[TASKS]:
                task.cancel()

    app = web.Application()
    app.router.add_post("/quick-create", quick_create)
    app.router.add_post("/connect/{name}", connect)
    app.router.add_post("/hook", hook)
    app.router.add_post("/hook/{event}", hook)
    app.router.add_get("/health", hook)
    app.cleanup_ctx.append(session)
    return app


async def _connect(session: aiohttp.ClientSession, evolution: str, name: str,
                   headers: dict[str, str]) -> object:
    async with session.get(f"{evolution}/instance/connect/{name}", headers=headers) as answer:
        return await answer.json(content_type=None)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--evolution", required=True)
    p.add_argument("--apikey", required=True)
    args = p.parse_args()
    app = build(args.evolution, args.apikey, f"http://127.0.0.1:{args.port}")
    web.run_app(app, host="127.0.0.1", port=args.port, print=None, access_log=None)


if __name__ == "__main__":
    main()
