"""What follows an instance's move, whoever caused it: save, audit, tell the streams."""

from __future__ import annotations

from datetime import datetime

import attrs

from application.audit.drafts import audit_draft, instance_details
from application.ports.notifier import INSTANCE_TOPIC
from application.ports.qr_images import QrImages
from application.ports.unit_of_work import UnitOfWork
from domain.access import Actor
from domain.audit import AuditAction
from domain.instance import Instance, InstanceState, LifecycleSignal, Outcome, QrCode, Transition

_AUDITED_ARRIVALS = {
    InstanceState.CONNECTED: AuditAction.CONNECTION_ESTABLISHED,
    InstanceState.LOGGED_OUT: AuditAction.INSTANCE_LOGGED_OUT,
    InstanceState.DELETED: AuditAction.INSTANCE_DELETED,
}


def _action_for(transition: Transition) -> AuditAction | None:
    if transition.current in _AUDITED_ARRIVALS:
        return _AUDITED_ARRIVALS[transition.current]
    if transition.previous is InstanceState.CONNECTED:
        return AuditAction.CONNECTION_LOST
    return None


async def move(uow: UnitOfWork, instance: Instance, signal: LifecycleSignal, actor: Actor,
               at: datetime) -> Transition:
    """Apply ``signal``; on a real move, persist, audit and notify within ``uow``."""
    transition = instance.apply(signal, at)
    if transition.outcome is not Outcome.STALE:
        await uow.instances.save(instance)
    if transition.changed:
        action = _action_for(transition)
        if action is not None:
            details = instance_details(instance, previous_state=str(transition.previous),
                                       state_reason=instance.state_reason)
            await uow.audit.append(audit_draft(actor, instance.organization_id, action, at,
                                               details))
        uow.notify(INSTANCE_TOPIC.format(instance.id), {"kind": "state",
                                                        "state": str(instance.state)})
    return transition


async def show_qr(uow: UnitOfWork, instance: Instance, qr: QrCode, actor: Actor, at: datetime,
                  images: QrImages, evolution_time: datetime | None = None) -> Transition:
    """Keep a new QR; the first QR of a connect cycle is audited as ``qr_generated``. A QR
    Evolution sent without its image is kept with one drawn from its code."""
    if not qr.base64 and not instance.shows(qr.code):
        qr = attrs.evolve(qr, base64=images.png_data_url(qr.code))
    waited_since = instance.updated_at
    # A new instance already waits in awaiting_qr: its first QR is not a state change.
    first_of_cycle = instance.qr is None
    transition = instance.show_qr(qr, at, evolution_time)
    if transition.outcome in (Outcome.STALE, Outcome.ILLEGAL, Outcome.DUPLICATE):
        return transition
    await uow.instances.save(instance)
    if transition.changed or first_of_cycle:
        metrics = {"qr_generation_time": round((at - waited_since).total_seconds(), 3)}
        await uow.audit.append(audit_draft(actor, instance.organization_id,
                                           AuditAction.QR_GENERATED, at,
                                           instance_details(instance, performance_metrics=metrics)))
    uow.notify(INSTANCE_TOPIC.format(instance.id), {"kind": "qr", "state": str(instance.state)})
    return transition
