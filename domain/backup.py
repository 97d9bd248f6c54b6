"""Backup documents: their format by schema version, their checksum, and the restore plan.

A document is one JSON object. Its ``sha256`` covers the canonical JSON of every other key, so
a document edited anywhere (one byte of one token included) is refused before anything is
restored. Secrets inside it are the sealed values the store keeps; the document never holds a
secret in clear, nor the Evolution API key.
"""

from __future__ import annotations

import enum
import hashlib
import json
from collections.abc import Callable, Mapping
from typing import Any

import attrs

from domain.errors import DomainError

SCHEMA_VERSION = 2


class BackupRefused(DomainError):
    """A document that is not a backup this service can read, or whose checksum fails."""


@attrs.frozen
class BackedUpInstance:
    id: str
    organization_id: str
    evolution_name: str
    display_name: str | None
    phone_number: str | None
    state: str
    created_at: str
    sealed_token: str | None

    def as_dict(self) -> dict[str, Any]:
        return {"id": self.id, "organization_id": self.organization_id,
                "evolution_name": self.evolution_name, "display_name": self.display_name,
                "phone_number": self.phone_number, "state": self.state,
                "created_at": self.created_at, "evolution_token": self.sealed_token}


@attrs.frozen
class BackedUpOrganization:
    id: str
    sealed_secret: str
    sealed_previous: str | None = None
    previous_valid_until: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"id": self.id, "webhook_secret": self.sealed_secret,
                "previous_secret": self.sealed_previous,
                "previous_valid_until": self.previous_valid_until}


@attrs.frozen
class Backup:
    """A document's contents, upgraded to the current schema whatever version wrote it."""

    id: str
    created_at: str
    schema_version: int  # the version that wrote it
    instances: tuple[BackedUpInstance, ...]
    organizations: tuple[BackedUpOrganization, ...]
    evolution: tuple[Mapping[str, Any], ...] = ()  # fetchInstances as it was, tokens left out
    flags: tuple[Mapping[str, Any], ...] = ()


def canonical_json(value: Any) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def checksum(document: Mapping[str, Any]) -> str:
    return hashlib.sha256(canonical_json({k: v for k, v in document.items()
                                          if k != "sha256"})).hexdigest()


def write_document(backup: Backup) -> tuple[bytes, str]:
    """The document in the current schema and its sha256."""
    document: dict[str, Any] = {
        "schema_version": SCHEMA_VERSION, "id": backup.id, "created_at": backup.created_at,
        "content": {"instances": [i.as_dict() for i in backup.instances],
                    "organizations": [o.as_dict() for o in backup.organizations],
                    "evolution": [dict(r) for r in backup.evolution],
                    "flags": [dict(f) for f in backup.flags]}}
    digest = checksum(document)
    document["sha256"] = digest
    return canonical_json(document), digest


def read_document(raw: bytes) -> Backup:
    """Check the checksum, then read the document by the version it names."""
    try:
        document = json.loads(raw)
    except ValueError as exc:
        raise BackupRefused("the backup is not JSON") from exc
    if not isinstance(document, dict) or not isinstance(document.get("sha256"), str):
        raise BackupRefused("the backup carries no sha256")
    if checksum(document) != document["sha256"]:
        raise BackupRefused("the backup's checksum does not match its contents")
    reader = _READERS.get(document.get("schema_version"))  # type: ignore[arg-type]
    if reader is None:
        raise BackupRefused(f"unknown backup schema version {document.get('schema_version')!r}")
    try:
        return reader(document)
    except (KeyError, TypeError, AttributeError) as exc:
        raise BackupRefused(f"the backup lacks a field its version requires: {exc}") from exc


def _read_v2(d: Mapping[str, Any]) -> Backup:
    c = d["content"]
    return Backup(
        id=d["id"], created_at=d["created_at"], schema_version=2,
        instances=tuple(BackedUpInstance(
            i["id"], i["organization_id"], i["evolution_name"], i["display_name"],
            i["phone_number"], i["state"], i["created_at"], i["evolution_token"])
            for i in c["instances"]),
        organizations=tuple(BackedUpOrganization(
            o["id"], o["webhook_secret"], o["previous_secret"], o["previous_valid_until"])
            for o in c["organizations"]),
        evolution=tuple(c["evolution"]), flags=tuple(c["flags"]))


def _read_v1(d: Mapping[str, Any]) -> Backup:
    # Version 1 kept our rows at the top level, named the Evolution name `name` and the token
    # `token`, had no state (every row was live) and took neither fetchInstances nor flags.
    return Backup(
        id=d["id"], created_at=d["created_at"], schema_version=1,
        instances=tuple(BackedUpInstance(
            i["id"], i["organization_id"], i["name"], i.get("display_name"),
            i.get("phone_number"), "awaiting_qr", i["created_at"], i["token"])
            for i in d["instances"]),
        organizations=tuple(BackedUpOrganization(o["id"], o["secret"])
                            for o in d["organizations"]))


_READERS: dict[int, Callable[[Mapping[str, Any]], Backup]] = {1: _read_v1, 2: _read_v2}

# Rows in these states hold nothing to bring back: a deleted or failed instance is history.
NOT_RESTORED_STATES = frozenset({"deleted", "failed"})


class Step(enum.StrEnum):
    NOTHING = "nothing"            # exists on both sides: left untouched
    EVOLUTION = "evolution"        # our row exists, Evolution lost the instance
    STORE = "store"                # Evolution has it, our row is gone
    BOTH = "both"                  # gone on both sides
    SKIP = "skip"                  # a deleted or failed instance: history, not restored


def restore_step(instance: BackedUpInstance, in_evolution: bool, stored_state: str | None
                 ) -> Step:
    """What restoring one backed-up instance needs, given what exists now."""
    if instance.state in NOT_RESTORED_STATES or stored_state in NOT_RESTORED_STATES:
        return Step.SKIP
    if stored_state is None:
        return Step.STORE if in_evolution else Step.BOTH
    return Step.NOTHING if in_evolution else Step.EVOLUTION


def oldest_beyond(ids_newest_first: list[str], keep: int) -> list[str]:
    """The backups a retention count of ``keep`` lets go."""
    return ids_newest_first[max(keep, 0):]
