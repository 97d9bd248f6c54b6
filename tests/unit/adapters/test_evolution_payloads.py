"""Evolution's quirks, mapped to port results and application errors."""

from __future__ import annotations

import pytest

from adapters.evolution import payloads
from adapters.evolution.endpoints import EvolutionRefusal
from adapters.evolution.gateway import translate
from application.errors import NotFound, UpstreamError, UpstreamUnavailable
from application.ports.evolution import ConnectResult, ConnectStatus, QrPayload


def test_connect_error_answered_with_200_is_an_upstream_error() -> None:
    with pytest.raises(UpstreamError, match=r"\[object Object\]"):
        payloads.read_connect({"error": True, "message": "[object Object]"})


@pytest.mark.parametrize("answer", [{"count": 0}, {"count": 7}, {"surprise": 1}])
def test_connect_without_a_code_is_pending(answer: dict[str, int]) -> None:
    assert payloads.read_connect(answer) == ConnectResult(ConnectStatus.PENDING)


def test_connect_on_an_open_instance_is_open() -> None:
    answer = {"instance": {"instanceName": "c42-0a1b2c3d", "state": "open"}}
    assert payloads.read_connect(answer) == ConnectResult(ConnectStatus.OPEN)


def test_connect_qr_object_carries_code_image_and_pairing_code() -> None:
    answer = {"pairingCode": "WZYEH1YY", "code": "2@abc,def", "base64": "data:image/png;base64,x",
              "count": 3}
    assert payloads.read_connect(answer) == ConnectResult(
        ConnectStatus.QR, QrPayload("2@abc,def", "data:image/png;base64,x", "WZYEH1YY"))


@pytest.mark.parametrize(("answer", "state"), [
    ({"instance": {"instanceName": "x", "state": "connecting"}}, "connecting"),
    ({"instance": {"instanceName": "x"}}, "unknown"),  # in the database, not loaded in memory
    ({"instance": {"instanceName": "x", "state": "refused"}}, "unknown"),
    ([], "unknown"),
])
def test_connection_state(answer: object, state: str) -> None:
    assert payloads.read_state(answer) == state


def test_401_string_message_reads_as_a_rejected_key() -> None:
    refusal = EvolutionRefusal(401, {"status": 401, "error": "Unauthorized",
                                     "response": {"message": "Unauthorized"}})
    error = translate(refusal)
    assert isinstance(error, UpstreamError)
    assert error.detail == "Evolution rejected the API key"


def test_array_messages_are_joined_into_the_detail() -> None:
    refusal = EvolutionRefusal.envelope(400, ["Invalid integration", "Invalid proxy"])
    assert translate(refusal).detail == "Invalid integration; Invalid proxy"


def test_404_is_not_found_and_a_proxy_503_is_unavailable() -> None:
    assert isinstance(translate(EvolutionRefusal.envelope(404, ["gone"])), NotFound)
    assert isinstance(translate(EvolutionRefusal(503, "<html>bad gateway</html>")),
                      UpstreamUnavailable)


def test_fetch_instances_rows_use_name_and_id() -> None:
    rows = [{"id": "e9dc", "name": "c42-1", "connectionStatus": "open",
             "ownerJid": "5511912345678@s.whatsapp.net", "profileName": "Acme", "token": "T"},
            {"id": "broken"}]
    [remote] = payloads.read_instances(rows)
    assert (remote.name, remote.evolution_id, remote.connection_status, remote.owner_jid,
            remote.profile_name, remote.token) == (
        "c42-1", "e9dc", "open", "5511912345678@s.whatsapp.net", "Acme", "T")


def test_disabled_or_missing_webhook_reads_as_none() -> None:
    assert payloads.read_webhook(None) is None
    assert payloads.read_webhook({"url": "https://x", "enabled": False, "events": []}) is None
