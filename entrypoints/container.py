"""The composition root: the only module that imports adapters.

The embedded default (in-memory store, fake Evolution) and the production set-up (Postgres,
Evolution over HTTP) are two bindings of the same ports, chosen here from the settings.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
import socket
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from functools import partial
from typing import Any

import aiohttp
from dependency_injector import containers, providers

from adapters.alerting.http_channels import SlackWebhookChannel, SmsWebhookChannel
from adapters.alerting.log_channel import LogAlertChannel
from adapters.alerting.smtp_channel import SmtpEmailChannel
from adapters.crypto.cipher import SecretCipher
from adapters.crypto.sealer import CipherSecretSealer
from adapters.evolution.config import EvolutionHttpConfig
from adapters.evolution.delivery import aiohttp_deliverer
from adapters.evolution.fake_gateway import FakeEvolutionGateway
from adapters.evolution.gateway import EvolutionApiGateway
from adapters.evolution.http_transport import HttpTransport
from adapters.evolution.session import create_client_session
from adapters.files.backup_store import DirectoryBackupStore
from adapters.memory.alert_store import InMemoryAlertStore
from adapters.memory.backup_store import InMemoryBackupStore
from adapters.memory.connect_page_counts import InMemoryConnectPageCounts
from adapters.memory.inbox_writer import InMemoryInboxWriter
from adapters.memory.notifier import InMemoryNotifier
from adapters.memory.operations import (
    InMemoryAuditRetention,
    InMemoryJobLedger,
    InMemoryLeaderLock,
    InMemoryWorkerHeartbeats,
)
from adapters.memory.store import InMemoryStore
from adapters.memory.unit_of_work import InMemoryUnitOfWork
from adapters.observability.process_readings import LocalProcessReadings
from adapters.observability.prometheus_reader import PrometheusTelemetryReader
from adapters.observability.prometheus_telemetry import PrometheusTelemetry
from adapters.postgres.alert_store import AsyncpgAlertStore
from adapters.postgres.backup_store import AsyncpgBackupStore
from adapters.postgres.connect_page_counts import AsyncpgConnectPageCounts
from adapters.postgres.inbox_writer import AsyncpgInboxWriter
from adapters.postgres.migrations import migrate
from adapters.postgres.notifier import AsyncpgNotifier
from adapters.postgres.operations import (
    AsyncpgAuditRetention,
    AsyncpgJobLedger,
    AsyncpgLeaderLock,
    AsyncpgWorkerHeartbeats,
)
from adapters.postgres.pool import close_pool, create_pool
from adapters.postgres.unit_of_work import AsyncpgUnitOfWork
from adapters.qr.images import SegnoQrImages
from adapters.security.jwt_codec import PyJwtCodec
from adapters.system.clock import RandomIdGenerator, SystemClock
from application.alerting.engine import AlertEngine, DeliveryPolicy
from application.alerting.evaluation import AlertEvaluation
from application.alerting.feed import AlertingTelemetry
from application.audit.export import AuditExporter
from application.audit.service import AuditService
from application.backups.restore import RestoreService
from application.backups.service import BackupService
from application.backups.sync import SyncService
from application.instances.background import BackgroundTasks
from application.instances.connect import ConnectPolicy, ConnectService
from application.instances.connect_link import ConnectLinkService
from application.instances.organizations import OrganizationSecrets
from application.instances.qr_stream import QrStreamService, StreamPolicy
from application.instances.quick_create import QuickCreateService
from application.instances.service import InstancePolicy, InstanceService
from application.operations.dead_letters import DeadLetterService
from application.operations.health_sweep import HealthSweep
from application.operations.heartbeat import WorkerHeartbeat
from application.operations.housekeeping import AuditPurge, OperationsRetention, StoreGauges
from application.operations.monitoring import MonitoringSampler, MonitoringService
from application.operations.periodic import PeriodicJob, PeriodicJobs
from application.operations.readiness import ReadinessService
from application.ports.alerts import AlertChannel
from application.ports.telemetry import Alerter
from application.rollout.flagged_path import OutcomeWindow
from application.rollout.service import RolloutService
from application.webhooks.directory import WebhookDirectory
from application.webhooks.intake import IntakePolicy, WebhookIntakeService
from application.webhooks.processing import ProcessingPolicy, WebhookProcessor
from domain.alerts import AlertPolicy
from entrypoints.http.paths import webhook_url
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


# Policies: what each use case is told by the settings, one named builder each ---------------

def _evolution_config(s: Settings) -> EvolutionHttpConfig:
    return EvolutionHttpConfig(s.evolution_base_url or "", s.evolution_api_key or "",
                               # just inside the use case's own deadline, so that a hung
                               # Evolution is counted by the circuit breaker, not cancelled
                               qr_timeout_s=max(0.05, s.qr_timeout_ms / 1000 - 0.05),
                               breaker_failure_threshold=s.evolution_breaker_failures,
                               breaker_open_s=s.evolution_breaker_open_s)


def _connect_policy(s: Settings) -> ConnectPolicy:
    return ConnectPolicy(timeout_s=s.qr_timeout_ms / 1000, cache_ttl_s=s.evolution_cache_ttl_s)


def _stream_policy(s: Settings) -> StreamPolicy:
    return StreamPolicy(refresh_s=s.qr_refresh_s, max_s=s.qr_stream_max_s,
                        ping_s=s.qr_stream_ping_s, max_per_org=s.qr_streams_per_org)


def _connect_link_secret(s: Settings) -> str:
    # Links get their own key, derived from the JWT secret: no management token verifies as a
    # link and no link as a management token.
    return hmac.new(s.auth_jwt_secret.encode(), b"wachannel connect link",
                    hashlib.sha256).hexdigest()


def _instance_policy(s: Settings) -> InstancePolicy:
    return InstancePolicy(max_per_org=s.max_instances_per_org)


def _intake_policy(s: Settings) -> IntakePolicy:
    return IntakePolicy(jwt_leeway_s=s.webhook_jwt_leeway_s, rate_per_org=s.webhook_rate_per_org,
                        dev_bypass=s.webhook_dev_bypass)


def _processing_policy(s: Settings) -> ProcessingPolicy:
    return ProcessingPolicy(timeout_s=s.webhook_process_timeout_ms / 1000,
                            max_attempts=s.webhook_max_attempts,
                            retention_s=s.webhook_inbox_retention_days * 86_400.0)


def _alert_policy(s: Settings) -> AlertPolicy:
    return AlertPolicy(qr_consecutive_failures=s.alert_qr_consecutive_failures,
                       api_response_ms=s.alert_api_response_ms,
                       webhook_processing_ms=s.alert_webhook_processing_ms,
                       cooldown_s=s.alert_cooldown_s, silence_s=s.alert_silence_s)


def _alert_channels(s: Settings) -> list[AlertChannel]:
    channels: list[AlertChannel] = [LogAlertChannel()]
    if s.slack_webhook_url:
        channels.append(SlackWebhookChannel(s.slack_webhook_url))
    if s.smtp_url and s.alert_email:
        channels.append(SmtpEmailChannel(s.smtp_url, s.alert_email, s.alert_email_from))
    if s.sms_webhook_url and s.alert_phone:
        channels.append(SmsWebhookChannel(s.sms_webhook_url, s.alert_phone))
    return channels


def _alerter(engine: AlertEngine) -> Alerter:
    """The engine as the use cases' port, a seam of its own: tests that record alerts
    replace this one and keep the engine behind the measurement feed."""
    return engine


def _worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"


INBOX_RETENTION_EVERY_S = 600.0
AUDIT_RETENTION_EVERY_S = 3600.0
GAUGES_EVERY_S = 15.0
ALERT_EVALUATION_EVERY_S = 60.0


def _periodic_jobs(s: Settings, sweep: HealthSweep, processor: WebhookProcessor,
                   audit_purge: AuditPurge, gauges: StoreGauges,
                   alerts: AlertEvaluation, backups: BackupService,
                   sync: SyncService, records: OperationsRetention) -> list[PeriodicJob]:
    """The leader's jobs: a job is a name, an interval and one pass of its use case."""
    jobs = [PeriodicJob("health_sweep", s.health_sweep_s, sweep.sweep),
            PeriodicJob("inbox_retention", INBOX_RETENTION_EVERY_S, processor.purge_processed),
            PeriodicJob("audit_retention", AUDIT_RETENTION_EVERY_S, audit_purge.purge),
            PeriodicJob("alert_evaluation", ALERT_EVALUATION_EVERY_S, alerts.evaluate),
            PeriodicJob("backup", s.backup_interval_s,
                        partial(backups.take_scheduled, s.backup_retention_count)),
            PeriodicJob("evolution_sync", s.sync_interval_s, sync.report),
            PeriodicJob("operations_retention", AUDIT_RETENTION_EVERY_S, records.purge)]
    if s.operations_metrics:
        jobs.append(PeriodicJob("store_gauges", GAUGES_EVERY_S, gauges.refresh))
    return jobs


