"""InstanceService: read, list, restart, logout, delete, status, with tenant isolation."""

from __future__ import annotations

import pytest

from application.errors import NotFound
from domain.instance import InstanceState
from tests.unit.application.harness import ADMIN, ORG, OTHER_ORG, tenant


async def connected_instance(app):
    instance = await app.new_instance()
    async with app.worker():
        await app.connect.connect(ADMIN, instance.id)
    app.evolution.scan(instance.evolution_name)
    await app.settle()
    assert app.instance(instance.id).state is InstanceState.CONNECTED
    return instance


async def test_tenant_reads_its_own_instance_and_not_anothers(app):
    mine = await app.new_instance(ORG)
    theirs = await app.new_instance(OTHER_ORG)

    assert (await app.instances.get(tenant(ORG), mine.id)).id == mine.id
    with pytest.raises(NotFound):
        await app.instances.get(tenant(ORG), theirs.id)


async def test_find_lists_only_the_tenants_instances_and_filters_by_state(app):
    mine = await app.new_instance(ORG)
    await app.new_instance(OTHER_ORG)
    deleted = await app.new_instance(ORG)
    await app.instances.delete(ADMIN, deleted.id)

    page = await app.instances.find(tenant(ORG), None, None, 50, None)
    awaiting = await app.instances.find(ADMIN, None, InstanceState.AWAITING_QR, 50, None)

    assert [i.id for i in page.items] == [mine.id, deleted.id]
    assert {i.organization_id for i in awaiting.items} == {ORG, OTHER_ORG}
    assert deleted.id not in {i.id for i in awaiting.items}


async def test_delete_keeps_the_row_as_deleted_and_audits_once(app):
    instance = await app.new_instance()

    await app.instances.delete(tenant(ORG), instance.id)
    await app.instances.delete(tenant(ORG), instance.id)  # again: nothing more happens

    assert app.instance(instance.id).state is InstanceState.DELETED
    assert app.evolution.calls["instance_delete"] == 1
    [event] = app.audit_events(ORG, "instance_deleted")
    assert event.actor_id == tenant(ORG).id


async def test_delete_of_another_tenants_instance_is_not_found_and_touches_nothing(app):
    instance = await app.new_instance(ORG)

    with pytest.raises(NotFound):
        await app.instances.delete(tenant(OTHER_ORG), instance.id)

    assert app.instance(instance.id).state is InstanceState.AWAITING_QR
    assert app.evolution.calls["instance_delete"] == 0


async def test_logout_of_a_connected_instance_marks_it_logged_out_and_audits_once(app):
    instance = await connected_instance(app)

    await app.instances.logout(ADMIN, instance.id)

    assert app.instance(instance.id).state is InstanceState.LOGGED_OUT
    assert len(app.audit_events(ORG, "instance_logged_out")) == 1


async def test_restart_moves_to_connecting_and_is_audited(app):
    instance = await connected_instance(app)

    restarted = await app.instances.restart(ADMIN, instance.id)

    assert restarted.state is InstanceState.CONNECTING
    assert len(app.audit_events(ORG, "instance_restarted")) == 1


async def test_status_reconciles_with_evolutions_live_state(app):
    instance = await app.new_instance()
    async with app.worker():
        await app.connect.connect(ADMIN, instance.id)
    await app.settle()
    app.evolution.scan(instance.evolution_name)  # its webhooks are not processed yet

    answer = await app.instances.status(ADMIN, instance.id)

    assert (answer["state"], answer["evolution_state"]) == ("connected", "open")
    assert app.instance(instance.id).state is InstanceState.CONNECTED
    assert len(app.audit_events(ORG, "connection_established")) == 1
