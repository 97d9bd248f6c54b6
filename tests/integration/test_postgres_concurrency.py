"""Postgres under concurrent writers: inbox dedupe, the audit chain never forks, and an
organization's first instances created at once."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from adapters.crypto.cipher import SecretCipher, generate_key
from adapters.evolution.fake_gateway import FakeEvolutionGateway
from adapters.postgres import AsyncpgUnitOfWork, create_pool
from adapters.postgres.inbox_writer import AsyncpgInboxWriter
from adapters.postgres.pool import close_pool
from adapters.system.clock import RandomIdGenerator, SystemClock
from application.errors import InstanceLimitReached
from application.instances.organizations import OrganizationSecrets
from application.instances.service import InstancePolicy, InstanceService, NewInstance
from application.ports.inbox import InboxStatus
from domain.access import Actor, Role
from domain.audit import verify_chain
from domain.instance import Instance
from tests.storage_builders import T0, a_draft, an_event, org_id

pytestmark = pytest.mark.integration


@pytest.fixture
async def pool(postgres_dsn):
    pool = await create_pool(postgres_dsn, min_size=2, max_size=20)
    yield pool
    await close_pool(pool)


@pytest.fixture
def cipher():
    return SecretCipher(generate_key())


@pytest.fixture
def new_uow(pool, cipher):
    return lambda: AsyncpgUnitOfWork(pool, cipher, acquire_timeout=30)


async def test_200_concurrent_deliveries_of_one_event_store_one_row(pool):
    org = org_id()
    deliveries = [an_event(org, dedupe_key="id:same-delivery") for _ in range(200)]
    # Two writers, as two replicas would have: their batches race on the same key.
    writers = [AsyncpgInboxWriter(pool, SecretCipher(generate_key())) for _ in range(2)]
    try:
        admissions = await asyncio.gather(*(writers[n % 2].admit(e)
                                             for n, e in enumerate(deliveries)))
    finally:
        for writer in writers:
            await writer.close()
    first = [a for a in admissions if not a.duplicate]
    assert len(first) == 1
    assert {a.event_id for a in admissions} == {first[0].event_id}
    assert await pool.fetchval("SELECT count(*) FROM webhook_inbox") == 1


async def test_50_concurrent_appenders_of_one_organization_keep_one_chain(new_uow, pool):
    org = org_id()

    async def append(n):
        async with new_uow() as uow:
            await uow.audit.append(a_draft(org, n=n))
            await uow.commit()

    await asyncio.gather(*(append(n) for n in range(50)))
    async with new_uow() as uow:
        chain = await uow.audit.chain(org)
    assert verify_chain(chain).valid
    assert verify_chain(chain).checked == 50
    assert {e.details["n"] for e in chain} == set(range(50))
    head = await pool.fetchrow("SELECT count FROM audit_heads WHERE organization_id = $1", org)
    assert head["count"] == 50


async def test_concurrent_workers_never_claim_the_same_event(new_uow, pool, cipher):
    writer = AsyncpgInboxWriter(pool, cipher)
    await asyncio.gather(*(writer.admit(an_event(at=T0)) for _ in range(40)))
    await writer.close()

    async def worker():
        async with new_uow() as uow:
            claimed = await uow.inbox.claim(7, T0, timedelta(seconds=60))
            await asyncio.sleep(0.05)  # hold the row locks while the others claim
            await uow.commit()
        return [e.id for e in claimed]

    batches = await asyncio.gather(*(worker() for _ in range(8)))
    claimed = [event_id for batch in batches for event_id in batch]
    assert len(claimed) == len(set(claimed)) == 40
    async with new_uow() as uow:
        assert (await uow.inbox.counts())[InboxStatus.PROCESSING] == 40


async def test_an_organizations_first_instances_created_at_once_share_it_within_the_limit(
        new_uow, pool):
    """A double click on a new clinic's first quick-create: no 409, one organization and one
    secret, and never more instances than the limit."""
    org = org_id()

    async def accept(url: str, headers: dict[str, str], body: bytes) -> int:
        return 200

    evolution = FakeEvolutionGateway(accept, first_qr_s=60)
    clock, ids = SystemClock(), RandomIdGenerator()
    secrets = OrganizationSecrets(new_uow, evolution, clock, ids,
                                  lambda org: f"https://svc.test/api/webhooks/evolution/{org}",
                                  60)
    service = InstanceService(new_uow, evolution, clock, ids, secrets,
                              InstancePolicy(max_per_org=4))
    admin = Actor("ops", Role.ADMIN, None, None, None)
    try:
        results = await asyncio.gather(
            *(service.create(admin, NewInstance(org, None, None)) for _ in range(12)),
            return_exceptions=True)
    finally:
        await evolution.close()
    assert sum(isinstance(r, Instance) for r in results) == 4
    assert sum(isinstance(r, InstanceLimitReached) for r in results) == 8
    assert await pool.fetchval("SELECT count(*) FROM organizations WHERE id = $1", org) == 1
    assert await pool.fetchval(
        "SELECT count(*) FROM instances WHERE organization_id = $1", org) == 4
