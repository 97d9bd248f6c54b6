"""``wachannel`` subprocesses for the end-to-end tests.

Each one runs in its own session (its own process group), so that a signal reaches whatever it
spawned, and its output goes to a log file that is printed when the test fails.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Mapping
from pathlib import Path

import attrs

from tests.e2e.support import REPO

WACHANNEL = REPO / ".venv" / "bin" / "wachannel"


def base_env(**settings: str) -> dict[str, str]:
    """A clean environment for ``wachannel``: only what the OS needs plus ``settings``."""
    env = {name: os.environ[name] for name in ("PATH", "HOME", "LANG", "TMPDIR", "SYSTEMROOT")
           if name in os.environ}
    env.update({"PYTHONUNBUFFERED": "1", "APP_ENV": "development", "LOG_LEVEL": "warning",
                "FAKE_EVOLUTION_AUTOSCAN_S": "0"})
    env.update(settings)
    return env


@attrs.define
class Process:
    name: str
    popen: subprocess.Popen[bytes]
    log: Path

    @property
    def alive(self) -> bool:
        return self.popen.poll() is None

    def kill(self) -> None:
        """SIGKILL the whole process group, as a crash would."""
        if self.alive:
            os.killpg(self.popen.pid, signal.SIGKILL)
        self.popen.wait(timeout=10)

    async def exited(self, within_s: float) -> bool:
        """Whether the process has ended within ``within_s`` (it is not signalled here)."""
        with contextlib.suppress(subprocess.TimeoutExpired):
            await asyncio.to_thread(self.popen.wait, within_s)
        return not self.alive

    def terminate(self) -> None:
        if self.alive:
            os.killpg(self.popen.pid, signal.SIGTERM)

    def reap(self, deadline: float) -> None:
        """Wait until ``deadline`` (monotonic), then SIGKILL whatever is left of the group."""
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.popen.wait(timeout=max(0.0, deadline - time.monotonic()))
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.popen.pid, signal.SIGKILL)
        self.popen.wait(timeout=10)

    def tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


class Processes:
    """Every ``wachannel`` process a test starts; ``close()`` ends them all, whatever happened."""

    def __init__(self, logs: Path) -> None:
        self._logs = logs
        self.started: list[Process] = []

    def start(self, name: str, args: list[str], env: Mapping[str, str]) -> Process:
        log = self._logs / f"{name}-{len(self.started)}.log"
        with log.open("wb") as sink:
            popen = subprocess.Popen(  # noqa: S603 (our own console script)
                [str(WACHANNEL), *args], env=dict(env), stdout=sink,
                stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True,
                cwd=str(REPO))
        process = Process(name, popen, log)
        self.started.append(process)
        return process

    def serve(self, name: str, port: int, env: Mapping[str, str]) -> Process:
        return self.start(name, ["serve", "--host", "127.0.0.1", "--port", str(port)], env)

    def worker(self, name: str, env: Mapping[str, str]) -> Process:
        return self.start(name, ["worker"], env)

    def close(self, grace_s: float = 3.0) -> None:
        """SIGTERM every group at once, SIGKILL what is left after ``grace_s``."""
        for process in self.started:
            process.terminate()
        deadline = time.monotonic() + grace_s
        for process in self.started:
            process.reap(deadline)

    def report(self) -> str:
        return "\n".join(f"--- {p.name} (exit {p.popen.poll()}) ---\n{p.tail()}"
                         for p in self.started)


def cli_token(env: Mapping[str, str], role: str = "admin") -> str:
    """A token minted by ``wachannel token``, as an operator would."""
    done = subprocess.run(  # noqa: S603
        [str(WACHANNEL), "token", "--role", role, "--sub", "e2e"], env=dict(env),
        capture_output=True, timeout=30, check=True, cwd=str(REPO))
    return done.stdout.decode().strip()
