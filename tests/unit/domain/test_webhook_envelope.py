"""Evolution webhook envelope (API.md 5a, evolution/README.md 3): parsing, names, dedupe key."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from domain.errors import InvalidEnvelope
from domain.webhook import Envelope, config_name, dedupe_key, is_event_suffix, parse_envelope

Sample = Callable[[str], tuple[bytes, dict[str, Any]]]
APIKEY = "4E6279F0-585E-40B0-9985-183BC423C50A"
SENDER = "5511912345678@s.whatsapp.net"


def body(**fields: Any) -> dict[str, Any]:
    base: dict[str, Any] = {"event": "connection.update", "instance": "acme-sales-01",
                            "data": {"state": "connecting"},
                            "date_time": "2025-10-21T11:30:05.112Z"}
    base.update(fields)
    return base


def errors_of(payload: Any) -> dict[str, list[str]]:
    with pytest.raises(InvalidEnvelope) as raised:
        parse_envelope(payload)
    return raised.value.errors


# parse_envelope on the sample files ------------------------------------------------------------

@pytest.mark.parametrize(
    ("name", "event", "when", "sender"),
    [
        ("qrcode_updated.json", "qrcode.updated", datetime(2025, 10, 21, 11, 30, 5, 112_000),
         None),
        ("connection_update.json", "connection.update",
         datetime(2025, 10, 21, 11, 31, 2, 540_000), SENDER),
        ("messages_upsert.json", "messages.upsert", datetime(2025, 10, 21, 11, 34, 57, 31_000),
         SENDER),
    ],
)
def test_sample_envelopes_parse_into_their_routing_fields(
    sample: Sample, name: str, event: str, when: datetime, sender: str | None
) -> None:
    _, payload = sample(name)

    envelope = parse_envelope(payload)

    assert envelope.event == event
    assert envelope.kind == event.replace(".", "_").upper()
    assert envelope.instance == "acme-sales-01"
    assert envelope.date_time == when.replace(tzinfo=UTC)
    assert envelope.sender == sender
    assert envelope.apikey == APIKEY
    assert envelope.data == payload["data"]


def test_qrcode_sample_has_no_sender_key_at_all(sample: Sample) -> None:
    _, payload = sample("qrcode_updated.json")

    assert "sender" not in payload
    assert parse_envelope(payload).sender is None


# Times ----------------------------------------------------------------------------------------

@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2025-10-21T11:30:05.112Z", datetime(2025, 10, 21, 11, 30, 5, 112_000, tzinfo=UTC)),
        ("2025-10-21T11:30:05", datetime(2025, 10, 21, 11, 30, 5, tzinfo=UTC)),
        ("2025-10-21T11:30:05-03:00",
         datetime(2025, 10, 21, 11, 30, 5, tzinfo=timezone(timedelta(hours=-3)))),
        (None, None),
    ],
    ids=["z-suffix", "naive-taken-as-utc", "offset-kept", "null"],
)
def test_date_time_is_parsed_as_an_aware_timestamp(value: str | None,
                                                   expected: datetime | None) -> None:
    envelope = parse_envelope(body(date_time=value))

    assert envelope.date_time == expected
    if expected is not None:
        assert envelope.date_time is not None
        assert envelope.date_time.tzinfo is not None


def test_missing_date_time_is_none() -> None:
    payload = body()
    del payload["date_time"]

    assert parse_envelope(payload).date_time is None


@pytest.mark.parametrize("value", ["yesterday", "2025-13-45T99:00:00Z", 12345, "", True])
def test_unreadable_date_time_is_a_field_error(value: Any) -> None:
    assert set(errors_of(body(date_time=value))) == {"date_time"}


# Invalid envelopes ----------------------------------------------------------------------------

@pytest.mark.parametrize("field", ["event", "instance"])
@pytest.mark.parametrize("value", [None, "", "   ", 42, ["x"], {"a": 1}, "x" * 201],
                         ids=["null", "empty", "blank", "int", "list", "object", "too-long"])
def test_event_and_instance_must_be_short_non_empty_strings(field: str, value: Any) -> None:
    errors = errors_of(body(**{field: value}))

    assert set(errors) == {field}
    assert errors[field]


@pytest.mark.parametrize("field", ["event", "instance"])
def test_missing_routing_field_is_a_field_error(field: str) -> None:
    payload = body()
    del payload[field]

    assert set(errors_of(payload)) == {field}


def test_two_hundred_character_instance_name_is_accepted() -> None:
    assert parse_envelope(body(instance="x" * 200)).instance == "x" * 200


@pytest.mark.parametrize("field", ["sender", "apikey"])
@pytest.mark.parametrize("value", [5, True, ["x"], {"a": 1}])
def test_sender_and_apikey_must_be_string_or_null(field: str, value: Any) -> None:
    assert set(errors_of(body(**{field: value}))) == {field}


@pytest.mark.parametrize("field", ["sender", "apikey"])
def test_null_sender_or_apikey_is_accepted(field: str) -> None:
    assert getattr(parse_envelope(body(**{field: None})), field) is None


def test_every_bad_field_is_reported_at_once() -> None:
    errors = errors_of({"event": 1, "date_time": "soon", "sender": 2, "apikey": 3})

    assert set(errors) == {"event", "instance", "date_time", "sender", "apikey"}


@pytest.mark.parametrize("payload", [[], [body()], "event", 42, None, True, 1.5])
def test_non_object_body_is_a_schema_error(payload: Any) -> None:
    assert set(errors_of(payload)) == {"_schema"}


def test_data_of_any_shape_is_kept_as_is() -> None:
    for data in (None, [1, 2], "text", {"k": "v"}):
        assert parse_envelope(body(data=data)).data == data


def test_unknown_extra_fields_do_not_prevent_parsing() -> None:
    envelope = parse_envelope(body(destination="https://x", server_url="https://y", extra=1))

    assert envelope.instance == "acme-sales-01"


# Names ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("spelling", ["qrcode.updated", "qrcode-updated", "QRCODE_UPDATED"])
def test_all_three_spellings_give_the_config_name(spelling: str) -> None:
    assert config_name(spelling) == "QRCODE_UPDATED"
    assert parse_envelope(body(event=spelling)).kind == "QRCODE_UPDATED"


@pytest.mark.parametrize(
    ("event", "expected"),
    [
        ("group-participants.update", "GROUP_PARTICIPANTS_UPDATE"),
        ("send.message.update", "SEND_MESSAGE_UPDATE"),
        ("typebot.change-status", "TYPEBOT_CHANGE_STATUS"),
        ("call", "CALL"),
    ],
)
def test_config_name_replaces_dots_and_dashes_and_upper_cases(event: str, expected: str) -> None:
    assert config_name(event) == expected


@pytest.mark.parametrize(
    "segment",
    ["qrcode-updated", "messages-upsert", "group-participants-update", "call", "ab",
     "a" + "b" * 63],
)
def test_valid_by_event_url_suffixes_are_accepted(segment: str) -> None:
    assert is_event_suffix(segment)


@pytest.mark.parametrize(
    "segment",
    ["", "a", "QRCODE-UPDATED", "qrcode.updated", "qrcode_updated", "-qrcode", "1qrcode",
     "qrcode updated", "..", "a" + "b" * 64, "qrcode-updated\n", "qrcode-updated/x"],
    ids=["empty", "one-char", "upper", "dotted", "underscore", "leading-dash", "leading-digit",
         "space", "dots", "too-long", "trailing-newline", "slash"],
)
def test_invalid_by_event_url_suffixes_are_rejected(segment: str) -> None:
    assert not is_event_suffix(segment)


# Dedupe key -----------------------------------------------------------------------------------

def _reformatted(payload: dict[str, Any]) -> bytes:
    return json.dumps(payload, indent=3).encode()


def test_webhook_id_header_wins_even_for_message_events(sample: Sample) -> None:
    raw, payload = sample("messages_upsert.json")

    assert dedupe_key(parse_envelope(payload), raw, "evt-123") == "id:evt-123"


def test_webhook_id_header_is_kept_whole_up_to_200_characters_and_refused_past() -> None:
    # Cutting it would make two deliveries that share 200 characters one event.
    assert dedupe_key(parse_envelope(body()), b"{}", "w" * 200) == "id:" + "w" * 200
    with pytest.raises(InvalidEnvelope) as refused:
        dedupe_key(parse_envelope(body()), b"{}", "w" * 201)

    assert list(refused.value.errors) == ["webhook-id"]


def test_empty_webhook_id_header_falls_back_to_the_body() -> None:
    raw = json.dumps(body()).encode()

    assert dedupe_key(parse_envelope(body()), raw, "") == dedupe_key(parse_envelope(body()),
                                                                    raw, None)


def test_same_upserted_message_with_different_whitespace_gets_the_same_key(
    sample: Sample,
) -> None:
    raw, payload = sample("messages_upsert.json")
    envelope = parse_envelope(payload)

    first = dedupe_key(envelope, raw, None)
    again = dedupe_key(parse_envelope(json.loads(_reformatted(payload))), _reformatted(payload),
                       None)

    assert raw != _reformatted(payload)
    assert first == again
    assert "A5561E44C2A63682E4295B52F484C14E" in first
    assert not first.startswith("sha256:")


def test_same_message_id_on_another_instance_is_a_different_key(sample: Sample) -> None:
    raw, payload = sample("messages_upsert.json")
    other = {**payload, "instance": "acme-sales-02"}

    assert dedupe_key(parse_envelope(payload), raw, None) != dedupe_key(
        parse_envelope(other), raw, None)


def test_sent_message_is_keyed_by_its_key_id() -> None:
    payload = body(event="send.message",
                   data={"key": {"remoteJid": SENDER, "fromMe": True, "id": "3EB0ABC"}})

    key = dedupe_key(parse_envelope(payload), _reformatted(payload), None)

    assert key == dedupe_key(parse_envelope(payload), json.dumps(payload).encode(), None)
    assert "3EB0ABC" in key


def test_message_event_without_key_id_falls_back_to_the_body_hash() -> None:
    payload = body(event="messages.upsert", data={"key": {"remoteJid": SENDER}})
    raw = json.dumps(payload).encode()

    assert dedupe_key(parse_envelope(payload), raw, None) == (
        "sha256:" + hashlib.sha256(raw).hexdigest())


def test_message_status_updates_are_keyed_by_key_id_and_status() -> None:
    def update(status: str) -> dict[str, Any]:
        return body(event="messages.update",
                    data={"keyId": "3EB0ABC", "remoteJid": SENDER, "status": status})

    delivered = dedupe_key(parse_envelope(update("DELIVERY_ACK")), b"a", None)
    redelivered = dedupe_key(parse_envelope(update("DELIVERY_ACK")), b"b  ", None)
    read = dedupe_key(parse_envelope(update("READ")), b"a", None)

    assert delivered == redelivered
    assert delivered != read
    assert "3EB0ABC" in delivered


def test_message_update_without_status_falls_back_to_the_body_hash() -> None:
    payload = body(event="messages.update", data={"keyId": "3EB0ABC"})
    raw = json.dumps(payload).encode()

    assert dedupe_key(parse_envelope(payload), raw, None) == (
        "sha256:" + hashlib.sha256(raw).hexdigest())


@pytest.mark.parametrize("name", ["qrcode_updated.json", "connection_update.json"])
def test_other_events_are_keyed_by_the_sha256_of_the_raw_body(sample: Sample, name: str) -> None:
    raw, payload = sample(name)
    envelope = parse_envelope(payload)

    key = dedupe_key(envelope, raw, None)

    assert key == "sha256:" + hashlib.sha256(raw).hexdigest()
    assert key == dedupe_key(envelope, bytes(raw), None)
    assert key != dedupe_key(envelope, _reformatted(payload), None)


def test_logout_with_null_data_is_keyed_by_the_body_hash() -> None:
    payload = body(event="logout.instance", data=None)
    raw = json.dumps(payload).encode()

    assert dedupe_key(parse_envelope(payload), raw, None) == (
        "sha256:" + hashlib.sha256(raw).hexdigest())


def test_envelope_kind_is_the_config_name_of_its_event() -> None:
    envelope = Envelope("messages-upsert", "i", None, None, None, None)

    assert envelope.kind == "MESSAGES_UPSERT"
