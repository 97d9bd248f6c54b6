"""The application harness: the real composition root (``entrypoints/container.py``) on the
embedded default (in-memory store and notifier, in-process fake Evolution), with manual time,
predictable ids, recording telemetry and quick policies overriding the system ones.

The fake Evolution's webhooks are fed to the real ``WebhookIntakeService``, as the HTTP route
would; processing happens only when a test calls ``settle()`` or runs ``worker()``.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any
from urllib.parse import urlsplit
from uuid import UUID

import attrs
from dependency_injector import providers

from adapters.evolution.fake_gateway import FakeEvolutionGateway
from adapters.evolution.simulation import RetryPolicy
from adapters.memory import InMemoryNotifier
from adapters.memory.store import InboxRow
from adapters.system.clock import SystemClock
from application.errors import ApplicationError
from application.instances.connect import ConnectPolicy
from application.instances.qr_stream import StreamPolicy
from application.instances.service import NewInstance
from application.ports.inbox import Admission
from application.webhooks.intake import IntakePolicy, WebhookDelivery
from application.webhooks.processing import ProcessingPolicy
from domain.access import Actor, Role
from domain.audit import AuditEvent
from domain.instance import Instance
from entrypoints.container import build_container
from entrypoints.http.problems import lookup
from entrypoints.settings import load_settings
from entrypoints.worker import process_webhooks, stopped
from tests.fakes.clock import ManualClock
from tests.fakes.ids import SequentialIds
from tests.fakes.telemetry import RecordingAlerter, RecordingTelemetry
from tests.unit.application.evolution_bodies import hmac_headers

PUBLIC_BASE_URL = "https://wachannel.test"
WEBHOOK_PATH = "/api/webhooks/evolution/"
ORG = "clinic-42"
OTHER_ORG = "clinic-77"
ADMIN = Actor("admin-1", Role.ADMIN, None, "203.0.113.7", "clinic-console/2.1")



def tenant(org: str = ORG) -> Actor:
    return Actor(f"user-of-{org}", Role.TENANT_ADMIN, org, "198.51.100.4", "clinic-web/5.0")


QUICK_QR = ConnectPolicy(timeout_s=1.0, cache_ttl_s=30.0)
QUICK_STREAM = StreamPolicy(refresh_s=30.0, max_s=5.0, ping_s=1.0, max_per_org=3)
DEFAULT_INTAKE = IntakePolicy()
QUICK_PROCESSING = ProcessingPolicy(timeout_s=0.5, max_attempts=3, backoff_s=0.5)


@attrs.frozen
class Config:
    """The settings the container reads, scaled down so every flow takes milliseconds."""

    max_per_org: int = 3
    grace_s: float = 86_400.0
    qr: ConnectPolicy = QUICK_QR
    stream: StreamPolicy = QUICK_STREAM
    intake: IntakePolicy = DEFAULT_INTAKE
    processing: ProcessingPolicy = QUICK_PROCESSING
    initial_percentage: int = 100
    max_error_rate: float = 0.01
    real_time: bool = False  # SystemClock instead of ManualClock (for the QR stream's deadlines)
    evolution: dict[str, Any] = attrs.field(factory=dict)  # SimulationSettings overrides


_EVOLUTION_DEFAULTS: dict[str, Any] = {
    "first_qr_s": 0.02, "connect_wait_s": 0.0, "qr_refresh_s": 45.0,
    "retry": RetryPolicy(max_attempts=1),  # a refused delivery is not retried seconds later
}


class Harness:
    def __init__(self, config: Config) -> None:
        self.config = config
        self.deliveries: list[tuple[str, int]] = []  # (url, status) of every webhook sent
        self.delivery_crashes: list[BaseException] = []
        self.container = build_container(load_settings({
            "APP_ENV": "development", "PUBLIC_BASE_URL": PUBLIC_BASE_URL,
            "MAX_INSTANCES_PER_ORG": str(config.max_per_org),
            "WEBHOOK_SECRET_GRACE_S": str(config.grace_s),
            "ROLLOUT_INITIAL_PERCENTAGE": str(config.initial_percentage),
            "ROLLOUT_MAX_ERROR_RATE": str(config.max_error_rate)}))
        c = self.container
        self.evolution = FakeEvolutionGateway(self._deliver,
                                              **(_EVOLUTION_DEFAULTS | config.evolution))
        for provider, value in (
                (c.clock, SystemClock() if config.real_time else ManualClock()),
                (c.ids, SequentialIds()), (c.telemetry, RecordingTelemetry()),
                (c.alerter, RecordingAlerter()), (c.notifier, InMemoryNotifier()),
                (c.fake_evolution, self.evolution), (c.connect_policy, config.qr),
                (c.stream_policy, config.stream), (c.intake_policy, config.intake),
                (c.processing_policy, config.processing)):
            provider.override(providers.Object(value))
        self.clock = c.clock()
        self.ids = c.ids()
        self.store = c.memory_store()
        self.notifier = c.notifier()
        self.telemetry = c.telemetry()
        self.alerter = c.alerter()
        self.flagged_path = c.flagged_path()
        self.background = c.background()
        self.intake = c.webhook_intake()
        self.organizations = c.organizations()
        self.connect = c.connect()
        self.streams = c.qr_streams()
        self.instances = c.instances()
        self.rollout = c.rollout()
        self.quick_create = c.quick_create()
        self.processor = c.webhook_processor()
        self.audit = c.audit()

    def uow(self) -> Any:
        return self.container.uow()

    async def start(self) -> None:
        await self.rollout.ensure_initial()

    async def close(self) -> None:
        await self.background.close()
        await self.evolution.close()

    # Driving -----------------------------------------------------------------------------

    async def new_instance(self, org: str = ORG, actor: Actor = ADMIN) -> Instance:
        """An instance registered at the fake Evolution, its socket not opened yet."""
        return await self.instances.create(actor, NewInstance(org, "Recepción", None))

    async def webhook(self, body: bytes, org: str | None = ORG,
                      headers: dict[str, str] | None = None) -> Admission:
        """Deliver ``body`` as the route would; signed with the org's secret by default."""
        if headers is None:
            headers = hmac_headers(self.secret(org or ""), body)
        return await self.intake.receive(WebhookDelivery(body, headers, org))

    async def settle(self) -> None:
        """Let the fake Evolution's webhooks land, then process the inbox until it is idle."""
        await self.evolution.wait_deliveries()
        while await self.processor.process_due():
            pass

    async def eventually(self, condition: Callable[[], bool], within_s: float = 2.0) -> None:
        """Wait (polling) until ``condition()`` holds; fail after ``within_s``."""
        for _ in range(int(within_s / 0.005)):
            if condition():
                return
            await asyncio.sleep(0.005)
        raise AssertionError(f"condition still false after {within_s} s")

    @asynccontextmanager
    async def worker(self) -> AsyncIterator[None]:
        """Process the inbox in the background with the real worker loop, as ``wachannel
        serve`` does in-process: woken by each admission's signal."""
        task = asyncio.create_task(process_webhooks(self.container), name="test-worker")
        try:
            yield
        finally:
            await stopped(task)

    # Reading state --------------------------------------------------------------------------

    def secret(self, org: str = ORG) -> str:
        return self.store.organizations[org].webhook_secret

    def instance(self, instance_id: UUID | str) -> Instance:
        return self.store.instances[UUID(str(instance_id))]

    def audit_events(self, org: str = ORG, action: str | None = None) -> list[AuditEvent]:
        """One organization's chain, oldest first, optionally only one action."""
        rows = sorted((r for r in self.store.audit.values() if r.event.organization_id == org),
                      key=lambda r: r.seq)
        return [r.event for r in rows if action is None or r.event.action == action]

    def inbox(self) -> list[InboxRow]:
        return sorted(self.store.inbox.values(),
                      key=lambda r: (r.event.received_at, r.event.id))

    # The fake Evolution's side of the webhook -------------------------------------------------

    async def _deliver(self, url: str, headers: dict[str, str], body: bytes) -> int:
        path = urlsplit(url).path
        org = path.removeprefix(WEBHOOK_PATH).split("/")[0] if path.startswith(
            WEBHOOK_PATH) else None
        delivery = WebhookDelivery(body, {k.lower(): v for k, v in headers.items()}, org)
        try:
            await self.intake.receive(delivery)
            status = 200
        except ApplicationError as exc:
            # The status the HTTP edge gives it, so the fake retries or gives up as it would.
            found = lookup(exc)
            status = found[0] if found else 500
        except Exception as exc:  # never expected: reported by the fixture's teardown
            self.delivery_crashes.append(exc)
            status = 500
        self.deliveries.append((url, status))
        return status
