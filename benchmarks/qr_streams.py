"""Hundreds of QR streams held open on one `wachannel serve`: memory, and clean-up after.

The embedded default (in-memory store, in-process fake Evolution at its real timings: a QR
every 45 s per instance; the simulated scan off so no stream ends early). Instances are spread
over organizations so the default limits hold (MAX_INSTANCES_PER_ORG=10, QR_STREAMS_PER_ORG=20):
--streams / 10 organizations of 10 instances, one stream each.

Measured on the server process (its pid, from /proc): RSS before the streams (the baseline),
sampled every second while they are held for --seconds, and after the clients disconnect; open
file descriptors (each stream holds a socket); and the `wachannel_qr_streams_open` gauge from
/metrics (system token) when the service exports it. After the disconnect it waits up to
--settle-s for the gauge (or the descriptors) to return to the baseline, and reports how long
that took. Targets: RSS < 150 MB while held; streams and sockets back to baseline after.

    .venv/bin/python benchmarks/qr_streams.py [--streams 500] [--seconds 60]
"""

from __future__ import annotations

import argparse
import asyncio
import time
from typing import Any

import _common as c
import aiohttp

API = "/api/channels/whatsapp/instances"
GAUGE = "wachannel_qr_streams_open"


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--streams", type=int, default=500, help="streams held at once (500)")
    p.add_argument("--seconds", type=float, default=60.0, help="how long they are held (60)")
    p.add_argument("--settle-s", type=float, default=30.0,
                   help="max wait for clean-up after the disconnect (30; pings every 15 s)")
    p.add_argument("--no-json", action="store_true")
    return p.parse_args()


async def open_streams_gauge(session: aiohttp.ClientSession, base: str) -> float | None:
    async with session.get(base + "/metrics", headers=c.bearer("system")) as r:
        for line in (await r.text()).splitlines():
            if line.startswith(GAUGE + " "):
                return float(line.split()[1])
    return None


def snapshot(pid: int) -> dict[str, float]:
    return {"rss_mb": c.rss_mb(pid), "fds": c.open_fds(pid)}


class Streams:
    def __init__(self, session: aiohttp.ClientSession) -> None:
        self.session = session
        self.first_qr: list[float] = []
        self.events = 0
        self.failed: list[str] = []

    async def read(self, url: str, opened: asyncio.Future[None]) -> None:
        started = time.perf_counter()
        try:
            async with self.session.get(url, headers=c.bearer("admin")) as r:
                if r.status != 200:
                    raise RuntimeError(f"stream {r.status}: {await r.text()}")
                opened.set_result(None)
                first = True
                async for line in r.content:
                    if line.startswith(b"event: "):
                        self.events += 1
                        if first and line.startswith(b"event: qr"):
                            self.first_qr.append(time.perf_counter() - started)
                            first = False
            self.failed.append("stream ended")
        except (aiohttp.ClientError, RuntimeError) as exc:
            self.failed.append(f"{type(exc).__name__}: {exc}"[:200])
            if not opened.done():
                opened.set_result(None)


async def run(args: argparse.Namespace) -> dict[str, Any]:
    port = c.free_port()
    base = f"http://{c.LOOPBACK}:{port}"
    server = c.start_service("serve", port, FAKE_EVOLUTION_AUTOSCAN_S="0")
    out: dict[str, Any] = {"samples": []}
    try:
        await c.wait_http(server, base + "/api/health")
        async with c.client_session(limit=20) as admin:
            ids: list[str] = []

            async def create(i: int) -> None:
                async with admin.post(base + API + "/quick-create", headers=c.bearer("admin"),
                                      json={"organization_id": f"bench-qr-{i // 10}"}) as r:
                    ids.append((await r.json())["instance"]["id"])

            await c.closed_loop(create, args.streams, 10)
            await asyncio.sleep(3)  # first QRs (1.5 s) in, the service idle again
            out["baseline"] = snapshot(server.pid) | {
                "gauge": await open_streams_gauge(admin, base)}
            # The readers' own session, closed (every socket) to disconnect them all at once.
            readers = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0),
                                            timeout=aiohttp.ClientTimeout(total=None))
            streams = Streams(readers)
            opened = [asyncio.get_running_loop().create_future() for _ in ids]
            tasks = [asyncio.create_task(streams.read(f"{base}{API}/{i}/qr/stream", f))
                     for i, f in zip(ids, opened, strict=True)]
            await asyncio.wait_for(asyncio.gather(*opened), 60)
            held_from = time.monotonic()
            while time.monotonic() - held_from < args.seconds:
                await asyncio.sleep(1)
                out["samples"].append(snapshot(server.pid))
            out["held"] = snapshot(server.pid) | {"gauge": await open_streams_gauge(admin, base),
                                                  "streams_alive": sum(not t.done() for t in tasks)}
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            await readers.close()
            disconnected = time.monotonic()
            settled = None
            while time.monotonic() - disconnected < args.settle_s:
                await asyncio.sleep(0.5)
                gauge = await open_streams_gauge(admin, base)
                now = snapshot(server.pid)
                done = gauge == 0 if gauge is not None else (
                    now["fds"] <= out["baseline"]["fds"] + 2)
                if done:
                    settled = time.monotonic() - disconnected
                    break
            out["after"] = snapshot(server.pid) | {"gauge": await open_streams_gauge(admin, base),
                                                   "settled_after_s": settled}
            out["first_qr"] = c.summary(streams.first_qr)
            out["stream_events"], out["stream_failures"] = streams.events, streams.failed[:5]
            out["streams_opened"] = len(tasks)
    finally:
        server.stop()
    return report(args, out)


def report(args: argparse.Namespace, out: dict[str, Any]) -> dict[str, Any]:
    peak = max((s["rss_mb"] for s in out["samples"]), default=float("nan"))
    base, held, after = out["baseline"], out["held"], out["after"]
    print(c.table(["", "RSS MB", "open fds", GAUGE], [
        ["before streams", base["rss_mb"], base["fds"], base["gauge"]],
        [f"held {args.streams} for {args.seconds:g} s (peak RSS)", peak, held["fds"],
         held["gauge"]],
        ["after disconnect", after["rss_mb"], after["fds"], after["gauge"]]]))
    print(f"\nstreams alive at the end of the hold: {held['streams_alive']}/{args.streams}; "
          f"events received: {out['stream_events']}; first QR p50/p95: "
          f"{out['first_qr']['p50']:.0f}/{out['first_qr']['p95']:.0f} ms")
    settled = after["settled_after_s"]
    print("back to baseline after the disconnect: " + (
        f"after {settled:.1f} s" if settled is not None else f"NOT within {args.settle_s:g} s"))
    if base["gauge"] is None:
        print(f"note: /metrics has no {GAUGE}; clean-up judged by open descriptors only")
    targets = {"rss_lt_150mb": peak < 150 and held["streams_alive"] == args.streams,
               "back_to_baseline": after["settled_after_s"] is not None}
    for k, met in targets.items():
        print(f"target {k}: {c.verdict(met)}")
    return {**out, "peak_rss_mb": peak, "targets": targets, "args": vars(args)}


def main() -> None:
    args = parse_args()
    c.header("qr_streams")
    result = asyncio.run(run(args))
    if not args.no_json:
        print("results:", c.write_results("qr_streams", result))


if __name__ == "__main__":
    main()
