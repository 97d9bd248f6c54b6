"""Webhook secret rotation with overlap (API.md 5a) and who may see an organization."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from domain.access import EVOLUTION_ACTOR, SYSTEM_ACTOR, Actor, Role
from domain.organization import Organization

AT = datetime(2025, 10, 21, 12, 0, tzinfo=UTC)
GRACE = timedelta(seconds=86_400)
TICK = timedelta(microseconds=1)


def rotated() -> Organization:
    org = Organization("clinic-42", "old-secret")
    org.rotate("new-secret", AT, GRACE)
    return org


def test_organization_never_rotated_accepts_only_its_secret() -> None:
    assert Organization("clinic-42", "s1").valid_secrets(AT) == ("s1",)


def test_rotate_returns_when_the_previous_secret_stops_working() -> None:
    org = Organization("clinic-42", "old-secret")

    until = org.rotate("new-secret", AT, GRACE)

    assert until == AT + GRACE
    assert (org.webhook_secret, org.previous_secret, org.previous_valid_until) == (
        "new-secret", "old-secret", AT + GRACE)


@pytest.mark.parametrize("offset", [timedelta(0), timedelta(hours=12), GRACE - TICK])
def test_previous_secret_stays_valid_until_the_grace_ends(offset: timedelta) -> None:
    assert rotated().valid_secrets(AT + offset) == ("new-secret", "old-secret")


@pytest.mark.parametrize("offset", [GRACE, GRACE + TICK, timedelta(days=30)])
def test_after_the_grace_only_the_new_secret_is_valid(offset: timedelta) -> None:
    assert rotated().valid_secrets(AT + offset) == ("new-secret",)


def test_zero_grace_retires_the_old_secret_at_once() -> None:
    org = Organization("clinic-42", "old-secret")
    org.rotate("new-secret", AT, timedelta(0))

    assert org.valid_secrets(AT) == ("new-secret",)


def test_second_rotation_drops_the_secret_from_two_rotations_ago() -> None:
    org = rotated()

    org.rotate("newest-secret", AT + timedelta(hours=1), GRACE)

    assert org.valid_secrets(AT + timedelta(hours=2)) == ("newest-secret", "new-secret")
    assert org.valid_secrets(AT + timedelta(hours=1) + GRACE) == ("newest-secret",)


@pytest.mark.parametrize(
    ("actor", "organization_id", "sees"),
    [
        (Actor("root", Role.ADMIN), "clinic-42", True),
        (Actor("root", Role.ADMIN, organization_id="clinic-1"), "clinic-42", True),
        (Actor("ana", Role.TENANT_ADMIN, organization_id="clinic-42"), "clinic-42", True),
        (Actor("ana", Role.TENANT_ADMIN, organization_id="clinic-42"), "clinic-43", False),
        (Actor("ana", Role.TENANT_ADMIN), "clinic-42", False),
        (Actor("job", Role.SYSTEM, organization_id="clinic-42"), "clinic-42", False),
        (SYSTEM_ACTOR, "clinic-42", False),
        (EVOLUTION_ACTOR, "clinic-42", False),
    ],
    ids=["admin", "admin-with-org", "tenant-admin-own", "tenant-admin-other",
         "tenant-admin-without-org", "system-with-org", "system-actor", "evolution-actor"],
)
def test_only_admins_and_the_tenant_admin_of_the_org_see_it(actor: Actor, organization_id: str,
                                                            sees: bool) -> None:
    assert actor.sees(organization_id) is sees


@pytest.mark.parametrize(
    ("role", "actor_type"),
    [(Role.ADMIN, "user"), (Role.TENANT_ADMIN, "user"), (Role.SYSTEM, "system")],
)
def test_actor_type_is_user_for_people_and_system_otherwise(role: Role, actor_type: str) -> None:
    assert Actor("a", role).actor_type == actor_type


def test_built_in_system_actors_are_named() -> None:
    assert (SYSTEM_ACTOR.id, SYSTEM_ACTOR.role) == ("wachannel", Role.SYSTEM)
    assert (EVOLUTION_ACTOR.id, EVOLUTION_ACTOR.role) == ("evolution", Role.SYSTEM)
