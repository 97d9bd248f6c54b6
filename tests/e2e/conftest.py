"""End-to-end fixtures: the fake Evolution as a real HTTP server, the service on a real port
(in this process, or as ``wachannel serve`` / ``wachannel worker`` subprocesses), Postgres.

Nothing here is mocked: the service calls Evolution over HTTP and Evolution posts its webhooks
back over HTTP to the service's ``PUBLIC_BASE_URL``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import aiohttp
import attrs
import pytest
from aiohttp import web

from entrypoints.container import Container, build_container
from entrypoints.http.app import create_app
from entrypoints.settings import load_settings
from tests.e2e.processes import Processes
from tests.e2e.support import free_port
from tests.fakes.evolution_server import FakeEvolutionServer, start_fake_evolution
from tests.postgres_fixture import postgres_dsn, postgres_provider

__all__ = ["postgres_dsn", "postgres_provider"]


@attrs.define
class Evolution:
    url: str
    server: FakeEvolutionServer

    @property
    def key(self) -> str:
        return self.server.api_key


@attrs.define
class LiveService:
    """The real aiohttp app, in this process, listening on 127.0.0.1:``port``."""

    port: int
    base_url: str
    container: Container
    runner: web.AppRunner
    stopped: bool = False

    async def stop(self) -> None:
        if not self.stopped:
            self.stopped = True
            await self.runner.cleanup()


def service_env(port: int, evolution: Evolution | None = None, **overrides: str) -> dict[str, str]:
    env = {"APP_ENV": "development", "PORT": str(port),
           "PUBLIC_BASE_URL": f"http://127.0.0.1:{port}", "LOG_LEVEL": "warning",
           "FAKE_EVOLUTION_AUTOSCAN_S": "0"}
    if evolution is not None:
        env |= {"EVOLUTION_ADAPTER": "http", "EVOLUTION_API_BASE_URL": evolution.url,
                "EVOLUTION_API_KEY": evolution.key}
    return env | overrides


StartService = Callable[..., Awaitable[LiveService]]


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as session:
        yield session


@pytest.fixture
async def evolution_factory() -> AsyncIterator[Callable[..., Awaitable[Evolution]]]:
    """Start fake Evolution servers (``SimulationSettings`` options); all stopped afterwards."""
    runners: list[web.AppRunner] = []

    async def start(**options: Any) -> Evolution:
        runner, url, server = await start_fake_evolution("127.0.0.1", **options)
        runners.append(runner)
        return Evolution(url, server)

    try:
        yield start
    finally:
        for runner in reversed(runners):
            await runner.cleanup()


@pytest.fixture
async def service_factory() -> AsyncIterator[StartService]:
    """``await start(env, run_worker=None, prepare=None)``: the app on ``env["PORT"]``.

    ``prepare(container)`` runs before the app starts (the dependency-injector override seam).
    """
    running: list[LiveService] = []

    async def start(env: dict[str, str], run_worker: bool | None = None,
                    prepare: Callable[[Container], None] | None = None) -> LiveService:
        settings = load_settings(env)
        container = build_container(settings)
        if prepare is not None:
            prepare(container)
        runner = web.AppRunner(create_app(container, run_worker=run_worker), access_log=None)
        await runner.setup()
        try:
            await web.TCPSite(runner, "127.0.0.1", settings.port).start()
        except BaseException:
            await runner.cleanup()
            raise
        service = LiveService(settings.port, settings.public_base_url, container, runner)
        running.append(service)
        return service

    try:
        yield start
    finally:
        for service in reversed(running):
            await service.stop()


@pytest.fixture
def port() -> int:
    return free_port()


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    report = yield
    item.stash.setdefault(_FAILED, False)
    if report.failed:
        item.stash[_FAILED] = True
    return report


_FAILED = pytest.StashKey[bool]()


@pytest.fixture
def processes(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Processes]:
    """``wachannel`` subprocesses; every one is stopped (process group SIGTERM, then SIGKILL)
    when the test ends, however it ends. Their logs are printed when the test failed."""
    started = Processes(tmp_path)
    try:
        yield started
    finally:
        started.close()
        leaked = [p.name for p in started.started if p.alive]
        if request.node.stash.get(_FAILED, False):
            print(started.report())
        assert not leaked, f"processes still running: {leaked}"
