from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any

import structlog

log = structlog.get_logger(__name__)


class TaskSet:
    """Every background task of a simulation, so that ``close()`` leaves none behind."""

    def __init__(self) -> None:
        self._tasks: dict[asyncio.Task[Any], str] = {}

    def spawn(self, coro: Coroutine[Any, Any, Any], kind: str) -> asyncio.Task[Any]:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks[task] = kind
        task.add_done_callback(self._finished)
        return task

    async def wait(self, kind: str) -> None:
        """Until no task of ``kind`` is pending, including ones spawned meanwhile."""
        while pending := [t for t, k in self._tasks.items() if k == kind]:
            await asyncio.wait(pending)

    async def cancel_all(self) -> None:
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    def _finished(self, task: asyncio.Task[Any]) -> None:
        kind = self._tasks.pop(task, "unknown")
        if not task.cancelled() and task.exception() is not None:
            log.error("simulation_task_failed", kind=kind, exc_info=task.exception())
