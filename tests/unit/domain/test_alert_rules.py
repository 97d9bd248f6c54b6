from __future__ import annotations

from datetime import UTC, datetime, timedelta

from domain.alerts import (
    AlertPolicy,
    AlertState,
    Decision,
    memory_growth,
    observe,
    silent,
    webhook_failure_rate,
)

T0 = datetime(2026, 1, 1, tzinfo=UTC)
POLICY = AlertPolicy()
QR = POLICY.rule("qr_failures")


def _run(state: AlertState, outcomes: list[bool], start: datetime = T0,
         step_s: float = 1) -> tuple[AlertState, list[Decision]]:
    decisions = []
    for i, bad in enumerate(outcomes):
        d = observe(state, QR, bad=bad, detail=f"failure {i}", new_id=f"id{i}",
                    at=start + timedelta(seconds=i * step_s), cooldown_s=POLICY.cooldown_s)
        decisions.append(d)
        state = d.state
    return state, decisions


def test_four_qr_failures_raise_nothing_the_fifth_raises_one_alert() -> None:
    state, decisions = _run(AlertState("qr_failures", ""), [True] * 5)
    notices = [d.notice for d in decisions if d.notice]
    assert len(notices) == 1
    assert decisions[4].notice is notices[0]
    assert notices[0].kind == "alert"
    assert notices[0].severity == "critical"
    assert state.firing
    assert state.first_at == T0 + timedelta(seconds=4)


def test_a_success_inside_the_run_starts_the_count_again() -> None:
    state, decisions = _run(AlertState("qr_failures", ""), [True] * 4 + [False] + [True] * 4)
    assert not any(d.notice for d in decisions)
    assert not state.firing
    assert state.consecutive == 4


def test_more_failures_within_the_cooldown_are_not_repeated_then_one_reminder_after() -> None:
    _state, decisions = _run(AlertState("qr_failures", ""), [True] * 30, step_s=20)
    kinds = [(i, d.notice.kind) for i, d in enumerate(decisions) if d.notice]
    # first at the 5th (t=80 s); again only once 300 s have passed (t=380 s, the 20th)
    assert kinds == [(4, "alert"), (19, "alert")]
    assert decisions[19].notice
    assert decisions[19].notice.alert_id == "id4"


def test_exactly_one_recovery_after_success() -> None:
    state, decisions = _run(AlertState("qr_failures", ""), [True] * 6 + [False] * 3)
    notices = [d.notice for d in decisions if d.notice]
    assert [n.kind for n in notices] == ["alert", "recovery"]
    assert notices[1].alert_id == notices[0].alert_id
    assert not state.firing


def test_an_episode_suppressed_by_the_cooldown_has_no_recovery() -> None:
    # fires, recovers, fires again 30 s later: the second is inside the cooldown
    state, decisions = _run(AlertState("qr_failures", ""),
                            [True] * 5 + [False] + [True] * 5 + [False], step_s=3)
    assert [d.notice.kind for d in decisions if d.notice] == ["alert", "recovery"]
    assert not state.firing


def test_single_observation_rules_fire_on_the_first_bad_one() -> None:
    rule = POLICY.rule("api_response_slow")
    d = observe(AlertState(rule.name, ""), rule, bad=True, detail="12 s", at=T0, new_id="a",
                cooldown_s=300)
    assert d.notice
    assert d.notice.kind == "alert"
    assert d.notice.title == "[warning] api_response_slow"


def test_windowed_measurements() -> None:
    assert not webhook_failure_rate(10, 10, POLICY)  # too few to judge
    assert webhook_failure_rate(5, 20, POLICY)
    assert not webhook_failure_rate(3, 20, POLICY)
    assert memory_growth([100, 90, 140], POLICY)
    assert not memory_growth([100, 120], POLICY)
    assert silent(None, T0, T0 + timedelta(hours=1), POLICY)
    assert not silent(T0 + timedelta(minutes=30), T0, T0 + timedelta(hours=1), POLICY)
    assert not silent(None, None, T0, POLICY)
