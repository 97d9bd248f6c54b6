"""Instance lifecycle: the states of API.md section 3 and the rules that move between them."""

from __future__ import annotations

import enum
from datetime import datetime, timedelta
from uuid import UUID

import attrs

QR_LIFETIME = timedelta(seconds=45)  # Evolution passes qrTimeout 45_000 to Baileys


class InstanceState(enum.StrEnum):
    CREATING = "creating"
    AWAITING_QR = "awaiting_qr"
    CONNECTING = "connecting"
    CONNECTED = "connected"
    DISCONNECTED = "disconnected"
    LOGGED_OUT = "logged_out"
    FAILED = "failed"
    DELETED = "deleted"


S = InstanceState

# Every move the service accepts; anything else is ignored and logged by the caller.
TRANSITIONS: dict[InstanceState, frozenset[InstanceState]] = {
    S.CREATING: frozenset({S.AWAITING_QR, S.CONNECTING, S.CONNECTED, S.DISCONNECTED, S.FAILED,
                           S.DELETED}),
    S.AWAITING_QR: frozenset({S.CONNECTING, S.CONNECTED, S.DISCONNECTED, S.LOGGED_OUT, S.FAILED,
                              S.DELETED}),
    S.CONNECTING: frozenset({S.AWAITING_QR, S.CONNECTED, S.DISCONNECTED, S.LOGGED_OUT, S.FAILED,
                             S.DELETED}),
    S.CONNECTED: frozenset({S.CONNECTING, S.DISCONNECTED, S.LOGGED_OUT, S.DELETED}),
    S.DISCONNECTED: frozenset({S.AWAITING_QR, S.CONNECTING, S.CONNECTED, S.LOGGED_OUT,
                               S.DELETED}),
    # A scan after a logout, or after a create that timed out here but succeeded at Evolution,
    # can reach us as a bare `open` when the intermediate webhooks were lost.
    S.LOGGED_OUT: frozenset({S.AWAITING_QR, S.CONNECTING, S.CONNECTED, S.DELETED}),
    S.FAILED: frozenset({S.AWAITING_QR, S.CONNECTING, S.CONNECTED, S.DELETED}),
    S.DELETED: frozenset(),
}

# States that no longer hold a WhatsApp session slot for the organization.
INACTIVE_STATES = frozenset({S.FAILED, S.DELETED})


def can_transition(current: InstanceState, target: InstanceState) -> bool:
    return target in TRANSITIONS[current]


class Outcome(enum.StrEnum):
    APPLIED = "applied"
    UNCHANGED = "unchanged"
    DUPLICATE = "duplicate"  # what is already known, told again: nothing to keep
    STALE = "stale"
    ILLEGAL = "illegal"


@attrs.frozen
class QrCode:
    code: str
    base64: str
    pairing_code: str | None
    issued_at: datetime
    expires_at: datetime

    @classmethod
    def issue(cls, code: str, base64: str, pairing_code: str | None, at: datetime) -> QrCode:
        return cls(code, base64, pairing_code, at, at + QR_LIFETIME)

    def is_fresh(self, at: datetime, max_age: timedelta) -> bool:
        """Usable from a cache: not expired at Evolution and younger than our cache bound."""
        return at < self.expires_at and at - self.issued_at <= max_age


@attrs.frozen
class LifecycleSignal:
    """A request to move an instance, from a use case or an Evolution event.

    ``evolution_time`` is Evolution's own ``date_time``: local time mislabelled as UTC, so it is
    only ever compared with other Evolution timestamps, never with our clock.
    """

    target: InstanceState
    reason: str | None = None
    evolution_time: datetime | None = None
    phone_number: str | None = None
    profile_name: str | None = None


@attrs.frozen
class Transition:
    outcome: Outcome
    previous: InstanceState
    current: InstanceState

    @property
    def changed(self) -> bool:
        return self.outcome is Outcome.APPLIED


