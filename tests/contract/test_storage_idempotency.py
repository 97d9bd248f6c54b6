"""IdempotencyRepository contract."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest

from application.errors import Conflict
from application.ports.repositories import StoredResponse
from tests.storage_builders import T0

RESPONSE = StoredResponse("sha256:abc", 201, {"instance": {"id": "1"}, "qr": None}, T0)
WINDOW = timedelta(hours=24)
LIVE_AFTER = T0 - WINDOW


async def test_a_stored_response_is_replayed_within_its_window(backend):
    key = uuid.uuid4().hex
    async with backend.uow() as uow:
        await uow.idempotency.put("quick-create:org-1", key, RESPONSE, LIVE_AFTER)
        await uow.commit()
    async with backend.uow() as uow:
        assert await uow.idempotency.get("quick-create:org-1", key, T0) == RESPONSE
        assert await uow.idempotency.get("quick-create:org-2", key, T0) is None
        late = T0 + timedelta(microseconds=1)
        assert await uow.idempotency.get("quick-create:org-1", key, late) is None


async def test_a_second_put_for_the_same_key_is_a_conflict_and_keeps_the_first(backend):
    key = uuid.uuid4().hex
    async with backend.uow() as uow:
        await uow.idempotency.put("s", key, RESPONSE, LIVE_AFTER)
        with pytest.raises(Conflict):
            await uow.idempotency.put("s", key, StoredResponse("other", 200, {}, T0), LIVE_AFTER)
        assert await uow.idempotency.get("s", key, T0) == RESPONSE


async def test_an_expired_response_is_replaced_so_the_key_can_be_used_again(backend):
    key = uuid.uuid4().hex
    later = StoredResponse("sha256:new", 201, {"instance": {"id": "2"}}, T0 + WINDOW * 2)
    async with backend.uow() as uow:
        await uow.idempotency.put("s", key, RESPONSE, LIVE_AFTER)
        await uow.commit()
    async with backend.uow() as uow:
        await uow.idempotency.put("s", key, later, later.created_at - WINDOW)
        await uow.commit()
    async with backend.uow() as uow:
        assert await uow.idempotency.get("s", key, T0) == later
