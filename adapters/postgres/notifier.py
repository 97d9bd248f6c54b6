from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Mapping
from contextlib import AbstractAsyncContextManager
from typing import Any

import asyncpg
import structlog

from adapters.fanout import LocalFanout, decode_signal, encode_signal
from adapters.postgres.db import TRANSIENT_ERRORS, translated
from adapters.postgres.unit_of_work import NOTIFY, SIGNAL_CHANNEL
from application.errors import StorageUnavailable
from application.ports.notifier import Notifier

log = structlog.get_logger(__name__)


class AsyncpgNotifier(Notifier):
    """LISTENs on one dedicated connection and fans out to this replica's subscribers.

    The connection is watched (termination callback plus a periodic ``SELECT 1``) and
    re-opened with exponential backoff. Signals sent while it is down are lost: they are
    hints, and subscribers re-read the store.
    """

    def __init__(self, dsn: str, pool: asyncpg.Pool | None = None, *, maxsize: int = 100,
                 health_interval: float = 5.0, max_backoff: float = 30.0,
                 start_timeout: float = 10.0) -> None:
        self._dsn = dsn
        self._pool = pool
        self._fanout = LocalFanout(maxsize)
        self._health_interval = health_interval
        self._max_backoff = max_backoff
        self._start_timeout = start_timeout
        self._task: asyncio.Task[None] | None = None
        self._listening = asyncio.Event()
        self._lost = asyncio.Event()
        self._connections = 0

    async def start(self) -> None:
        """Return once listening; raise ``StorageUnavailable`` after ``start_timeout``."""
        self._task = asyncio.create_task(self._supervise(), name="asyncpg-notifier")
        listening = asyncio.create_task(self._listening.wait())
        # A supervisor that dies (a malformed DSN, say) ends the wait at once.
        await asyncio.wait({listening, self._task}, timeout=self._start_timeout,
                           return_when=asyncio.FIRST_COMPLETED)
        listening.cancel()
        if not self._listening.is_set():
            await self.stop()
            raise StorageUnavailable("cannot LISTEN for signals")

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    def subscribe(
        self, topic: str
    ) -> AbstractAsyncContextManager[AsyncIterator[Mapping[str, Any]]]:
        return self._fanout.subscribe(topic)

    async def publish(self, topic: str, payload: Mapping[str, Any]) -> None:
        signal = encode_signal(topic, payload)
        with translated():
            if self._pool is not None:
                await self._pool.execute(NOTIFY, SIGNAL_CHANNEL, signal)
                return
            conn = await asyncpg.connect(self._dsn)
            try:
                await conn.execute(NOTIFY, SIGNAL_CHANNEL, signal)
            finally:
                await conn.close()

    @property
    def listening(self) -> bool:
        return self._listening.is_set()

    @property
    def reconnects(self) -> int:
        return max(0, self._connections - 1)

    async def _supervise(self) -> None:
        delay = 0.1
        while True:
            try:
                conn = await self._listen()
            except (*TRANSIENT_ERRORS, asyncpg.PostgresError) as error:
                log.warning("notifier_connect_failed", error=type(error).__name__, retry_s=delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, self._max_backoff)
                continue
            delay = 0.1
            try:
                await self._watch(conn)
            finally:
                self._listening.clear()
                await _close_quietly(conn)
            log.warning("notifier_connection_lost")

    async def _listen(self) -> asyncpg.Connection:
        conn = await asyncpg.connect(self._dsn)
        self._lost.clear()
        conn.add_termination_listener(lambda _conn: self._lost.set())
        await conn.add_listener(SIGNAL_CHANNEL, self._deliver)
        self._connections += 1
        if self._connections > 1:
            log.info("notifier_reconnected", reconnects=self.reconnects)
        self._listening.set()
        return conn

    async def _watch(self, conn: asyncpg.Connection) -> None:
        """Return when the connection is gone."""
        while not conn.is_closed():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._lost.wait(), self._health_interval)
                return
            try:
                await conn.fetchval("SELECT 1", timeout=self._health_interval)
            except (*TRANSIENT_ERRORS, asyncpg.PostgresError):
                return

    def _deliver(self, _conn: object, _pid: int, _channel: str, text: str) -> None:
        signal = decode_signal(text)
        if signal is not None:
            self._fanout.publish(*signal)


async def _close_quietly(conn: asyncpg.Connection) -> None:
    try:
        await asyncio.wait_for(conn.close(), 2.0)
    except (*TRANSIENT_ERRORS, asyncpg.PostgresError):
        conn.terminate()
