"""InstanceRepository contract, run over the in-memory store and Postgres."""

from __future__ import annotations

from datetime import timedelta

import attrs
import pytest

from application.errors import Conflict, ValidationFailed
from application.ports.repositories import InstanceQuery
from domain.instance import InstanceState
from tests.storage_builders import T0, a_full_instance, an_instance, org_id


async def _add(backend, *instances):
    async with backend.uow() as uow:
        for instance in instances:
            await uow.instances.add(instance)
        await uow.commit()


async def _find(backend, **query):
    async with backend.uow() as uow:
        return await uow.instances.find(InstanceQuery(**query))


async def test_every_field_survives_the_round_trip(backend):
    instance = a_full_instance()
    await _add(backend, instance)
    async with backend.uow() as uow:
        by_id = await uow.instances.get(instance.id)
        by_name = await uow.instances.get_by_name(instance.evolution_name, lock=True)
    assert attrs.asdict(by_id) == attrs.asdict(instance)
    assert attrs.asdict(by_name) == attrs.asdict(instance)


async def test_unknown_instances_are_none(backend):
    async with backend.uow() as uow:
        assert await uow.instances.get(an_instance().id, lock=True) is None
        assert await uow.instances.get_by_name("nobody-00000000") is None


async def test_adding_an_existing_id_is_a_conflict(backend):
    instance = an_instance()
    await _add(backend, instance)
    twin = an_instance(instance.organization_id, id=instance.id)
    async with backend.uow() as uow:
        with pytest.raises(Conflict):
            await uow.instances.add(twin)


async def test_adding_an_existing_evolution_name_is_a_conflict(backend):
    instance = an_instance()
    await _add(backend, instance)
    twin = an_instance(instance.organization_id, evolution_name=instance.evolution_name)
    async with backend.uow() as uow:
        with pytest.raises(Conflict):
            await uow.instances.add(twin)
    async with backend.uow() as uow:
        assert await uow.instances.get(twin.id) is None


async def test_save_writes_back_changes(backend):
    instance = an_instance()
    await _add(backend, instance)
    async with backend.uow() as uow:
        loaded = await uow.instances.get(instance.id, lock=True)
        loaded.state, loaded.evolution_token = InstanceState.AWAITING_QR, "rotated"
        await uow.instances.save(loaded)
        await uow.instances.save(loaded)  # idempotent
        await uow.commit()
    async with backend.uow() as uow:
        saved = await uow.instances.get(instance.id)
    assert (saved.state, saved.evolution_token) == (InstanceState.AWAITING_QR, "rotated")


async def test_find_pages_oldest_first_without_gaps_or_repeats(backend):
    org = org_id()
    created = [an_instance(org, at=T0 + timedelta(seconds=i % 3)) for i in range(7)]
    await _add(backend, *created, an_instance())
    seen, cursor = [], None
    while True:
        page = await _find(backend, organization_id=org, limit=3, cursor=cursor)
        seen += page.items
        cursor = page.next_cursor
        if cursor is None:
            break
    expected = sorted(created, key=lambda i: (i.created_at, i.id))
    assert [i.id for i in seen] == [i.id for i in expected]


async def test_find_filters_by_state(backend):
    org = org_id()
    connected = an_instance(org, state=InstanceState.CONNECTED)
    await _add(backend, connected, an_instance(org))
    page = await _find(backend, organization_id=org, state=InstanceState.CONNECTED)
    assert [i.id for i in page.items] == [connected.id]
    assert page.next_cursor is None


async def test_a_full_last_page_has_no_cursor(backend):
    org = org_id()
    await _add(backend, an_instance(org), an_instance(org))
    page = await _find(backend, organization_id=org, limit=2)
    assert len(page.items) == 2
    assert page.next_cursor is None


async def test_a_forged_cursor_is_a_validation_error(backend):
    with pytest.raises(ValidationFailed):
        await _find(backend, cursor="bm90LWEtY3Vyc29y")


async def test_count_active_ignores_failed_deleted_and_other_organizations(backend):
    org = org_id()
    await _add(backend, an_instance(org), an_instance(org, state=InstanceState.CONNECTED),
               an_instance(org, state=InstanceState.FAILED),
               an_instance(org, state=InstanceState.DELETED), an_instance())
    async with backend.uow() as uow:
        assert await uow.instances.count_active(org) == 2


async def test_a_rolled_back_add_is_neither_counted_nor_found(backend):
    org = org_id()
    await _add(backend, an_instance(org))
    async with backend.uow() as uow:
        await uow.instances.add(an_instance(org))
    async with backend.uow() as uow:
        assert await uow.instances.count_active(org) == 1
    assert len((await _find(backend, organization_id=org)).items) == 1


async def test_all_returns_every_instance(backend):
    instances = [an_instance(), an_instance()]
    await _add(backend, *instances)
    async with backend.uow() as uow:
        ids = {i.id for i in await uow.instances.all()}
    assert ids >= {i.id for i in instances}


@pytest.mark.integration
async def test_the_evolution_token_is_not_stored_in_clear(postgres_backend):
    backend = postgres_backend
    assert backend.raw_row is not None
    instance = a_full_instance()
    await _add(backend, instance)
    row = await backend.raw_row("SELECT evolution_token FROM instances WHERE id = $1",
                                instance.id)
    assert row["evolution_token"].startswith("wac1:")
    assert "evo-token-123" not in row["evolution_token"]
