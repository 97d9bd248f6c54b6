"""Restore while Evolution is down, and the leader's backup and sync jobs, on the in-memory
store and the fake Evolution: backups taken on schedule keep only the retention count; the
report-only sync alerts while Evolution and the store drift apart."""

from __future__ import annotations

import pytest

from application.errors import UpstreamUnavailable
from application.ports.evolution import CreateInstanceRequest, WebhookRegistration
from tests.unit.application.harness import ADMIN, ORG, Harness


def _job(app: Harness, name: str):  # type: ignore[no-untyped-def]
    jobs = {job.name: job for job in app.container.periodic_jobs()}
    assert name in jobs, f"the leader has no {name} job: {sorted(jobs)}"
    return jobs[name]


async def test_scheduled_backups_keep_only_the_retention_count(app: Harness) -> None:
    await app.new_instance()
    backups = app.container.backups()
    taken = [await backups.take_scheduled(2) for _ in range(3)]
    listed = [item["id"] for item in (await backups.listing())["items"]]
    assert len(listed) == 2
    assert taken[0]["id"] not in listed
    created = app.audit_events("_platform", "backup_created")
    assert len(created) == 3
    assert created[0].actor_type == "system"


async def test_the_leader_runs_the_backup_and_sync_jobs_at_their_intervals(app: Harness) -> None:
    settings = app.container.settings()
    assert _job(app, "backup").interval_s == settings.backup_interval_s
    assert _job(app, "evolution_sync").interval_s == settings.sync_interval_s
    await _job(app, "backup").run()
    assert len((await app.container.backups().listing())["items"]) == 1


async def test_report_only_sync_alerts_on_drift_and_adopts_nothing(app: Harness) -> None:
    await app.new_instance()
    sync_job = _job(app, "evolution_sync")
    await sync_job.run()
    assert app.alerter.alerts == []
    await app.evolution.create_instance(CreateInstanceRequest(
        f"{ORG}-0000beef", "tok", WebhookRegistration("http://elsewhere/hook", {}, ())))
    await sync_job.run()
    assert [name for name, _ in app.alerter.alerts] == ["evolution_drift"]
    assert "1 only in Evolution" in app.alerter.alerts[0][1]
    assert f"{ORG}-0000beef" not in {i.evolution_name for i in app.store.instances.values()}


async def test_a_restore_while_evolution_is_down_changes_nothing_and_runs_again_later(
        app: Harness) -> None:
    instance = await app.new_instance()
    backup = await app.container.backups().create(ADMIN)
    app.evolution.sim.instances.pop(instance.evolution_name)  # Evolution lost it
    restore = app.container.restore()
    app.evolution.down = True
    with pytest.raises(UpstreamUnavailable):
        await restore.restore(ADMIN, backup["id"])
    assert app.audit_events("_platform", "backup_restored") == []
    app.evolution.down = False
    assert await restore.restore(ADMIN, backup["id"]) == {"restored": 1, "unchanged": 0,
                                                          "failed": []}
    assert instance.evolution_name in app.evolution.sim.instances
    assert app.instance(instance.id).state.value == "awaiting_qr"
    assert app.instance(instance.id).qr is None
