"""UnitOfWork contract: nothing is kept without commit, signals only follow a commit."""

from __future__ import annotations

import asyncio

import pytest

from domain.instance import InstanceState
from domain.rollout import initial_flag
from tests.storage_builders import T0, a_draft, an_instance

pytestmark = pytest.mark.usefixtures("backend")


class Boom(Exception):
    pass


async def test_committed_work_is_visible_to_the_next_unit_of_work(backend):
    instance = an_instance()
    async with backend.uow() as uow:
        await uow.instances.add(instance)
        await uow.commit()
    async with backend.uow() as uow:
        assert (await uow.instances.get(instance.id)).evolution_name == instance.evolution_name


async def test_exit_without_commit_keeps_nothing(backend):
    instance = an_instance()
    async with backend.uow() as uow:
        await uow.instances.add(instance)
        await uow.audit.append(a_draft(instance.organization_id))
    async with backend.uow() as uow:
        assert await uow.instances.get(instance.id) is None
        assert await uow.audit.chain(instance.organization_id) == []


async def test_an_exception_rolls_back_every_repository(backend):
    instance = an_instance()

    async def fail_midway():
        async with backend.uow() as uow:
            await uow.instances.add(instance)
            await uow.flags.save(initial_flag(10, T0))
            raise Boom

    with pytest.raises(Boom):
        await fail_midway()
    async with backend.uow() as uow:
        assert await uow.instances.get(instance.id) is None
        assert await uow.flags.get("radical_solution") is None


async def test_work_after_a_commit_is_rolled_back_without_a_second_commit(backend):
    first, second = an_instance(), an_instance()
    async with backend.uow() as uow:
        await uow.instances.add(first)
        await uow.commit()
        await uow.instances.add(second)
    async with backend.uow() as uow:
        assert await uow.instances.get(first.id) is not None
        assert await uow.instances.get(second.id) is None


async def test_mutating_a_loaded_entity_without_save_changes_nothing(backend):
    instance = an_instance()
    async with backend.uow() as uow:
        await uow.instances.add(instance)
        instance.state = InstanceState.FAILED  # the caller's copy, not the stored one
        loaded = await uow.instances.get(instance.id)
        loaded.state = InstanceState.CONNECTED
        await uow.commit()
    async with backend.uow() as uow:
        assert (await uow.instances.get(instance.id)).state is InstanceState.CREATING


async def test_a_signal_is_delivered_after_commit_and_not_before(backend):
    async with backend.notifier.subscribe("instance:1") as signals:
        async with backend.uow() as uow:
            uow.notify("instance:1", {"state": "connected"})
            with pytest.raises(TimeoutError):
                await asyncio.wait_for(anext(signals), 0.3)
            await uow.commit()
        assert await asyncio.wait_for(anext(signals), 2) == {"state": "connected"}


async def test_a_rolled_back_signal_is_never_delivered(backend):
    async with backend.notifier.subscribe("instance:2") as signals:
        async with backend.uow() as uow:
            uow.notify("instance:2", {"state": "rolled back"})
        async with backend.uow() as uow:
            uow.notify("instance:2", {"state": "committed"})
            await uow.commit()
        assert await asyncio.wait_for(anext(signals), 2) == {"state": "committed"}


async def test_a_signal_reaches_only_its_topic(backend):
    async with backend.notifier.subscribe("a") as a, backend.notifier.subscribe("b") as b:
        await backend.notifier.publish("b", {"n": 1})
        assert await asyncio.wait_for(anext(b), 2) == {"n": 1}
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(anext(a), 0.2)


async def test_an_oversized_signal_is_refused_when_queued(backend):
    async with backend.uow() as uow:
        with pytest.raises(ValueError, match="bytes"):
            uow.notify("instance:3", {"blob": "x" * 10_000})



async def test_reads_alone_open_no_transaction_and_the_first_lock_opens_one(postgres_backend):
    """A read-only unit of work costs one round trip per read: no BEGIN, no ROLLBACK."""
    instance = an_instance()
    async with postgres_backend.uow() as uow:
        await uow.instances.add(instance)
        await uow.commit()

    async def open_transactions() -> int:
        row = await postgres_backend.raw_row(
            "SELECT count(*) AS n FROM pg_stat_activity WHERE datname = current_database() "
            "AND state LIKE 'idle in transaction%'")
        return row["n"]

    async with postgres_backend.uow() as uow:
        assert (await uow.instances.get(instance.id)).id == instance.id
        assert await uow.instances.count_active(instance.organization_id) == 1
        assert await open_transactions() == 0
        await uow.instances.get(instance.id, lock=True)
        assert await open_transactions() == 1
    assert await open_transactions() == 0