def _storage(s: Settings) -> str:
    return "memory" if s.embedded else "postgres"


def _backup_storage(s: Settings) -> str:
    return "directory" if s.backup_dir else _storage(s)


def _cipher(s: Settings) -> SecretCipher:
    return SecretCipher(s.data_encryption_key, *s.data_encryption_old_keys)


def _no_pool() -> int:
    return 0


def _pool_reader(transport: HttpTransport) -> Callable[[], int]:
    return transport.pool_in_use


class Container(containers.DeclarativeContainer):
    settings = providers.Dependency(instance_of=Settings)
    migrate_on_start = providers.Object(True)
    storage = providers.Callable(_storage, settings)

    # The system
    clock = providers.Singleton(SystemClock)
    ids = providers.Singleton(RandomIdGenerator)
    jwt = providers.Singleton(PyJwtCodec)
    qr_images = providers.Singleton(SegnoQrImages)
    telemetry = providers.Singleton(PrometheusTelemetry,
                                    recording=settings.provided.operations_metrics)
    alert_policy = providers.Singleton(_alert_policy, settings)
    flagged_path = providers.Singleton(OutcomeWindow)
    background = providers.Singleton(BackgroundTasks)  # cancelled by ``running()`` at the end

    # Policies
    connect_policy = providers.Singleton(_connect_policy, settings)
    stream_policy = providers.Singleton(_stream_policy, settings)
    instance_policy = providers.Singleton(_instance_policy, settings)
    intake_policy = providers.Singleton(_intake_policy, settings)
    processing_policy = providers.Singleton(_processing_policy, settings)

    # Async resources: started and stopped by ``running()``, bound here once they exist
    pg_pool = providers.Object(None)
    notifier = providers.Object(None)
    http_session = providers.Object(None)
    fake_evolution = providers.Object(None)

    # Driven adapters: storage
    cipher = providers.Singleton(_cipher, settings)
    memory_store = providers.Singleton(InMemoryStore)
    uow = providers.Selector(
        storage,
        memory=providers.Factory(InMemoryUnitOfWork, store=memory_store, notifier=notifier),
        postgres=providers.Factory(AsyncpgUnitOfWork, pool=pg_pool, cipher=cipher),
    )
    inbox_writer = providers.Selector(
        storage,
        memory=providers.Singleton(InMemoryInboxWriter, store=memory_store, notifier=notifier),
        postgres=providers.Singleton(AsyncpgInboxWriter, pool=pg_pool, cipher=cipher),
    )

    alert_store = providers.Selector(
        storage,
        memory=providers.Singleton(InMemoryAlertStore),
        postgres=providers.Singleton(AsyncpgAlertStore, pool=pg_pool),
    )
    alert_engine = providers.Singleton(
        AlertEngine, store=alert_store, channels=providers.Singleton(_alert_channels, settings),
        clock=clock, ids=ids, telemetry=telemetry, policy=alert_policy,
        delivery=providers.Object(DeliveryPolicy()))
    alerter = providers.Singleton(_alerter, alert_engine)
    alert_feed = providers.Singleton(AlertingTelemetry, inner=telemetry, engine=alert_engine)

    # Driven adapters: Evolution
    http_transport = providers.Singleton(
        HttpTransport, http_session, providers.Callable(_evolution_config, settings),
        observer=alert_feed, clock=clock)
    evolution = providers.Selector(
        settings.provided.evolution_adapter,
        fake=fake_evolution,
        http=providers.Singleton(EvolutionApiGateway, transport=http_transport,
                                 api_key=settings.provided.evolution_api_key),
    )
    # Read by the pool gauge at scrape time; the fake holds no pool.
    evolution_pool_in_use = providers.Selector(
        settings.provided.evolution_adapter,
        fake=providers.Object(_no_pool),
        http=providers.Callable(_pool_reader, http_transport),
    )

    # Use cases
    organizations = providers.Singleton(
        OrganizationSecrets, uow=uow.provider, evolution=evolution, clock=clock, ids=ids,
        webhook_url=providers.Callable(partial, webhook_url, settings.provided.public_base_url),
        grace_s=settings.provided.webhook_secret_grace_s)
    connect = providers.Singleton(
        ConnectService, uow=uow.provider, evolution=evolution, notifier=notifier, clock=clock,
        telemetry=alert_feed, policy=connect_policy, flagged_path=flagged_path,
        qr_images=qr_images)
    qr_streams = providers.Singleton(
        QrStreamService, uow=uow.provider, connect=connect, notifier=notifier, clock=clock,
        policy=stream_policy)
    instances = providers.Singleton(
        InstanceService, uow=uow.provider, evolution=evolution, clock=clock, ids=ids,
        secrets=organizations, policy=instance_policy)
    rollout = providers.Singleton(
        RolloutService, uow=uow.provider, clock=clock,
        initial_percentage=settings.provided.rollout_initial_percentage,
        max_error_rate=settings.provided.rollout_max_error_rate, flagged_path=flagged_path)
    connect_links = providers.Singleton(
        ConnectLinkService, uow=uow.provider, jwt=jwt,
        secret=providers.Callable(_connect_link_secret, settings), clock=clock, rollout=rollout,
        streams=qr_streams, counts=providers.Selector(
            storage, memory=providers.Singleton(InMemoryConnectPageCounts),
            postgres=providers.Singleton(AsyncpgConnectPageCounts, pool=pg_pool)),
        ttl_s=settings.provided.connect_link_ttl_s)
    quick_create = providers.Singleton(
        QuickCreateService, uow=uow.provider, instances=instances, connect=connect,
        rollout=rollout, background=background, clock=clock,
        qr_timeout_s=connect_policy.provided.timeout_s)
    webhook_directory = providers.Singleton(WebhookDirectory, uow=uow.provider, clock=clock)
    webhook_intake = providers.Singleton(
        WebhookIntakeService, uow=uow.provider, directory=webhook_directory,
        inbox=inbox_writer, jwt=jwt, clock=clock, ids=ids, telemetry=telemetry,
        policy=intake_policy)
    webhook_processor = providers.Singleton(
        WebhookProcessor, uow=uow.provider, clock=clock, telemetry=alert_feed, alerter=alerter,
        policy=processing_policy, qr_images=qr_images)
    audit = providers.Singleton(AuditService, uow=uow.provider)
    audit_export = providers.Singleton(AuditExporter, uow=uow.provider)
    backup_store = providers.Selector(
        providers.Callable(_backup_storage, settings),
        directory=providers.Singleton(DirectoryBackupStore, settings.provided.backup_dir),
        memory=providers.Singleton(InMemoryBackupStore),
        postgres=providers.Singleton(AsyncpgBackupStore, pool=pg_pool),
    )
    sealer = providers.Singleton(CipherSecretSealer, cipher=cipher)
    backups = providers.Singleton(
        BackupService, uow=uow.provider, evolution=evolution, store=backup_store,
        sealer=sealer, clock=clock, ids=ids)
    restore = providers.Singleton(
        RestoreService, uow=uow.provider, evolution=evolution, store=backup_store,
        sealer=sealer, secrets=organizations, clock=clock, ids=ids)
    sync = providers.Singleton(SyncService, uow=uow.provider, evolution=evolution,
                               secrets=organizations, clock=clock, ids=ids, alerter=alerter)
    # Operations: heartbeats, the leader and its periodic jobs, dead letters
    worker_id = providers.Singleton(_worker_id)
    heartbeats = providers.Selector(
        storage,
        memory=providers.Singleton(InMemoryWorkerHeartbeats),
        postgres=providers.Singleton(AsyncpgWorkerHeartbeats, pool=pg_pool),
    )
    leader_lock = providers.Selector(
        storage,
        memory=providers.Singleton(InMemoryLeaderLock),
        postgres=providers.Singleton(AsyncpgLeaderLock, dsn=settings.provided.database_url),
    )
    job_ledger = providers.Selector(
        storage,
        memory=providers.Singleton(InMemoryJobLedger, clock=clock),
        postgres=providers.Singleton(AsyncpgJobLedger, dsn=settings.provided.database_url,
                                     pool=pg_pool),
    )
    audit_retention = providers.Selector(
        storage,
        memory=providers.Singleton(InMemoryAuditRetention),
        postgres=providers.Singleton(AsyncpgAuditRetention, pool=pg_pool),
    )
    worker_heartbeat = providers.Singleton(WorkerHeartbeat, heartbeats=heartbeats, clock=clock,
                                           worker_id=worker_id)
    health_sweep = providers.Singleton(HealthSweep, uow=uow.provider, evolution=evolution,
                                       clock=clock, alerter=alerter)
    audit_purge = providers.Singleton(AuditPurge, retention=audit_retention, clock=clock,
                                      retention_days=settings.provided.audit_retention_days)
    store_gauges = providers.Singleton(StoreGauges, uow=uow.provider, clock=clock,
                                       telemetry=telemetry)
    operations_retention = providers.Singleton(OperationsRetention, ledger=job_ledger,
                                               heartbeats=heartbeats, clock=clock)
    alert_evaluation = providers.Singleton(
        AlertEvaluation, uow=uow.provider, engine=alert_engine, clock=clock,
        readings=providers.Singleton(
            LocalProcessReadings, feed=alert_feed, pool_in_use=evolution_pool_in_use,
            pool_size=settings.provided.evolution_pool_size))
    periodic_jobs = providers.Singleton(_periodic_jobs, settings, health_sweep,
                                        webhook_processor, audit_purge, store_gauges,
                                        alert_evaluation, backups, sync,
                                        operations_retention)
    periodic = providers.Singleton(PeriodicJobs, jobs=periodic_jobs, leader=leader_lock,
                                   ledger=job_ledger, clock=clock, telemetry=telemetry,
                                   worker_id=worker_id)
    dead_letters = providers.Singleton(DeadLetterService, uow=uow.provider, clock=clock)
    readiness = providers.Singleton(
        ReadinessService, uow=uow.provider, evolution=evolution, clock=clock,
        heartbeats=heartbeats, stale_after_s=settings.provided.worker_stale_s,
        worker_required=settings.provided.embedded, store_name=storage)
    telemetry_reader = providers.Singleton(PrometheusTelemetryReader, telemetry=telemetry)
    monitoring_sampler = providers.Singleton(MonitoringSampler, reader=telemetry_reader,
                                             uow=uow.provider, clock=clock)
    monitoring = providers.Singleton(
        MonitoringService, sampler=monitoring_sampler, rollout=rollout, uow=uow.provider,
        dead_letters=dead_letters, recent_alerts=alert_engine.provided.recent)


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
            await container.background().close()
            await container.alert_engine().close()
            await container.inbox_writer().close()
            await _close_job_ledger(container)


async def _close_job_ledger(container: Container) -> None:
    ledger = container.job_ledger()
    if isinstance(ledger, AsyncpgJobLedger):
        await ledger.close()


def _gauges(container: Container) -> None:
    """Gauges read at scrape time from the objects that know the value."""
    telemetry = container.telemetry()
    streams = container.qr_streams()
    telemetry.qr_streams_open.set_function(lambda: streams.open_streams)
    telemetry.pool_in_use.set_function(container.evolution_pool_in_use())


async def apply_migrations(settings: Settings) -> list[str]:
    assert settings.database_url is not None
    return await migrate(settings.database_url)


def build_container(settings: Settings, migrate_on_start: bool = True) -> Container:
    container = Container(settings=settings)
    container.migrate_on_start.override(migrate_on_start)
    return container