@attrs.define(eq=False)
class Instance:
    id: UUID
    organization_id: str
    evolution_name: str
    display_name: str | None
    phone_number: str | None
    created_at: datetime
    updated_at: datetime
    state: InstanceState = S.CREATING
    state_reason: str | None = None
    profile_name: str | None = None
    connected_at: datetime | None = None
    last_event_at: datetime | None = None
    last_evolution_time: datetime | None = None
    qr: QrCode | None = None
    evolution_token: str | None = None

    @property
    def is_active(self) -> bool:
        return self.state not in INACTIVE_STATES

    def apply(self, signal: LifecycleSignal, at: datetime) -> Transition:
        """Move to ``signal.target`` if the table allows it and the signal is not older."""
        previous = self.state
        if self._is_stale(signal):
            return Transition(Outcome.STALE, previous, previous)
        if signal.target is not previous and not can_transition(previous, signal.target):
            return Transition(Outcome.ILLEGAL, previous, previous)  # ignored: nothing learnt
        if signal.evolution_time is not None:
            self.last_event_at = at
            self.last_evolution_time = signal.evolution_time
        self._learn_profile(signal)
        if signal.target is previous:
            self.state_reason = signal.reason or self.state_reason
            self.updated_at = at
            return Transition(Outcome.UNCHANGED, previous, previous)
        self.state = signal.target
        self.state_reason = signal.reason
        self.updated_at = at
        if signal.target is S.CONNECTED:
            self.connected_at = at
            self.qr = None
        return Transition(Outcome.APPLIED, previous, signal.target)

    def show_qr(
        self, qr: QrCode, at: datetime, evolution_time: datetime | None = None
    ) -> Transition:
        """A new QR means Evolution is waiting for a scan.

        The QR already on screen, told again (the connect answer and its webhook, or a connect
        while the socket is open), is a duplicate: it keeps the time it was first shown, from
        which its lifetime counts.
        """
        if self.shows(qr.code):
            return Transition(Outcome.DUPLICATE, self.state, self.state)
        transition = self.apply(LifecycleSignal(S.AWAITING_QR, None, evolution_time), at)
        if transition.outcome in (Outcome.APPLIED, Outcome.UNCHANGED):
            self.qr = qr
        return transition

    def shows(self, code: str) -> bool:
        """Whether this QR is the one waiting to be scanned."""
        return self.state is S.AWAITING_QR and self.qr is not None and self.qr.code == code

    def fresh_qr(self, at: datetime, max_age: timedelta) -> QrCode | None:
        if self.qr is not None and self.qr.is_fresh(at, max_age):
            return self.qr
        return None

    def _is_stale(self, signal: LifecycleSignal) -> bool:
        last, when = self.last_evolution_time, signal.evolution_time
        if when is None or last is None:
            return False
        # Evolution sends `connecting` and `open` within the same millisecond at times; a
        # `connecting` reordered behind its `open` must not undo the connection.
        backward = self.state is S.CONNECTED and signal.target in (S.CONNECTING, S.AWAITING_QR)
        return when < last or (when == last and backward)

    def _learn_profile(self, signal: LifecycleSignal) -> None:
        if signal.phone_number:
            self.phone_number = signal.phone_number
        if signal.profile_name:
            self.profile_name = signal.profile_name


def evolution_name_for(organization_id: str, hex8: str) -> str:
    return f"{organization_id}-{hex8}"


_EVOLUTION_STATES = {"open": S.CONNECTED, "connecting": S.CONNECTING, "close": S.DISCONNECTED}


def reconciled_state(current: InstanceState, evolution_state: str) -> InstanceState | None:
    """The state Evolution's live ``connectionState`` implies, or None when ours already fits.

    Evolution reports ``connecting`` while a QR waits to be scanned, and ``close`` for an
    instance that was logged out, failed or deleted: neither is news.
    """
    target = _EVOLUTION_STATES.get(evolution_state)
    if target is None or target is current:
        return None
    if current is S.AWAITING_QR and target is S.CONNECTING:
        return None
    if current in (S.LOGGED_OUT, S.FAILED, S.DELETED) and target is S.DISCONNECTED:
        return None
    return target
