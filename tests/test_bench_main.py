"""BENCHMARKS.md names the commit its figures were measured on."""

from __future__ import annotations

import subprocess
from pathlib import Path

from bench.__main__ import _at_commit

ROOT = Path(__file__).resolve().parents[1]


def test_the_header_names_the_commit_measured():
    head = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"],  # noqa: S607
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()

    assert _at_commit() == f" of commit `{head}`"
