"""What each Evolution event means for an instance (evolution/README.md sections 4 and 5)."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from domain.errors import InvalidEnvelope
from domain.instance import Instance, InstanceState, LifecycleSignal, Outcome
from domain.messages import Message
from domain.webhook import (
    MessageReceived,
    MessageStatusChanged,
    QrUpdated,
    StateSignalled,
    Unhandled,
    dedupe_key,
    interpret,
    parse_envelope,
)

Sample = Callable[[str], tuple[bytes, dict[str, Any]]]
S = InstanceState
RECEIVED = datetime(2025, 10, 21, 14, 30, 6, tzinfo=UTC)
EVO_TIME = datetime(2025, 10, 21, 11, 30, 5, 112_000, tzinfo=UTC)
PATIENT = "5511987654321@s.whatsapp.net"


def event_for(event: str, data: Any) -> Any:
    envelope = parse_envelope({"event": event, "instance": "acme-sales-01", "data": data,
                               "date_time": "2025-10-21T11:30:05.112Z"})
    return interpret(envelope, RECEIVED)


def signal_for(event: str, data: Any) -> LifecycleSignal:
    meaning = event_for(event, data)
    assert isinstance(meaning, StateSignalled), meaning
    assert meaning.signal.evolution_time == EVO_TIME
    return meaning.signal


def message_for(data: dict[str, Any], event: str = "messages.upsert") -> Message:
    meaning = event_for(event, data)
    assert isinstance(meaning, MessageReceived), meaning
    return meaning.message


def upsert(**fields: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "key": {"remoteJid": PATIENT, "fromMe": False, "id": "ABC123"},
        "pushName": "Maria Souza", "status": "DELIVERY_ACK",
        "message": {"conversation": "Oi"}, "messageType": "conversation",
        "messageTimestamp": 1761057296,
    }
    data.update(fields)
    return data


def interpret_sample(sample: Sample, name: str) -> Any:
    _, payload = sample(name)
    return interpret(parse_envelope(payload), RECEIVED)


# QR -------------------------------------------------------------------------------------------

def test_qrcode_updated_sample_is_a_new_qr_valid_45_seconds_from_receipt(sample: Sample) -> None:
    _, payload = sample("qrcode_updated.json")

    meaning = interpret_sample(sample, "qrcode_updated.json")

    assert isinstance(meaning, QrUpdated)
    assert meaning.qr.code == payload["data"]["qrcode"]["code"]
    assert meaning.qr.code.startswith("2@4/wt5Deusw")
    assert meaning.qr.base64.startswith("data:image/png;base64,iVBOR")
    assert meaning.qr.pairing_code is None
    assert meaning.qr.issued_at == RECEIVED
    assert meaning.qr.expires_at == RECEIVED + timedelta(seconds=45)


def test_qr_with_pairing_code_carries_it() -> None:
    meaning = event_for("qrcode.updated", {"qrcode": {"code": "2@x", "base64": "data:,",
                                                      "pairingCode": "ABCD1234"}})

    assert isinstance(meaning, QrUpdated)
    assert meaning.qr.pairing_code == "ABCD1234"


def test_qr_limit_message_disconnects_with_qr_limit_reached() -> None:
    signal = signal_for("qrcode.updated", {"message": "QR code limit reached, please login again",
                                           "statusCode": 500})

    assert (signal.target, signal.reason) == (S.DISCONNECTED, "qr_limit_reached")


# connection.update ----------------------------------------------------------------------------

def test_connection_open_sample_connects_with_phone_from_wuid_and_profile_name(
    sample: Sample,
) -> None:
    meaning = interpret_sample(sample, "connection_update.json")

    assert isinstance(meaning, StateSignalled)
    assert meaning.signal == LifecycleSignal(
        S.CONNECTED, None, datetime(2025, 10, 21, 11, 31, 2, 540_000, tzinfo=UTC),
        "5511912345678", "Acme Vendas")


def test_open_with_device_suffix_in_wuid_keeps_only_the_number() -> None:
    signal = signal_for("connection.update",
                        {"state": "open", "wuid": "5511912345678:12@s.whatsapp.net"})

    assert signal.phone_number == "5511912345678"


def test_open_without_wuid_teaches_no_phone() -> None:
    signal = signal_for("connection.update", {"state": "open", "statusReason": 200})

    assert (signal.target, signal.phone_number, signal.profile_name) == (S.CONNECTED, None, None)


def test_connecting_signals_connecting() -> None:
    signal = signal_for("connection.update", {"state": "connecting", "statusReason": 200})

    assert (signal.target, signal.reason) == (S.CONNECTING, None)


@pytest.mark.parametrize(
    ("code", "reason"),
    [(401, "logged_out"), (403, "banned"), (402, "payment_required"),
     (406, "session_rejected"), (428, "qr_limit_reached"), (500, "connection_closed"),
     (None, "connection_closed"), ("401", "connection_closed")],
)
def test_close_disconnects_with_the_reason_for_its_code(code: Any, reason: str) -> None:
    signal = signal_for("connection.update", {"state": "close", "statusReason": code})

    assert (signal.target, signal.reason) == (S.DISCONNECTED, reason)


def test_refused_428_disconnects_with_qr_limit_reached() -> None:
    signal = signal_for("connection.update", {"state": "refused", "statusReason": 428})

    assert (signal.target, signal.reason) == (S.DISCONNECTED, "qr_limit_reached")


@pytest.mark.parametrize("data", [{"state": "weird"}, {}, None, [1, 2]])
def test_connection_update_without_a_known_state_is_unhandled(data: Any) -> None:
    assert event_for("connection.update", data) == Unhandled("CONNECTION_UPDATE")


# status / logout / remove ---------------------------------------------------------------------

@pytest.mark.parametrize(("code", "reason"), [(401, "logged_out"), (403, "banned"),
                                              (515, "connection_closed")])
def test_status_instance_closed_disconnects_with_the_reason_for_its_code(code: int,
                                                                        reason: str) -> None:
    signal = signal_for("status.instance", {"instance": "x", "status": "closed",
                                            "disconnectionReasonCode": code})

    assert (signal.target, signal.reason) == (S.DISCONNECTED, reason)


def test_status_instance_other_than_closed_is_unhandled() -> None:
    assert event_for("status.instance", {"status": "open"}) == Unhandled("STATUS_INSTANCE")


def test_logout_instance_with_null_data_logs_out() -> None:
    signal = signal_for("logout.instance", None)

    assert (signal.target, signal.reason) == (S.LOGGED_OUT, "logged_out")


def test_remove_instance_deletes() -> None:
    signal = signal_for("remove.instance", None)

    assert (signal.target, signal.reason) == (S.DELETED, "removed_in_evolution")


def test_events_without_date_time_signal_without_evolution_time() -> None:
    envelope = parse_envelope({"event": "logout.instance", "instance": "x", "data": None})

    meaning = interpret(envelope, RECEIVED)

    assert isinstance(meaning, StateSignalled)
    assert meaning.signal.evolution_time is None


# Messages -------------------------------------------------------------------------------------

def test_messages_upsert_sample_is_the_patient_message(sample: Sample) -> None:
    meaning = interpret_sample(sample, "messages_upsert.json")

    assert isinstance(meaning, MessageReceived)
    assert meaning.message == Message(
        id="A5561E44C2A63682E4295B52F484C14E", remote_jid=PATIENT, from_me=False,
        push_name="Maria Souza", type="conversation", text="Olá! Vocês entregam em Campinas?",
        timestamp=datetime(2025, 10, 21, 14, 34, 56, tzinfo=UTC), status="DELIVERY_ACK")


def test_lid_remote_jid_is_replaced_by_the_phone_jid_in_remote_jid_alt() -> None:
    key = {"remoteJid": "187364520194871@lid", "remoteJidAlt": PATIENT, "fromMe": False,
           "id": "X1", "addressingMode": "lid"}

    assert message_for(upsert(key=key)).remote_jid == PATIENT


def test_lid_remote_jid_without_alternative_is_kept() -> None:
    key = {"remoteJid": "187364520194871@lid", "id": "X1"}

    assert message_for(upsert(key=key)).remote_jid == "187364520194871@lid"


def test_phone_remote_jid_is_kept_even_when_alt_is_a_lid() -> None:
    key = {"remoteJid": PATIENT, "remoteJidAlt": "187364520194871@lid", "id": "X1"}

    assert message_for(upsert(key=key)).remote_jid == PATIENT


@pytest.mark.parametrize(
    "timestamp",
    [1761057296, "1761057296", {"low": 1761057296, "high": 0, "unsigned": True}],
    ids=["number", "string-up-to-2.3.5", "int64-2.3.6"],
)
def test_message_timestamp_in_every_serialisation_is_read_as_utc(timestamp: Any) -> None:
    message = message_for(upsert(messageTimestamp=timestamp))

    assert message.timestamp == datetime(2025, 10, 21, 14, 34, 56, tzinfo=UTC)


def test_int64_timestamp_with_high_word_is_combined() -> None:
    seconds = (1 << 32) + 5
    message = message_for(upsert(messageTimestamp={"low": 5, "high": 1, "unsigned": True}))

    assert message.timestamp == datetime.fromtimestamp(seconds, UTC)


def test_int64_timestamp_with_low_word_past_2_to_31_is_read_unsigned() -> None:
    # protobufjs' Long keeps both words as signed int32: 2**31 + 5 seconds (2038) is
    # {"low": -2147483643, "high": 0}. The low word must be taken as unsigned.
    message = message_for(upsert(messageTimestamp={"low": -2147483643, "high": 0,
                                                   "unsigned": True}))

    assert message.timestamp == datetime(2038, 1, 19, 3, 14, 13, tzinfo=UTC)


@pytest.mark.parametrize(
    "timestamp",
    [None, "soon", [1], 1e300, float("nan"),
     {"low": "soon", "high": 0}, {"low": [1], "high": 0}, {"low": 0, "high": float("inf")}],
    ids=["null", "text", "list", "huge", "nan",
         "int64-text-low", "int64-list-low", "int64-infinite-high"],
)
def test_unreadable_message_timestamp_is_none_not_an_error(timestamp: Any) -> None:
    assert message_for(upsert(messageTimestamp=timestamp)).timestamp is None


@pytest.mark.parametrize(
    ("content", "text"),
    [
        ({"conversation": "Oi"}, "Oi"),
        ({"extendedTextMessage": {"text": "Link aqui"}}, "Link aqui"),
        ({"imageMessage": {"caption": "Receita"}}, "Receita"),
        ({"documentMessage": {"caption": "Exame.pdf"}}, "Exame.pdf"),
        ({"audioMessage": {"seconds": 4}}, None),
        (None, None),
    ],
)
def test_message_text_comes_from_the_content_field(content: Any, text: str | None) -> None:
    assert message_for(upsert(message=content)).text == text


def test_message_without_push_name_type_or_status_uses_defaults() -> None:
    data = {"key": {"remoteJid": PATIENT, "id": "X1"}}

    message = message_for(data)

    assert (message.push_name, message.type, message.status, message.from_me) == (
        None, "unknown", None, False)


def test_send_message_is_our_own_message() -> None:
    data = upsert(key={"remoteJid": PATIENT, "fromMe": True, "id": "3EB0ABC"}, status="PENDING")

    message = message_for(data, event="send.message")

    assert (message.id, message.from_me, message.status) == ("3EB0ABC", True, "PENDING")


def test_messages_upsert_without_key_is_unhandled() -> None:
    assert event_for("messages.upsert", {"message": {"conversation": "x"}}) == Unhandled(
        "MESSAGES_UPSERT")


def test_messages_update_is_a_status_change() -> None:
    meaning = event_for("messages.update", {"keyId": "3EB0ABC", "remoteJid": PATIENT,
                                            "fromMe": True, "status": "READ"})

    assert meaning == MessageStatusChanged("3EB0ABC", "READ")


def test_messages_update_without_status_is_unhandled() -> None:
    assert event_for("messages.update", {"keyId": "3EB0ABC"}) == Unhandled("MESSAGES_UPDATE")


@pytest.mark.parametrize(
    ("event", "kind"),
    [("contacts.upsert", "CONTACTS_UPSERT"), ("presence.update", "PRESENCE_UPDATE"),
     ("chats.update", "CHATS_UPDATE"), ("send.message.update", "SEND_MESSAGE_UPDATE"),
     ("instance.create", "INSTANCE_CREATE"), ("error", "ERROR"), ("brand.new", "BRAND_NEW")],
)
def test_unknown_or_unused_events_are_unhandled(event: str, kind: str) -> None:
    assert event_for(event, {"key": "value"}) == Unhandled(kind)


# Events driving an instance -------------------------------------------------------------------

def test_sample_qr_then_open_connects_a_new_instance_and_forgets_the_qr(sample: Sample) -> None:
    instance = Instance(UUID(int=1), "acme", "acme-sales-01", None, None, RECEIVED, RECEIVED)
    _, qr_body = sample("qrcode_updated.json")
    qr_envelope = parse_envelope(qr_body)
    qr_event = interpret(qr_envelope, RECEIVED)
    assert isinstance(qr_event, QrUpdated)

    assert instance.show_qr(qr_event.qr, RECEIVED, qr_envelope.date_time).changed
    assert instance.fresh_qr(RECEIVED, timedelta(seconds=30)) == qr_event.qr
    open_event = interpret_sample(sample, "connection_update.json")
    assert isinstance(open_event, StateSignalled)
    assert instance.apply(open_event.signal, RECEIVED).outcome is Outcome.APPLIED

    assert instance.state is S.CONNECTED
    assert (instance.phone_number, instance.profile_name) == ("5511912345678", "Acme Vendas")
    assert instance.qr is None


# Arbitrary input ------------------------------------------------------------------------------

EVENT_NAMES = ["qrcode.updated", "QRCODE_UPDATED", "connection.update", "connection-update",
               "status.instance", "logout.instance", "remove.instance", "messages.upsert",
               "send.message", "messages.update", "contacts.upsert"]
DATA_KEYS = ["qrcode", "code", "base64", "pairingCode", "state", "wuid", "profileName",
             "statusReason", "status", "disconnectionReasonCode", "key", "keyId", "message",
             "messageTimestamp", "pushName", "messageType", "conversation", "low", "high",
             "remoteJid", "remoteJidAlt", "id", "fromMe", "text", "caption"]

scalars = (st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.floats()
           | st.text(max_size=12) | st.sampled_from(["open", "close", "closed", "refused",
                                                    "connecting", "x@lid", "READ"]))
keys = st.sampled_from(DATA_KEYS) | st.text(max_size=6)
json_like = st.recursive(
    scalars, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(keys, inner,
                                                                         max_size=5),
    max_leaves=15)
times = st.text(alphabet="0123456789-:T.Z+ ", max_size=30) | st.datetimes().map(
    lambda d: d.isoformat() + "Z")
envelopes = st.fixed_dictionaries(
    {},
    optional={
        "event": st.sampled_from(EVENT_NAMES) | json_like,
        "instance": st.just("acme-sales-01") | json_like,
        "data": json_like,
        "date_time": times | json_like,
        "sender": st.none() | json_like,
        "apikey": st.none() | st.text(max_size=5),
    },
)


@settings(max_examples=300, deadline=None)
@given(body=envelopes | json_like)
@example(body={"event": "messages.upsert", "instance": "i", "data": {
    "key": {"id": "1"}, "messageTimestamp": {"low": "soon", "high": 0}}})
@example(body={"event": "messages.upsert", "instance": "i", "data": {
    "key": {"id": "1"}, "messageTimestamp": {"low": 0, "high": float("inf")}}})
def test_any_json_body_is_either_invalid_or_interpreted_without_error(body: Any) -> None:
    try:
        envelope = parse_envelope(body)
    except InvalidEnvelope as invalid:
        errors = invalid.errors
        envelope = None
    if envelope is None:
        assert errors, "an invalid envelope names its bad fields"
        return
    meaning = interpret(envelope, RECEIVED)
    assert isinstance(meaning, QrUpdated | StateSignalled | MessageReceived
                      | MessageStatusChanged | Unhandled)
    assert dedupe_key(envelope, json.dumps(body).encode(), None)
    instance = Instance(UUID(int=1), "o", "o-1", None, None, RECEIVED, RECEIVED,
                        last_evolution_time=EVO_TIME)
    if isinstance(meaning, StateSignalled):
        assert instance.apply(meaning.signal, RECEIVED).outcome in set(Outcome)
    if isinstance(meaning, QrUpdated):
        assert instance.show_qr(meaning.qr, RECEIVED, envelope.date_time).outcome in set(Outcome)
