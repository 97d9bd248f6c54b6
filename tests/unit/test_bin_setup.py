"""``bin/setup`` says what it is doing before the long first install, and nothing when done.

The real script runs in a copy of the repository's top level whose ``.venv/bin/python`` is a
stand-in that only records its arguments: pip's minute of work is not what is under test.
"""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def _checkout(tmp_path: Path) -> Path:
    (tmp_path / "bin").mkdir()
    shutil.copy2(REPO / "bin" / "setup", tmp_path / "bin" / "setup")
    shutil.copy2(REPO / "pyproject.toml", tmp_path / "pyproject.toml")
    python = tmp_path / ".venv" / "bin" / "python"
    python.parent.mkdir(parents=True)
    python.write_text('#!/bin/sh\necho "python $*" >&2\n')
    python.chmod(python.stat().st_mode | stat.S_IXUSR)
    return tmp_path


def _setup(root: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: S603 (the repository's own script)
        [str(root / "bin" / "setup")], capture_output=True, text=True, timeout=30,
        env={"PATH": os.environ.get("PATH", ""), "PYTHON": sys.executable}, check=False)


def test_the_first_run_says_it_installs_before_the_install_starts(tmp_path: Path) -> None:
    done = _setup(_checkout(tmp_path))
    assert done.returncode == 0, done.stderr
    first, *rest = done.stderr.splitlines()
    assert "installing wachannel into .venv" in first, done.stderr
    assert any(line.startswith("python -m pip install") for line in rest), done.stderr
    assert done.stdout == ""


def test_an_up_to_date_install_is_silent(tmp_path: Path) -> None:
    root = _checkout(tmp_path)
    assert _setup(root).returncode == 0
    again = _setup(root)
    assert again.returncode == 0
    assert again.stderr == ""
    assert again.stdout == ""
