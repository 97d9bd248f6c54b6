"""Drift between Evolution and our store, and who an unknown Evolution instance belongs to."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import attrs

from domain.instance import InstanceState
from domain.text import is_organization_id


@attrs.frozen
class Seen:
    """One instance as one side knows it: Evolution's ``connectionStatus`` or our state."""

    name: str
    state: str
    organization_id: str | None = None


@attrs.frozen
class Drift:
    adoptable: tuple[tuple[str, str], ...]   # (evolution name, organization)
    only_in_evolution: tuple[str, ...]       # unknown here and no organization to give it
    only_here: tuple[str, ...]               # a live row of ours Evolution does not hold
    state_differs: tuple[tuple[str, str, str], ...]  # (name, our state, Evolution's)

    @property
    def any(self) -> bool:
        return bool(self.adoptable or self.only_in_evolution or self.only_here
                    or self.state_differs)


def organization_for(name: str, mapping: Mapping[str, str]) -> str | None:
    """The mapping's answer, else the ``<orgId>-`` prefix our own names carry."""
    if name in mapping:
        return mapping[name]
    prefix, dash, _ = name.rpartition("-")
    return prefix if dash and is_organization_id(prefix) else None


def drift(evolution: Iterable[Seen], ours: Iterable[Seen], mapping: Mapping[str, str]) -> Drift:
    remote = {r.name: r for r in evolution}
    local = {o.name: o for o in ours}
    adoptable, orphans, differs = [], [], []
    for name in sorted(remote):
        mine = local.get(name)
        if mine is None:
            org = organization_for(name, mapping)
            if org is None:
                orphans.append(name)
            else:
                adoptable.append((name, org))
        elif _differs(mine.state, remote[name].state):
            differs.append((name, mine.state, remote[name].state))
    gone = sorted(n for n, o in local.items()
                  if n not in remote and o.state not in ("deleted", "failed"))
    return Drift(tuple(adoptable), tuple(orphans), tuple(gone), tuple(differs))


def _differs(ours: str, theirs: str) -> bool:
    """fetchInstances reports Evolution's database row, which says ``close`` for an instance
    waiting for its first scan: only a session one side has and the other lacks is drift,
    and an instance we deleted that Evolution still holds."""
    if ours == InstanceState.DELETED:
        return True
    return (theirs == "open") != (ours == InstanceState.CONNECTED)


def adopted_state(evolution_state: str) -> InstanceState:
    """The state an adopted instance starts in, from Evolution's word for it."""
    return InstanceState.CONNECTED if evolution_state == "open" else InstanceState.DISCONNECTED
