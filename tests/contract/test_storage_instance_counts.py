"""InstanceRepository.count_by_state: the instances gauge's numbers, on both stores."""

from __future__ import annotations

from domain.instance import InstanceState, LifecycleSignal
from tests.storage_builders import T0, an_instance, org_id


async def test_instances_are_counted_by_state_across_organizations(backend):
    async with backend.uow() as uow:
        before = await uow.instances.count_by_state()
    made = [an_instance(org_id()) for _ in range(4)]
    made[0].apply(LifecycleSignal(InstanceState.FAILED, "boom"), T0)
    async with backend.uow() as uow:
        for instance in made:
            await uow.instances.add(instance)
        await uow.commit()
    async with backend.uow() as uow:
        after = await uow.instances.count_by_state()
    added = {s: after.get(s, 0) - before.get(s, 0) for s in set(after) | set(before)}
    assert {s: n for s, n in added.items() if n} == {
        made[1].state: 3, InstanceState.FAILED: 1}
    assert all(n > 0 for n in after.values())  # a state none is in is absent
