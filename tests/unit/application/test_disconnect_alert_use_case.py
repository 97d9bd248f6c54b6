"""An instance that a webhook disconnects is alerted (per instance, after the commit), and its
reconnection recovers that alert."""

from __future__ import annotations

from tests.unit.application.evolution_bodies import connection_update
from tests.unit.application.test_webhook_processing_use_case import at, deliver_and_process


async def test_a_disconnect_by_webhook_alerts_for_that_instance_and_a_reconnect_recovers(app):
    instance = await app.new_instance()
    key = str(instance.id)

    await deliver_and_process(
        app, connection_update(instance.evolution_name, "open", date_time=at(1)),
        connection_update(instance.evolution_name, "close", status_reason=428,
                          date_time=at(5)))
    assert [k for k in app.alerter.keyed if k[1] == "instance_disconnected"] == [
        ("recover", "instance_disconnected", key), ("alert", "instance_disconnected", key)]
    assert key in app.alerter.alerts[-1][1]

    await deliver_and_process(
        app, connection_update(instance.evolution_name, "open", date_time=at(9)))
    assert app.alerter.keyed[-1] == ("recover", "instance_disconnected", key)
