"""Evolution's checks on the two bodies it takes, with its exact messages."""

from __future__ import annotations

import re
from typing import Any

from adapters.evolution.endpoints import EvolutionRefusal
from adapters.evolution.simulation.webhooks import EVENT_NAMES

_INTEGRATIONS = frozenset({"WHATSAPP-BAILEYS", "WHATSAPP-BUSINESS", "EVOLUTION"})
_NUMBER = re.compile(r"^\d+[\.@\w-]+")
_TYPE_ERROR = "Cannot read properties of undefined (reading 'length')"


def bad_request(*messages: str) -> EvolutionRefusal:
    return EvolutionRefusal.envelope(400, list(messages))


def check_create(body: Any) -> None:
    if not isinstance(body, dict):
        raise bad_request("instance is not of a type(s) object")
    name = body.get("instanceName")
    if name is None:
        raise bad_request('instance requires property "instanceName"')
    if not isinstance(name, str) or not name.strip():
        raise bad_request('The "instanceName" cannot be empty')
    if body.get("integration") not in _INTEGRATIONS:
        raise bad_request("Invalid integration")
    number = body.get("number")
    if number is not None and not (isinstance(number, str) and _NUMBER.match(number)):
        raise bad_request('instance.number does not match pattern "^\\d+[\\.@\\w-]+"')


def inline_webhook(body: dict[str, Any]) -> tuple[dict[str, Any], list[str]] | None:
    """The create body's webhook and the events to store. Names are not checked here."""
    spec = body.get("webhook")
    if not isinstance(spec, dict) or not isinstance(spec.get("url"), str):
        return None  # the v1 forms are silently ignored
    events = spec.get("events")
    if not isinstance(events, list):
        # Evolution reads events.length unguarded; the create is rolled back.
        raise bad_request(_TYPE_ERROR)
    return spec, [str(e) for e in events] or list(EVENT_NAMES)


def set_webhook(body: Any) -> tuple[dict[str, Any], list[str]]:
    """The /webhook/set body and the events to store."""
    spec = body.get("webhook") if isinstance(body, dict) else None
    if not isinstance(spec, dict):
        raise bad_request('instance requires property "webhook"')
    for field in ("enabled", "url"):
        if field not in spec:
            raise bad_request(f'webhook requires property "{field}"')
    if "headers" in spec and not isinstance(spec["headers"], dict):
        raise bad_request("webhook.headers is not of a type(s) object")
    events = spec.get("events")
    for index, name in enumerate(events if isinstance(events, list) else []):
        if name not in EVENT_NAMES:
            raise bad_request(f"webhook.events[{index}] is not one of enum values: "
                              + ",".join(EVENT_NAMES))
    if not spec["enabled"]:
        return spec, []
    if not isinstance(events, list):
        raise EvolutionRefusal.envelope(500, _TYPE_ERROR)
    return spec, list(events) or list(EVENT_NAMES)
