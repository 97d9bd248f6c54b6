"""QuickCreateService.quick_create: gate, one Evolution create with the webhook inline, audit,
the first QR. Idempotency-Key replays have their own module."""

from __future__ import annotations

import re
import time
from typing import Any

import pytest

from application.errors import (
    FeatureDisabled,
    Forbidden,
    InstanceLimitReached,
    UpstreamError,
    ValidationFailed,
)
from application.instances.connect import ConnectPolicy
from application.instances.quick_create import QuickCreate
from application.instances.service import NewInstance
from application.ports.evolution import InstanceRef
from application.rollout.service import FlagChange
from domain.access import Actor, Role
from domain.instance import InstanceState
from domain.rollout import RADICAL_SOLUTION
from tests.unit.application.harness import ADMIN, ORG, OTHER_ORG, PUBLIC_BASE_URL, tenant

THE_EIGHT_EVENTS = ("QRCODE_UPDATED", "CONNECTION_UPDATE", "STATUS_INSTANCE", "LOGOUT_INSTANCE",
                    "REMOVE_INSTANCE", "MESSAGES_UPSERT", "MESSAGES_UPDATE", "SEND_MESSAGE")


def create(org: str | None = ORG, **fields: Any) -> QuickCreate:
    return QuickCreate(organization_id=org, display_name="Recepción", **fields)


async def test_quick_create_stores_instance_awaiting_qr_with_one_evolution_create(app):
    answer = await app.quick_create.quick_create(ADMIN, create())

    view = answer["instance"]
    stored = app.instance(view["id"])
    assert view["state"] == "awaiting_qr"
    assert stored.state is InstanceState.AWAITING_QR
    assert re.fullmatch(rf"{ORG}-[0-9a-f]{{8}}", view["evolution_name"])
    assert stored.evolution_name == view["evolution_name"]
    assert view["organization_id"] == ORG
    assert view["display_name"] == "Recepción"
    assert answer["qr"] is None
    # The stream's URL is the edge's to build: tests/api/test_instances_api.py asserts it.
    assert app.evolution.calls["instance_create"] == 1
    assert app.evolution.sim.instances[stored.evolution_name].token == stored.evolution_token


async def test_quick_create_registers_org_webhook_with_secret_header_and_eight_events(app):
    answer = await app.quick_create.quick_create(ADMIN, create())

    name = answer["instance"]["evolution_name"]
    webhook = await app.evolution.find_webhook(InstanceRef(name))
    assert webhook is not None
    assert webhook.url == f"{PUBLIC_BASE_URL}/api/webhooks/evolution/{ORG}"
    assert dict(webhook.headers) == {"jwt_key": app.secret(ORG)}
    assert webhook.events == THE_EIGHT_EVENTS
    assert (webhook.by_events, webhook.base64) == (False, False)


async def test_org_secret_is_created_with_first_instance_and_reused_by_second(app):
    assert ORG not in app.store.organizations

    first = await app.quick_create.quick_create(ADMIN, create())
    secret = app.secret(ORG)
    second = await app.quick_create.quick_create(ADMIN, create())

    assert app.secret(ORG) == secret
    for answer in (first, second):
        hook = await app.evolution.find_webhook(InstanceRef(answer["instance"]["evolution_name"]))
        assert hook is not None
        assert hook.headers["jwt_key"] == secret
    assert first["instance"]["evolution_name"] != second["instance"]["evolution_name"]


async def test_quick_create_audits_instance_created_naming_actor_ip_and_user_agent(app):
    actor = tenant(ORG)
    answer = await app.quick_create.quick_create(actor, create(None))

    [event] = app.audit_events(ORG, "instance_created")
    assert (event.actor_id, event.actor_type) == (actor.id, "user")
    assert (event.ip_address, event.user_agent) == (actor.ip_address, actor.user_agent)
    assert event.details["instance_id"] == answer["instance"]["id"]
    assert event.details["instance_name"] == answer["instance"]["evolution_name"]
    assert event.timestamp == app.clock.now()


async def test_quick_create_with_phone_number_sends_it_for_a_pairing_code(app):
    async with app.worker():
        answer = await app.quick_create.quick_create(
            ADMIN, create(phone_number="5511988887777", wait_for_qr=True))

    assert app.evolution.sim.instances[answer["instance"]["evolution_name"]].number == (
        "5511988887777")
    assert re.fullmatch(r"[1-9A-Z]{8}", answer["qr"]["pairing_code"])


async def test_quick_create_is_feature_disabled_when_kill_switch_is_off(app):
    await app.rollout.toggle(ADMIN, {RADICAL_SOLUTION: False})

    with pytest.raises(FeatureDisabled):
        await app.quick_create.quick_create(ADMIN, create())

    assert app.store.instances == {}
    assert app.evolution.calls["instance_create"] == 0


