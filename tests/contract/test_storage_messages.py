"""MessageRepository contract: one row per (instance, message id), newest first."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest

from tests.storage_builders import T0, a_message


async def _upsert(backend, instance_id, *messages):
    async with backend.uow() as uow:
        added = [await uow.messages.upsert(instance_id, m) for m in messages]
        await uow.commit()
    return added


async def test_upsert_is_true_only_the_first_time_per_instance(backend):
    message, instance, other = a_message(), uuid.uuid4(), uuid.uuid4()
    assert await _upsert(backend, instance, message, message) == [True, False]
    assert await _upsert(backend, other, message) == [True]


async def test_set_status_updates_known_messages_only(backend):
    message, instance = a_message(), uuid.uuid4()
    await _upsert(backend, instance, message)
    async with backend.uow() as uow:
        assert await uow.messages.set_status(instance, message.id, "READ")
        assert not await uow.messages.set_status(instance, "unknown", "READ")
        page = await uow.messages.find(instance, 10, None)
    assert [(m.id, m.status) for m in page.items] == [(message.id, "READ")]


async def test_find_is_newest_first_with_undated_messages_last_across_pages(backend):
    instance = uuid.uuid4()
    ids = ["3EB0A", "3eb0a", "ABC", "abc", "0001", "Zz"]  # order by code point, not locale
    messages = [a_message(i, at=T0 + timedelta(seconds=n % 2)) for n, i in enumerate(ids)]
    messages += [a_message("undated-1", at=None), a_message("undated-2", at=None)]
    await _upsert(backend, instance, *messages)
    seen, cursor = [], None
    async with backend.uow() as uow:
        while True:
            page = await uow.messages.find(instance, 3, cursor)
            seen += page.items
            if (cursor := page.next_cursor) is None:
                break
    expected = sorted(messages, key=lambda m: (m.timestamp or T0 - timedelta(days=99999), m.id),
                      reverse=True)
    assert [m.id for m in seen] == [m.id for m in expected]
    assert seen[0] == expected[0]


@pytest.mark.integration
async def test_message_text_is_not_stored_in_clear(postgres_backend):
    backend = postgres_backend
    assert backend.raw_row is not None
    message, instance = a_message(text="meu CPF é 123"), uuid.uuid4()
    await _upsert(backend, instance, message)
    row = await backend.raw_row(
        "SELECT text FROM messages WHERE instance_id = $1 AND message_id = $2",
        instance, message.id)
    assert row["text"].startswith("wac1:")
    assert "CPF" not in row["text"]
