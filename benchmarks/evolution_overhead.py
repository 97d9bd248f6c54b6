"""What the service adds to Evolution's own latency, for quick-create and connect.

Four processes: the fake Evolution HTTP server (tests/fakes/evolution_server.py), one
`wachannel serve` with EVOLUTION_ADAPTER=http pointed at it (in-memory store, or with
--store postgres a fresh database and a `wachannel worker` beside it; EVOLUTION_CACHE_TTL_S=0 so
every connect goes to Evolution), the floor (_bare_proxy_app.py: the
thinnest aiohttp service causing the same Evolution traffic, doing nothing else), and this load
client. The fake
runs at a small time scale (first QR 1.5 ms, connect's fixed wait 2 ms, QR refresh kept at
45 s) so fixed waits do not dominate.

Side by side in the same run, for 1, 10 and 100 concurrent clients:
  baseline: the client calls the fake directly (POST /instance/create with the same body shape
            the service sends; GET /instance/connect/{name} on the same instances);
  floor:    the same two calls through the bare proxy (with its background connect and the
            webhooks that causes, as the service);
  service:  POST .../quick-create and POST .../{id}/connect through the service.
Overhead = service percentile - baseline percentile. Target: p95 overhead < 10 ms. The floor's
own overhead is what any aiohttp service adds on this machine before doing any work of its own;
service minus floor is what wachannel's code adds.

    .venv/bin/python benchmarks/evolution_overhead.py [--requests 600] [--pool-size N]
        [--store memory|postgres] [--profile quick_create|connect]
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
    p.add_argument("--store", choices=("memory", "postgres"), default="memory",
                   help="the service's storage: in-memory (default), or a fresh Postgres "
                        "database with a separate `wachannel worker` (production's shape)")
    p.add_argument("--profile", choices=("quick_create", "connect"), default=None,
                   help="then py-spy the service for 5 s of this call at the highest level")
    p.add_argument("--no-json", action="store_true")
    return p.parse_args()


class Calls:
    def __init__(self, session: Any, service: str, evolution: str, floor: str) -> None:
        self.s = session
        self.service = service
        self.evolution = evolution
        self.floor = floor
        self.auth = c.bearer("admin")
        self.created: list[dict[str, Any]] = []  # instances the service created
        self.proxied: list[str] = []  # and the floor
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

    async def floor_create(self, _: int) -> None:
        n = next(self._n)
        async with self.s.post(self.floor + "/quick-create",
                               json={"organization_id": f"bench-floor-{n // PER_ORG}"}) as r:
            self.proxied.append((await _expect(r, 201))["instance"]["evolution_name"])

    def floor_connect(self, worker_of: Any) -> Any:
        async def call(i: int) -> None:
            async with self.s.post(f"{self.floor}/connect/{self.proxied[worker_of(i)]}") as r:
                body = await _expect(r, 200)
                if not (body.get("qr") or {}).get("code"):
                    raise RuntimeError(f"floor connect without a QR: {body}")
        return call

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


async def _measured(call: Any, pids: list[int], total: int, conc: int) -> dict[str, Any]:
    """A closed loop, with the CPU the processes spent per call (including the background
    connect and webhooks a quick-create causes, given half a second to finish)."""
    cpu = sum(map(c.cpu_seconds, pids))
    result = await c.closed_loop(call, total, conc)
    await asyncio.sleep(0.5)
    result["cpu_ms_per_call"] = (sum(map(c.cpu_seconds, pids)) - cpu) * 1000 / max(
        1, len(result["latencies"]))
    return result


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
    server = floor = worker = None
    database = None
    try:
        evolution = await c.wait_line(fake, "READY ")
        port = c.free_port()
        service = f"http://{c.LOOPBACK}:{port}"
        env = {"EVOLUTION_ADAPTER": "http", "EVOLUTION_API_BASE_URL": evolution,
               "EVOLUTION_API_KEY": GLOBAL_KEY, "EVOLUTION_CACHE_TTL_S": "0"}
        if args.pool_size:
            env["EVOLUTION_POOL_SIZE"] = str(args.pool_size)
        if args.store == "postgres":
            database, env["DATABASE_URL"] = await c.create_database("bench_evolution")
        server = c.start_service("serve", port, **env)
        floor_port = c.free_port()
        floor = c.python_script("floor", "_bare_proxy_app.py",
                                ["--port", str(floor_port), "--evolution", evolution,
                                 "--apikey", GLOBAL_KEY], c.clean_env())
        await c.wait_http(server, service + "/api/health")
        if database is not None:  # after serve applied the migrations
            worker = c.start_worker("worker", **env)
        service_pids = [p.pid for p in (server, worker) if p is not None]
        await c.wait_http(floor, f"http://{c.LOOPBACK}:{floor_port}/health")
        cells: dict[str, Any] = {}
        async with c.client_session(limit=0) as session:
            calls = Calls(session, service, evolution, f"http://{c.LOOPBACK}:{floor_port}")
            for warm_up in (calls.service_create, calls.floor_create):
                await c.closed_loop(warm_up, max(levels), min(10, max(levels)))
            await c.closed_loop(calls.direct_create, 20, 1)
            for conc in levels:
                def worker_of(i: int, conc: int = conc) -> int:
                    return i % conc  # each concurrent client keeps to its own instance
                triples = {"quick_create": (calls.direct_create, calls.floor_create,
                                            calls.service_create),
                           "connect": (calls.direct_connect(worker_of),
                                       calls.floor_connect(worker_of),
                                       calls.service_connect(worker_of))}
                for op, (direct, via_floor, via_service) in triples.items():
                    for warm_up in (via_service, via_floor):
                        await c.closed_loop(warm_up, 2 * conc, conc)
                    base = await c.closed_loop(direct, args.requests, conc)
                    flr = await _measured(via_floor, [floor.pid], args.requests, conc)
                    svc = await _measured(via_service, service_pids, args.requests, conc)
                    cells[f"{op}@{conc}"] = {"baseline": base, "floor": flr, "service": svc}
            if args.profile:  # 5 s more of one call at the highest level, sampled
                top = max(levels)
                spy = c.profiler(server.pid, 5, f"evolution_overhead-{args.profile}-serve")
                call = (calls.service_create if args.profile == "quick_create"
                        else calls.service_connect(lambda i: i % top))
                await c.closed_loop(call, 10**7, top, max_seconds=5.5)
                if spy is not None:
                    spy.wait()
    finally:
        for process in (server, worker, floor):
            if process is not None:
                process.stop()
        fake.stop()
        if database is not None:
            await c.drop_database(database)
    return report(args, cells)


def report(args: argparse.Namespace, cells: dict[str, Any]) -> dict[str, Any]:
    rows, out, worst = [], {}, 0.0
    for key, cell in cells.items():
        op, conc = key.split("@")
        base, flr, svc = (c.summary(cell[k]["latencies"])
                          for k in ("baseline", "floor", "service"))
        over = {q: svc[q] - base[q] for q in ("p50", "p95", "p99")}
        floor_over = {q: flr[q] - base[q] for q in ("p50", "p95", "p99")}
        worst = max(worst, over["p95"])
        failures = [e for k in ("baseline", "floor", "service") for e in cell[k]["errors"]]
        out[key] = {"baseline": base, "floor": flr, "service": svc, "overhead_ms": over,
                    "floor_overhead_ms": floor_over,
                    "ratio": {q: c.ratio(svc[q], base[q]) for q in ("p50", "p95", "p99")},
                    "baseline_rate": cell["baseline"]["rate"],
                    "floor_rate": cell["floor"]["rate"],
                    "service_rate": cell["service"]["rate"], "errors": len(failures),
                    "floor_cpu_ms_per_call": cell["floor"]["cpu_ms_per_call"],
                    "service_cpu_ms_per_call": cell["service"]["cpu_ms_per_call"],
                    "first_errors": failures[:3]}
        rows.append([op, conc, base["p50"], base["p95"], flr["p95"], svc["p50"], svc["p95"],
                     svc["p99"], floor_over["p95"], over["p50"], over["p95"], over["p99"],
                     cell["baseline"]["rate"], cell["floor"]["rate"], cell["service"]["rate"],
                     cell["floor"]["cpu_ms_per_call"], cell["service"]["cpu_ms_per_call"],
                     len(failures)])
    print(c.table(["op", "conc", "base p50", "base p95", "floor p95", "svc p50", "svc p95",
                   "svc p99", "floor +p95", "+p50 ms", "+p95 ms", "+p99 ms", "base/s",
                   "floor/s", "svc/s", "floor cpu ms", "svc cpu ms", "errors"], rows))
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
