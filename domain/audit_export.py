"""The audit trail as JSON Lines an auditor checks without our database.

One event a line, each line the canonical JSON of the event with its ``prev_hash`` and
``hash``, then a last line ``{"count": n, "head": "<hash of the last event>"}``. A line is
accepted only in exactly that form, byte for byte, so that no edit can hide behind a second
spelling of the same JSON (``1E5`` for ``100000.0``, an escaped ``é``).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

import attrs

from domain.audit import GENESIS_HASH, AuditEvent, canonical_fields, link_hash, timestamp_text

_HASHED = ("id", "organization_id", "action", "actor_id", "actor_type", "timestamp",
           "ip_address", "user_agent", "details")
_EVENT_KEYS = frozenset((*_HASHED, "prev_hash", "hash"))
_HEAD_KEYS = frozenset(("head", "count"))


def event_line(event: AuditEvent) -> bytes:
    body: dict[str, Any] = {
        "id": str(event.id), "organization_id": event.organization_id, "action": event.action,
        "actor_id": event.actor_id, "actor_type": event.actor_type,
        "timestamp": timestamp_text(event.timestamp), "ip_address": event.ip_address,
        "user_agent": event.user_agent, "details": event.details,
        "prev_hash": event.prev_hash, "hash": event.hash}
    return canonical_fields(body)


def head_line(head: str, count: int) -> bytes:
    return canonical_fields({"head": head, "count": count})


@attrs.frozen
class ExportVerdict:
    valid: bool
    events: int
    first_broken_line: int | None = None
    reason: str | None = None


class _Broken(Exception):
    pass


@attrs.define
class _Walk:
    events: int = 0
    last_hash: str = GENESIS_HASH
    ended: bool = False
    tips: dict[str, str] = attrs.field(factory=dict)

    def take(self, line: bytes) -> None:
        if self.ended:
            raise _Broken("a line after the head line")
        try:
            value = json.loads(line)
        except ValueError as exc:
            raise _Broken("not JSON") from exc
        if not isinstance(value, dict) or canonical_fields(value) != line:
            raise _Broken("not in the canonical form")
        if value.keys() == _HEAD_KEYS:
            self._head(value)
        elif value.keys() == _EVENT_KEYS:
            self._event(value)
        else:
            raise _Broken("neither an event nor the head line")

    def _head(self, value: dict[str, Any]) -> None:
        if value["count"] != self.events:
            raise _Broken(f"the head line counts {value['count']!r}, the file has "
                          f"{self.events} events")
        if value["head"] != self.last_hash:
            raise _Broken("the head is not the last event's hash")
        self.ended = True

    def _event(self, value: dict[str, Any]) -> None:
        org, prev, claimed = value["organization_id"], value["prev_hash"], value["hash"]
        if not all(isinstance(v, str) for v in (org, prev, claimed)):
            raise _Broken("organization_id, prev_hash and hash must be strings")
        if org in self.tips and self.tips[org] != prev:
            raise _Broken("prev_hash is not the hash of the organization's previous event")
        if link_hash(prev, canonical_fields({k: value[k] for k in _HASHED})) != claimed:
            raise _Broken("the event does not hash to its hash")
        self.tips[org] = claimed
        self.last_hash = claimed
        self.events += 1


def verify_export(lines: Iterable[bytes]) -> ExportVerdict:
    """Check every line and the links between them; name the first line that fails.

    The first event of each organization in the file is taken on trust as the start of its
    window (an export may begin after the genesis); everything after it must link up.
    """
    walk = _Walk()
    number = 0
    for number, raw in enumerate(lines, start=1):
        try:
            walk.take(raw.rstrip(b"\n"))
        except _Broken as exc:
            return ExportVerdict(False, walk.events, number, str(exc))
    if not walk.ended:
        return ExportVerdict(False, walk.events, number + 1, "the head line is missing")
    return ExportVerdict(True, walk.events)
