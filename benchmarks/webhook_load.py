"""Signed webhooks against the service on Postgres, beside a bare aiohttp+INSERT baseline.

Processes: `wachannel serve` and `wachannel worker` on a fresh database (dropped at the end),
the bare app (_bare_webhook_app.py: parse JSON, one INSERT, same database) and this load client.
The service runs with the in-process fake Evolution slowed down (FAKE_EVOLUTION_TIME_SCALE=100)
so that it sends nothing of its own, and WEBHOOK_RATE_PER_ORG raised so the per-organization
limit (200/s by default) does not answer 429 to the load.

Phases, baseline first then service, each bounded by --seconds:
  1. throughput: closed loop, --concurrency clients, `messages.upsert` webhooks with distinct
     key ids, HMAC-signed (x-evolution-signature); events/s acknowledged. The worker's backlog
     is then drained (bounded) before the next phase.
  2. fixed rate: open loop at --rate events/s; latency from the scheduled send time.
     While the service takes that load, QR probes run at --probe-rate (see 3).
  3. visibility: `qrcode.updated` webhooks with a new code, timed from the POST to the
     `event: qr` carrying that code on the instance's SSE stream (webhook -> inbox -> worker ->
     NOTIFY -> serve -> stream), idle.
Targets on 2 cores: service >= 60 % of the baseline's events/s; p99 < 50 ms at 1,000 events/s;
webhook-to-visible p99 < 250 ms.

With --metrics-ab, only what the metrics cost: two `serve` processes on one database, one with
METRICS_DISABLED=1 (nothing recorded on the request and webhook paths, no store gauges), and
one worker; the closed loop alternates between them in short rounds (A B B A ...) so that drift
of the machine falls on both alike. Target: metrics cost under 3 % of the events/s.

    .venv/bin/python benchmarks/webhook_load.py [--seconds 10] [--rate 1000] [--concurrency 32]
    .venv/bin/python benchmarks/webhook_load.py --metrics-ab [--seconds 8] [--rounds 4]
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import hmac
import json
import time
import uuid
from datetime import UTC, datetime
from typing import Any

import _common as c
import aiohttp
import asyncpg

API = "/api/channels/whatsapp/instances"
BACKLOG = "SELECT count(*) FROM webhook_inbox WHERE status IN ('pending', 'processing')"


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--seconds", type=float, default=10.0, help="per phase (default 10)")
    p.add_argument("--rate", type=float, default=1000.0, help="open-loop events/s (1000)")
    p.add_argument("--concurrency", type=int, default=32, help="closed-loop clients (32)")
    p.add_argument("--probe-rate", type=float, default=20.0, help="QR probes/s (20)")
    p.add_argument("--orgs", type=int, default=2, help="organizations, 10 instances each")
    p.add_argument("--drain-s", type=float, default=120.0, help="max wait for the worker")
    p.add_argument("--profile", action="store_true",
                   help="py-spy the serve and worker processes during the service throughput "
                        "phase (raw stacks into benchmarks/results/)")
    p.add_argument("--no-json", action="store_true")
    p.add_argument("--metrics-ab", action="store_true",
                   help="measure only what the metrics cost (with and without, same run)")
    p.add_argument("--rounds", type=int, default=4,
                   help="--metrics-ab: rounds per side, each --seconds / rounds long")
    return p.parse_args()


def now_z() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def signed(secret: str, body: bytes) -> dict[str, str]:
    digest = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return {"x-evolution-signature": f"sha256={digest}", "Content-Type": "application/json"}


class Target:
    """The instances, their organizations' secrets and the SSE streams of the service."""

    def __init__(self, session: Any, service: str, bare: str) -> None:
        self.s, self.service, self.bare = session, service, bare
        self.instances: list[dict[str, Any]] = []   # {"id", "name", "org", "secret"}
        self.waiting: dict[str, asyncio.Future[float]] = {}  # QR code -> its arrival time
        self.streams: list[asyncio.Task[None]] = []
        self.stream_ends: list[str] = []  # streams the service closed (then reopened)

    async def setup(self, orgs: int) -> None:
        auth = c.bearer("admin")
        for o in range(orgs):
            org = f"bench-wh-{o}"
            created = []
            for _ in range(10):
                async with self.s.post(self.service + API + "/quick-create", headers=auth,
                                       json={"organization_id": org}) as r:
                    created.append((await r.json())["instance"])
            async with self.s.post(f"{self.service}/api/admin/organizations/{org}/"
                                   "webhook-secret/rotate", headers=auth) as r:
                secret = (await r.json())["secret"]
            self.instances += [{"id": i["id"], "name": i["evolution_name"], "org": org,
                                "secret": secret} for i in created]

    def message(self, i: int, tag: str) -> tuple[dict[str, Any], bytes]:
        inst = self.instances[i % len(self.instances)]
        body = c.message_upsert(inst["name"], f"{tag}-{i}-{uuid.uuid4().hex[:12]}",
                                date_time=now_z())
        return inst, json.dumps(body).encode()

    def service_messages(self, tag: str) -> Any:
        async def post(i: int) -> None:
            inst, body = self.message(i, tag)
            async with self.s.post(f"{self.service}/api/webhooks/evolution/{inst['org']}",
                                   data=body, headers=signed(inst["secret"], body)) as r:
                answer = await r.json()
                if r.status != 200 or answer.get("duplicate"):
                    raise RuntimeError(f"service {r.status}: {answer}")
        return post

    def bare_messages(self, tag: str) -> Any:
        async def post(i: int) -> None:
            _, body = self.message(i, tag)
            async with self.s.post(self.bare + "/hook", data=body,
                                   headers={"Content-Type": "application/json"}) as r:
                await r.read()
                if r.status != 200:
                    raise RuntimeError(f"bare {r.status}")
        return post

    async def qr_probe(self, i: int) -> None:
        """POST a new QR; return once it was seen on that instance's stream."""
        inst = self.instances[i % len(self.instances)]
        code = f"2@bench-{uuid.uuid4().hex}"
        body = json.dumps({"event": "qrcode.updated", "instance": inst["name"],
                           "data": {"qrcode": {"instance": inst["name"], "pairingCode": None,
                                               "code": code, "base64": "data:image/png;base64,"
                                               "iVBORw0KGgo="}},
                           "date_time": now_z(), "apikey": None}).encode()
        seen = self.waiting[code] = asyncio.get_running_loop().create_future()
        try:
            async with self.s.post(f"{self.service}/api/webhooks/evolution/{inst['org']}",
                                   data=body, headers=signed(inst["secret"], body)) as r:
                if r.status != 200:
                    raise RuntimeError(f"qr webhook {r.status}: {await r.text()}")
            await asyncio.wait_for(seen, 10)
        finally:
            self.waiting.pop(code, None)

    async def open_streams(self) -> None:
        ready = [asyncio.get_running_loop().create_future() for _ in self.instances]
        self.streams = [asyncio.create_task(self._read(inst, ready[k]))
                        for k, inst in enumerate(self.instances)]
        await asyncio.wait_for(asyncio.gather(*ready), 30)

    async def _read(self, inst: dict[str, Any], ready: asyncio.Future[None]) -> None:
        """Follow the stream; when it ends, note why and reconnect, as EventSource does."""
        url = f"{self.service}{API}/{inst['id']}/qr/stream"
        while True:
            event = None
            try:
                async with self.s.get(url, headers=c.bearer("admin"),
                                      timeout=aiohttp.ClientTimeout(total=None)) as r:
                    if not ready.done():
                        ready.set_result(None)
                    async for raw in r.content:
                        line = raw.decode().rstrip("\n")
                        if line.startswith("event: "):
                            event = line[7:]
                        elif line.startswith("data: ") and event == "qr":
                            seen = self.waiting.get(json.loads(line[6:])["code"])
                            if seen is not None and not seen.done():
                                seen.set_result(time.perf_counter())
                    self.stream_ends.append(f"ended after event {event} (status {r.status})")
            except aiohttp.ClientError as exc:
                self.stream_ends.append(f"{type(exc).__name__} after event {event}")
            await asyncio.sleep(0.5)

    async def close(self) -> None:
        for task in self.streams:
            task.cancel()
        await asyncio.gather(*self.streams, return_exceptions=True)


