"""WebhookIntakeService.receive: each way Evolution may authenticate, and what a refusal leaves."""

from __future__ import annotations

import time

import pytest

from adapters.security.jwt_codec import PyJwtCodec
from application.errors import Unauthenticated
from application.webhooks.intake import IntakePolicy, WebhookDelivery
from tests.unit.application.evolution_bodies import envelope, hmac_headers, qrcode_updated
from tests.unit.application.harness import ADMIN, ORG

JWT = PyJwtCodec()


def bearer(secret: str, expires_in_s: float) -> dict[str, str]:
    token = JWT.encode({"exp": int(time.time() + expires_in_s), "app": "evolution"}, secret)
    return {"authorization": f"Bearer {token}"}


async def test_hmac_of_the_raw_body_with_org_secret_is_accepted(app):
    instance = await app.new_instance()
    body = qrcode_updated(instance.evolution_name)

    await app.webhook(body, ORG, hmac_headers(app.secret(), body))

    assert len(app.inbox()) == 1


async def test_hmac_of_another_body_is_unauthenticated(app):
    instance = await app.new_instance()
    body = qrcode_updated(instance.evolution_name, "2@one")
    signed_for_other = hmac_headers(app.secret(), qrcode_updated(instance.evolution_name, "2@x"))

    with pytest.raises(Unauthenticated):
        await app.webhook(body, ORG, signed_for_other)

    assert app.inbox() == []


async def test_bearer_jwt_signed_with_org_secret_is_accepted(app):
    instance = await app.new_instance()

    await app.webhook(qrcode_updated(instance.evolution_name), ORG, bearer(app.secret(), 600))

    assert len(app.inbox()) == 1


async def test_bearer_jwt_expired_within_leeway_is_accepted(app):
    # Evolution signs once with a 10 minute expiry and reuses the token for ~20 minutes.
    instance = await app.new_instance()

    await app.webhook(qrcode_updated(instance.evolution_name), ORG, bearer(app.secret(), -1200))

    assert len(app.inbox()) == 1


async def test_bearer_jwt_expired_beyond_leeway_is_unauthenticated(app):
    instance = await app.new_instance()

    with pytest.raises(Unauthenticated):
        await app.webhook(qrcode_updated(instance.evolution_name), ORG,
                          bearer(app.secret(), -(app.config.intake.jwt_leeway_s + 60)))

    assert app.inbox() == []


async def test_bearer_jwt_signed_with_another_secret_is_unauthenticated(app):
    instance = await app.new_instance()

    with pytest.raises(Unauthenticated):
        await app.webhook(qrcode_updated(instance.evolution_name), ORG,
                          bearer("not-the-secret-of-this-organization", 600))


async def test_apikey_header_equal_to_org_secret_is_accepted(app):
    instance = await app.new_instance()

    await app.webhook(qrcode_updated(instance.evolution_name), ORG, {"apikey": app.secret()})

    assert len(app.inbox()) == 1


async def test_body_apikey_equal_to_instance_token_is_accepted(app):
    instance = await app.new_instance()
    body = envelope("qrcode.updated", instance.evolution_name, {},
                    apikey=instance.evolution_token)

    await app.webhook(body, ORG, headers={})

    assert len(app.inbox()) == 1


async def test_body_apikey_of_another_instance_is_unauthenticated(app):
    instance = await app.new_instance()
    sibling = await app.new_instance()
    body = envelope("qrcode.updated", instance.evolution_name, {},
                    apikey=sibling.evolution_token)

    with pytest.raises(Unauthenticated):
        await app.webhook(body, ORG, headers={})


async def test_fake_evolutions_own_deliveries_signed_with_jwt_key_are_accepted(make_app):
    app = await make_app(evolution={"expose_apikey": False})  # only the Bearer JWT remains
    instance = await app.new_instance()

    async with app.worker():
        await app.connect.connect(ADMIN, instance.id)
    await app.evolution.wait_deliveries()

    assert app.deliveries
    assert {status for _, status in app.deliveries} == {200}
    assert {r.event.event for r in app.inbox()} == {"CONNECTION_UPDATE", "QRCODE_UPDATED"}


async def test_previous_secret_is_valid_during_grace_and_rejected_after(app):
    instance = await app.new_instance()
    old = app.secret()
    await app.organizations.rotate(ADMIN, ORG)
    first = qrcode_updated(instance.evolution_name, "2@one")
    late = qrcode_updated(instance.evolution_name, "2@two")

    await app.webhook(first, ORG, hmac_headers(old, first))
    app.clock.advance(app.config.grace_s + 1)
    with pytest.raises(Unauthenticated):
        await app.webhook(late, ORG, hmac_headers(old, late))
    await app.webhook(late, ORG, hmac_headers(app.secret(), late))

    assert [r.event.body for r in app.inbox()] == [first, late]


async def test_bad_signature_is_unauthenticated_not_stored_and_audited(app):
    instance = await app.new_instance()
    body = qrcode_updated(instance.evolution_name)
    delivery = WebhookDelivery(body, {"x-evolution-signature": "sha256=" + "0" * 64,
                                      "user-agent": "curl/8.5"}, ORG, "192.0.2.9")

    with pytest.raises(Unauthenticated):
        await app.intake.receive(delivery)

    assert app.inbox() == []
    [event] = app.audit_events(ORG, "webhook_rejected")
    assert (event.actor_id, event.actor_type) == ("unauthenticated", "system")
    assert (event.ip_address, event.user_agent) == ("192.0.2.9", "curl/8.5")
    assert event.details == {"event": "QRCODE_UPDATED", "instance_name": instance.evolution_name}
    assert app.telemetry.received == [("QRCODE_UPDATED", "rejected")]


async def test_a_flood_of_rejections_writes_one_audit_event_per_interval(app):
    instance = await app.new_instance()
    body = qrcode_updated(instance.evolution_name)

    for _ in range(10):
        with pytest.raises(Unauthenticated):
            await app.webhook(body, ORG, headers={})
    assert len(app.audit_events(ORG, "webhook_rejected")) == 1

    app.clock.advance(app.config.intake.rejection_audit_interval_s)
    with pytest.raises(Unauthenticated):
        await app.webhook(body, ORG, headers={})
    assert len(app.audit_events(ORG, "webhook_rejected")) == 2
    assert app.inbox() == []


async def test_dev_bypass_accepts_unsigned_deliveries(make_app):
    app = await make_app(intake=IntakePolicy(dev_bypass=True))
    instance = await app.new_instance()

    await app.webhook(qrcode_updated(instance.evolution_name), ORG, headers={})

    assert len(app.inbox()) == 1
