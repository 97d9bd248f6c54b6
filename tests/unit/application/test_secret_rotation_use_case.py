"""OrganizationSecrets.rotate: a new secret now, the old one for the grace period, every
instance's webhook at Evolution re-registered with the new one."""

from __future__ import annotations

from datetime import timedelta

import pytest

from application.errors import NotFound
from application.ports.evolution import InstanceRef
from application.presenters import rfc3339
from domain.access import Actor, Role
from tests.unit.application.harness import ADMIN, ORG, OTHER_ORG


async def registered_secret(app, instance) -> str:
    webhook = await app.evolution.find_webhook(InstanceRef(instance.evolution_name))
    assert webhook is not None
    return webhook.headers["jwt_key"]


async def test_rotate_returns_new_secret_and_keeps_the_old_one_for_the_grace_period(app):
    await app.new_instance()
    old = app.secret()

    answer = await app.organizations.rotate(ADMIN, ORG)

    assert answer["secret"] != old
    assert answer["secret"] == app.secret()
    valid_until = app.clock.now() + timedelta(seconds=app.config.grace_s)
    assert answer["previous_valid_until"] == rfc3339(valid_until)
    organization = app.store.organizations[ORG]
    assert (organization.previous_secret, organization.previous_valid_until) == (old,
                                                                                 valid_until)


async def test_rotate_reregisters_every_active_instances_webhook_with_the_new_secret(app):
    first = await app.new_instance()
    second = await app.new_instance()
    deleted = await app.new_instance()
    await app.instances.delete(ADMIN, deleted.id)
    theirs = await app.new_instance(OTHER_ORG)
    calls_before = app.evolution.calls["webhook_set"]

    answer = await app.organizations.rotate(ADMIN, ORG)

    assert (answer["reregistered"], answer["failed"]) == (2, [])
    assert app.evolution.calls["webhook_set"] - calls_before == 2
    for instance in (first, second):
        assert await registered_secret(app, instance) == answer["secret"]
    assert await registered_secret(app, theirs) == app.secret(OTHER_ORG)


async def test_rotate_is_audited_as_secret_rotated_without_the_secret(app):
    await app.new_instance()
    actor = Actor("admin-9", Role.ADMIN, None, "203.0.113.9", "ops-cli/1.0")

    answer = await app.organizations.rotate(actor, ORG)

    [event] = app.audit_events(ORG, "secret_rotated")
    assert (event.actor_id, event.ip_address, event.user_agent) == (
        "admin-9", "203.0.113.9", "ops-cli/1.0")
    assert event.details == {"previous_valid_until": answer["previous_valid_until"],
                             "instances": 1}
    assert answer["secret"] not in str(event.details)


async def test_rotate_with_evolution_down_still_rotates_and_names_the_failures(app):
    instance = await app.new_instance()
    old = app.secret()
    app.evolution.down = True

    answer = await app.organizations.rotate(ADMIN, ORG)

    assert (answer["reregistered"], answer["failed"]) == (0, [instance.evolution_name])
    assert app.secret() == answer["secret"]
    app.evolution.down = False
    assert await registered_secret(app, instance) == old  # still valid during the grace


async def test_rotate_for_an_unknown_organization_is_not_found(app):
    with pytest.raises(NotFound):
        await app.organizations.rotate(ADMIN, "no-such-clinic")

    assert app.store.organizations == {}
