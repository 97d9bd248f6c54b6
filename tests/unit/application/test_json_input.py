"""JSON from outside is read with a depth bound and never raises anything but MalformedJson."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from application.errors import MalformedJson
from application.json_input import MAX_DEPTH, parse_json


def nested(depth: int) -> bytes:
    return b"[" * depth + b"]" * depth


def test_depth_64_is_read_and_65_is_refused() -> None:
    assert parse_json(nested(MAX_DEPTH)) is not None
    for depth in (MAX_DEPTH + 1, 1000, 100_000):
        with pytest.raises(MalformedJson, match="deeper"):
            parse_json(nested(depth))


def test_deep_documents_after_a_lone_surrogate_are_refused_too() -> None:
    # orjson stops at the surrogate; the standard library reads on and must be bounded too.
    with pytest.raises(MalformedJson):
        parse_json(b'["\\ud83d", ' + nested(5000) + b"]")


def test_lone_surrogate_escapes_are_read_for_cleaning_later() -> None:
    assert parse_json(b'{"text": "cut \\ud83d"}') == {"text": "cut \ud83d"}


@pytest.mark.parametrize("raw", [b"", b"{", b"\xff", b'{"a": NaN}', b"Infinity", b"9" * 5000,
                                 b'{"a": 1} x'])
def test_what_is_not_json_is_malformed(raw: bytes) -> None:
    with pytest.raises(MalformedJson):
        parse_json(raw)


@given(st.binary(max_size=300))
def test_arbitrary_bytes_never_raise_anything_else(raw: bytes) -> None:
    with contextlib.suppress(MalformedJson):
        parse_json(raw)
