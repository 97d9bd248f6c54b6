"""Concurrent callers with one key share one call: one Evolution connect, one create."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Hashable
from typing import Generic, TypeVar

T = TypeVar("T")


class SingleFlight(Generic[T]):
    """Concurrent callers with the same key share one call and its result (or error)."""

    def __init__(self) -> None:
        self._calls: dict[Hashable, asyncio.Future[T]] = {}

    async def run(self, key: Hashable, call: Callable[[], Awaitable[T]]) -> T:
        existing = self._calls.get(key)
        if existing is not None:
            return await asyncio.shield(existing)
        future: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        self._calls[key] = future
        try:
            result = await call()
        except BaseException as exc:
            future.set_exception(exc)
            future.exception()  # mark retrieved: callers may all have gone away
            raise
        else:
            future.set_result(result)
            return result
        finally:
            del self._calls[key]
