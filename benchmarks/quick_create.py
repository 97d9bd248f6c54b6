"""Quick-create latency and time to the first QR, on the embedded default.

One `wachannel serve` subprocess (in-memory store, in-process fake Evolution at its default
timings: first QR 1.5 s after the socket opens; the simulated scan is off so no stream ends
early). This process is the load client. Side by side in the same run, GET /api/health on the
same server is the floor of the HTTP stack, and every quick-create figure is given as a ratio
to it.

Targets: quick-create p95 < 100 ms (sequential and 10 concurrent); quick-create request to the
first `event: qr` on the SSE stream p95 < 2 s, measured once the webhooks of the instances
created before have been processed (--settle-s; with 0, the first QRs queue behind them).

    .venv/bin/python benchmarks/quick_create.py [--requests 500] [--concurrency 10]
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
from typing import Any

import _common as c

QC_PATH = "/api/channels/whatsapp/instances/quick-create"
PER_ORG = 10  # MAX_INSTANCES_PER_ORG's default: spread instances over organizations


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--requests", type=int, default=500, help="per phase (default 500)")
    p.add_argument("--concurrency", type=int, default=10, help="concurrent phase (default 10)")
    p.add_argument("--qr-samples", type=int, default=40,
                   help="quick-create -> first QR measurements (default 40)")
    p.add_argument("--qr-concurrency", type=int, default=5,
                   help="QR samples in flight at once (default 5)")
    p.add_argument("--settle-s", type=float, default=5.0,
                   help="pause before the QR phase, so the ~2 webhooks each created instance "
                        "causes 1.5 s later are processed first (default 5)")
    p.add_argument("--no-json", action="store_true", help="do not write benchmarks/results/")
    return p.parse_args()


class Client:
    def __init__(self, session: Any, base: str) -> None:
        self.session = session
        self.base = base
        self.auth = c.bearer("admin")
        self._n = itertools.count()

    async def health(self, _: int) -> None:
        async with self.session.get(self.base + "/api/health") as r:
            await r.read()
            if r.status != 200:
                raise RuntimeError(f"health {r.status}")

    async def quick_create(self, _: int = 0) -> dict[str, Any]:
        n = next(self._n)
        async with self.session.post(self.base + QC_PATH, headers=self.auth,
                                     json={"organization_id": f"bench-qc-{n // PER_ORG}",
                                           "display_name": f"bench {n}"}) as r:
            body = await r.json()
            if r.status != 201:
                raise RuntimeError(f"quick-create {r.status}: {body}")
            return body  # type: ignore[no-any-return]

    async def time_to_first_qr(self, _: int) -> None:
        """Timed by the caller from before the quick-create to the first `event: qr` line."""
        created = await self.quick_create()
        async with self.session.get(created["qr_stream_url"], headers=self.auth) as r:
            async for line in r.content:
                if line.startswith(b"event: qr"):
                    return
        raise RuntimeError("stream ended without a QR")


async def run(args: argparse.Namespace) -> dict[str, Any]:
    port = c.free_port()
    base = f"http://{c.LOOPBACK}:{port}"
    server = c.start_service("serve", port, FAKE_EVOLUTION_AUTOSCAN_S="0")
    try:
        await c.wait_http(server, base + "/api/health")
        async with c.client_session(limit=max(args.concurrency, args.qr_concurrency) + 5) as s:
            client = Client(s, base)
            await c.closed_loop(client.health, 50, 1)          # warm-up, not measured
            await c.closed_loop(client.quick_create, 20, 1)
            phases: dict[str, Any] = {}
            for conc in (1, args.concurrency):
                for name, call in (("health", client.health),
                                   ("quick_create", client.quick_create)):
                    phases[f"{name}@{conc}"] = await c.closed_loop(call, args.requests, conc)
            await asyncio.sleep(args.settle_s)
            qr = await c.closed_loop(client.time_to_first_qr, args.qr_samples,
                                     args.qr_concurrency, max_seconds=120)
        rss = c.rss_mb(server.pid)
    finally:
        server.stop()
    return report(args, phases, qr, rss)


def report(args: argparse.Namespace, phases: dict[str, Any], qr: dict[str, Any],
           rss: float) -> dict[str, Any]:
    rows, out = [], {}
    for key, result in phases.items():
        name, conc = key.split("@")
        s = c.summary(result["latencies"])
        floor = c.summary(phases[f"health@{conc}"]["latencies"])
        out[key] = {**s, "rate": result["rate"], "errors": len(result["errors"]),
                    "first_errors": result["errors"][:3],
                    "ratio_to_health": {q: c.ratio(s[q], floor[q]) for q in ("p50", "p95", "p99")}}
        rows.append([name, conc, s["n"], s["p50"], s["p95"], s["p99"], s["max"], result["rate"],
                     len(result["errors"]), c.ratio(s["p50"], floor["p50"]),
                     c.ratio(s["p95"], floor["p95"])])
    print(c.table(["phase", "conc", "n", "p50 ms", "p95 ms", "p99 ms", "max ms", "req/s",
                   "errors", "x health p50", "x health p95"], rows))
    answers = c.summary(qr["latencies"])  # the whole call: create, open the stream, first QR
    print()
    print(c.table(["quick-create -> first `event: qr`", "n", "p50 ms", "p95 ms", "p99 ms",
                   "max ms", "errors"],
                  [["SSE", answers["n"], answers["p50"], answers["p95"], answers["p99"],
                    answers["max"], len(qr["errors"])]]))
    worst_qc = max(out[f"quick_create@{k}"]["p95"] for k in (1, args.concurrency))
    targets = {"quick_create_p95_lt_100ms": worst_qc < 100,
               "first_qr_p95_lt_2s": answers["p95"] < 2000 and not qr["errors"]}
    print()
    for name, met in targets.items():
        print(f"target {name}: {c.verdict(met)}")
    print(f"server RSS at the end: {rss:.0f} MB")
    return {"phases": out, "first_qr": {**answers, "errors": qr["errors"][:3],
                                        "samples_ms": sorted(x * 1000 for x in qr["latencies"])},
            "targets": targets, "server_rss_mb": rss, "args": vars(args)}


def main() -> None:
    args = parse_args()
    c.header("quick_create")
    result = asyncio.run(run(args))
    if not args.no_json:
        print("results:", c.write_results("quick_create", result))


if __name__ == "__main__":
    main()
