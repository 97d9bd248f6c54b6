"""WebhookProcessor.process_due: each acknowledged event's effect, once, in bounded time."""

from __future__ import annotations

import asyncio
import time
from datetime import datetime, timedelta

from adapters.memory import InMemoryUnitOfWork
from adapters.qr.images import SegnoQrImages
from application.ports.inbox import InboxEvent, InboxStatus
from application.webhooks.processing import ProcessingPolicy, WebhookProcessor
from domain.instance import InstanceState
from tests.fakes.unit_of_work import StallingUnitOfWork
from tests.unit.application.evolution_bodies import (
    PHONE,
    connection_update,
    envelope,
    message_update,
    message_upsert,
    qrcode_updated,
)
from tests.unit.application.harness import ADMIN, ORG

QR_IMAGES = SegnoQrImages()


def at(seconds: int) -> str:
    """An Evolution ``date_time`` (local time mislabelled Z), ``seconds`` after 09:00."""
    return f"2026-01-05T09:00:{seconds:02d}.000Z"


async def deliver_and_process(app, *bodies: bytes) -> None:
    for body in bodies:
        await app.webhook(body)
        await app.processor.process_due()


async def put_in_inbox(app, body: bytes, instance_name: str, event: str) -> InboxEvent:
    """An event as some earlier intake stored it, bypassing today's checks."""
    stored = InboxEvent(app.ids.uuid(), ORG, instance_name, event, f"test:{body!r}", body,
                        app.clock.now())
    await app.container.inbox_writer().admit(stored)
    return stored


def outcomes(app) -> list[str | None]:
    return [row.outcome for row in app.inbox()]


async def test_qrcode_updated_stores_qr_and_audits_qr_generated_once(app):
    # Straight after create the instance already awaits its QR: the first QR is still news.
    instance = await app.new_instance()

    await deliver_and_process(
        app, qrcode_updated(instance.evolution_name, "2@one", date_time=at(1)),
        qrcode_updated(instance.evolution_name, "2@two", date_time=at(2)))

    stored = app.instance(instance.id)
    assert stored.state is InstanceState.AWAITING_QR
    assert stored.qr is not None
    assert stored.qr.code == "2@two"
    assert stored.qr.issued_at == app.clock.now()
    assert len(app.audit_events(ORG, "qr_generated")) == 1


async def test_first_qr_after_connecting_is_audited_with_its_generation_time(app):
    instance = await app.new_instance()
    await deliver_and_process(app, connection_update(instance.evolution_name, "connecting",
                                                     date_time=at(1)))
    app.clock.advance(1.5)

    await deliver_and_process(app, qrcode_updated(instance.evolution_name, date_time=at(3)))

    [event] = app.audit_events(ORG, "qr_generated")
    assert event.actor_id == "evolution"
    assert event.details["performance_metrics"] == {"qr_generation_time": 1.5}
    assert outcomes(app) == ["applied", "applied"]


async def test_connection_open_marks_connected_with_phone_and_profile_and_audits(app):
    instance = await app.new_instance()
    await deliver_and_process(app, qrcode_updated(instance.evolution_name, date_time=at(1)))

    await deliver_and_process(app, connection_update(
        instance.evolution_name, "open", profile_name="Clínica Sol", date_time=at(9)))

    stored = app.instance(instance.id)
    assert stored.state is InstanceState.CONNECTED
    assert (stored.phone_number, stored.profile_name) == (PHONE, "Clínica Sol")
    assert stored.connected_at == app.clock.now()
    assert stored.qr is None
    [event] = app.audit_events(ORG, "connection_established")
    assert (event.actor_id, event.details["previous_state"]) == ("evolution", "awaiting_qr")


async def test_older_connecting_after_open_does_not_move_the_state_back(app):
    instance = await app.new_instance()

    await deliver_and_process(
        app, connection_update(instance.evolution_name, "open", date_time=at(5)),
        connection_update(instance.evolution_name, "connecting", date_time=at(1)))

    assert app.instance(instance.id).state is InstanceState.CONNECTED
    assert outcomes(app) == ["applied", "stale"]


async def test_newer_close_after_open_disconnects_with_reason_and_audits_connection_lost(app):
    instance = await app.new_instance()

    await deliver_and_process(
        app, connection_update(instance.evolution_name, "open", date_time=at(5)),
        connection_update(instance.evolution_name, "close", status_reason=401,
                          date_time=at(8)))

    stored = app.instance(instance.id)
    assert (stored.state, stored.state_reason) == (InstanceState.DISCONNECTED, "logged_out")
    assert len(app.audit_events(ORG, "connection_lost")) == 1


