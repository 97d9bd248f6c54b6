"""WebhookIntakeService.receive: store before acknowledging, dedupe, route, refuse bad input
(API.md 5a). Authentication has its own module."""

from __future__ import annotations

import pytest

from application.errors import (
    MalformedJson,
    NotFound,
    RateLimited,
    ValidationFailed,
)
from application.ports.inbox import InboxStatus
from application.webhooks.intake import IntakePolicy
from tests.unit.application.evolution_bodies import (
    envelope,
    hmac_headers,
    message_update,
    message_upsert,
    qrcode_updated,
)
from tests.unit.application.harness import ADMIN, ORG, OTHER_ORG


async def test_hmac_signed_delivery_is_stored_before_it_is_acknowledged(app):
    instance = await app.new_instance()
    body = qrcode_updated(instance.evolution_name)

    admission = await app.webhook(body, ORG, hmac_headers(app.secret(), body))

    [row] = app.inbox()
    assert admission.duplicate is False
    assert admission.event_id == row.event.id
    assert (row.event.organization_id, row.event.instance_name, row.event.event) == (
        ORG, instance.evolution_name, "QRCODE_UPDATED")
    assert row.event.body == body
    assert row.event.status is InboxStatus.PENDING
    assert app.telemetry.received == [("QRCODE_UPDATED", "accepted")]


async def test_redelivery_with_same_webhook_id_is_duplicate_and_stored_once(app):
    instance = await app.new_instance()
    first = qrcode_updated(instance.evolution_name, "2@one")
    retry = qrcode_updated(instance.evolution_name, "2@one", date_time="2026-01-05T09:00:07Z")

    one = await app.webhook(first, ORG, {**hmac_headers(app.secret(), first), "webhook-id": "w1"})
    two = await app.webhook(retry, ORG, {**hmac_headers(app.secret(), retry), "webhook-id": "w1"})

    assert (one.duplicate, two.duplicate) == (False, True)
    assert two.event_id == one.event_id
    assert len(app.inbox()) == 1
    assert app.telemetry.received[-1] == ("QRCODE_UPDATED", "duplicate")


async def test_same_message_key_id_is_duplicate_even_with_another_body(app):
    instance = await app.new_instance()

    one = await app.webhook(message_upsert(instance.evolution_name, "3EB0A1"))
    two = await app.webhook(message_upsert(instance.evolution_name, "3EB0A1",
                                           date_time="2026-01-05T09:01:00.000Z"))
    other = await app.webhook(message_upsert(instance.evolution_name, "3EB0B2"))

    assert (one.duplicate, two.duplicate, other.duplicate) == (False, True, False)
    assert len(app.inbox()) == 2


async def test_identical_bodies_without_ids_are_duplicates(app):
    instance = await app.new_instance()
    body = qrcode_updated(instance.evolution_name)

    await app.webhook(body)
    again = await app.webhook(body)

    assert again.duplicate is True
    assert len(app.inbox()) == 1


async def test_each_status_of_one_message_is_a_distinct_event(app):
    instance = await app.new_instance()

    for status in ("SERVER_ACK", "DELIVERY_ACK", "READ"):
        assert not (await app.webhook(message_update(instance.evolution_name, "3EB0A1",
                                                     status))).duplicate

    assert len(app.inbox()) == 3


async def test_unknown_organization_is_not_found(app):
    instance = await app.new_instance(ORG)
    body = qrcode_updated(instance.evolution_name)

    with pytest.raises(NotFound):
        await app.webhook(body, "no-such-clinic", hmac_headers(app.secret(ORG), body))

    assert app.inbox() == []


async def test_unknown_instance_is_not_found(app):
    await app.new_instance(ORG)

    with pytest.raises(NotFound):
        await app.webhook(qrcode_updated(f"{ORG}-ffffffff"))


async def test_instance_of_another_organization_is_not_found_under_this_path(app):
    await app.new_instance(ORG)
    theirs = await app.new_instance(OTHER_ORG)
    body = qrcode_updated(theirs.evolution_name)

    with pytest.raises(NotFound):
        await app.webhook(body, ORG, hmac_headers(app.secret(ORG), body))


async def test_legacy_route_without_org_takes_it_from_the_instance(app):
    instance = await app.new_instance(ORG)
    body = qrcode_updated(instance.evolution_name)

    await app.webhook(body, None, hmac_headers(app.secret(ORG), body))

    assert [r.event.organization_id for r in app.inbox()] == [ORG]


async def test_events_for_a_deleted_instance_are_still_accepted(app):
    instance = await app.new_instance()
    await app.instances.delete(ADMIN, instance.id)

    admission = await app.webhook(envelope("remove.instance", instance.evolution_name))

    assert admission.duplicate is False


@pytest.mark.parametrize("body", [b"{not json", b"\xff\xfe\x00", b""])
async def test_body_that_is_not_json_is_malformed(app, body):
    await app.new_instance()

    with pytest.raises(MalformedJson):
        await app.webhook(body, ORG, headers={})


@pytest.mark.parametrize(("body", "field"), [
    (b'{"instance": "x", "data": {}}', "event"),
    (b'{"event": "qrcode.updated", "instance": ""}', "instance"),
    (b'{"event": "qrcode.updated", "instance": "x", "date_time": "yesterday"}', "date_time"),
    (b'[1, 2, 3]', "_schema"),
])
async def test_body_that_is_not_an_envelope_is_validation_failed(app, body, field):
    await app.new_instance()

    with pytest.raises(ValidationFailed) as raised:
        await app.webhook(body, ORG, headers={})

    assert field in raised.value.errors


async def test_deliveries_past_the_org_rate_are_rate_limited(make_app):
    app = await make_app(intake=IntakePolicy(rate_per_org=2))
    instance = await app.new_instance()
    bodies = [qrcode_updated(instance.evolution_name, f"2@{n}") for n in range(4)]

    await app.webhook(bodies[0])
    await app.webhook(bodies[1])
    with pytest.raises(RateLimited) as raised:
        await app.webhook(bodies[2])
    app.clock.advance(1)
    await app.webhook(bodies[3])

    assert raised.value.retry_after_s >= 1
    assert [r.event.body for r in app.inbox()] == [bodies[0], bodies[1], bodies[3]]
