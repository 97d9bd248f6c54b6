"""Audit export (API.md sections 8, 9): a JSON Lines file an auditor verifies offline; one
byte changed anywhere fails at that line."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta
from uuid import UUID

from hypothesis import given
from hypothesis import strategies as st

from domain.audit import GENESIS_HASH, AuditAction, AuditDraft, AuditEvent, seal
from domain.audit_export import event_line, head_line, verify_export

T0 = datetime(2026, 11, 1, 9, 0, tzinfo=UTC)


def _chain(orgs: tuple[str, ...] = ("clinic-a", "clinic-b"), per_org: int = 6
           ) -> list[AuditEvent]:
    events = []
    for o, org in enumerate(orgs):
        prev = GENESIS_HASH
        for n in range(per_org):
            draft = AuditDraft(org, AuditAction.QR_GENERATED, "user-1", "admin",
                               T0 + timedelta(seconds=n), "10.0.0.1", "Mozilla/5.0",
                               {"instance_name": f"{org}-sala-ñ", "api_response_time": 0.25,
                                "n": n})
            event = seal(draft, UUID(int=o * 1000 + n + 1), prev)
            events.append(event)
            prev = event.hash
    return events


def _file(events: list[AuditEvent]) -> bytes:
    lines = [event_line(e) for e in events] + [head_line(events[-1].hash, len(events))]
    return b"\n".join(lines) + b"\n"


def test_an_untouched_export_verifies() -> None:
    verdict = verify_export(io.BytesIO(_file(_chain())))
    assert verdict.valid
    assert verdict.events == 12
    assert verdict.first_broken_line is None


def test_a_removed_line_breaks_the_chain_at_the_line_after_it() -> None:
    lines = _file(_chain()).splitlines(keepends=True)
    del lines[2]
    verdict = verify_export(lines)
    assert not verdict.valid
    assert verdict.first_broken_line == 3


def test_a_file_cut_before_its_head_line_is_refused() -> None:
    lines = _file(_chain()).splitlines(keepends=True)[:-1]
    verdict = verify_export(lines)
    assert not verdict.valid
    assert verdict.first_broken_line == 13


@given(st.data())
def test_changing_any_one_byte_of_any_line_fails_at_that_line(data: st.DataObject) -> None:
    lines = _file(_chain()).splitlines()
    number = data.draw(st.integers(0, len(lines) - 1), label="line")
    line = bytearray(lines[number])
    at = data.draw(st.integers(0, len(line) - 1), label="byte")
    line[at] = data.draw(st.integers(0, 255).filter(lambda b: b != line[at]), label="value")
    lines[number] = bytes(line)
    verdict = verify_export(io.BytesIO(b"\n".join(lines) + b"\n"))
    assert not verdict.valid
    assert verdict.first_broken_line == number + 1, verdict.reason