async def test_quick_create_is_feature_disabled_only_for_denied_org(app):
    await app.rollout.put(ADMIN, RADICAL_SOLUTION,
                          FlagChange(True, 100, deny_orgs=frozenset({ORG})))

    with pytest.raises(FeatureDisabled):
        await app.quick_create.quick_create(tenant(ORG), create(None))
    answer = await app.quick_create.quick_create(tenant(OTHER_ORG), create(None))

    assert [i.organization_id for i in app.store.instances.values()] == [OTHER_ORG]
    assert answer["instance"]["organization_id"] == OTHER_ORG


async def test_quick_create_past_max_per_org_is_instance_limit_reached(make_app):
    app = await make_app(max_per_org=2)
    await app.quick_create.quick_create(ADMIN, create())
    await app.quick_create.quick_create(ADMIN, create())

    with pytest.raises(InstanceLimitReached):
        await app.quick_create.quick_create(ADMIN, create())

    assert len(app.store.instances) == 2
    assert app.evolution.calls["instance_create"] == 2
    await app.quick_create.quick_create(ADMIN, create(OTHER_ORG))  # the limit is per org


async def test_failed_and_deleted_instances_do_not_count_toward_the_limit(make_app):
    app = await make_app(max_per_org=2)
    app.evolution.fail_next("error")
    with pytest.raises(UpstreamError):
        await app.quick_create.quick_create(ADMIN, create())
    kept = await app.quick_create.quick_create(ADMIN, create())
    deleted = await app.quick_create.quick_create(ADMIN, create())
    await app.instances.delete(ADMIN, app.instance(deleted["instance"]["id"]).id)

    third = await app.quick_create.quick_create(ADMIN, create())

    states = sorted(str(i.state) for i in app.store.instances.values())
    assert states == ["awaiting_qr", "awaiting_qr", "deleted", "failed"]
    assert third["instance"]["id"] != kept["instance"]["id"]


async def test_tenant_admin_naming_another_org_is_forbidden_and_nothing_is_created(app):
    with pytest.raises(Forbidden):
        await app.quick_create.quick_create(tenant(ORG), create(OTHER_ORG))

    assert app.store.instances == {}
    assert app.store.organizations == {}


async def test_admin_without_org_is_validation_failed(app):
    with pytest.raises(ValidationFailed) as raised:
        await app.quick_create.quick_create(ADMIN, create(None))

    assert "organization_id" in raised.value.errors


async def test_system_role_may_not_create_tenant_instances(app):
    with pytest.raises(Forbidden):
        await app.quick_create.quick_create(Actor("ops", Role.SYSTEM), create())


async def test_evolution_refusing_raises_upstream_error_and_stores_instance_failed(app):
    app.evolution.fail_next("error")

    with pytest.raises(UpstreamError):
        await app.quick_create.quick_create(ADMIN, create())

    [stored] = app.store.instances.values()
    assert stored.state is InstanceState.FAILED
    assert stored.state_reason == "UpstreamError"
    assert app.audit_events(ORG, "instance_created") == []


async def test_evolution_name_already_in_use_is_upstream_error_and_instance_failed(app):
    taken = f"{ORG}-{app.ids.peek_hex8()}"
    app.evolution.sim.add_instance(taken, None, None)  # left over from an earlier deployment

    with pytest.raises(UpstreamError, match="already in use"):
        await app.quick_create.quick_create(ADMIN, create())

    [stored] = app.store.instances.values()
    assert (stored.evolution_name, stored.state) == (taken, InstanceState.FAILED)


async def test_wait_for_qr_returns_the_first_qr_evolution_shows(app):
    async with app.worker():
        answer = await app.quick_create.quick_create(ADMIN, create(wait_for_qr=True))

    shown = app.evolution.sim.instances[answer["instance"]["evolution_name"]].qr
    assert answer["qr"]["code"] == shown["code"]
    assert answer["qr"]["base64"].startswith("data:image/png;base64,")
    assert answer["instance"]["state"] == "awaiting_qr"
    assert len(app.audit_events(ORG, "qr_generated")) == 1


async def test_wait_for_qr_answers_without_qr_when_none_arrives_in_time(make_app):
    app = await make_app(qr=ConnectPolicy(timeout_s=0.1), evolution={"first_qr_s": 10.0})
    started = time.monotonic()

    answer = await app.quick_create.quick_create(ADMIN, create(wait_for_qr=True))

    assert time.monotonic() - started < app.config.qr.timeout_s + 0.5
    assert answer["qr"] is None
    assert app.instance(answer["instance"]["id"]).state is InstanceState.AWAITING_QR


async def test_without_wait_the_socket_opens_in_background_and_the_qr_is_stored(app):
    async with app.worker():
        answer = await app.quick_create.quick_create(ADMIN, create())
        await app.eventually(lambda: app.instance(answer["instance"]["id"]).qr is not None)
        await app.eventually(lambda: len(app.background) == 0)  # the opener is done

    assert app.evolution.calls["instance_connect"] == 1


async def test_instance_service_create_names_instance_after_org(app):
    instance = await app.instances.create(ADMIN, NewInstance(ORG, None, None))

    assert instance.evolution_name.startswith(f"{ORG}-")
    assert app.instance(instance.id).state is InstanceState.AWAITING_QR
