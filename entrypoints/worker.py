"""The background loops: webhook processing, and flag cache invalidation."""

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
PURGE_EVERY_S = 600.0


async def process_webhooks(container: Container) -> None:
    """Run until cancelled: drain due inbox events, then sleep until woken or polled; beside
    it, delete processed events past their retention."""
    retention = asyncio.create_task(_purge_processed(container), name="inbox-retention")
    try:
        await _drain(container)
    finally:
        await stopped(retention)


async def stopped(*tasks: asyncio.Task[Any]) -> None:
    """Cancel the tasks and wait until each has finished."""
    for task in tasks:
        task.cancel()
    for task in tasks:
        with suppress(asyncio.CancelledError):
            await task


async def _purge_processed(container: Container) -> None:
    processor = container.webhook_processor()
    while True:
        try:
            purged = await processor.purge_processed()
            if purged:
                log.info("inbox_purged", events=purged)
        except ApplicationError as exc:
            log.warning("inbox_purge_failed", error=type(exc).__name__)
        await asyncio.sleep(PURGE_EVERY_S)


async def _drain(container: Container) -> None:
    processor = container.webhook_processor()
    readiness = container.readiness()
    wake = asyncio.Event()
    async with _on_signal(container.notifier(), INBOX_TOPIC, wake.set):
        while True:
            readiness.beat()
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
