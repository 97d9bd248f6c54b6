"""Rollout flags (API.md section 7): deterministic, monotonic bucketing, kill switch, variants."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime
from itertools import pairwise
from typing import Any

import attrs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from domain.errors import InvalidFlag
from domain.rollout import (
    BUCKETS,
    DEFAULT_VARIANTS,
    RADICAL_SOLUTION,
    STAGES,
    Evaluation,
    Flag,
    Variant,
    bucket,
    initial_flag,
    next_stage,
    variants_from,
)

AT = datetime(2025, 10, 21, 12, 0, tzinfo=UTC)
ORGS = [f"org-{i}" for i in range(10_000)]
FIFTY_FIFTY = variants_from(DEFAULT_VARIANTS)


def flag(percentage: int, **fields: Any) -> Flag:
    return Flag(RADICAL_SOLUTION, True, percentage, **fields)


def enabled_orgs(f: Flag) -> set[str]:
    return {org for org in ORGS if f.evaluate(org).enabled}


# Bucketing ------------------------------------------------------------------------------------

def test_bucket_is_deterministic_and_in_range() -> None:
    for org in ORGS[:500]:
        value = bucket(RADICAL_SOLUTION, org)
        assert value == bucket(RADICAL_SOLUTION, org)
        assert 0 <= value < BUCKETS


@pytest.mark.parametrize(
    ("flag_name", "org", "expected"),
    [
        (RADICAL_SOLUTION, "org-0", 1162),
        (RADICAL_SOLUTION, "org-1", 8727),
        (RADICAL_SOLUTION, "clinic-42", 1877),
        ("other_flag", "org-0", 8827),
    ],
)
def test_bucket_assignment_is_stable_across_releases(flag_name: str, org: str,
                                                     expected: int) -> None:
    # Changing the hash would silently move organizations in and out of a running rollout.
    assert bucket(flag_name, org) == expected


def test_buckets_of_different_flags_are_independent() -> None:
    same = sum(bucket("flag_a", org) == bucket("flag_b", org) for org in ORGS[:1000])

    assert same < 10


@pytest.mark.parametrize(("org", "first_percentage"), [("org-0", 12), ("org-1745", 11),
                                                      ("org-2379", 51)])
def test_percentage_admits_exactly_the_buckets_below_percentage_times_100(
    org: str, first_percentage: int
) -> None:
    # org-0 sits in bucket 1162; org-1745 exactly on 1000 and org-2379 exactly on 5000.
    assert bucket(RADICAL_SOLUTION, org) // 100 == first_percentage - 1

    assert not flag(first_percentage - 1).evaluate(org).enabled
    assert flag(first_percentage).evaluate(org).enabled


@pytest.mark.parametrize("percentage", STAGES)
def test_enabled_share_over_10000_orgs_is_within_one_point_of_the_stage(percentage: int) -> None:
    share = len(enabled_orgs(flag(percentage))) / len(ORGS) * 100

    assert abs(share - percentage) <= 1


def test_zero_percent_admits_nobody() -> None:
    assert enabled_orgs(flag(0)) == set()


def test_every_org_enabled_at_a_stage_stays_enabled_at_every_later_stage() -> None:
    cohorts = [enabled_orgs(flag(p)) for p in (0, *STAGES)]

    for earlier, later in pairwise(cohorts):
        assert earlier <= later
    assert cohorts[-1] == set(ORGS)


@settings(max_examples=200, deadline=None)
@given(org=st.text(max_size=40), percentages=st.lists(st.integers(0, 100), min_size=2,
                                                      max_size=2))
def test_raising_the_percentage_never_drops_an_org(org: str, percentages: list[int]) -> None:
    low, high = sorted(percentages)

    if flag(low).evaluate(org).enabled:
        assert flag(high).evaluate(org).enabled


@settings(max_examples=100, deadline=None)
@given(org=st.text(max_size=40), percentage=st.integers(0, 100))
def test_evaluation_is_deterministic_for_any_org(org: str, percentage: int) -> None:
    f = flag(percentage, variants=FIFTY_FIFTY)

    assert f.evaluate(org) == f.evaluate(org) == flag(percentage,
                                                      variants=FIFTY_FIFTY).evaluate(org)


# Allow, deny, kill switch ---------------------------------------------------------------------

def test_allow_list_admits_an_org_at_zero_percent_and_nobody_else() -> None:
    f = flag(0, allow_orgs=frozenset({"org-1"}))

    assert f.evaluate("org-1").enabled
    assert enabled_orgs(f) == {"org-1"}


def test_deny_list_excludes_an_org_at_one_hundred_percent() -> None:
    f = flag(100, deny_orgs=frozenset({"org-1"}))

    assert f.evaluate("org-1") == Evaluation(False, None)
    assert enabled_orgs(f) == set(ORGS) - {"org-1"}


def test_deny_list_excludes_an_org_whose_bucket_is_inside_the_percentage() -> None:
    assert bucket(RADICAL_SOLUTION, "org-6") < 1000

    assert not flag(10, deny_orgs=frozenset({"org-6"})).evaluate("org-6").enabled


def test_org_cannot_be_both_allowed_and_denied() -> None:
    with pytest.raises(InvalidFlag) as raised:
        flag(50, allow_orgs=frozenset({"org-1", "org-2"}), deny_orgs=frozenset({"org-2"}))

    assert "allow_orgs" in raised.value.errors


def test_disabled_flag_admits_nobody_even_allow_listed_at_100_percent() -> None:
    f = Flag(RADICAL_SOLUTION, False, 100, allow_orgs=frozenset({"org-1"}), variants=FIFTY_FIFTY)

    assert f.evaluate("org-1") == Evaluation(False, None)
    assert enabled_orgs(f) == set()


def test_kill_switch_turns_off_but_keeps_the_cohort_for_re_enabling() -> None:
    running = flag(25, allow_orgs=frozenset({"org-1"}))
    cohort = enabled_orgs(running)

    killed = running.switched(False, AT, "admin-1")

    assert not killed.enabled
    assert (killed.percentage, killed.allow_orgs) == (25, frozenset({"org-1"}))
    assert (killed.updated_at, killed.updated_by) == (AT, "admin-1")
    assert enabled_orgs(killed) == set()
    assert running.enabled  # frozen: the original is untouched
    assert enabled_orgs(killed.switched(True, AT, "admin-2")) == cohort


# Stages ---------------------------------------------------------------------------------------

@pytest.mark.parametrize(
    ("current", "expected"),
    [(0, 10), (9, 10), (10, 25), (25, 50), (30, 50), (50, 100), (99, 100), (100, 100)],
)
def test_next_stage_follows_10_25_50_100(current: int, expected: int) -> None:
    assert next_stage(current) == expected


def test_advanced_moves_to_the_next_stage_and_records_who_and_when() -> None:
    f = flag(10)

    advanced = f.advanced(AT, "admin-1")

    assert advanced.percentage == 25
    assert advanced.enabled
    assert (advanced.updated_at, advanced.updated_by) == (AT, "admin-1")
    assert f.percentage == 10


def test_repeated_advancing_walks_every_stage_and_stops_at_100() -> None:
    f = flag(0)
    seen = []
    for _ in range(len(STAGES) + 1):
        f = f.advanced(AT, "admin-1")
        seen.append(f.percentage)

    assert seen == [*STAGES, 100]


# Variants -------------------------------------------------------------------------------------

def test_variant_is_deterministic_per_org_and_reported_by_evaluate() -> None:
    f = flag(100, variants=FIFTY_FIFTY)

    for org in ORGS[:300]:
        variant = f.variant_for(org)
        assert variant in {"unified_qr", "guided_steps"}
        assert f.variant_for(org) == variant
        assert f.evaluate(org) == Evaluation(True, variant)


def test_fifty_fifty_variants_split_within_two_points_over_10000_orgs() -> None:
    f = flag(100, variants=FIFTY_FIFTY)

    counts = Counter(f.variant_for(org) for org in ORGS)

    assert set(counts) == {"unified_qr", "guided_steps"}
    for name in counts:
        assert abs(counts[name] / len(ORGS) * 100 - 50) <= 2


@pytest.mark.parametrize("percentage", STAGES[:-1])
def test_variants_split_evenly_inside_an_early_stage_cohort(percentage: int) -> None:
    # The variant draw must be independent of the rollout bucket, or the first 10 % would all
    # land in one variant.
    f = flag(percentage, variants=FIFTY_FIFTY)
    admitted = [f.evaluate(org).variant for org in ORGS if f.evaluate(org).enabled]

    share = Counter(admitted)["unified_qr"] / len(admitted) * 100

    assert abs(share - 50) <= 5


def test_variants_split_by_weight() -> None:
    f = flag(100, variants=variants_from([("a", 1), ("b", 3)]))

    counts = Counter(f.variant_for(org) for org in ORGS)

    assert abs(counts["a"] / len(ORGS) * 100 - 25) <= 2
    assert abs(counts["b"] / len(ORGS) * 100 - 75) <= 2


def test_zero_weight_variant_is_never_chosen() -> None:
    f = flag(100, variants=variants_from([("off", 0), ("on", 1)]))

    assert {f.variant_for(org) for org in ORGS[:2000]} == {"on"}


def test_variant_assignment_does_not_depend_on_the_percentage() -> None:
    low, full = flag(10, variants=FIFTY_FIFTY), flag(100, variants=FIFTY_FIFTY)

    for org in enabled_orgs(low):
        assert low.evaluate(org).variant == full.evaluate(org).variant


def test_variant_is_none_for_orgs_not_admitted() -> None:
    disabled = Flag(RADICAL_SOLUTION, False, 100, variants=FIFTY_FIFTY)
    denied = flag(100, variants=FIFTY_FIFTY, deny_orgs=frozenset({"org-1"}))
    outside = flag(0, variants=FIFTY_FIFTY)

    assert disabled.evaluate("org-1").variant is None
    assert denied.evaluate("org-1").variant is None
    assert outside.evaluate("org-1").variant is None


def test_enabled_flag_without_variants_reports_no_variant() -> None:
    assert flag(100).evaluate("org-1") == Evaluation(True, None)


# Invariants -----------------------------------------------------------------------------------

@pytest.mark.parametrize("percentage", [-1, 101, 1000])
def test_percentage_outside_0_to_100_is_invalid(percentage: int) -> None:
    with pytest.raises(InvalidFlag) as raised:
        flag(percentage)

    assert set(raised.value.errors) == {"percentage"}


@pytest.mark.parametrize(
    "variants",
    [
        (Variant("a", -1), Variant("b", 2)),
        (Variant("a", 0), Variant("b", 0)),
    ],
    ids=["negative", "all-zero"],
)
def test_negative_or_all_zero_weights_are_invalid(variants: tuple[Variant, ...]) -> None:
    with pytest.raises(InvalidFlag) as raised:
        flag(50, variants=variants)

    assert set(raised.value.errors) == {"variants"}


def test_every_broken_invariant_is_reported_at_once() -> None:
    with pytest.raises(InvalidFlag) as raised:
        flag(150, variants=(Variant("a", -5),), allow_orgs=frozenset({"x"}),
             deny_orgs=frozenset({"x"}))

    assert set(raised.value.errors) == {"percentage", "variants", "allow_orgs"}


def test_changing_a_valid_flag_into_an_invalid_one_raises() -> None:
    with pytest.raises(InvalidFlag):
        attrs.evolve(flag(50), percentage=-5)


@pytest.mark.parametrize("percentage", [0, 100])
def test_boundary_percentages_are_valid(percentage: int) -> None:
    assert flag(percentage).percentage == percentage


def test_initial_flag_is_radical_solution_enabled_with_the_default_variants() -> None:
    f = initial_flag(10, AT)

    assert (f.name, f.enabled, f.percentage) == (RADICAL_SOLUTION, True, 10)
    assert f.variants == (Variant("unified_qr", 50), Variant("guided_steps", 50))
    assert (f.updated_at, f.updated_by) == (AT, "system")
    assert (f.allow_orgs, f.deny_orgs) == (frozenset(), frozenset())


def test_initial_flag_rejects_an_invalid_percentage() -> None:
    with pytest.raises(InvalidFlag):
        initial_flag(101, AT)


def test_as_dict_lists_orgs_sorted_and_variants_in_order() -> None:
    f = flag(25, allow_orgs=frozenset({"b", "a"}), deny_orgs=frozenset({"d", "c"}),
             variants=variants_from([("x", 1), ("y", 2)]))

    assert f.as_dict() == {
        "name": RADICAL_SOLUTION, "enabled": True, "percentage": 25,
        "allow_orgs": ["a", "b"], "deny_orgs": ["c", "d"],
        "variants": [{"name": "x", "weight": 1}, {"name": "y", "weight": 2}],
    }
