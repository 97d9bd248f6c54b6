"""What the service adds to Evolution's own latency, for quick-create and connect.

Three processes: the fake Evolution HTTP server (tests/fakes/evolution_server.py), one
`wachannel serve` with EVOLUTION_ADAPTER=http pointed at it (in-memory store,
EVOLUTION_CACHE_TTL_S=0 so every connect goes to Evolution), and this load client. The fake
runs at a small time scale (first QR 1.5 ms, connect's fixed wait 2 ms, QR refresh kept at
45 s) so fixed waits do not dominate.

Side by side in the same run, for 1, 10 and 100 concurrent clients:
  baseline: the client calls the fake directly (POST /instance/create with the same body shape
            the service sends; GET /instance/connect/{name} on the same instances);
  service:  POST .../quick-create and POST .../{id}/connect through the service.
Overhead = service percentile - baseline percentile. Target: p95 overhead < 10 ms.

    .venv/bin/python benchmarks/evolution_overhead.py [--requests 600] [--pool-size N]
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import secrets
from typing import Any

import _common as c

from domain.webhook import REGISTERED_EVENTS
from tests.fakes.evolution_server import GLOBAL_KEY

API = "/api/channels/whatsapp/instances"
PER_ORG = 10


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--requests", type=int, default=600, help="measured calls per cell")
    p.add_argument("--concurrency", default="1,10,100", help="comma-separated (default 1,10,100)")
    p.add_argument("--latency-ms", type=float, default=0.0,
                   help="latency the fake Evolution adds to every answer (default 0)")
    p.add_argument("--time-scale", type=float, default=0.001, help="fake Evolution time scale")
    p.add_argument("--pool-size", type=int, default=None,
                   help="EVOLUTION_POOL_SIZE for the service (default: the service's, 10)")
    p.add_argument("--profile", action="store_true",
                   help="then py-spy the service for 5 s of connects at the highest level")
    p.add_argument("--no-json", action="store_true")
    return p.parse_args()


class Calls:
    def __init__(self, session: Any, service: str, evolution: str) -> None:
        self.s = session
        self.service = service
        self.evolution = evolution
        self.auth = c.bearer("admin")
        self.created: list[dict[str, Any]] = []  # instances the service created
        self._n = itertools.count()

    async def direct_create(self, _: int) -> None:
        name = f"bench-direct-{secrets.token_hex(6)}"
        body = {"instanceName": name, "integration": "WHATSAPP-BAILEYS",
                "token": secrets.token_urlsafe(24),
                "webhook": {"url": f"{self.service}/api/webhooks/evolution/bench-direct",
                            "byEvents": False, "base64": False,
                            "headers": {"jwt_key": "x" * 43}, "events": list(REGISTERED_EVENTS)}}
        async with self.s.post(self.evolution + "/instance/create", json=body,
                               headers={"apikey": GLOBAL_KEY}) as r:
            await _expect(r, 201)

    async def service_create(self, _: int) -> None:
        n = next(self._n)
        async with self.s.post(self.service + API + "/quick-create", headers=self.auth,
                               json={"organization_id": f"bench-evo-{n // PER_ORG}"}) as r:
            self.created.append((await _expect(r, 201))["instance"])

    def direct_connect(self, worker_of: Any) -> Any:
        async def call(i: int) -> None:
            name = self.created[worker_of(i)]["evolution_name"]
            async with self.s.get(f"{self.evolution}/instance/connect/{name}",
                                  headers={"apikey": GLOBAL_KEY}) as r:
                await _expect(r, 200)
        return call

    def service_connect(self, worker_of: Any) -> Any:
        async def call(i: int) -> None:
            instance_id = self.created[worker_of(i)]["id"]
            async with self.s.post(f"{self.service}{API}/{instance_id}/connect",
                                   headers=self.auth) as r:
                body = await _expect(r, 200)
                if not body.get("qr"):
                    raise RuntimeError(f"connect without a QR: {body}")
        return call


async def _expect(r: Any, status: int) -> Any:
    body = await r.json(content_type=None)
    if r.status != status:
        raise RuntimeError(f"{r.method} {r.url.path}: {r.status} {body}")
    return body


async def run(args: argparse.Namespace) -> dict[str, Any]:
    levels = [int(x) for x in args.concurrency.split(",")]
    fake = c.python_script("fake-evolution", "_fake_evolution.py",
                           ["--time-scale", str(args.time_scale), "--latency-ms",
                            str(args.latency_ms), "--qr-refresh-s", "45"], c.clean_env())
    server = None
    try:
        evolution = await c.wait_line(fake, "READY ")
        port = c.free_port()
        service = f"http://{c.LOOPBACK}:{port}"
        env = {"EVOLUTION_ADAPTER": "http", "EVOLUTION_API_BASE_URL": evolution,
               "EVOLUTION_API_KEY": GLOBAL_KEY, "EVOLUTION_CACHE_TTL_S": "0"}
        if args.pool_size:
            env["EVOLUTION_POOL_SIZE"] = str(args.pool_size)
        server = c.start_service("serve", port, **env)
        await c.wait_http(server, service + "/api/health")
        cells: dict[str, Any] = {}
        async with c.client_session(limit=0) as session:
            calls = Calls(session, service, evolution)
            await c.closed_loop(calls.service_create, max(levels), min(10, max(levels)))  # warm-up
            await c.closed_loop(calls.direct_create, 20, 1)
            for conc in levels:
                def worker_of(i: int, conc: int = conc) -> int:
                    return i % conc  # each concurrent client keeps to its own instance
                pairs = {"quick_create": (calls.direct_create, calls.service_create),
                         "connect": (calls.direct_connect(worker_of),
                                     calls.service_connect(worker_of))}
                for op, (direct, via_service) in pairs.items():
                    await c.closed_loop(via_service, 2 * conc, conc)  # warm-up
                    base = await c.closed_loop(direct, args.requests, conc)
                    cpu = c.cpu_seconds(server.pid)
                    svc = await c.closed_loop(via_service, args.requests, conc)
                    await asyncio.sleep(0.5)  # the webhooks a quick-create causes, processed
                    svc["cpu_ms_per_call"] = (c.cpu_seconds(server.pid) - cpu) * 1000 / max(
                        1, len(svc["latencies"]))
                    cells[f"{op}@{conc}"] = {"baseline": base, "service": svc}
            if args.profile:  # 5 s more of the busiest service cell, sampled
                top = max(levels)
                spy = c.profiler(server.pid, 5, "evolution_overhead-serve")
                await c.closed_loop(calls.service_connect(lambda i: i % top), 10**7, top,
                                    max_seconds=5.5)
                if spy is not None:
                    spy.wait()
    finally:
        if server is not None:
            server.stop()
        fake.stop()
    return report(args, cells)


def report(args: argparse.Namespace, cells: dict[str, Any]) -> dict[str, Any]:
    rows, out, worst = [], {}, 0.0
    for key, cell in cells.items():
        op, conc = key.split("@")
        base = c.summary(cell["baseline"]["latencies"])
        svc = c.summary(cell["service"]["latencies"])
        over = {q: svc[q] - base[q] for q in ("p50", "p95", "p99")}
        worst = max(worst, over["p95"])
        errors = len(cell["baseline"]["errors"]) + len(cell["service"]["errors"])
        out[key] = {"baseline": base, "service": svc, "overhead_ms": over,
                    "ratio": {q: c.ratio(svc[q], base[q]) for q in ("p50", "p95", "p99")},
                    "baseline_rate": cell["baseline"]["rate"],
                    "service_rate": cell["service"]["rate"], "errors": errors,
                    "service_cpu_ms_per_call": cell["service"]["cpu_ms_per_call"],
                    "first_errors": (cell["baseline"]["errors"] + cell["service"]["errors"])[:3]}
        rows.append([op, conc, base["p50"], base["p95"], base["p99"], svc["p50"], svc["p95"],
                     svc["p99"], over["p50"], over["p95"], over["p99"],
                     c.ratio(svc["p95"], base["p95"]), cell["baseline"]["rate"],
                     cell["service"]["rate"], cell["service"]["cpu_ms_per_call"], errors])
    print(c.table(["op", "conc", "base p50", "base p95", "base p99", "svc p50", "svc p95",
                   "svc p99", "+p50 ms", "+p95 ms", "+p99 ms", "x p95", "base/s", "svc/s",
                   "svc cpu ms", "errors"], rows))
    met = worst < 10 and all(v["errors"] == 0 for v in out.values())
    print(f"\ntarget p95 overhead < 10 ms at every level: {c.verdict(met)} "
          f"(worst +{worst:.1f} ms)")
    return {"cells": out, "targets": {"p95_overhead_lt_10ms": met}, "args": vars(args)}


def main() -> None:
    args = parse_args()
    c.header("evolution_overhead")
    result = asyncio.run(run(args))
    if not args.no_json:
        print("results:", c.write_results("evolution_overhead", result))


if __name__ == "__main__":
    main()
