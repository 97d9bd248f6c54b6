"""Typed application keys shared by the routes (kept apart to avoid import cycles)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from aiohttp import web

if TYPE_CHECKING:
    from entrypoints.container import Container

CONTAINER: web.AppKey[Container] = web.AppKey("container")  # type: ignore[type-arg]
REQUEST_ID = web.RequestKey("request_id", str)


def services(request: web.Request) -> Container:
    return request.app[CONTAINER]
