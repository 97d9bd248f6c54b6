"""QuickCreateService and ``Idempotency-Key``: the same key and body replay the first answer."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from application.errors import IdempotencyMismatch
from application.instances.quick_create import QuickCreate
from tests.unit.application.harness import ADMIN, ORG, OTHER_ORG


def create(org: str = ORG, **fields: Any) -> QuickCreate:
    return QuickCreate(organization_id=org, display_name="Recepción", **fields)


async def test_same_idempotency_key_and_body_replays_first_answer_with_one_create(app):
    command = create(idempotency_key="key-1", request_hash="hash-a")

    first = await app.quick_create.quick_create(ADMIN, command)
    replay = await app.quick_create.quick_create(ADMIN, command)

    assert replay == first
    assert len(app.store.instances) == 1
    assert app.evolution.calls["instance_create"] == 1


async def test_same_idempotency_key_with_other_body_is_idempotency_mismatch(app):
    await app.quick_create.quick_create(ADMIN, create(idempotency_key="key-1",
                                                      request_hash="hash-a"))

    with pytest.raises(IdempotencyMismatch):
        await app.quick_create.quick_create(ADMIN, create(idempotency_key="key-1",
                                                          request_hash="hash-b"))

    assert len(app.store.instances) == 1


async def test_concurrent_same_idempotency_key_share_one_create(app):
    command = create(idempotency_key="key-1", request_hash="hash-a")

    answers = await asyncio.gather(
        *(app.quick_create.quick_create(ADMIN, command) for _ in range(5)))

    assert all(a == answers[0] for a in answers)
    assert app.evolution.calls["instance_create"] == 1


async def test_concurrent_same_idempotency_key_with_other_body_is_idempotency_mismatch(app):
    app.evolution.latency_s = 0.02  # the first create is still in flight when the second comes

    outcomes = await asyncio.gather(
        app.quick_create.quick_create(ADMIN, create(idempotency_key="key-1",
                                                    request_hash="hash-a")),
        app.quick_create.quick_create(ADMIN, create(idempotency_key="key-1",
                                                    request_hash="hash-b")),
        return_exceptions=True)

    assert isinstance(outcomes[0], dict)
    assert isinstance(outcomes[1], IdempotencyMismatch), outcomes[1]


async def test_idempotency_key_is_forgotten_after_24_hours(app):
    command = create(idempotency_key="key-1", request_hash="hash-a")
    first = await app.quick_create.quick_create(ADMIN, command)

    app.clock.advance(24 * 3600 + 1)
    later = await app.quick_create.quick_create(ADMIN, command)

    assert later["instance"]["id"] != first["instance"]["id"]
    assert app.evolution.calls["instance_create"] == 2


async def test_idempotency_keys_are_scoped_per_org(app):
    command = dict(idempotency_key="key-1", request_hash="hash-a")

    mine = await app.quick_create.quick_create(ADMIN, create(ORG, **command))
    theirs = await app.quick_create.quick_create(ADMIN, create(OTHER_ORG, **command))

    assert mine["instance"]["id"] != theirs["instance"]["id"]
