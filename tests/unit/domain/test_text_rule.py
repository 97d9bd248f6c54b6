"""The edge's one rule for text (domain/text.py): refuse what identifies, clean what is content."""

from __future__ import annotations

import json

from hypothesis import given
from hypothesis import strategies as st

from domain.text import clean, clean_content, is_name, is_organization_id, is_storable


def test_clean_removes_nul_and_replaces_lone_surrogates() -> None:
    assert clean("Hola\x00 Ana") == "Hola Ana"
    assert clean("truncated \ud83d") == "truncated \ufffd"
    assert clean("\udc00 low first") == "\ufffd low first"
    assert clean("\ude00\ud83d") == "\ufffd\ufffd"  # reversed halves are two lone ones


def test_clean_joins_a_pair_held_as_two_code_points() -> None:
    assert clean("smile \ud83d\ude00") == "smile \U0001f600"


def test_clean_keeps_storable_text_as_it_is() -> None:
    text = "Recepción 😀 ü"
    assert clean(text) is text


@given(st.text(alphabet=st.characters(exclude_categories=())))
def test_cleaned_text_is_always_storable_and_encodes_as_utf8(text: str) -> None:
    cleaned = clean(text)
    assert is_storable(cleaned)
    cleaned.encode("utf-8")  # what Postgres receives; raises for any surrogate left


def test_clean_content_walks_keys_and_values() -> None:
    document = json.loads('{"a\\u0000": ["x\\ud83d", {"k": "\\u0000"}], "n": 1}')
    assert clean_content(document) == {"a": ["x\ufffd", {"k": ""}], "n": 1}


def test_identifiers_match_in_full_in_ascii() -> None:
    assert is_organization_id("clinic-42")
    assert is_organization_id("A" * 64)
    for bad in ("A\n", "", "A" * 65, "../A", "\uff21", "A\x00", "clínica", ["A"], None, 5):
        assert not is_organization_id(bad), bad
    assert is_name("radical_solution")
    assert not is_name("radical_solution\n")
