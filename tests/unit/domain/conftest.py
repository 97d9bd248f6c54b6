"""Domain test fixtures: the Evolution sample envelopes from the shared contract folder."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests import shared


@pytest.fixture(scope="session")
def evolution_dir() -> Path:
    return shared.evolution_dir()


@pytest.fixture
def sample(evolution_dir: Path) -> Callable[[str], tuple[bytes, dict[str, Any]]]:
    """``sample("messages_upsert.json")`` -> (raw bytes exactly as on disk, parsed body)."""

    def load(name: str) -> tuple[bytes, dict[str, Any]]:
        raw = (evolution_dir / name).read_bytes()
        return raw, json.loads(raw)

    return load
