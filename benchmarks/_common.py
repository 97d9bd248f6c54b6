"""Helpers shared by the benchmark scripts: percentiles, load loops, subprocesses, tokens, dbs.

Everything here targets 127.0.0.1 only, and every loop is bounded in count and time.
"""

from __future__ import annotations

import asyncio
import json
import os
import platform
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import aiohttp  # noqa: E402
import asyncpg  # noqa: E402
import jwt  # noqa: E402

from entrypoints.settings import DEV_JWT_SECRET  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results"
ADMIN_DSN = os.environ.get("BENCH_PG_DSN", "postgresql://postgres@127.0.0.1:5432/postgres")
LOOPBACK = "127.0.0.1"
# Every variable settings.py reads: stripped from the caller's environment so that a service
# started here sees only what the benchmark sets.
_SETTINGS_VARS = frozenset(re.findall(r'"([A-Z][A-Z0-9_]{2,})"',
                                      (ROOT / "entrypoints" / "settings.py").read_text()))


# Statistics ------------------------------------------------------------------------------------

def percentile(sorted_values: Sequence[float], q: float) -> float:
    """Linear interpolation between closest ranks; ``q`` in [0, 100]."""
    if not sorted_values:
        return float("nan")
    k = (len(sorted_values) - 1) * q / 100
    lo, hi = int(k), min(int(k) + 1, len(sorted_values) - 1)
    return sorted_values[lo] + (sorted_values[hi] - sorted_values[lo]) * (k - lo)


def summary(seconds: Iterable[float]) -> dict[str, float]:
    """p50/p95/p99/max/mean in milliseconds."""
    values = sorted(s * 1000 for s in seconds)
    if not values:
        return {"n": 0, "p50": float("nan"), "p95": float("nan"), "p99": float("nan"),
                "max": float("nan"), "mean": float("nan")}
    return {"n": len(values), "p50": percentile(values, 50), "p95": percentile(values, 95),
            "p99": percentile(values, 99), "max": values[-1], "mean": sum(values) / len(values)}


def ratio(a: float, b: float) -> float:
    return a / b if b else float("nan")


# Load loops ------------------------------------------------------------------------------------

Call = Callable[[int], Awaitable[Any]]


async def closed_loop(call: Call, total: int, concurrency: int,
                      max_seconds: float = 120.0) -> dict[str, Any]:
    """``concurrency`` workers share ``total`` calls; each call's latency is recorded.

    Worker ``w`` makes calls ``w, w + concurrency, ...``: ``i % concurrency`` names the worker.
    """
    latencies: list[float] = []
    errors: list[str] = []
    deadline = time.perf_counter() + max_seconds

    async def worker(w: int) -> None:
        for i in range(w, total, concurrency):
            if time.perf_counter() > deadline:
                return
            started = time.perf_counter()
            try:
                await call(i)
            except Exception as exc:  # counted, and the first few reported
                errors.append(f"{type(exc).__name__}: {exc}"[:200])
                continue
            latencies.append(time.perf_counter() - started)

    started = time.perf_counter()
    await asyncio.gather(*(worker(w) for w in range(concurrency)))
    elapsed = time.perf_counter() - started
    return {"latencies": latencies, "errors": errors, "elapsed_s": elapsed,
            "rate": len(latencies) / elapsed if elapsed else 0.0}


async def open_loop(call: Call, rate: float, seconds: float,
                    drain_s: float = 10.0) -> dict[str, Any]:
    """Send at a fixed rate whatever the answers do; latency counts from the scheduled send
    time, so a stalled server cannot hide its queue (no coordinated omission)."""
    latencies: list[float] = []
    errors: list[str] = []
    total = int(rate * seconds)
    tasks: list[asyncio.Task[None]] = []

    async def one(i: int, scheduled: float) -> None:
        try:
            await call(i)
        except Exception as exc:
            errors.append(f"{type(exc).__name__}: {exc}"[:200])
            return
        latencies.append(time.perf_counter() - scheduled)

    start = time.perf_counter() + 0.05
    max_lag = 0.0
    for i in range(total):
        scheduled = start + i / rate
        delay = scheduled - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        else:
            max_lag = max(max_lag, -delay)
        tasks.append(asyncio.create_task(one(i, scheduled)))
    sent_s = time.perf_counter() - start
    _, pending = await asyncio.wait(tasks, timeout=drain_s)
    for task in pending:
        task.cancel()
    return {"latencies": latencies, "errors": errors + ["unfinished"] * len(pending),
            "sent": total, "send_seconds": sent_s, "offered_rate": total / sent_s,
            "max_send_lag_ms": max_lag * 1000}


def client_session(limit: int = 0, timeout_s: float = 30.0) -> aiohttp.ClientSession:
    return aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=limit),
                                 timeout=aiohttp.ClientTimeout(total=timeout_s))


# Subprocesses ----------------------------------------------------------------------------------

def free_port() -> int:
    with socket.socket() as s:
        s.bind((LOOPBACK, 0))
        return int(s.getsockname()[1])


