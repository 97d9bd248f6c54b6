"""API.md section 2: what a management token's claims must hold (domain/access.py)."""

from __future__ import annotations

from typing import Any

import pytest

from domain.access import MAX_TOKEN_LIFETIME_S, claims_problem

NOW = 1_800_000_000.0


def claims(**overrides: Any) -> dict[str, Any]:
    base: dict[str, Any] = {"sub": "ana", "role": "tenant_admin", "org": "clinic-42",
                            "exp": NOW + 600}
    base.update(overrides)
    return {k: v for k, v in base.items() if v is not None}


@pytest.mark.parametrize("good", [claims(), claims(role="admin", org=None),
                                  claims(role="system", org=None),
                                  claims(exp=NOW + MAX_TOKEN_LIFETIME_S), claims(exp=NOW + 0.5)])
def test_claims_within_the_rules_pass(good: dict[str, Any]) -> None:
    assert claims_problem(good, NOW) is None


@pytest.mark.parametrize("bad", [
    claims(role="root"), claims(role=["admin"]), claims(role=None),
    claims(sub=""), claims(sub=None), claims(sub=7), claims(sub="a\x00"), claims(sub="x" * 129),
    claims(org=None), claims(org="../A"), claims(org="A\n"), claims(org="\uff21"),
    claims(org=["clinic-42"]), claims(role="admin", org="A/B"),
    claims(exp=None), claims(exp="1900000000"), claims(exp=True), claims(exp=float("inf")),
    claims(exp=float("nan")), claims(exp=1e30), claims(exp=NOW + MAX_TOKEN_LIFETIME_S + 1),
])
def test_claims_outside_the_rules_name_the_problem(bad: dict[str, Any]) -> None:
    assert claims_problem(bad, NOW)