async def drain(dsn: str, limit_s: float) -> dict[str, float]:
    """Wait for the worker to empty the inbox; how long it took and how much was left."""
    conn = await asyncpg.connect(dsn)
    try:
        left = start_left = await conn.fetchval(BACKLOG)
        started = time.perf_counter()
        while left and time.perf_counter() - started < limit_s:
            await asyncio.sleep(0.2)
            left = await conn.fetchval(BACKLOG)
        return {"backlog_at_end_of_phase": start_left, "drain_s": time.perf_counter() - started,
                "left_after_drain": left}
    finally:
        await conn.close()


async def backlog_samples(dsn: str, every_s: float = 0.5) -> list[int]:
    """The worker's backlog every ``every_s`` until cancelled (read the list afterwards)."""
    samples: list[int] = []
    conn = await asyncpg.connect(dsn)
    try:
        while True:
            samples.append(await conn.fetchval(BACKLOG))
            await asyncio.sleep(every_s)
    finally:
        await conn.close()
        backlog_samples.last = samples  # type: ignore[attr-defined]


async def cpu_during(pids: dict[str, int], work: Any) -> tuple[Any, dict[str, float]]:
    before = {k: c.cpu_seconds(p) for k, p in pids.items()}
    result = await work
    return result, {k: c.cpu_seconds(p) - before[k] for k, p in pids.items()}


