"""Run tests/fakes/evolution_server.py's fake Evolution API in its own process (benchmark use).

Prints `READY http://127.0.0.1:PORT` once it listens; stops on SIGINT/SIGTERM.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from adapters.evolution.simulation.settings import RetryPolicy
from tests.fakes.evolution_server import start_fake_evolution


async def serve(args: argparse.Namespace) -> None:
    scale = args.time_scale
    # Webhook delivery keeps Evolution's real timings (30 s per attempt, retries from 5 s):
    # scaled down, a receiver busy for 30 ms would see every event delivered twice.
    options: dict[str, object] = {"time_scale": scale, "retry": RetryPolicy(
        initial_delay_s=5 / scale, max_delay_s=300 / scale, attempt_timeout_s=30 / scale)}
    if args.qr_refresh_s is not None:
        options["qr_refresh_s"] = args.qr_refresh_s / scale  # unscaled
    runner, url, server = await start_fake_evolution("127.0.0.1", args.port, **options)
    server.latency_s = args.latency_ms / 1000
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    print("READY", url, flush=True)
    try:
        await stop.wait()
    finally:
        await runner.cleanup()


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--time-scale", type=float, default=1.0)
    p.add_argument("--latency-ms", type=float, default=0.0, help="added to every answer")
    p.add_argument("--qr-refresh-s", type=float, default=None,
                   help="real seconds between QRs of one socket (default 45 * time scale)")
    asyncio.run(serve(p.parse_args()))


if __name__ == "__main__":
    main()
