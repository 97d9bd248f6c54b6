"""The one rule for text that arrives from outside (API.md section 1).

Postgres stores neither NUL nor an unpaired UTF-16 surrogate. Text that *identifies*
something (an id, a name, an event) and holds one is refused, so that no two spellings of one
identity exist; text that is *content* (a patient's message, a push name, a JID) is cleaned,
so that an acknowledged message is always stored.
"""

from __future__ import annotations

import re
from typing import Any

_SURROGATE = re.compile(r"[\ud800-\udfff]")
_UNSTORABLE_CHARS = re.compile(r"[\x00\ud800-\udfff]")
# What a refusal says, wherever text is refused.
UNSTORABLE = "must not contain NUL or unpaired UTF-16 surrogates"
REPLACEMENT = "\ufffd"

# Identifiers of API.md section 1, matched in full, ASCII only.
ORGANIZATION_ID = re.compile(r"[A-Za-z0-9_-]{1,64}", re.ASCII)
NAME = ORGANIZATION_ID  # flag and variant names share the organization id's alphabet
PHONE_NUMBER = re.compile(r"[0-9]{8,15}", re.ASCII)


def is_storable(text: str) -> bool:
    """True when Postgres can store ``text`` as it is (no NUL, no surrogate of any kind)."""
    return _UNSTORABLE_CHARS.search(text) is None


def clean(text: str) -> str:
    """Content made storable: NUL removed, lone surrogates replaced by U+FFFD.

    A surrogate pair held as two code points (``"\\ud83d\\ude00"``) is joined into the
    character it spells rather than replaced.
    """
    if is_storable(text):
        return text
    text = text.replace("\x00", "")
    # Pairs join into their character; what is still a surrogate after that is a lone one,
    # as json.loads yields from an escape such as "\\ud83d" (a truncated emoji).
    joined = text.encode("utf-16", "surrogatepass").decode("utf-16", "surrogatepass")
    return _SURROGATE.sub(REPLACEMENT, joined)


def clean_content(value: Any) -> Any:
    """``clean`` applied to every string of a JSON value, keys included."""
    if isinstance(value, str):
        return clean(value)
    if isinstance(value, list):
        return [clean_content(v) for v in value]
    if isinstance(value, dict):
        return {clean(k): clean_content(v) for k, v in value.items()}
    return value


def text_or_none(value: Any) -> str | None:
    """Content that is shown as text: anything else (a number, an object) is not shown."""
    return value if isinstance(value, str) else None


def clean_optional(text: str | None) -> str | None:
    return None if text is None else clean(text)


def is_organization_id(value: object) -> bool:
    return isinstance(value, str) and ORGANIZATION_ID.fullmatch(value) is not None


def is_name(value: object) -> bool:
    return isinstance(value, str) and NAME.fullmatch(value) is not None