async def test_logout_instance_marks_logged_out_and_audits(app):
    instance = await app.new_instance()

    await deliver_and_process(app, envelope("logout.instance", instance.evolution_name))

    assert app.instance(instance.id).state is InstanceState.LOGGED_OUT
    assert len(app.audit_events(ORG, "instance_logged_out")) == 1


async def test_remove_instance_marks_deleted_and_audits(app):
    instance = await app.new_instance()

    await deliver_and_process(app, envelope("remove.instance", instance.evolution_name))

    stored = app.instance(instance.id)
    assert (stored.state, stored.state_reason) == (InstanceState.DELETED, "removed_in_evolution")
    assert len(app.audit_events(ORG, "instance_deleted")) == 1


async def test_illegal_transition_is_ignored_and_the_event_completed(app):
    instance = await app.new_instance()

    await deliver_and_process(
        app, envelope("remove.instance", instance.evolution_name, date_time=at(1)),
        connection_update(instance.evolution_name, "open", date_time=at(2)))

    assert app.instance(instance.id).state is InstanceState.DELETED
    assert outcomes(app) == ["applied", "illegal"]
    assert {row.event.status for row in app.inbox()} == {InboxStatus.DONE}


async def test_message_upsert_is_stored_once_even_when_processed_twice(app):
    instance = await app.new_instance()
    body = message_upsert(instance.evolution_name, "3EB0A1", "Hola, quiero una cita")
    for webhook_id in ("delivery-1", "delivery-2"):  # two deliveries, two inbox rows
        headers = {"apikey": app.secret(), "webhook-id": webhook_id}
        await app.webhook(body, headers=headers)

    await app.processor.process_due()

    assert outcomes(app) == ["stored", "duplicate"]
    page = await app.instances.messages(ADMIN, instance.id, 10, None)
    assert page["items"] == [{
        "id": "3EB0A1", "remote_jid": f"{PHONE}@s.whatsapp.net", "from_me": False,
        "push_name": "Ana", "type": "conversation", "text": "Hola, quiero una cita",
        "timestamp": "2026-01-05T12:00:00.000Z", "status": "DELIVERY_ACK"}]


async def test_message_update_sets_the_delivery_status(app):
    instance = await app.new_instance()

    await deliver_and_process(app, message_upsert(instance.evolution_name, "3EB0A1"),
                              message_update(instance.evolution_name, "3EB0A1", "READ"),
                              message_update(instance.evolution_name, "3EB0FF", "READ"))

    assert app.store.messages[(instance.id, "3EB0A1")].status == "READ"
    assert outcomes(app) == ["stored", "updated", "unknown_message"]


async def test_event_for_an_unknown_instance_completes_as_unknown_instance(app):
    await app.new_instance()
    ghost = f"{ORG}-deadbeef"
    await put_in_inbox(app, qrcode_updated(ghost), ghost, "QRCODE_UPDATED")

    assert await app.processor.process_due() == 1

    [row] = app.inbox()
    assert (row.event.status, row.outcome) == (InboxStatus.DONE, "unknown_instance")


async def test_poisoned_event_is_retried_with_backoff_then_parked_dead_and_alerted(app):
    instance = await app.new_instance()
    poisoned = await put_in_inbox(app, b"{truncated", instance.evolution_name, "QRCODE_UPDATED")
    healthy = await app.webhook(qrcode_updated(instance.evolution_name))
    backoff = app.config.processing.backoff_s

    def row():
        return app.store.inbox[poisoned.id]

    assert await app.processor.process_due() == 2
    assert app.store.inbox[healthy.event_id].event.status is InboxStatus.DONE
    assert (row().event.status, row().event.attempts) == (InboxStatus.PENDING, 1)
    assert row().next_attempt_at == app.clock.now() + timedelta(seconds=backoff)
    assert row().last_error.startswith("MalformedJson")
    assert await app.processor.process_due() == 0  # not due yet

    app.clock.advance(backoff)
    assert await app.processor.process_due() == 1
    assert row().next_attempt_at == app.clock.now() + timedelta(seconds=2 * backoff)
    assert app.alerter.alerts == []

    app.clock.advance(2 * backoff)
    assert await app.processor.process_due() == 1
    assert (row().event.status, row().event.attempts) == (InboxStatus.DEAD, 3)
    assert app.alerter.names == ["webhook_dead_lettered"]
    assert str(poisoned.id) in app.alerter.alerts[0][1]

    app.clock.advance(3600)
    assert await app.processor.process_due() == 0
    assert app.telemetry.errors["webhook_processing"] == 3


