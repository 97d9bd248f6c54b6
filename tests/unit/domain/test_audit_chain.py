"""Audit hash chain (API.md section 8): any edit, deletion or reordering is detectable."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from typing import Any
from uuid import UUID

import attrs
import pytest

from domain.audit import (
    GENESIS_HASH,
    AuditAction,
    AuditDraft,
    AuditEvent,
    ChainVerdict,
    canonical,
    link_hash,
    seal,
    verify_chain,
)

T0 = datetime(2025, 10, 21, 12, 0, tzinfo=UTC)
CHAIN_LENGTH = 5
ACTIONS = (AuditAction.INSTANCE_CREATED, AuditAction.QR_GENERATED,
           AuditAction.CONNECTION_ESTABLISHED, AuditAction.FLAG_CHANGED,
           AuditAction.INSTANCE_DELETED)


def make_draft(i: int = 0, details: dict[str, Any] | None = None) -> AuditDraft:
    return AuditDraft(
        organization_id="clinic-42", action=ACTIONS[i % len(ACTIONS)], actor_id=f"user-{i}",
        actor_type="user", timestamp=T0 + timedelta(seconds=i), ip_address="203.0.113.7",
        user_agent="Mozilla/5.0",
        details=details if details is not None else {
            "instance_id": str(UUID(int=100 + i)), "instance_name": "Recepción",
            "performance_metrics": {"qr_generation_time": 0.25 * i, "api_response_time": 12},
        },
    )


def build_chain(length: int = CHAIN_LENGTH) -> list[AuditEvent]:
    events: list[AuditEvent] = []
    prev = GENESIS_HASH
    for i in range(length):
        event = seal(make_draft(i), UUID(int=i + 1), prev)
        events.append(event)
        prev = event.hash
    return events


# Tampered values that differ from whatever make_draft put there.
EDITS: dict[str, Any] = {
    "details": {"instance_id": "someone-else"},
    "actor_id": "intruder",
    "actor_type": "system",
    "timestamp": lambda event: event.timestamp + timedelta(microseconds=1),
    "action": "backup_restored",
    "organization_id": "clinic-43",
    "ip_address": "198.51.100.1",
    "user_agent": None,
}


def test_sealed_chain_verifies_with_every_event_checked() -> None:
    assert verify_chain(build_chain()) == ChainVerdict(True, CHAIN_LENGTH, None)


def test_empty_chain_is_valid_with_nothing_checked() -> None:
    assert verify_chain([]) == ChainVerdict(True, 0, None)


def test_first_event_links_to_the_genesis_hash_and_each_next_to_its_predecessor() -> None:
    events = build_chain()

    assert GENESIS_HASH == "0" * 64
    assert events[0].prev_hash == GENESIS_HASH
    for before, after in pairwise(events):
        assert after.prev_hash == before.hash


def test_hash_is_sha256_over_previous_hash_and_canonical_bytes() -> None:
    draft = make_draft()
    event = seal(draft, UUID(int=1), GENESIS_HASH)

    expected = hashlib.sha256(GENESIS_HASH.encode() + canonical(UUID(int=1), draft)).hexdigest()
    assert event.hash == expected == link_hash(GENESIS_HASH, canonical(UUID(int=1), draft))
    assert len(event.hash) == 64


def test_sealed_event_keeps_every_draft_field_and_stores_action_as_text() -> None:
    draft = make_draft(2)
    event = seal(draft, UUID(int=9), "ab" * 32)

    assert event.id == UUID(int=9)
    assert event.action == "connection_established"
    assert (event.organization_id, event.actor_id, event.actor_type, event.timestamp,
            event.ip_address, event.user_agent, event.details) == (
        draft.organization_id, draft.actor_id, draft.actor_type, draft.timestamp,
        draft.ip_address, draft.user_agent, draft.details)
    assert event.prev_hash == "ab" * 32


@pytest.mark.parametrize("position", range(CHAIN_LENGTH))
@pytest.mark.parametrize("field", sorted(EDITS))
def test_editing_any_field_of_any_event_is_detected_at_that_event(field: str,
                                                                  position: int) -> None:
    events = build_chain()
    edit = EDITS[field]
    value = edit(events[position]) if callable(edit) else edit
    assert getattr(events[position], field) != value
    events[position] = attrs.evolve(events[position], **{field: value})

    verdict = verify_chain(events)

    assert verdict == ChainVerdict(False, position + 1, events[position].id)


@pytest.mark.parametrize("field", ["hash", "prev_hash"])
def test_editing_a_stored_hash_is_detected_at_that_event(field: str) -> None:
    events = build_chain()
    events[2] = attrs.evolve(events[2], **{field: "f" * 64})

    assert verify_chain(events) == ChainVerdict(False, 3, events[2].id)


def test_edit_resealed_in_place_is_still_detected_at_the_next_event() -> None:
    events = build_chain()
    forged = seal(make_draft(2, {"instance_id": "forged"}), events[2].id, events[2].prev_hash)
    events[2] = forged

    assert verify_chain(events) == ChainVerdict(False, 4, events[3].id)


def test_deleting_a_middle_event_is_detected_at_the_next_one() -> None:
    events = build_chain()
    del events[2]

    assert verify_chain(events) == ChainVerdict(False, 3, UUID(int=4))


def test_deleting_the_first_event_is_detected_at_the_new_first() -> None:
    events = build_chain()[1:]

    assert verify_chain(events) == ChainVerdict(False, 1, UUID(int=2))


def test_reordering_two_events_is_detected() -> None:
    events = build_chain()
    events[1], events[2] = events[2], events[1]

    assert verify_chain(events) == ChainVerdict(False, 2, UUID(int=3))


def test_verification_reads_a_one_shot_iterator() -> None:
    assert verify_chain(iter(build_chain())) == ChainVerdict(True, CHAIN_LENGTH, None)


# canonical ------------------------------------------------------------------------------------

def test_canonical_gives_the_same_bytes_for_the_same_input() -> None:
    assert canonical(UUID(int=1), make_draft(1)) == canonical(UUID(int=1), make_draft(1))


def test_canonical_ignores_key_order_of_details_at_every_depth() -> None:
    a = make_draft(details={"a": 1, "nested": {"x": 1, "y": [1, 2]}, "z": None})
    b = make_draft(details={"z": None, "nested": {"y": [1, 2], "x": 1}, "a": 1})

    assert canonical(UUID(int=1), a) == canonical(UUID(int=1), b)


def test_canonical_of_draft_and_of_its_sealed_event_match() -> None:
    draft = make_draft(3)
    event = seal(draft, UUID(int=7), GENESIS_HASH)

    assert canonical(UUID(int=7), draft) == canonical(event.id, event)


def test_canonical_is_compact_sorted_utf8_json_of_every_field_but_the_hashes() -> None:
    raw = canonical(UUID(int=1), make_draft(0))
    body = json.loads(raw)

    assert list(body) == sorted(body)
    assert set(body) == {"id", "organization_id", "action", "actor_id", "actor_type",
                         "timestamp", "ip_address", "user_agent", "details"}
    assert body["id"] == str(UUID(int=1))
    assert body["action"] == "instance_created"
    assert body["timestamp"] == "2025-10-21T12:00:00.000000+00:00"
    assert b", " not in raw
    assert b": " not in raw
    assert "Recepción".encode() in raw


@pytest.mark.parametrize(
    ("left", "right"),
    [
        ({"n": 1}, {"n": "1"}),
        ({"n": 1}, {"n": 2}),
        ({"n": 1}, {"m": 1}),
        ({}, {"n": None}),
    ],
)
def test_canonical_distinguishes_different_details(left: dict[str, Any],
                                                   right: dict[str, Any]) -> None:
    assert canonical(UUID(int=1), make_draft(details=left)) != canonical(
        UUID(int=1), make_draft(details=right))


def test_canonical_covers_the_event_id() -> None:
    draft = make_draft()

    assert canonical(UUID(int=1), draft) != canonical(UUID(int=2), draft)
    assert seal(draft, UUID(int=1), GENESIS_HASH).hash != seal(draft, UUID(int=2),
                                                               GENESIS_HASH).hash


def test_same_draft_after_a_different_predecessor_gets_a_different_hash() -> None:
    draft = make_draft()

    assert seal(draft, UUID(int=1), GENESIS_HASH).hash != seal(draft, UUID(int=1),
                                                               "1" * 64).hash
