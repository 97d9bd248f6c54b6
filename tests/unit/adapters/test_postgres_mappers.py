"""Each Postgres data mapper: entity -> row -> entity is lossless, and secrets leave encrypted."""

from __future__ import annotations

import json
import uuid

import attrs

from adapters.crypto.cipher import SecretCipher, generate_key
from adapters.postgres import (
    audit_log,
    flag_repository,
    idempotency_repository,
    inbox_writer,
    instance_repository,
    message_repository,
    organization_repository,
    webhook_inbox,
)
from application.ports.repositories import StoredResponse
from domain.audit import GENESIS_HASH, seal
from domain.organization import Organization
from domain.rollout import Flag, Variant
from tests.storage_builders import T0, a_draft, a_full_instance, a_message, an_event

CIPHER = SecretCipher(generate_key())


def _columns(sql: str, table: str) -> list[str]:
    """The column list of ``INSERT INTO table (...)``, to pair with a mapper's row tuple."""
    head = sql.split(f"INSERT INTO {table} (", 1)[1].split(")", 1)[0]
    return [column.strip().strip('"') for column in head.split(",")]


def _row(sql: str, table: str, values: tuple[object, ...]) -> dict[str, object]:
    columns = _columns(sql, table)
    assert len(columns) == len(values)
    return dict(zip(columns, values, strict=True))


def test_instance_round_trips_with_its_token_encrypted():
    instance = a_full_instance()
    row = _row(instance_repository.INSERT, "instances",
               instance_repository._to_row(instance, CIPHER))
    assert row["evolution_token"] != instance.evolution_token
    assert row["state"] == "connected"
    back = instance_repository._to_entity(row, CIPHER)
    assert attrs.asdict(back) == attrs.asdict(instance)


def test_instance_without_qr_or_token_maps_to_nulls():
    instance = a_full_instance()
    instance.qr, instance.evolution_token = None, None
    row = _row(instance_repository.INSERT, "instances",
               instance_repository._to_row(instance, CIPHER))
    assert row["qr_code"] is row["qr_expires_at"] is row["evolution_token"] is None
    assert instance_repository._to_entity(row, CIPHER).qr is None


def test_organization_round_trips_with_both_secrets_encrypted():
    org = Organization("clinic-42", "current", "previous", T0)
    row = _row(organization_repository.INSERT, "organizations",
               organization_repository._to_row(org, CIPHER))
    assert "current" not in row["webhook_secret"]
    assert "previous" not in row["previous_secret"]
    assert attrs.asdict(organization_repository._to_entity(row, CIPHER)) == attrs.asdict(org)


def test_flag_round_trips_through_json_variants_and_sorted_arrays():
    flag = Flag("f", True, 50, frozenset({"b", "a"}), frozenset({"c"}),
                (Variant("x", 1), Variant("y", 3)), T0, "admin")
    row = _row(flag_repository.UPSERT, "flags", flag_repository._to_row(flag))
    assert row["allow_orgs"] == ["a", "b"]
    assert json.loads(str(row["variants"])) == [{"name": "x", "weight": 1},
                                               {"name": "y", "weight": 3}]
    assert flag_repository._to_entity(row) == flag


def test_audit_event_round_trips_to_the_same_hashable_content():
    event = seal(a_draft("clinic-42", n=1e20, who=uuid.UUID(int=7)), uuid.uuid4(), GENESIS_HASH)
    row = _row(audit_log.INSERT, "audit_events", audit_log._to_row(event, seq=3))
    assert row["seq"] == 3
    back = audit_log._to_entity(row)
    assert back.details == {**event.details, "who": str(uuid.UUID(int=7))}
    assert seal(a_draft("clinic-42", n=1e20, who=str(uuid.UUID(int=7))), event.id,
                GENESIS_HASH).hash == back.hash


def test_inbox_event_round_trips_byte_for_byte_with_the_body_encrypted():
    event = an_event()
    row = _row(inbox_writer.ADMIT, "webhook_inbox", inbox_writer._to_row(event, CIPHER))
    assert row["next_attempt_at"] == event.received_at
    assert event.body not in row["body"]
    assert row["body"].startswith(b"wac1")
    assert webhook_inbox._to_entity(row, CIPHER) == event


def test_message_round_trips_with_text_encrypted_and_an_epoch_sort_key_when_undated():
    instance_id = uuid.uuid4()
    for message in (a_message(), a_message(at=None, text=None)):
        row = _row(message_repository.INSERT, "messages",
                   message_repository._to_row(instance_id, message, CIPHER))
        assert row["instance_id"] == instance_id
        assert row["sort_at"] == (message.timestamp or message_repository.keyset.EPOCH)
        assert row["text"] is None or "consulta" not in str(row["text"])
        assert message_repository._to_entity(row, CIPHER) == message


def test_stored_response_round_trips():
    response = StoredResponse("h", 201, {"qr": None, "items": [1, "a"]}, T0)
    values = ("scope", "key", *idempotency_repository._to_row(response))
    row = _row(idempotency_repository.INSERT, "idempotency_keys", values)
    assert idempotency_repository._to_entity(row) == response
