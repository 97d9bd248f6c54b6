"""JSON from outside, read with a depth bound before anything can recurse (API.md section 1)."""

from __future__ import annotations

import json
from typing import Any

import orjson

from application.errors import MalformedJson

MAX_DEPTH = 64


def parse_json(raw: bytes) -> Any:
    """The document in ``raw``; ``MalformedJson`` for anything that is not JSON, or is nested
    deeper than ``MAX_DEPTH``. Never raises anything else, whatever the bytes.

    orjson reads almost every body, fast and without Python recursion (it refuses past 1,024
    levels by itself). It also refuses a lone surrogate escape such as ``"\\ud83d"``, which a
    truncated emoji in a patient's message produces and which must be stored, not refused:
    such bodies are read again by the standard library, whose recursion bound turns into the
    same 400.
    """
    try:
        document = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        if "depth" in str(exc):
            raise MalformedJson(f"JSON nested deeper than {MAX_DEPTH} levels") from None
        document = _standard(raw)
    if _too_deep(document):
        raise MalformedJson(f"JSON nested deeper than {MAX_DEPTH} levels")
    return document


def _standard(raw: bytes) -> Any:
    try:
        return json.loads(raw, parse_constant=_no_constant)
    except RecursionError:
        raise MalformedJson(f"JSON nested deeper than {MAX_DEPTH} levels") from None
    except (ValueError, UnicodeDecodeError):
        raise MalformedJson("the body is not valid JSON") from None


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _too_deep(document: Any) -> bool:
    """Iterative, so that judging depth can never recurse either."""
    stack = [(document, 1)]
    while stack:
        value, depth = stack.pop()
        if isinstance(value, dict):
            children: Any = value.values()
        elif isinstance(value, list):
            children = value
        else:
            continue
        if depth > MAX_DEPTH:
            return True
        stack.extend((child, depth + 1) for child in children
                     if isinstance(child, dict | list))
    return False
