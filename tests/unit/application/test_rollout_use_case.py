"""RolloutService: evaluate, require, change, kill, advance; its one-second cache."""

from __future__ import annotations

import pytest

from application.errors import (
    FeatureDisabled,
    Forbidden,
    NotFound,
    RolloutUnhealthy,
    ValidationFailed,
)
from application.rollout.service import FLAG_AUDIT_ORG, FlagChange, RolloutService
from domain.access import Actor, Role
from domain.rollout import RADICAL_SOLUTION, Variant, bucket
from tests.unit.application.harness import ADMIN, ORG, OTHER_ORG, tenant


def flag_events(app):
    return app.audit_events(FLAG_AUDIT_ORG, "flag_changed")


def org_outside(percentage: int) -> str:
    """An organization whose bucket is not admitted at ``percentage``."""
    return next(org for org in (f"clinic-{n}" for n in range(10_000))
                if bucket(RADICAL_SOLUTION, org) >= percentage * 100)


async def test_new_store_starts_with_radical_solution_at_the_initial_percentage(make_app):
    app = await make_app(initial_percentage=10)

    [flag] = (await app.rollout.list())["items"]

    assert (flag["name"], flag["enabled"], flag["percentage"]) == (RADICAL_SOLUTION, True, 10)
    assert [v["name"] for v in flag["variants"]] == ["unified_qr", "guided_steps"]


async def test_evaluate_gives_each_flag_with_the_orgs_variant(app):
    answer = await app.rollout.evaluate(tenant(ORG), None)

    evaluation = answer["flags"][RADICAL_SOLUTION]
    assert evaluation["enabled"] is True
    assert evaluation["variant"] in {"unified_qr", "guided_steps"}
    assert answer == await app.rollout.evaluate(ADMIN, ORG)


async def test_evaluate_for_another_org_is_forbidden_to_a_tenant(app):
    with pytest.raises(Forbidden):
        await app.rollout.evaluate(tenant(ORG), OTHER_ORG)


async def test_evaluate_without_org_is_validation_failed_for_an_admin(app):
    with pytest.raises(ValidationFailed):
        await app.rollout.evaluate(ADMIN, None)


async def test_require_returns_the_variant_and_refuses_when_the_flag_is_off(app):
    variant = await app.rollout.require(RADICAL_SOLUTION, ORG)
    await app.rollout.toggle(ADMIN, {RADICAL_SOLUTION: False})

    with pytest.raises(FeatureDisabled):
        await app.rollout.require(RADICAL_SOLUTION, ORG)

    assert variant in {"unified_qr", "guided_steps"}


async def test_require_of_an_unknown_flag_is_feature_disabled(app):
    with pytest.raises(FeatureDisabled):
        await app.rollout.require("no_such_flag", ORG)


async def test_require_refuses_orgs_outside_the_percentage_unless_allowed(app):
    outside = org_outside(10)
    await app.rollout.put(ADMIN, RADICAL_SOLUTION, FlagChange(True, 10))
    with pytest.raises(FeatureDisabled):
        await app.rollout.require(RADICAL_SOLUTION, outside)

    await app.rollout.put(ADMIN, RADICAL_SOLUTION,
                          FlagChange(True, 10, allow_orgs=frozenset({outside})))

    assert await app.rollout.require(RADICAL_SOLUTION, outside) is not None


@pytest.mark.parametrize(("change", "field"), [
    (FlagChange(True, 101), "percentage"),
    (FlagChange(True, -1), "percentage"),
    (FlagChange(True, 50, allow_orgs=frozenset({ORG}), deny_orgs=frozenset({ORG})),
     "allow_orgs"),
    (FlagChange(True, 50, variants=(Variant("a", 0), Variant("b", 0))), "variants"),
])
async def test_put_breaking_a_flag_invariant_is_validation_failed_and_changes_nothing(
        app, change, field):
    before = dict(app.store.flags)

    with pytest.raises(ValidationFailed) as raised:
        await app.rollout.put(ADMIN, RADICAL_SOLUTION, change)

    assert field in raised.value.errors
    assert app.store.flags == before
    assert flag_events(app) == []


async def test_put_replaces_the_flag_keeps_its_variants_and_audits_old_and_new(app):
    answer = await app.rollout.put(ADMIN, RADICAL_SOLUTION,
                                   FlagChange(True, 25, deny_orgs=frozenset({ORG})))

    assert answer["percentage"] == 25
    assert answer["deny_orgs"] == [ORG]
    assert answer["updated_by"] == ADMIN.id
    assert [v["name"] for v in answer["variants"]] == ["unified_qr", "guided_steps"]
    [event] = flag_events(app)
    assert event.details["old"]["percentage"] == 100
    assert event.details["new"]["percentage"] == 25
    assert (event.actor_id, event.ip_address) == (ADMIN.id, ADMIN.ip_address)


