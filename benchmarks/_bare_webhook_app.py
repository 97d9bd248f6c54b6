"""The baseline for webhook_load.py: the least a webhook receiver can do (benchmark use).

A bare aiohttp app in its own process: POST /hook reads the body, parses the JSON, and does one
INSERT into `bare_webhooks` (a pool of 10, like DATABASE_POOL_SIZE's default). No auth, no
dedupe beyond the unique key, no worker. Prints `READY http://127.0.0.1:PORT` once it listens.
"""

from __future__ import annotations

import argparse
import json
import uuid
from datetime import UTC, datetime

import asyncpg
from aiohttp import web

DDL = """
CREATE TABLE IF NOT EXISTS bare_webhooks (
    id uuid PRIMARY KEY, instance_name text NOT NULL, event text NOT NULL,
    dedupe_key text NOT NULL UNIQUE, body bytea NOT NULL, received_at timestamptz NOT NULL)"""
INSERT = """
INSERT INTO bare_webhooks (id, instance_name, event, dedupe_key, body, received_at)
VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (dedupe_key) DO NOTHING"""
POOL = web.AppKey("pool", asyncpg.Pool)


async def hook(request: web.Request) -> web.Response:
    body = await request.read()
    payload = json.loads(body)
    key = payload.get("data", {}).get("key", {}).get("id") or str(uuid.uuid4())
    await request.app[POOL].execute(INSERT, uuid.uuid4(), payload["instance"], payload["event"],
                                    key, body, datetime.now(UTC))
    return web.json_response({"status": "accepted"})


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--dsn", required=True)
    args = p.parse_args()

    async def pool(app: web.Application):  # type: ignore[no-untyped-def]
        async with asyncpg.create_pool(args.dsn, min_size=1, max_size=10) as created:
            await created.execute(DDL)
            app[POOL] = created
            print(f"READY http://127.0.0.1:{args.port}", flush=True)
            yield

    app = web.Application()
    app.router.add_post("/hook", hook)
    app.cleanup_ctx.append(pool)
    web.run_app(app, host="127.0.0.1", port=args.port, print=None, access_log=None)


if __name__ == "__main__":
    main()
