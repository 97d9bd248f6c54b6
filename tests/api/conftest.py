"""The real aiohttp app on the embedded default, served on a real 127.0.0.1 port.

Real HTTP on the way in, and the fake Evolution delivers its webhooks back over real HTTP to
PUBLIC_BASE_URL, exactly as in production. The fake runs 100x faster than Evolution.
"""

from __future__ import annotations

import hashlib
import hmac
import socket
import time
from collections.abc import AsyncIterator
from typing import Any

import attrs
import pytest
from aiohttp import ClientSession
from aiohttp.test_utils import TestClient, TestServer

from entrypoints.container import Container, build_container
from entrypoints.http.app import create_app
from entrypoints.settings import load_settings


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@attrs.define
class Service:
    client: TestClient
    container: Container
    base_url: str

    def token(self, role: str = "admin", org: str | None = None, sub: str = "tester",
              ttl: int = 600) -> str:
        claims: dict[str, Any] = {"sub": sub, "role": role, "exp": int(time.time()) + ttl}
        if org:
            claims["org"] = org
        return self.container.jwt().encode(claims, self.container.settings().auth_jwt_secret)

    def auth(self, role: str = "admin", org: str | None = None) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token(role, org)}"}

    async def quick_create(self, org: str = "clinic-42", **body: Any) -> dict[str, Any]:
        response = await self.client.post(
            "/api/channels/whatsapp/instances/quick-create",
            json={"organization_id": org, **body}, headers=self.auth())
        assert response.status == 201, await response.text()
        created: dict[str, Any] = await response.json()
        return created

    async def org_secret(self, org: str) -> str:
        async with self.container.uow() as uow:
            organization = await uow.organizations.get(org)
        assert organization is not None
        return organization.webhook_secret

    @property
    def fake(self) -> Any:
        return self.container.evolution()


def sign(secret: str, body: bytes) -> dict[str, str]:
    return {"x-evolution-signature": "sha256=" + hmac.new(secret.encode(), body,
                                                          hashlib.sha256).hexdigest(),
            "Content-Type": "application/json"}


def service_env(port: int, **overrides: str) -> dict[str, str]:
    return {"APP_ENV": "development", "PORT": str(port),
            "PUBLIC_BASE_URL": f"http://127.0.0.1:{port}", "FAKE_EVOLUTION_AUTOSCAN_S": "0",
            "FAKE_EVOLUTION_TIME_SCALE": "0.01", "QR_TIMEOUT_MS": "2000",
            "LOG_LEVEL": "warning", **overrides}


async def start_service(env: dict[str, str],
                        run_worker: bool | None = None) -> AsyncIterator[Service]:
    """The app on ``env``'s port; ``run_worker`` as ``create_app`` takes it (on Postgres the
    webhook worker runs in process only when asked)."""
    settings = load_settings(env)
    container = build_container(settings)
    server = TestServer(create_app(container, run_worker), host="127.0.0.1",
                        port=settings.port)
    client = TestClient(server)
    await client.start_server()
    try:
        yield Service(client, container, settings.public_base_url)
    finally:
        await client.close()


@pytest.fixture
async def service() -> AsyncIterator[Service]:
    port = free_port()
    async for running in start_service(service_env(port)):
        yield running


@pytest.fixture
async def http() -> AsyncIterator[ClientSession]:
    async with ClientSession() as session:
        yield session