def clean_env(**overrides: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in _SETTINGS_VARS}
    env.update(overrides)
    return env


class Process:
    """A child process we started; stopped by its own pid (SIGINT, then SIGKILL)."""

    def __init__(self, name: str, argv: list[str], env: dict[str, str]) -> None:
        self.name = name
        self.log_path = Path(tempfile.mkstemp(prefix=f"bench-{name}-", suffix=".log")[1])
        self._log = self.log_path.open("wb")
        self.proc = subprocess.Popen(argv, cwd=ROOT, env=env, stdout=self._log,  # noqa: S603
                                     stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)

    @property
    def pid(self) -> int:
        return self.proc.pid

    def alive(self) -> bool:
        return self.proc.poll() is None

    def tail(self, lines: int = 20) -> str:
        self._log.flush()
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])

    def stop(self, timeout_s: float = 15.0) -> None:
        """SIGINT, then SIGKILL after ``timeout_s``; the log is kept only if it says more than
        the start-up banner (an error), and its path printed."""
        if self.alive():
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(timeout_s)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self._log.close()
        text = self.log_path.read_text(errors="replace")
        if "Traceback" in text or '"level": "error"' in text:
            print(f"{self.name}: errors logged, kept in {self.log_path}")
        else:
            self.log_path.unlink(missing_ok=True)


def python_module(name: str, module: str, args: list[str], env: dict[str, str]) -> Process:
    return Process(name, [sys.executable, "-m", module, *args], env)


def python_script(name: str, script: str, args: list[str], env: dict[str, str]) -> Process:
    return Process(name, [sys.executable, str(ROOT / "benchmarks" / script), *args], env)


def start_service(name: str, port: int, **env: str) -> Process:
    """``wachannel serve`` on 127.0.0.1:port with only the given configuration."""
    base = {"APP_ENV": "development", "LOG_LEVEL": "warning",
            "PUBLIC_BASE_URL": f"http://{LOOPBACK}:{port}"}
    return python_module(name, "entrypoints.cli",
                         ["serve", "--host", LOOPBACK, "--port", str(port)],
                         clean_env(**(base | env)))


def start_worker(name: str, **env: str) -> Process:
    base = {"APP_ENV": "development", "LOG_LEVEL": "warning"}
    return python_module(name, "entrypoints.cli", ["worker"], clean_env(**(base | env)))


async def wait_http(process: Process, url: str, timeout_s: float = 60.0) -> None:
    """Until ``url`` answers 200; fails at once if the process died."""
    deadline = time.monotonic() + timeout_s
    async with aiohttp.ClientSession() as session:
        while time.monotonic() < deadline:
            if not process.alive():
                raise RuntimeError(f"{process.name} exited:\n{process.tail()}")
            try:
                async with session.get(url, timeout=aiohttp.ClientTimeout(total=2)) as r:
                    if r.status == 200:
                        return
            except (aiohttp.ClientError, TimeoutError):
                pass
            await asyncio.sleep(0.1)
    raise RuntimeError(f"{process.name} not ready at {url} after {timeout_s} s:\n"
                       f"{process.tail()}")


