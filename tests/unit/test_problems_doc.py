"""docs/problems.md and the problem table of the HTTP edge name the same slugs."""

from __future__ import annotations

import re
from pathlib import Path

from entrypoints.http.problems import EDGE_PROBLEMS, PROBLEMS

DOC = Path(__file__).resolve().parents[2] / "docs" / "problems.md"


def test_every_problem_slug_is_documented_with_its_status_and_nothing_else_is() -> None:
    documented = {m[0]: int(m[1]) for m in
                  re.findall(r"^\| `([a-z-]+)` \| (\d{3}) \|", DOC.read_text(), re.M)}
    raised = {slug: status for status, slug, _ in PROBLEMS.values()}
    raised |= {slug: status for status, (slug, _) in EDGE_PROBLEMS.items()}
    assert documented == raised
