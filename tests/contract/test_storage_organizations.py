"""OrganizationRepository and FlagRepository contracts."""

from __future__ import annotations

from datetime import timedelta

import attrs
import pytest

from application.errors import Conflict
from domain.organization import Organization
from domain.rollout import Flag, Variant, initial_flag
from tests.storage_builders import T0, org_id


async def test_an_organization_round_trips_with_its_secrets(backend):
    org = Organization(org_id(), "secret-now")
    org.rotate("secret-next", T0, timedelta(days=1))
    async with backend.uow() as uow:
        await uow.organizations.add(org)
        await uow.commit()
    async with backend.uow() as uow:
        loaded = await uow.organizations.get(org.id, lock=True)
    assert attrs.asdict(loaded) == attrs.asdict(org)


async def test_adding_an_existing_organization_is_a_conflict(backend):
    org = Organization(org_id(), "s1")
    async with backend.uow() as uow:
        await uow.organizations.add(org)
        with pytest.raises(Conflict):
            await uow.organizations.add(Organization(org.id, "s2"))
        assert (await uow.organizations.get(org.id)).webhook_secret == "s1"


async def test_save_replaces_and_get_of_unknown_is_none(backend):
    org = Organization(org_id(), "s1")
    async with backend.uow() as uow:
        assert await uow.organizations.get(org.id) is None
        await uow.organizations.save(org)
        org.rotate("s2", T0, timedelta(hours=1))
        await uow.organizations.save(org)
        await uow.commit()
    async with backend.uow() as uow:
        loaded = await uow.organizations.get(org.id)
    assert loaded.valid_secrets(T0) == ("s2", "s1")


@pytest.mark.integration
async def test_webhook_secrets_are_not_stored_in_clear(postgres_backend):
    backend = postgres_backend
    assert backend.raw_row is not None
    org = Organization(org_id(), "plain-current")
    org.rotate("plain-next", T0, timedelta(days=1))
    async with backend.uow() as uow:
        await uow.organizations.add(org)
        await uow.commit()
    row = await backend.raw_row(
        "SELECT webhook_secret, previous_secret FROM organizations WHERE id = $1", org.id)
    for column in ("webhook_secret", "previous_secret"):
        assert row[column].startswith("wac1:")
        assert "plain" not in row[column]


async def test_flags_are_created_replaced_and_listed_by_name(backend):
    flag = Flag("zeta", True, 25, frozenset({"a", "b"}), frozenset({"c"}),
                (Variant("x", 30), Variant("y", 70)), T0, "admin-1")
    async with backend.uow() as uow:
        assert await uow.flags.get("zeta") is None
        await uow.flags.save(initial_flag(10, T0))
        await uow.flags.save(flag)
        await uow.flags.save(flag.switched(False, T0, "admin-2"))
        await uow.commit()
    async with backend.uow() as uow:
        assert await uow.flags.get("zeta") == flag.switched(False, T0, "admin-2")
        assert [f.name for f in await uow.flags.all()] == ["radical_solution", "zeta"]
