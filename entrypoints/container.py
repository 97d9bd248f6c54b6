"""The composition root: the only module that imports adapters.

The embedded default (in-memory store, fake Evolution) and the production set-up (Postgres,
Evolution over HTTP) are two bindings of the same ports, chosen here from the settings.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from typing import Any

import aiohttp
from dependency_injector import containers, providers

from adapters.crypto.cipher import SecretCipher
from adapters.evolution.config import EvolutionHttpConfig
from adapters.evolution.delivery import aiohttp_deliverer
from adapters.evolution.fake_gateway import FakeEvolutionGateway
from adapters.evolution.gateway import EvolutionApiGateway
from adapters.evolution.http_transport import HttpTransport
from adapters.evolution.session import create_client_session
from adapters.memory.inbox_writer import InMemoryInboxWriter
from adapters.memory.notifier import InMemoryNotifier
from adapters.memory.store import InMemoryStore
from adapters.memory.unit_of_work import InMemoryUnitOfWork
from adapters.observability.log_alerter import LogAlerter
from adapters.observability.prometheus_telemetry import PrometheusTelemetry
from adapters.postgres.inbox_writer import AsyncpgInboxWriter
from adapters.postgres.migrations import migrate
from adapters.postgres.notifier import AsyncpgNotifier
from adapters.postgres.pool import close_pool, create_pool
from adapters.postgres.unit_of_work import AsyncpgUnitOfWork
from adapters.security.jwt_codec import PyJwtCodec
from adapters.system.clock import RandomIdGenerator, SystemClock
from application.audit.service import AuditService
from application.instances.connect import ConnectPolicy, ConnectService
from application.instances.organizations import OrganizationSecrets
from application.instances.qr_stream import QrStreamService, StreamPolicy
from application.instances.quick_create import QuickCreateService
from application.instances.service import InstancePolicy, InstanceService
from application.operations.readiness import ReadinessService
from application.rollout.flagged_path import OutcomeWindow
from application.rollout.service import RolloutService
from application.webhooks.directory import WebhookDirectory
from application.webhooks.intake import IntakePolicy, WebhookIntakeService
from application.webhooks.processing import ProcessingPolicy, WebhookProcessor
from entrypoints.settings import Settings


@asynccontextmanager
async def _http_session(settings: Settings) -> AsyncIterator[aiohttp.ClientSession]:
    session = create_client_session(settings.evolution_pool_size)
    try:
        yield session
    finally:
        await session.close()


@asynccontextmanager
async def _pg_pool(settings: Settings, migrate_first: bool) -> AsyncIterator[Any]:
    if settings.database_url is None:
        yield None
        return
    if migrate_first:
        await migrate(settings.database_url)
    pool = await create_pool(settings.database_url, 1, settings.database_pool_size)
    try:
        yield pool
    finally:
        await close_pool(pool)


@asynccontextmanager
async def _notifier(settings: Settings, pool: Any) -> AsyncIterator[Any]:
    if settings.database_url is None:
        yield InMemoryNotifier()
        return
    notifier = AsyncpgNotifier(settings.database_url, pool)
    await notifier.start()
    try:
        yield notifier
    finally:
        await notifier.stop()


@asynccontextmanager
async def _fake_evolution(settings: Settings, session: aiohttp.ClientSession
                          ) -> AsyncIterator[FakeEvolutionGateway | None]:
    if settings.evolution_adapter != "fake":
        yield None
        return
    fake = FakeEvolutionGateway(aiohttp_deliverer(session),
                                autoscan_s=settings.fake_evolution_autoscan_s,
                                time_scale=settings.fake_evolution_time_scale)
    try:
        yield fake
    finally:
        await fake.close()


def _evolution_config(settings: Settings) -> EvolutionHttpConfig:
    return EvolutionHttpConfig(settings.evolution_base_url or "", settings.evolution_api_key or "",
                               # just inside the use case's own deadline, so that a hung
                               # Evolution is counted by the circuit breaker, not cancelled
                               qr_timeout_s=max(0.05, settings.qr_timeout_ms / 1000 - 0.05),
                               breaker_failure_threshold=settings.evolution_breaker_failures,
                               breaker_open_s=settings.evolution_breaker_open_s)


def _storage(settings: Settings) -> str:
    return "memory" if settings.embedded else "postgres"


class Container(containers.DeclarativeContainer):
    settings = providers.Dependency(instance_of=Settings)
    migrate_on_start = providers.Object(True)

    clock = providers.Singleton(SystemClock)
    ids = providers.Singleton(RandomIdGenerator)
    jwt = providers.Singleton(PyJwtCodec)
    telemetry = providers.Singleton(PrometheusTelemetry)
    alerter = providers.Singleton(LogAlerter, cooldown_s=settings.provided.alert_cooldown_s)
    flagged_path = providers.Singleton(OutcomeWindow)

    # Driven adapters: storage
    cipher = providers.Singleton(
        lambda s: SecretCipher(s.data_encryption_key, *s.data_encryption_old_keys), settings)
    # Started and stopped by ``running()``; bound here as plain objects once they exist.
    pg_pool = providers.Object(None)
    notifier = providers.Object(None)
    http_session = providers.Object(None)
    fake_evolution = providers.Object(None)
    memory_store = providers.Singleton(InMemoryStore)
    uow = providers.Selector(
        providers.Callable(_storage, settings),
        memory=providers.Factory(InMemoryUnitOfWork, memory_store, notifier),
        postgres=providers.Factory(AsyncpgUnitOfWork, pg_pool, cipher),
    )
    inbox_writer = providers.Selector(
        providers.Callable(_storage, settings),
        memory=providers.Singleton(InMemoryInboxWriter, memory_store, notifier),
        postgres=providers.Singleton(AsyncpgInboxWriter, pg_pool, cipher),
    )

    # Driven adapters: Evolution
    evolution = providers.Selector(
        settings.provided.evolution_adapter,
        fake=fake_evolution,
        http=providers.Singleton(
            EvolutionApiGateway,
            transport=providers.Singleton(
                HttpTransport, http_session, providers.Callable(_evolution_config, settings),
                observer=telemetry, clock=clock),
            api_key=settings.provided.evolution_api_key),
    )

    # Use cases
    organizations = providers.Singleton(
        OrganizationSecrets, uow.provider, evolution, clock, ids,
        settings.provided.public_base_url, settings.provided.webhook_secret_grace_s)
    connect = providers.Singleton(
        ConnectService, uow.provider, evolution, notifier, clock, telemetry,
        providers.Factory(lambda s: ConnectPolicy(s.qr_timeout_ms / 1000, s.evolution_cache_ttl_s),
                          settings), flagged_path)
    qr_streams = providers.Singleton(
        QrStreamService, uow.provider, connect, notifier, clock,
        providers.Factory(lambda s: StreamPolicy(s.qr_refresh_s, s.qr_stream_max_s,
                                                 s.qr_stream_ping_s, s.qr_streams_per_org),
                          settings))
    instances = providers.Singleton(
        InstanceService, uow.provider, evolution, clock, ids, organizations,
        providers.Factory(lambda s: InstancePolicy(s.public_base_url, s.max_instances_per_org),
                          settings))
    rollout = providers.Singleton(
        RolloutService, uow.provider, clock, settings.provided.rollout_initial_percentage,
        settings.provided.rollout_max_error_rate, flagged_path)
    quick_create = providers.Singleton(
        QuickCreateService, uow.provider, instances, connect, rollout, clock,
        settings.provided.public_base_url,
        providers.Callable(lambda s: s.qr_timeout_ms / 1000, settings))
    webhook_directory = providers.Singleton(WebhookDirectory, uow.provider, clock)
    webhook_intake = providers.Singleton(
        WebhookIntakeService, uow.provider, webhook_directory, inbox_writer, jwt, clock, ids,
        telemetry,
        providers.Factory(lambda s: IntakePolicy(s.webhook_jwt_leeway_s, s.webhook_rate_per_org,
                                                 s.webhook_dev_bypass), settings))
    webhook_processor = providers.Singleton(
        WebhookProcessor, uow.provider, clock, telemetry, alerter,
        providers.Factory(lambda s: ProcessingPolicy(
            s.webhook_process_timeout_ms / 1000, s.webhook_max_attempts,
            retention_s=s.webhook_inbox_retention_days * 86_400.0), settings))
    audit = providers.Singleton(AuditService, uow.provider)

    readiness = providers.Singleton(ReadinessService, uow.provider, evolution, clock)


@asynccontextmanager
async def running(container: Container) -> AsyncIterator[Container]:
    """Start the process's resources in order, bind them, and stop them in reverse."""
    settings = container.settings()
    async with AsyncExitStack() as stack:
        session = await stack.enter_async_context(_http_session(settings))
        pool = await stack.enter_async_context(
            _pg_pool(settings, container.migrate_on_start()))
        notifier = await stack.enter_async_context(_notifier(settings, pool))
        fake = await stack.enter_async_context(_fake_evolution(settings, session))
        for provider, value in ((container.http_session, session), (container.pg_pool, pool),
                                (container.notifier, notifier),
                                (container.fake_evolution, fake)):
            provider.override(providers.Object(value))
        await container.rollout().ensure_initial()
        _gauges(container)
        try:
            yield container
        finally:
            await container.instances().background.close()
            writer = container.inbox_writer()
            if isinstance(writer, AsyncpgInboxWriter):
                await writer.close()


def _gauges(container: Container) -> None:
    """Gauges read at scrape time from the objects that know the value."""
    telemetry = container.telemetry()
    streams = container.qr_streams()
    telemetry.qr_streams_open.set_function(lambda: streams.open_streams)
    evolution = container.evolution()
    if isinstance(evolution.transport, HttpTransport):
        telemetry.pool_in_use.set_function(evolution.transport.pool_in_use)


async def apply_migrations(settings: Settings) -> list[str]:
    assert settings.database_url is not None
    return await migrate(settings.database_url)


def build_container(settings: Settings, migrate_on_start: bool = True) -> Container:
    container = Container(settings=settings)
    container.migrate_on_start.override(migrate_on_start)
    return container

