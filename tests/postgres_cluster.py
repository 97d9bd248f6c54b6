"""A throwaway local Postgres cluster (initdb + pg_ctl) for machines without Docker."""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Callable
from pathlib import Path


def find_pg_bin() -> Path | None:
    """The directory holding initdb and pg_ctl: PATH first, then Debian's layout."""
    on_path = shutil.which("initdb")
    if on_path and shutil.which("pg_ctl"):
        return Path(on_path).resolve().parent
    for candidate in sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True):
        if (Path(candidate) / "initdb").exists():
            return Path(candidate)
    return None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _as_postgres_user() -> list[str]:
    # initdb and the server refuse to run as root; drop to the postgres account for them.
    if os.geteuid() != 0:
        return []
    runuser = shutil.which("runuser")
    if runuser is None:
        raise RuntimeError("running as root without runuser: cannot start a local Postgres")
    return [runuser, "-u", "postgres", "--"]


def start_local_cluster(pg_bin: Path) -> tuple[str, Callable[[], None]]:
    """Start a cluster on a free port; return its server URL and the function that removes it."""
    workdir = Path(tempfile.mkdtemp(prefix="wachannel-pg-"))
    data, log = workdir / "data", workdir / "server.log"
    prefix = _as_postgres_user()
    if prefix:
        shutil.chown(workdir, "postgres", "postgres")
    port = _free_port()
    options = (f"-p {port} -k {workdir} -c listen_addresses=127.0.0.1 -c fsync=off "
               "-c synchronous_commit=off -c full_page_writes=off")

    def stop() -> None:
        subprocess.run(  # noqa: S603 (our own binaries and paths, no outside input)
            [*prefix, str(pg_bin / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "stop"],
            check=False, capture_output=True)
        shutil.rmtree(workdir, ignore_errors=True)

    try:
        _run([*prefix, str(pg_bin / "initdb"), "-D", str(data), "-U", "postgres",
              "--auth=trust", "-E", "UTF8", "--no-sync"])
        _run([*prefix, str(pg_bin / "pg_ctl"), "-D", str(data), "-l", str(log), "-o", options,
              "-w", "-t", "60", "start"])
    except RuntimeError:
        stop()
        raise
    return f"postgresql://postgres@127.0.0.1:{port}/postgres", stop


def _run(command: list[str]) -> None:
    done = subprocess.run(command, check=False, capture_output=True, text=True)  # noqa: S603
    if done.returncode != 0:
        output = done.stderr.strip() or done.stdout.strip()
        raise RuntimeError(f"{' '.join(command)} failed: {output}")
