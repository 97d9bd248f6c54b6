"""Instance lifecycle (API.md section 3): the transition table, ordering by Evolution time, QR."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from itertools import permutations
from uuid import UUID

import pytest

from domain.instance import (
    INACTIVE_STATES,
    QR_LIFETIME,
    TRANSITIONS,
    Instance,
    InstanceState,
    LifecycleSignal,
    Outcome,
    QrCode,
    can_transition,
    evolution_name_for,
)

S = InstanceState
T0 = datetime(2025, 10, 21, 12, 0, tzinfo=UTC)
T1 = T0 + timedelta(minutes=1)
T2 = T0 + timedelta(minutes=2)
# Evolution's date_time is local time labelled Z: only ever compared with itself.
EVO = datetime(2025, 10, 21, 9, 0, tzinfo=UTC)

LEGAL = [(source, target) for source in S for target in S if target in TRANSITIONS[source]]
ILLEGAL = [
    (source, target)
    for source in S
    for target in S
    if target is not source and target not in TRANSITIONS[source]
]


def _pair_id(pair: tuple[InstanceState, InstanceState]) -> str:
    return f"{pair[0]}->{pair[1]}"


def make_instance(state: InstanceState = S.CREATING, **fields: object) -> Instance:
    values: dict[str, object] = {
        "id": UUID(int=1), "organization_id": "clinic-42", "evolution_name": "clinic-42-3f9a1c2b",
        "display_name": "Recepción", "phone_number": None, "created_at": T0, "updated_at": T0,
    }
    return Instance(**{**values, "state": state, **fields})


def make_qr(code: str = "2@ref,noise,identity,adv", at: datetime = T0) -> QrCode:
    return QrCode.issue(code, "data:image/png;base64,iVBOR", None, at)


# The table -----------------------------------------------------------------------------------

def test_transition_table_has_a_row_for_every_state_and_never_lists_self_moves() -> None:
    assert set(TRANSITIONS) == set(S)
    assert all(state not in targets for state, targets in TRANSITIONS.items())
    assert len(LEGAL) + len(ILLEGAL) == len(S) * (len(S) - 1)


@pytest.mark.parametrize(("source", "target"), LEGAL, ids=[_pair_id(p) for p in LEGAL])
def test_every_legal_transition_is_applied(source: InstanceState, target: InstanceState) -> None:
    instance = make_instance(source, state_reason="before")

    transition = instance.apply(LifecycleSignal(target, reason="why"), T1)

    assert transition.outcome is Outcome.APPLIED
    assert transition.changed
    assert (transition.previous, transition.current) == (source, target)
    assert instance.state is target
    assert instance.state_reason == "why"
    assert instance.updated_at == T1
    assert can_transition(source, target)


@pytest.mark.parametrize(("source", "target"), ILLEGAL, ids=[_pair_id(p) for p in ILLEGAL])
def test_every_illegal_transition_is_ignored_and_leaves_state_unchanged(
    source: InstanceState, target: InstanceState
) -> None:
    instance = make_instance(source, state_reason="before")

    transition = instance.apply(LifecycleSignal(target, reason="why"), T1)

    assert transition.outcome is Outcome.ILLEGAL
    assert not transition.changed
    assert (transition.previous, transition.current) == (source, source)
    assert instance.state is source
    assert instance.state_reason == "before"
    assert instance.updated_at == T0
    assert not can_transition(source, target)


@pytest.mark.parametrize("target", [s for s in S if s is not S.DELETED])
def test_deleted_is_terminal_even_for_newer_evolution_events(target: InstanceState) -> None:
    instance = make_instance(S.DELETED, last_evolution_time=EVO)

    transition = instance.apply(LifecycleSignal(target, evolution_time=EVO + timedelta(1)), T1)

    assert transition.outcome is Outcome.ILLEGAL
    assert instance.state is S.DELETED
    assert not instance.is_active


@pytest.mark.parametrize("state", list(S))
def test_only_failed_and_deleted_instances_are_inactive(state: InstanceState) -> None:
    assert make_instance(state).is_active is (state not in {S.FAILED, S.DELETED})
    assert {s for s in S if s in INACTIVE_STATES} == {S.FAILED, S.DELETED}


# Ordering by Evolution's date_time -------------------------------------------------------------

def test_older_connection_event_never_moves_state_back() -> None:
    instance = make_instance(S.CONNECTING)
    newer, older = EVO + timedelta(seconds=5), EVO + timedelta(seconds=1)
    assert instance.apply(LifecycleSignal(S.CONNECTED, evolution_time=newer), T1).changed

    transition = instance.apply(LifecycleSignal(S.CONNECTING, evolution_time=older), T2)

    assert transition.outcome is Outcome.STALE
    assert (transition.previous, transition.current) == (S.CONNECTED, S.CONNECTED)
    assert instance.state is S.CONNECTED
    assert instance.last_evolution_time == newer
    assert instance.last_event_at == T1
    assert instance.updated_at == T1


def test_stale_event_does_not_teach_phone_or_profile() -> None:
    instance = make_instance(S.CONNECTED, last_evolution_time=EVO, phone_number="5511000000000")
    old = LifecycleSignal(S.CONNECTED, evolution_time=EVO - timedelta(seconds=1),
                          phone_number="5511999999999", profile_name="Old name")

    assert instance.apply(old, T1).outcome is Outcome.STALE
    assert instance.phone_number == "5511000000000"
    assert instance.profile_name is None


def test_event_with_equal_evolution_time_is_applied() -> None:
    instance = make_instance(S.CONNECTING, last_evolution_time=EVO)

    transition = instance.apply(LifecycleSignal(S.CONNECTED, evolution_time=EVO), T1)

    assert transition.outcome is Outcome.APPLIED
    assert instance.state is S.CONNECTED


def test_newer_event_applies_and_records_both_clocks() -> None:
    instance = make_instance(S.AWAITING_QR, last_evolution_time=EVO)
    newer = EVO + timedelta(milliseconds=1)

    assert instance.apply(LifecycleSignal(S.CONNECTING, evolution_time=newer), T1).changed
    assert instance.last_evolution_time == newer
    assert instance.last_event_at == T1


def test_use_case_signal_without_evolution_time_is_never_stale_nor_resets_the_mark() -> None:
    instance = make_instance(S.CONNECTED, last_evolution_time=EVO, last_event_at=T0)

    transition = instance.apply(LifecycleSignal(S.LOGGED_OUT, reason="logout_requested"), T1)

    assert transition.outcome is Outcome.APPLIED
    assert instance.last_evolution_time == EVO
    assert instance.last_event_at == T0


@pytest.mark.parametrize(
    "order", list(permutations(["status.instance", "logout.instance", "connection.update"]))
)
def test_terminal_close_triple_ends_logged_out_in_any_delivery_order(order: tuple[str]) -> None:
    signals = {
        "status.instance": LifecycleSignal(S.DISCONNECTED, "logged_out", EVO),
        "logout.instance": LifecycleSignal(S.LOGGED_OUT, "logged_out", EVO),
        "connection.update": LifecycleSignal(S.DISCONNECTED, "logged_out", EVO),
    }
    instance = make_instance(S.CONNECTED)

    for name in order:
        instance.apply(signals[name], T1)

    assert instance.state is S.LOGGED_OUT
    assert instance.state_reason == "logged_out"


# Same state, connected, profile ---------------------------------------------------------------

def test_signal_for_current_state_is_unchanged_but_refreshes_reason_and_time() -> None:
    instance = make_instance(S.DISCONNECTED, state_reason="connection_closed")

    transition = instance.apply(LifecycleSignal(S.DISCONNECTED, reason="qr_limit_reached"), T1)

    assert transition.outcome is Outcome.UNCHANGED
    assert not transition.changed
    assert instance.state is S.DISCONNECTED
    assert instance.state_reason == "qr_limit_reached"
    assert instance.updated_at == T1


def test_unchanged_signal_without_reason_keeps_the_previous_reason() -> None:
    instance = make_instance(S.DISCONNECTED, state_reason="banned")

    assert instance.apply(LifecycleSignal(S.DISCONNECTED), T1).outcome is Outcome.UNCHANGED
    assert instance.state_reason == "banned"


def test_applied_transition_without_reason_clears_the_old_reason() -> None:
    instance = make_instance(S.DISCONNECTED, state_reason="qr_limit_reached")

    instance.apply(LifecycleSignal(S.CONNECTING), T1)

    assert instance.state_reason is None


def test_connecting_sets_connected_at_and_clears_the_qr() -> None:
    instance = make_instance(S.AWAITING_QR, qr=make_qr())
    assert instance.connected_at is None

    instance.apply(LifecycleSignal(S.CONNECTED), T1)

    assert instance.connected_at == T1
    assert instance.qr is None
    assert instance.fresh_qr(T1, timedelta(minutes=5)) is None


def test_leaving_connected_keeps_the_time_it_connected() -> None:
    instance = make_instance(S.CONNECTED, connected_at=T0)

    instance.apply(LifecycleSignal(S.DISCONNECTED, "connection_closed"), T1)

    assert instance.connected_at == T0


def test_open_signal_teaches_phone_and_profile_name() -> None:
    instance = make_instance(S.CONNECTING)
    signal = LifecycleSignal(S.CONNECTED, None, EVO, "5511912345678", "Acme Vendas")

    instance.apply(signal, T1)

    assert instance.phone_number == "5511912345678"
    assert instance.profile_name == "Acme Vendas"


def test_signal_without_phone_or_profile_keeps_what_was_learnt() -> None:
    instance = make_instance(S.CONNECTED, phone_number="5511912345678", profile_name="Acme")

    instance.apply(LifecycleSignal(S.DISCONNECTED, "connection_closed", phone_number=""), T1)

    assert instance.phone_number == "5511912345678"
    assert instance.profile_name == "Acme"


# QR -------------------------------------------------------------------------------------------

def test_qr_issue_gives_a_45_second_lifetime() -> None:
    qr = QrCode.issue("2@abc", "data:image/png;base64,xyz", "ABCD1234", T0)

    assert QR_LIFETIME.total_seconds() == 45
    assert (qr.issued_at, qr.expires_at) == (T0, T0 + timedelta(seconds=45))
    assert (qr.code, qr.base64, qr.pairing_code) == ("2@abc", "data:image/png;base64,xyz",
                                                      "ABCD1234")


@pytest.mark.parametrize(
    ("age", "max_age", "fresh"),
    [
        (timedelta(0), timedelta(minutes=5), True),
        (timedelta(seconds=44, microseconds=999_999), timedelta(minutes=5), True),
        (timedelta(seconds=45), timedelta(minutes=5), False),  # expired at Evolution
        (timedelta(seconds=60), timedelta(minutes=5), False),
        (timedelta(seconds=10), timedelta(seconds=10), True),  # cache bound is inclusive
        (timedelta(seconds=10, microseconds=1), timedelta(seconds=10), False),
        (timedelta(seconds=30), timedelta(seconds=20), False),  # younger than expiry, too old
    ],
)
def test_qr_is_fresh_only_before_expiry_and_within_max_age(
    age: timedelta, max_age: timedelta, fresh: bool
) -> None:
    qr = make_qr(at=T0)
    instance = make_instance(S.AWAITING_QR, qr=qr)

    assert qr.is_fresh(T0 + age, max_age) is fresh
    assert (instance.fresh_qr(T0 + age, max_age) is qr) is fresh


def test_instance_without_qr_has_no_fresh_qr() -> None:
    assert make_instance(S.AWAITING_QR).fresh_qr(T0, timedelta(minutes=5)) is None


@pytest.mark.parametrize("source", [S.CREATING, S.CONNECTING, S.DISCONNECTED, S.LOGGED_OUT,
                                    S.FAILED])
def test_show_qr_moves_to_awaiting_qr_and_stores_the_qr(source: InstanceState) -> None:
    instance = make_instance(source)
    qr = make_qr()

    transition = instance.show_qr(qr, T1, EVO)

    assert transition.outcome is Outcome.APPLIED
    assert instance.state is S.AWAITING_QR
    assert instance.qr is qr
    assert instance.last_evolution_time == EVO


def test_refreshed_qr_replaces_the_previous_one_while_awaiting() -> None:
    first, second = make_qr("2@first", T0), make_qr("2@second", T1)
    instance = make_instance(S.AWAITING_QR, qr=first)

    transition = instance.show_qr(second, T1)

    assert transition.outcome is Outcome.UNCHANGED
    assert instance.qr is second


def test_the_qr_already_shown_told_again_is_a_duplicate_that_keeps_its_first_time() -> None:
    shown = make_qr("2@same", T0)
    instance = make_instance(S.AWAITING_QR, qr=shown, updated_at=T0)

    transition = instance.show_qr(make_qr("2@same", T1), T1, EVO)

    assert transition.outcome is Outcome.DUPLICATE
    assert (instance.qr, instance.updated_at, instance.last_evolution_time) == (shown, T0, None)


@pytest.mark.parametrize(("state", "code", "shows"), [
    (S.AWAITING_QR, "2@same", True), (S.AWAITING_QR, "2@other", False),
    (S.CONNECTING, "2@same", False), (S.CONNECTED, "2@same", False)])
def test_an_instance_shows_only_the_qr_it_awaits_a_scan_of(state: InstanceState, code: str,
                                                            shows: bool) -> None:
    assert make_instance(state, qr=make_qr("2@same")).shows(code) is shows
    assert make_instance(S.AWAITING_QR).shows("2@same") is False


def test_a_known_qr_after_the_state_moved_on_is_shown_again() -> None:
    instance = make_instance(S.CONNECTING, qr=make_qr("2@same", T0))

    transition = instance.show_qr(make_qr("2@same", T1), T1)

    assert transition.outcome is Outcome.APPLIED
    assert instance.qr.issued_at == T1


@pytest.mark.parametrize("source", [S.CONNECTED, S.DELETED])
def test_qr_that_cannot_apply_is_not_stored(source: InstanceState) -> None:
    instance = make_instance(source)

    transition = instance.show_qr(make_qr(), T1)

    assert transition.outcome is Outcome.ILLEGAL
    assert instance.state is source
    assert instance.qr is None


def test_stale_qr_is_not_stored() -> None:
    current = make_qr("2@current")
    instance = make_instance(S.AWAITING_QR, qr=current, last_evolution_time=EVO)

    transition = instance.show_qr(make_qr("2@late"), T1, EVO - timedelta(seconds=30))

    assert transition.outcome is Outcome.STALE
    assert instance.qr is current


def test_evolution_name_joins_organization_and_hex_suffix() -> None:
    assert evolution_name_for("clinic-42", "3f9a1c2b") == "clinic-42-3f9a1c2b"


def test_connecting_with_the_same_evolution_time_as_open_does_not_undo_the_connection():
    when = datetime(2025, 10, 21, 11, 31, 2, tzinfo=UTC)
    instance = Instance(UUID(int=1), "clinic-1", "clinic-1-0a1b2c3d", None, None, when, when,
                        state=InstanceState.CONNECTING)
    at = when + timedelta(seconds=1)
    instance.apply(LifecycleSignal(InstanceState.CONNECTED, None, when), at)
    late = instance.apply(LifecycleSignal(InstanceState.CONNECTING, None, when), at)
    assert late.outcome is Outcome.STALE
    assert instance.state is InstanceState.CONNECTED
