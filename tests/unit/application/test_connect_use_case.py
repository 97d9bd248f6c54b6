"""ConnectService.connect: the QR to scan, from cache, Evolution's answer or its webhook."""

from __future__ import annotations

import asyncio
import time
import uuid

import pytest

from application.errors import Conflict, NotFound, UpstreamTimeout, UpstreamUnavailable
from application.instances.connect import ConnectPolicy
from domain.instance import InstanceState
from tests.unit.application.harness import ADMIN, ORG, OTHER_ORG, tenant


def shown_code(app, instance) -> str:
    """The QR code the fake Evolution currently shows for the instance."""
    return app.evolution.sim.instances[instance.evolution_name].qr["code"]


async def test_connect_fetches_qr_from_evolution_and_stores_it(app):
    instance = await app.new_instance()

    async with app.worker():
        view = await app.connect.connect(ADMIN, instance.id)

    assert view.state is InstanceState.AWAITING_QR
    assert view.qr is not None
    assert view.qr.code == shown_code(app, instance)
    assert app.instance(instance.id).qr == view.qr
    assert app.evolution.calls["instance_connect"] == 1
    assert len(app.telemetry.qr_seconds) == 1
    assert app.flagged_path.error_rate(app.clock.monotonic()) == 0.0


async def test_connect_returns_cached_qr_without_calling_evolution_while_fresh(app):
    instance = await app.new_instance()
    async with app.worker():
        first = await app.connect.connect(ADMIN, instance.id)

    app.clock.advance(app.config.qr.cache_ttl_s - 1)
    again = await app.connect.connect(tenant(ORG), instance.id)

    assert again.qr == first.qr
    assert app.evolution.calls["instance_connect"] == 1


async def test_connect_fetches_again_once_cached_qr_is_older_than_cache_ttl(app):
    instance = await app.new_instance()
    async with app.worker():
        first = await app.connect.connect(ADMIN, instance.id)
    audited = len(app.audit_events())

    app.clock.advance(app.config.qr.cache_ttl_s + 1)
    again = await app.connect.connect(ADMIN, instance.id)

    assert app.evolution.calls["instance_connect"] == 2
    # Evolution still shows the same QR: it keeps the time it was first shown, so its
    # lifetime is not stretched, and nothing new is stored or audited.
    assert again.qr == first.qr
    assert app.instance(instance.id).qr == first.qr
    assert len(app.audit_events()) == audited


async def test_connect_answer_carrying_a_qr_is_used_without_waiting_for_the_webhook(make_app):
    # Evolution holds /connect until its first QR exists and returns it in the answer.
    app = await make_app(evolution={"first_qr_s": 0.01, "connect_wait_s": 0.05})
    instance = await app.new_instance()

    view = await app.connect.connect(ADMIN, instance.id)  # no worker: no webhook is processed

    assert view.qr is not None
    assert view.qr.code == shown_code(app, instance)
    assert app.instance(instance.id).qr == view.qr


async def test_fifty_concurrent_connects_for_one_instance_make_one_evolution_call(app):
    instance = await app.new_instance()

    async with app.worker():
        views = await asyncio.gather(
            *(app.connect.connect(ADMIN, instance.id) for _ in range(50)))

    assert app.evolution.calls["instance_connect"] == 1
    assert {v.qr.code for v in views} == {shown_code(app, instance)}


async def test_connect_on_connected_instance_returns_no_qr_and_calls_nobody(app):
    instance = await app.new_instance()
    async with app.worker():
        await app.connect.connect(ADMIN, instance.id)
    app.evolution.scan(instance.evolution_name, "5511912345678", "Clínica Sol")
    await app.settle()
    calls = sum(app.evolution.calls.values())

    view = await app.connect.connect(ADMIN, instance.id)

    assert (view.state, view.qr) == (InstanceState.CONNECTED, None)
    assert view.as_dict() == {"state": "connected", "qr": None}
    assert sum(app.evolution.calls.values()) == calls


async def test_connect_to_another_tenants_instance_is_not_found(app):
    instance = await app.new_instance(ORG)

    with pytest.raises(NotFound):
        await app.connect.connect(tenant(OTHER_ORG), instance.id)
    with pytest.raises(NotFound):
        await app.connect.connect(ADMIN, uuid.uuid4())

    assert app.evolution.calls["instance_connect"] == 0


async def test_connect_to_deleted_instance_is_conflict(app):
    instance = await app.new_instance()
    await app.instances.delete(ADMIN, instance.id)

    with pytest.raises(Conflict):
        await app.connect.connect(ADMIN, instance.id)


async def test_connect_when_evolution_is_down_is_upstream_unavailable_and_recorded(app):
    instance = await app.new_instance()
    app.evolution.down = True

    with pytest.raises(UpstreamUnavailable):
        await app.connect.connect(ADMIN, instance.id)

    assert app.instance(instance.id).qr is None
    assert app.flagged_path.error_rate(app.clock.monotonic()) == 1.0


async def test_connect_when_evolution_does_not_answer_is_upstream_timeout_within_policy(
        make_app):
    app = await make_app(qr=ConnectPolicy(timeout_s=0.1))
    instance = await app.new_instance()
    app.evolution.latency_s = 5.0
    started = time.monotonic()

    with pytest.raises(UpstreamTimeout):
        await app.connect.connect(ADMIN, instance.id)

    assert time.monotonic() - started < 0.6
    assert app.telemetry.errors["qr_timeout"] == 1
    assert app.flagged_path.error_rate(app.clock.monotonic()) == 1.0


async def test_connect_when_no_qr_ever_arrives_is_upstream_timeout(make_app):
    app = await make_app(qr=ConnectPolicy(timeout_s=0.1), evolution={"first_qr_s": 10.0})
    instance = await app.new_instance()

    async with app.worker():
        with pytest.raises(UpstreamTimeout):
            await app.connect.connect(ADMIN, instance.id)


async def test_connect_evolution_timeout_is_upstream_timeout(app):
    instance = await app.new_instance()
    app.evolution.fail_next("timeout")

    with pytest.raises(UpstreamTimeout):
        await app.connect.connect(ADMIN, instance.id)


async def test_qr_from_webhook_arriving_before_the_connect_answer_wins(make_app):
    # Evolution holds /connect on a closed instance (2 s in production, 0.5 s here) while the
    # first QR reaches us through QRCODE_UPDATED much sooner: API.md 4 says whichever
    # comes first.
    app = await make_app(qr=ConnectPolicy(timeout_s=2.0),
                         evolution={"first_qr_s": 0.02, "connect_wait_s": 0.5})
    instance = await app.new_instance()
    started = time.monotonic()

    async with app.worker():
        view = await app.connect.connect(ADMIN, instance.id)

    assert time.monotonic() - started < 0.25
    assert view.qr is not None
    assert view.qr.code == shown_code(app, instance)
