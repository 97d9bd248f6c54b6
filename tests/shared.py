"""Where the tests find ``../shared`` (the contract folder beside the repository): one place.

``WACHANNEL_SHARED_DIR`` names another copy when the checkout is not beside it. A test that
needs the folder and cannot find it fails with one line saying where it looked.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
_SAMPLE_FILES = ("qrcode_updated.json", "connection_update.json", "messages_upsert.json")


def shared_dir() -> Path:
    given = os.environ.get("WACHANNEL_SHARED_DIR")
    return Path(given) if given else REPO_ROOT.parent / "shared"


def evolution_dir() -> Path:
    """The Evolution v2 sample envelopes."""
    folder = shared_dir() / "evolution"
    if not all((folder / name).is_file() for name in _SAMPLE_FILES):
        pytest.fail(f"Evolution sample envelopes not found in {folder}; "
                    "set WACHANNEL_SHARED_DIR to the shared contract folder")
    return folder


def evolution_sample(name: str) -> dict[str, Any]:
    """``evolution_sample("messages_upsert.json")``, parsed (``.json`` may be left out)."""
    file = name if name.endswith(".json") else f"{name}.json"
    loaded: dict[str, Any] = json.loads((evolution_dir() / file).read_text())
    return loaded