async def run(args: argparse.Namespace) -> dict[str, Any]:
    name, dsn = await c.create_database("bench_webhooks")
    port, bare_port = c.free_port(), c.free_port()
    service, env = f"http://{c.LOOPBACK}:{port}", {
        "DATABASE_URL": dsn, "FAKE_EVOLUTION_TIME_SCALE": "100", "FAKE_EVOLUTION_AUTOSCAN_S": "0",
        "QR_TIMEOUT_MS": "1000", "QR_REFRESH_S": "3600", "WEBHOOK_RATE_PER_ORG": "1000000"}
    procs = [c.start_service("serve", port, **env)]
    try:
        await c.wait_http(procs[0], service + "/api/health")
        procs.append(c.start_worker("worker", **env))
        procs.append(c.python_script("bare", "_bare_webhook_app.py",
                                     ["--port", str(bare_port), "--dsn", dsn], c.clean_env()))
        bare = await c.wait_line(procs[2], "READY ")
        pids = {p.name: p.pid for p in procs}
        out: dict[str, Any] = {}
        async with c.client_session(limit=1000) as session:
            t = Target(session, service, bare)
            await t.setup(args.orgs)
            await c.closed_loop(t.qr_probe, len(t.instances), 10)  # every instance has a QR
            await drain(dsn, 30)
            await t.open_streams()
            await c.closed_loop(t.service_messages("warm"), 200, 8)
            await c.closed_loop(t.bare_messages("warm"), 200, 8)
            await drain(dsn, args.drain_s)
            conc, secs = args.concurrency, args.seconds
            for key, post in (("bare", t.bare_messages("tp")),
                              ("service", t.service_messages("tp"))):
                spies = [c.profiler(p.pid, secs - 1, f"webhook_load-{p.name}")
                         for p in procs[:2]] if key == "service" and args.profile else []
                out[f"throughput.{key}"], cpu = await cpu_during(
                    pids, c.closed_loop(post, 10**7, conc, max_seconds=secs))
                for spy in spies:
                    if spy is not None:
                        spy.wait()
                out[f"throughput.{key}"]["cpu_s"] = cpu
            out["throughput.drain"] = await drain(dsn, args.drain_s)
            out["rate.bare"], cpu = await cpu_during(
                pids, c.open_loop(t.bare_messages("rate"), args.rate, secs))
            out["rate.bare"]["cpu_s"] = cpu
            sampler = asyncio.create_task(backlog_samples(dsn))
            (svc, probes), cpu = await cpu_during(pids, asyncio.gather(
                c.open_loop(t.service_messages("rate"), args.rate, secs),
                c.open_loop(t.qr_probe, args.probe_rate / 2, secs, drain_s=30)))
            sampler.cancel()
            await asyncio.gather(sampler, return_exceptions=True)
            backlog = getattr(backlog_samples, "last", [])
            out["rate.service"], out["visible.under_load"] = svc | {"cpu_s": cpu}, probes
            out["rate.backlog"] = {"max": max(backlog, default=0), "samples": backlog}
            out["rate.drain"] = await drain(dsn, args.drain_s)
            out["visible.idle"] = await c.open_loop(t.qr_probe, args.probe_rate, secs)
            out["stream_ends"] = t.stream_ends
            await t.close()
    finally:
        for p in reversed(procs):
            p.stop()
        await c.drop_database(name)
    return report(args, out)


