"""The background loops: webhook processing with its heartbeat and the leader's periodic
jobs, and flag cache invalidation."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager, suppress
from typing import Any

import structlog

from application.errors import ApplicationError
from application.ports.notifier import FLAGS_TOPIC, INBOX_TOPIC, Notifier
from entrypoints.container import Container

log = structlog.get_logger(__name__)
IDLE_POLL_S = 0.5  # also catches retries that came due, and signals lost while reconnecting
HEARTBEATS_PER_STALE_WINDOW = 3  # a single late write does not make a live worker stale


async def process_webhooks(container: Container) -> None:
    """Run until cancelled: drain due inbox events, then sleep until woken or polled; beside
    it, publish this worker's heartbeat and, while it leads, run the periodic jobs."""
    beside = [asyncio.create_task(_publish_heartbeat(container), name="worker-heartbeat"),
              asyncio.create_task(container.periodic().run(), name="periodic-jobs")]
    try:
        await _drain(container)
    finally:
        await stopped(*beside)


async def stopped(*tasks: asyncio.Task[Any]) -> None:
    """Cancel the tasks and wait until each has finished."""
    for task in tasks:
        task.cancel()
    for task in tasks:
        with suppress(asyncio.CancelledError):
            await task


async def _publish_heartbeat(container: Container) -> None:
    heartbeat = container.worker_heartbeat()
    every_s = container.settings().worker_stale_s / HEARTBEATS_PER_STALE_WINDOW
    published = False
    while True:
        try:
            published = await heartbeat.publish() or published
        except ApplicationError as exc:
            log.warning("heartbeat_not_published", error=type(exc).__name__)
        # Until the loop's first cycle is out, look again soon: readiness waits on it.
        await asyncio.sleep(every_s if published else 0.05)


async def _drain(container: Container) -> None:
    processor = container.webhook_processor()
    heartbeat = container.worker_heartbeat()
    wake = asyncio.Event()
    async with _on_signal(container.notifier(), INBOX_TOPIC, wake.set):
        while True:
            heartbeat.beat()
            try:
                claimed = await processor.process_due()
            except ApplicationError as exc:
                log.warning("worker_cycle_failed", error=type(exc).__name__)
                claimed = 0
                await asyncio.sleep(1)
            if claimed == 0:
                with suppress(TimeoutError):
                    async with asyncio.timeout(IDLE_POLL_S):
                        await wake.wait()
                wake.clear()


async def watch_flags(container: Container) -> None:
    """A flag change on any replica clears this replica's flag cache at once."""
    rollout = container.rollout()
    async with _on_signal(container.notifier(), FLAGS_TOPIC, rollout.invalidate):
        await asyncio.Event().wait()


@asynccontextmanager
async def _on_signal(notifier: Notifier, topic: str,
                     react: Callable[[], None]) -> AsyncIterator[None]:
    """Call ``react`` for every payload on ``topic`` while the block runs."""
    async with notifier.subscribe(topic) as signals:

        async def pump() -> None:
            async for _ in signals:
                react()

        task = asyncio.create_task(pump())
        try:
            yield
        finally:
            await stopped(task)