async def test_put_of_a_new_flag_creates_it_and_audits_no_old_value(app):
    await app.rollout.put(ADMIN, "new_inbox", FlagChange(True, 10))

    assert app.store.flags["new_inbox"].percentage == 10
    [event] = flag_events(app)
    assert event.details["old"] is None
    assert event.details["flag"] == "new_inbox"


async def test_kill_switch_turns_the_flag_off_and_is_audited_with_old_and_new(app):
    answer = await app.rollout.toggle(ADMIN, {RADICAL_SOLUTION: False})

    assert [f["enabled"] for f in answer["items"]] == [False]
    assert app.store.flags[RADICAL_SOLUTION].enabled is False
    [event] = flag_events(app)
    assert (event.details["old"]["enabled"], event.details["new"]["enabled"]) == (True, False)


async def test_toggle_of_an_unknown_flag_is_not_found_and_changes_nothing(app):
    with pytest.raises(NotFound):
        await app.rollout.toggle(ADMIN, {RADICAL_SOLUTION: False, "no_such_flag": True})

    assert app.store.flags[RADICAL_SOLUTION].enabled is True
    assert flag_events(app) == []


async def test_advance_moves_through_10_25_50_100_and_stays_at_100(app):
    await app.rollout.put(ADMIN, RADICAL_SOLUTION, FlagChange(False, 10))

    stages = [(await app.rollout.advance(ADMIN, RADICAL_SOLUTION))["percentage"]
              for _ in range(4)]

    assert stages == [25, 50, 100, 100]
    assert app.store.flags[RADICAL_SOLUTION].enabled is True
    assert [e.details["new"]["percentage"] for e in flag_events(app)] == [10, 25, 50, 100, 100]


async def test_advance_is_refused_while_the_flagged_path_error_rate_is_too_high(app):
    await app.rollout.put(ADMIN, RADICAL_SOLUTION, FlagChange(True, 10))
    now = app.clock.monotonic()
    for n in range(100):
        app.flagged_path.record(ok=n >= 2, at_s=now)  # 2 % failed; the bound is 1 %

    with pytest.raises(RolloutUnhealthy):
        await app.rollout.advance(ADMIN, RADICAL_SOLUTION)
    assert app.store.flags[RADICAL_SOLUTION].percentage == 10

    app.clock.advance(16 * 60)  # the failures age out of the 15 minute window
    assert (await app.rollout.advance(ADMIN, RADICAL_SOLUTION))["percentage"] == 25


async def test_advance_of_an_unknown_flag_is_not_found(app):
    with pytest.raises(NotFound):
        await app.rollout.advance(ADMIN, "no_such_flag")


async def test_change_by_another_replica_is_seen_after_invalidate(app):
    other_replica = RolloutService(app.uow, app.clock, 100, 0.01, app.flagged_path)
    assert await app.rollout.require(RADICAL_SOLUTION, ORG)  # now cached here

    await other_replica.toggle(ADMIN, {RADICAL_SOLUTION: False})
    assert await app.rollout.require(RADICAL_SOLUTION, ORG)  # still the cached flag
    app.rollout.invalidate()  # what the flags signal does on every replica

    with pytest.raises(FeatureDisabled):
        await app.rollout.require(RADICAL_SOLUTION, ORG)


async def test_change_by_another_replica_is_seen_within_the_one_second_ttl(app):
    other_replica = RolloutService(app.uow, app.clock, 100, 0.01, app.flagged_path)
    assert await app.rollout.require(RADICAL_SOLUTION, ORG)

    await other_replica.toggle(ADMIN, {RADICAL_SOLUTION: False})
    app.clock.advance(1.001)

    with pytest.raises(FeatureDisabled):
        await app.rollout.require(RADICAL_SOLUTION, ORG)


async def test_flag_changes_are_audited_in_the_platform_chain_not_a_tenants(app):
    await app.rollout.toggle(Actor("ops-2", Role.ADMIN, None, "10.1.1.1", "cli"),
                             {RADICAL_SOLUTION: False})

    assert app.audit_events(ORG) == []
    assert [e.actor_id for e in flag_events(app)] == ["ops-2"]
