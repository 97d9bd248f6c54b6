"""Audit export: offline verification of 100,000 events, and the export's memory.

1. A JSON Lines file of 100,000 events, sealed with the domain's own hashing, is checked by
   ``wachannel audit verify --file`` (a subprocess with no database). Target: under 10 s.
2. The export reads the trail page by page: its Python heap peak (tracemalloc) while 10,000
   and then 100,000 events stream out of Postgres through ``AuditExporter`` must stay flat.

Run: ``.venv/bin/python benchmarks/audit_export.py`` (Postgres on 127.0.0.1, BENCH_PG_DSN).
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import tempfile
import time
import tracemalloc
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

from _common import (
    ROOT,
    clean_env,
    create_database,
    drop_database,
    header,
    table,
    verdict,
    write_results,
)

from adapters.postgres.migrations import migrate
from domain.audit import GENESIS_HASH, AuditAction, AuditDraft, AuditEvent, seal
from domain.audit_export import event_line, head_line
from entrypoints.container import build_container, running
from entrypoints.settings import load_settings

VERIFY_EVENTS = 100_000
EXPORT_SIZES = (10_000, 100_000)
ORGS = ("clinic-a", "clinic-b", "clinic-c", "clinic-d")
T0 = datetime(2026, 1, 1, tzinfo=UTC)


def events(count: int) -> list[AuditEvent]:
    """``count`` events over four organizations' chains, as the service seals them."""
    heads = dict.fromkeys(ORGS, GENESIS_HASH)
    made = []
    for n in range(count):
        org = ORGS[n % len(ORGS)]
        draft = AuditDraft(org, AuditAction.QR_GENERATED, "user-7", "admin",
                           T0 + timedelta(milliseconds=n), "10.1.2.3", "Mozilla/5.0",
                           {"instance_id": str(uuid.UUID(int=n)),
                            "instance_name": f"{org}-{n:08x}",
                            "performance_metrics": {"qr_generation_time": 1.234}})
        event = seal(draft, uuid.UUID(int=n + 1), heads[org])
        heads[org] = event.hash
        made.append(event)
    return made


def verify_offline(path: Path) -> tuple[float, dict[str, object]]:
    started = time.perf_counter()
    done = subprocess.run(  # noqa: S603
        [str(ROOT / ".venv" / "bin" / "wachannel"), "audit", "verify", "--file", str(path)],
        env=clean_env(), capture_output=True, timeout=120, check=False)
    return time.perf_counter() - started, json.loads(done.stdout)


async def stored(dsn: str, made: list[AuditEvent]) -> None:
    import asyncpg

    conn = await asyncpg.connect(dsn)
    try:
        seq: dict[str, int] = {}
        rows = []
        for e in made:
            seq[e.organization_id] = seq.get(e.organization_id, 0) + 1
            rows.append((e.id, e.organization_id, seq[e.organization_id], e.action, e.actor_id,
                         e.actor_type, e.timestamp, e.ip_address, e.user_agent,
                         json.dumps(e.details), e.prev_hash, e.hash))
        await conn.copy_records_to_table("audit_events", records=rows, columns=[
            "id", "organization_id", "seq", "action", "actor_id", "actor_type", "timestamp",
            "ip_address", "user_agent", "details", "prev_hash", "hash"])
        last = {e.organization_id: e.hash for e in made}
        await conn.executemany("INSERT INTO audit_heads VALUES ($1, $2, $3)",
                               [(o, last[o], seq[o]) for o in last])
    finally:
        await conn.close()


async def export_peak(count: int) -> dict[str, float]:
    name, dsn = await create_database("bench_audit_export")
    try:
        await migrate(dsn)
        await stored(dsn, events(count))
        settings = load_settings({"APP_ENV": "development", "DATABASE_URL": dsn,
                                  "LOG_LEVEL": "warning"})
        async with running(build_container(settings, migrate_on_start=False)) as container:
            exporter = container.audit_export()
            tracemalloc.start()
            started = time.perf_counter()
            lines = written = 0
            async for line in exporter.lines(None):
                written += len(line)  # what a client would receive, dropped as it comes
                lines += 1
            seconds = time.perf_counter() - started
            _, peak = tracemalloc.get_traced_memory()
            tracemalloc.stop()
        assert lines == count + 1, lines
        return {"events": count, "seconds": seconds, "peak_mib": peak / 2**20}
    finally:
        await drop_database(name)


def main() -> int:
    header("audit_export")
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "audit.jsonl"
        started = time.perf_counter()
        made = events(VERIFY_EVENTS)
        with open(path, "wb") as f:
            for e in made:
                f.write(event_line(e) + b"\n")
            f.write(head_line(made[-1].hash, len(made)) + b"\n")
        made_s = time.perf_counter() - started
        size_mib = path.stat().st_size / 2**20
        verify_s, result = verify_offline(path)
    assert result["valid"] is True, result
    print(f"{VERIFY_EVENTS} events, {size_mib:.1f} MiB, made in {made_s:.1f} s; "
          f"`wachannel audit verify --file`: {verify_s:.2f} s  {verdict(verify_s < 10)}\n")
    peaks = [asyncio.run(export_peak(n)) for n in EXPORT_SIZES]
    print(table(["events", "export s", "heap peak MiB"],
                [[p["events"], p["seconds"], p["peak_mib"]] for p in peaks]))
    flat = peaks[1]["peak_mib"] < 2 * peaks[0]["peak_mib"] + 1
    print(f"\nexport memory flat (100k peak under 2x the 10k peak): {verdict(flat)}")
    write_results("audit_export", {"verify": {"events": VERIFY_EVENTS, "mib": size_mib,
                                              "seconds": verify_s}, "export": peaks})
    return 0 if verify_s < 10 and flat else 1


if __name__ == "__main__":
    sys.exit(main())
