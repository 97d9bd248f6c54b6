"""Typed application keys shared by the routes (kept apart to avoid import cycles)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from aiohttp import web

if TYPE_CHECKING:
    from entrypoints.container import Container

class Draining:
    """Set when the process was told to stop: readiness fails at once, so that a balancer
    takes this replica out while its requests in flight still finish."""

    def __init__(self) -> None:
        self.active = False


CONTAINER: web.AppKey[Container] = web.AppKey("container")  # type: ignore[type-arg]
DRAINING = web.AppKey("draining", Draining)
REQUEST_ID = web.RequestKey("request_id", str)


def services(request: web.Request) -> Container:
    return request.app[CONTAINER]
