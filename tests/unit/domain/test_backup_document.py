"""Backup documents (API.md section 9): checksummed, versioned, read by the version that wrote
them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from domain.backup import (
    SCHEMA_VERSION,
    BackedUpInstance,
    BackedUpOrganization,
    Backup,
    BackupRefused,
    Step,
    oldest_beyond,
    read_document,
    restore_step,
    write_document,
)

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"


def _backup() -> Backup:
    return Backup(
        id="b-1", created_at="2026-12-01T00:00:00.000Z", schema_version=SCHEMA_VERSION,
        instances=(BackedUpInstance("i-1", "clinic-a", "clinic-a-0a1b2c3d", "Recepción", None,
                                    "connected", "2026-11-30T10:00:00.000Z", "wac1:k:sealed"),),
        organizations=(BackedUpOrganization("clinic-a", "wac1:k:secret"),),
        evolution=({"name": "clinic-a-0a1b2c3d", "connection_status": "open"},),
        flags=({"name": "radical_solution", "enabled": True},))


def test_a_written_document_reads_back_to_the_same_backup() -> None:
    document, digest = write_document(_backup())
    assert json.loads(document)["sha256"] == digest
    assert json.loads(document)["schema_version"] == SCHEMA_VERSION
    assert read_document(document) == _backup()


def test_a_document_with_any_value_changed_is_refused() -> None:
    document, _ = write_document(_backup())
    tampered = document.replace(b"clinic-a-0a1b2c3d", b"clinic-a-0a1b2c3e", 1)
    with pytest.raises(BackupRefused, match="checksum"):
        read_document(tampered)


def test_a_document_without_checksum_or_of_an_unknown_version_is_refused() -> None:
    document = json.loads(write_document(_backup())[0])
    del document["sha256"]
    with pytest.raises(BackupRefused, match="sha256"):
        read_document(json.dumps(document).encode())
    with pytest.raises(BackupRefused, match="JSON"):
        read_document(b"{not json")


def test_a_version_1_document_reads_into_the_current_shape() -> None:
    backup = read_document((FIXTURES / "backup_v1.json").read_bytes())
    assert backup.schema_version == 1
    assert [i.evolution_name for i in backup.instances] == ["clinic-v1-0a1b2c3d",
                                                            "clinic-v1-4e5f6a7b"]
    assert backup.instances[0].display_name == "Recepción"
    assert backup.instances[0].sealed_token is not None
    assert backup.organizations[0].id == "clinic-v1"
    assert backup.evolution == ()
    assert backup.flags == ()


@pytest.mark.parametrize(("in_evolution", "stored", "step"), [
    (True, "connected", Step.NOTHING), (False, "connected", Step.EVOLUTION),
    (True, None, Step.STORE), (False, None, Step.BOTH), (False, "deleted", Step.SKIP),
])
def test_restore_step_depends_on_what_exists_now(in_evolution: bool, stored: str | None,
                                                 step: Step) -> None:
    item = _backup().instances[0]
    assert restore_step(item, in_evolution, stored) is step


def test_retention_lets_go_of_the_oldest_only() -> None:
    assert oldest_beyond(["c", "b", "a"], 2) == ["a"]
    assert oldest_beyond(["a"], 2) == []
