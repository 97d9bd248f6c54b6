"""Fixtures over ``harness.Harness``: a fresh, started harness per test, closed after it."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest

from tests.unit.application.harness import Config, Harness


@pytest.fixture
async def make_app() -> AsyncIterator[Callable[..., Awaitable[Harness]]]:
    """``await make_app(max_per_org=1, ...)``: a started harness with ``Config`` overrides."""
    apps: list[Harness] = []

    async def make(**overrides: Any) -> Harness:
        app = Harness(Config(**overrides))
        await app.start()
        apps.append(app)
        return app

    yield make
    for app in apps:
        await app.close()
    crashes = [c for app in apps for c in app.delivery_crashes]
    assert not crashes, f"webhook intake crashed on a delivery: {crashes!r}"


@pytest.fixture
async def app(make_app: Callable[..., Awaitable[Harness]]) -> Harness:
    return await make_app()
