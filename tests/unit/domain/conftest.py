"""Domain test fixtures: the Evolution sample envelopes from the shared contract folder."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

REPO_ROOT = Path(__file__).resolve().parents[3]
SAMPLE_FILES = ("qrcode_updated.json", "connection_update.json", "messages_upsert.json")


def _evolution_dir() -> Path:
    candidates = [REPO_ROOT.parent / "shared" / "evolution"]
    shared = os.environ.get("WACHANNEL_SHARED_DIR")
    if shared:
        candidates += [Path(shared) / "evolution", Path(shared)]
    for candidate in candidates:
        if all((candidate / name).is_file() for name in SAMPLE_FILES):
            return candidate
    tried = ", ".join(str(c) for c in candidates)
    pytest.fail(f"Evolution sample envelopes not found (tried {tried}); set WACHANNEL_SHARED_DIR")


@pytest.fixture(scope="session")
def evolution_dir() -> Path:
    return _evolution_dir()


@pytest.fixture
def sample(evolution_dir: Path) -> Callable[[str], tuple[bytes, dict[str, Any]]]:
    """``sample("messages_upsert.json")`` -> (raw bytes exactly as on disk, parsed body)."""

    def load(name: str) -> tuple[bytes, dict[str, Any]]:
        raw = (evolution_dir / name).read_bytes()
        return raw, json.loads(raw)

    return load