async def metrics_ab(args: argparse.Namespace) -> dict[str, Any]:
    name, dsn = await c.create_database("bench_metrics")
    env = {"DATABASE_URL": dsn, "FAKE_EVOLUTION_TIME_SCALE": "100",
           "FAKE_EVOLUTION_AUTOSCAN_S": "0", "QR_TIMEOUT_MS": "1000", "QR_REFRESH_S": "3600",
           "WEBHOOK_RATE_PER_ORG": "1000000"}
    ports = {"with": c.free_port(), "without": c.free_port()}
    procs = [c.start_service("serve-with", ports["with"], **env)]
    try:
        await c.wait_http(procs[0], f"http://{c.LOOPBACK}:{ports['with']}/api/health")
        procs.append(c.start_service("serve-without", ports["without"], **env,
                                     METRICS_DISABLED="1"))
        await c.wait_http(procs[1], f"http://{c.LOOPBACK}:{ports['without']}/api/health")
        procs.append(c.start_worker("worker", **env))
        events: dict[str, list[float]] = {"with": [], "without": []}
        errors: dict[str, int] = {"with": 0, "without": 0}
        async with c.client_session(limit=1000) as session:
            targets = {k: Target(session, f"http://{c.LOOPBACK}:{p}", "") for k, p in
                       ports.items()}
            await targets["with"].setup(args.orgs)
            targets["without"].instances = targets["with"].instances
            for side in ("with", "without"):  # warm both the same way
                await c.closed_loop(targets[side].service_messages("warm"), 300, 8)
            await drain(dsn, args.drain_s)
            secs = args.seconds / args.rounds
            order = [("with", "without") if r % 2 == 0 else ("without", "with")
                     for r in range(args.rounds)]
            for r, sides in enumerate(order):
                for side in sides:
                    res = await c.closed_loop(targets[side].service_messages(f"ab{r}"), 10**7,
                                              args.concurrency, max_seconds=secs)
                    events[side].append(res["rate"])
                    errors[side] += len(res["errors"])
                await drain(dsn, args.drain_s)  # each round starts on an empty backlog
    finally:
        for p in reversed(procs):
            p.stop()
        await c.drop_database(name)
    mean = {k: sum(v) / len(v) for k, v in events.items()}
    cost = 1 - mean["with"] / mean["without"]
    print(c.table(["side", "rounds", "events/s (mean)", "per round", "errors"],
                  [[k, len(events[k]), mean[k], " ".join(f"{x:.0f}" for x in events[k]),
                    errors[k]] for k in ("with", "without")]))
    print(f"\nmetrics cost: {cost * 100:.2f} % of webhook ingest events/s")
    met = cost < 0.03 and not any(errors.values())
    print(f"target metrics_cost_lt_3pct: {c.verdict(met)}")
    return {"events_per_s": events, "mean": mean, "cost": cost, "errors": errors,
            "targets": {"metrics_cost_lt_3pct": met}, "args": vars(args)}


def report(args: argparse.Namespace, out: dict[str, Any]) -> dict[str, Any]:
    rows, res = [], {}
    for key in ("throughput.bare", "throughput.service", "rate.bare", "rate.service",
                "visible.under_load", "visible.idle"):
        r = out[key]
        s = c.summary(r["latencies"])
        per_s = r.get("rate") or len(r["latencies"]) / r["send_seconds"]
        cpu = r.get("cpu_s", {})
        res[key] = {**s, "events_per_s": per_s, "errors": len(r["errors"]),
                    "first_errors": r["errors"][:3], "cpu_s": cpu,
                    "offered_rate": r.get("offered_rate"),
                    "max_send_lag_ms": r.get("max_send_lag_ms")}
        cpu_ms = {k: v * 1000 / max(1, s["n"]) for k, v in cpu.items()}
        rows.append([key, s["n"], per_s, s["p50"], s["p95"], s["p99"], s["max"], len(r["errors"]),
                     " ".join(f"{k}={v:.2f}" for k, v in cpu_ms.items() if v >= 0.005)])
    print(c.table(["phase", "n", "events/s", "p50 ms", "p95 ms", "p99 ms", "max ms", "errors",
                   "cpu ms per event"], rows))
    for key in ("throughput.drain", "rate.drain"):
        res[key] = out[key]
        print(f"{key}: {out[key]}")
    res["stream_ends"] = out["stream_ends"]
    res["rate.backlog"] = out["rate.backlog"]
    print(f"worker backlog during the service's fixed-rate phase: max "
          f"{out['rate.backlog']['max']}, every 0.5 s: {out['rate.backlog']['samples']}")
    print(f"SSE streams closed by the service (and reopened): {len(out['stream_ends'])} "
          f"{sorted(set(out['stream_ends']))[:3]}")
    tp = c.ratio(res["throughput.service"]["events_per_s"], res["throughput.bare"]["events_per_s"])
    rate, idle = res["rate.service"], res["visible.idle"]
    targets = {"throughput_ge_60pct_of_bare": tp >= 0.6,
               "p99_lt_50ms_at_rate": rate["p99"] < 50 and not rate["errors"],
               "visible_p99_lt_250ms": idle["p99"] < 250 and not idle["errors"]}
    print(f"\nservice/bare events/s: {tp:.2f}; at {args.rate:g}/s p99 service/bare: "
          f"{c.ratio(res['rate.service']['p99'], res['rate.bare']['p99']):.2f}")
    for k, met in targets.items():
        print(f"target {k}: {c.verdict(met)}")
    return {"phases": res, "throughput_ratio": tp, "targets": targets, "args": vars(args)}


def main() -> None:
    args = parse_args()
    c.header("webhook_load")
    result = asyncio.run(metrics_ab(args) if args.metrics_ab else run(args))
    if not args.no_json:
        name = "webhook_load_metrics_ab" if args.metrics_ab else "webhook_load"
        print("results:", c.write_results(name, result))


if __name__ == "__main__":
    main()
