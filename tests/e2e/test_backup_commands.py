"""The command line of issue 15 (API.md 12), as an operator runs it, on Postgres: `wachannel
backup create|list|restore`, `instances sync`, `audit export` then `audit verify --file` with
no database; and the store-reading commands refuse to run without DATABASE_URL."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from tests.e2e.processes import REPO, WACHANNEL, base_env

pytestmark = [pytest.mark.e2e, pytest.mark.integration]


def _run(env: dict[str, str], *argv: str) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run([str(WACHANNEL), *argv], env=env,  # noqa: S603
                          capture_output=True, timeout=60, cwd=str(REPO))


def test_operator_takes_lists_restores_syncs_and_exports_from_the_command_line(
        postgres_dsn: str, tmp_path: Path) -> None:
    env = base_env(DATABASE_URL=postgres_dsn)
    created = _run(env, "backup", "create")
    assert created.returncode == 0, created.stderr
    backup = json.loads(created.stdout)
    listed = json.loads(_run(env, "backup", "list").stdout)
    assert [b["id"] for b in listed["items"]] == [backup["id"]]
    restored = _run(env, "backup", "restore", backup["id"])
    assert restored.returncode == 0, restored.stderr
    assert json.loads(restored.stdout) == {"restored": 0, "unchanged": 0, "failed": []}
    synced = _run(env, "instances", "sync", "--dry-run")
    assert synced.returncode == 0, synced.stderr
    assert json.loads(synced.stdout)["dry_run"] is True

    trail = tmp_path / "trail.jsonl"
    exported = _run(env, "audit", "export", "--file", str(trail))
    assert exported.returncode == 0, exported.stderr
    verified = _run(base_env(), "audit", "verify", "--file", str(trail))
    assert verified.returncode == 0, verified.stderr
    assert json.loads(verified.stdout)["events"] == 2  # backup_created, backup_restored


@pytest.mark.parametrize("argv", [("backup", "list"), ("instances", "sync"),
                                  ("audit", "export"), ("audit", "verify")])
def test_store_commands_refuse_without_a_database(argv: tuple[str, ...]) -> None:
    done = _run(base_env(), *argv)
    assert done.returncode == 2
    assert b"needs DATABASE_URL" in done.stderr


def test_verify_names_an_unreadable_file(tmp_path: Path) -> None:
    done = _run(base_env(), "audit", "verify", "--file", str(tmp_path / "missing.jsonl"))
    assert done.returncode == 2
    assert b"cannot read" in done.stderr