async def test_processing_an_event_is_bounded_by_the_timeout(app):
    instance = await app.new_instance()
    admission = await app.webhook(qrcode_updated(instance.evolution_name))
    store_answers = asyncio.Event()
    stalled = WebhookProcessor(lambda: StallingUnitOfWork(app.store, app.notifier, store_answers),
                               app.clock, app.telemetry, app.alerter,
                               ProcessingPolicy(timeout_s=0.05, max_attempts=3), QR_IMAGES)
    started = time.monotonic()

    assert await stalled.process_due() == 1

    assert time.monotonic() - started < 0.5
    row = app.store.inbox[admission.event_id]
    assert (row.event.status, row.event.attempts) == (InboxStatus.PENDING, 1)
    assert row.last_error.startswith("TimeoutError")
    assert app.telemetry.processed[-1][:2] == ("QRCODE_UPDATED", "failed")

    store_answers.set()
    app.clock.advance(1)
    assert await stalled.process_due() == 1
    assert app.instance(instance.id).qr is not None


async def test_scan_at_evolution_ends_connected_with_the_whole_audit_trail(app):
    instance = await app.new_instance()
    async with app.worker():
        await app.connect.connect(ADMIN, instance.id)

    app.evolution.scan(instance.evolution_name, "5511912345678", "Clínica Sol")
    await app.settle()

    stored = app.instance(instance.id)
    assert (stored.state, stored.phone_number) == (InstanceState.CONNECTED, "5511912345678")
    assert [e.action for e in app.audit_events(ORG)] == [
        "instance_created", "qr_generated", "connection_established"]
    assert isinstance(stored.last_event_at, datetime)


async def test_one_instances_lifecycle_events_apply_in_the_order_received(app):
    """On Postgres the transactions of one batch race for the instance's row lock; the older
    QR must not lose that race and then be dropped as stale behind the newer one."""
    instance = await app.new_instance()
    older = await put_in_inbox(app, qrcode_updated(instance.evolution_name, "2@older",
                                                   date_time=at(1)),
                               instance.evolution_name, "QRCODE_UPDATED")
    app.clock.advance(1)
    newer = await put_in_inbox(app, qrcode_updated(instance.evolution_name, "2@newer",
                                                   date_time=at(2)),
                               instance.evolution_name, "QRCODE_UPDATED")
    opened = 0

    class SlowFirstApply(InMemoryUnitOfWork):
        async def __aenter__(self):
            nonlocal opened
            opened += 1
            if opened == 2:  # the first after the claim: the older event's transaction
                await asyncio.sleep(0.05)
            return await super().__aenter__()

    processor = WebhookProcessor(lambda: SlowFirstApply(app.store, app.notifier), app.clock,
                                 app.telemetry, app.alerter, ProcessingPolicy(), QR_IMAGES)
    assert await processor.process_due() == 2

    rows = {row.event.id: row for row in app.inbox()}
    assert rows[older.id].outcome != "stale"
    assert rows[newer.id].outcome != "stale"
    assert app.instance(instance.id).qr.code == "2@newer"


async def test_processed_events_are_purged_after_the_retention_in_batches(app):
    instance = await app.new_instance()
    for n in range(25):
        await app.webhook(message_upsert(instance.evolution_name, f"K{n}"))
    dead = await put_in_inbox(app, b"not json", instance.evolution_name, "MESSAGES_UPSERT")
    processor = WebhookProcessor(app.uow, app.clock, app.telemetry, app.alerter,
                                 ProcessingPolicy(batch=1, max_attempts=1, retention_s=3600),
                                 QR_IMAGES)
    while await processor.process_due():
        pass
    assert await processor.purge_processed() == 0  # none is an hour old yet

    app.clock.advance(3601)
    assert await processor.purge_processed() == 25  # two rounds of at most 20

    assert [(row.event.id, row.event.status) for row in app.inbox()] == [
        (dead.id, InboxStatus.DEAD)]
    async with app.uow() as uow:
        assert len((await uow.messages.find(instance.id, 100, None)).items) == 25
