"""`wachannel connect-link INSTANCE_ID`: print a signed connect-page link (API.md 6a, 12)."""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from typing import Any
from uuid import UUID

import aiohttp

from domain.access import Actor, Role
from entrypoints.settings import Settings

OPERATOR = Actor("cli", Role.ADMIN)


def add_parsers(sub: Any) -> None:
    link = sub.add_parser(
        "connect-link", help="print a signed link to an instance's connect page (with "
        "DATABASE_URL from the store; without, asked of the running `wachannel serve`)")
    link.add_argument("instance_id", help="the instance's id (a UUID)")
    link.set_defaults(run=_connect_link)


def _connect_link(settings: Settings, args: argparse.Namespace) -> int:
    try:
        instance_id = UUID(args.instance_id)
    except ValueError:
        print("wachannel: INSTANCE_ID must be a UUID", file=sys.stderr)
        return 2
    # Without a database the instances live inside `serve`: only it can say whose one is.
    mint = _from_store if settings.database_url else _from_service
    try:
        url = asyncio.run(mint(settings, instance_id))
    except LinkRefused as exc:
        print(f"wachannel: {exc}", file=sys.stderr)
        return 1
    print(url)
    return 0


class LinkRefused(Exception):
    """One line saying why no link could be made."""


async def _from_store(settings: Settings, instance_id: UUID) -> str:
    from application.errors import ApplicationError
    from entrypoints.container import build_container, running
    from entrypoints.http.paths import connect_page_url

    async with running(build_container(settings)) as container:
        try:
            link = await container.connect_links().mint(OPERATOR, instance_id)
        except ApplicationError as exc:
            raise LinkRefused(exc.detail) from None
    return connect_page_url(settings.public_base_url, link.instance_id, link.token)


async def _from_service(settings: Settings, instance_id: UUID) -> str:
    from entrypoints.container import build_container
    from entrypoints.http.paths import INSTANCES

    claims = {"sub": "cli", "role": "admin", "exp": int(time.time()) + 60}
    token = build_container(settings).jwt().encode(claims, settings.auth_jwt_secret)
    url = f"http://127.0.0.1:{settings.port}{INSTANCES}/{instance_id}/connect-link"
    try:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as http, \
                http.post(url, headers={"Authorization": f"Bearer {token}"}) as response:
            body = await response.json(content_type=None)
    except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
        raise LinkRefused(f"no `wachannel serve` answered on port {settings.port} "
                          f"({type(exc).__name__}); start it, or set DATABASE_URL") from None
    if response.status != 201:
        raise LinkRefused(f"{response.status}: {body.get('detail') or body.get('title')}")
    return str(body["url"])
