from __future__ import annotations

import abc

from domain.connect_page import PageOutcome


class ConnectPageCounts(abc.ABC):
    """The connect page's views and outcomes, per flag and variant, shared by every replica."""

    @abc.abstractmethod
    async def add(self, flag: str, variant: str, outcome: PageOutcome) -> None:
        """Count one; concurrent adds from any replica are never lost. Raises
        ``StorageUnavailable`` when the store cannot be reached."""

    @abc.abstractmethod
    async def summary(self, flag: str) -> dict[str, dict[str, int]]:
        """variant -> outcome -> count, only what was counted (empty for a flag never seen)."""