async def wait_line(process: Process, prefix: str, timeout_s: float = 30.0) -> str:
    """The first line of the process's output starting with ``prefix``."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        for line in process.tail(200).splitlines():
            if line.startswith(prefix):
                return line[len(prefix):].strip()
        if not process.alive():
            break
        await asyncio.sleep(0.1)
    raise RuntimeError(f"{process.name} printed no {prefix!r}:\n{process.tail()}")


def profiler(pid: int, seconds: float, name: str) -> subprocess.Popen[bytes] | None:
    """Sample ``pid`` with py-spy (when installed) for ``seconds``, into benchmarks/results/:
    a raw collapsed-stack file (one line per stack, with its sample count)."""
    spy = Path(sys.executable).with_name("py-spy")
    if not spy.exists():
        print("py-spy is not installed (.venv/bin/pip install py-spy): no profile")
        return None
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = RESULTS / f"{name}-{time.strftime('%Y%m%dT%H%M%S')}.txt"
    print(f"profiling pid {pid} for {seconds:.0f} s into {out}")
    return subprocess.Popen([str(spy), "record", "-p", str(pid), "-d", str(int(seconds)),  # noqa: S603
                             "-r", "200", "-F", "-f", "raw", "-o", str(out)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def rss_mb(pid: int) -> float:
    return _status_kb(pid, "VmRSS") / 1024


def _status_kb(pid: int, field: str) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return float(line.split()[1])
    return float("nan")


def open_fds(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (from /proc/<pid>/stat)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


# Tokens and databases --------------------------------------------------------------------------

def token(role: str = "admin", org: str | None = None, ttl_s: int = 3600) -> str:
    claims: dict[str, Any] = {"sub": "benchmark", "role": role, "exp": int(time.time()) + ttl_s}
    if org:
        claims["org"] = org
    return jwt.encode(claims, DEV_JWT_SECRET, algorithm="HS256")


def bearer(role: str = "admin", org: str | None = None) -> dict[str, str]:
    return {"Authorization": f"Bearer {token(role, org)}"}


def dsn_for(database: str, admin_dsn: str = ADMIN_DSN) -> str:
    return admin_dsn.rsplit("/", 1)[0] + "/" + database


async def create_database(prefix: str, admin_dsn: str = ADMIN_DSN) -> tuple[str, str]:
    """A fresh, uniquely named database; returns (name, dsn)."""
    name = f"{prefix}_{os.getpid()}_{int(time.time())}"
    conn = await asyncpg.connect(admin_dsn)
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    return name, dsn_for(name, admin_dsn)


async def drop_database(name: str, admin_dsn: str = ADMIN_DSN) -> None:
    conn = await asyncpg.connect(admin_dsn)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


# Reporting -------------------------------------------------------------------------------------

_RUN: dict[str, Any] = {}  # what header() saw, written with the results


def machine() -> dict[str, Any]:
    return {"nproc": os.cpu_count(), "python": platform.python_version(),
            "platform": platform.platform(), "aiohttp": aiohttp.__version__,
            "asyncpg": asyncpg.__version__, "loadavg": os.getloadavg()}


def busy_cores(interval_s: float = 1.0) -> float:
    """How many cores the whole machine kept busy over ``interval_s`` (from /proc/stat)."""
    def sample() -> tuple[int, int]:
        fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
        idle = fields[3] + fields[4]  # idle + iowait
        return sum(fields) - idle, sum(fields)
    busy0, total0 = sample()
    time.sleep(interval_s)
    busy1, total1 = sample()
    return (busy1 - busy0) / max(1, total1 - total0) * (os.cpu_count() or 1)


def header(name: str, quiet_below: float = 0.3, wait_s: float = 120.0) -> None:
    """Wait (bounded) for the machine to be quiet, then say what ran where: the machine is
    shared, so how busy it was is part of the figure."""
    deadline = time.monotonic() + wait_s
    busy = busy_cores()
    while busy > quiet_below and time.monotonic() < deadline:
        print(f"waiting for a quiet machine: {busy:.2f} cores busy", flush=True)
        time.sleep(4)
        busy = busy_cores()
    _RUN["busy_cores_at_start"] = busy
    m = machine()
    print(f"{name}: {m['nproc']} cores, Python {m['python']}, aiohttp {m['aiohttp']}, "
          f"{busy:.2f} cores busy at start\n", flush=True)


def table(headers: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    cells = [[_cell(v) for v in row] for row in rows]
    widths = [max(len(h), *(len(r[i]) for r in cells)) if cells else len(h)
              for i, h in enumerate(headers)]
    line = "  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True))
    out = [line, "  ".join("-" * w for w in widths)]
    out += ["  ".join(c.rjust(w) for c, w in zip(r, widths, strict=True)) for r in cells]
    return "\n".join(out)


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.2f}" if abs(value) < 1000 else f"{value:.0f}"
    return str(value)


def write_results(name: str, data: dict[str, Any]) -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{name}-{time.strftime('%Y%m%dT%H%M%S')}.json"
    run = {**_RUN, "busy_cores_at_end": busy_cores(), "commit": _commit()}
    path.write_text(json.dumps({"machine": machine(), "run": run, **data}, indent=2,
                               default=str))
    return path


def _commit() -> str:
    """The commit measured, and whether the work tree had changes outside benchmarks/."""
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT,  # noqa: S607
                              capture_output=True, text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--", ".", ":!benchmarks"],  # noqa: S607
                               cwd=ROOT, capture_output=True, text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return head + ("+changes" if dirty.strip() else "")


def verdict(met: bool) -> str:
    return "MET" if met else "MISSED"


# Evolution payloads ----------------------------------------------------------------------------

def message_upsert(instance: str, key_id: str, text: str = "Olá! Vocês atendem sábado?",
                   date_time: str = "2025-10-21T11:34:57.031Z") -> dict[str, Any]:
    """A `messages.upsert` envelope shaped like Evolution v2's (../shared/evolution/)."""
    return {
        "event": "messages.upsert", "instance": instance,
        "data": {"key": {"remoteJid": "5511987654321@s.whatsapp.net", "fromMe": False,
                         "id": key_id, "addressingMode": "pn"},
                 "pushName": "Maria Souza", "status": "DELIVERY_ACK",
                 "message": {"conversation": text,
                             "messageContextInfo": {"deviceListMetadataVersion": 2,
                                                    "messageSecret": list(range(32))}},
                 "messageType": "conversation", "messageTimestamp": 1761057296,
                 "instanceId": "e9dc8914-afb6-4a3e-8e4c-e51fa2a533f2", "source": "android"},
        "destination": "http://127.0.0.1/api/webhooks/evolution", "date_time": date_time,
        "sender": "5511912345678@s.whatsapp.net", "server_url": "http://127.0.0.1:8081",
        "apikey": "4E6279F0-585E-40B0-9985-183BC423C50A"}
