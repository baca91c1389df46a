"""``python -m bot`` without its settings stops at once with one clear message."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path


def _run_bot(
    cwd: Path, env_extra: dict[str, str]
) -> tuple[subprocess.CompletedProcess[str], float]:
    env = {k: v for k, v in os.environ.items() if k not in ("DISCORD_TOKEN", "AKOOL_API_KEY")}
    env.update(env_extra)
    # The project root on the path, as `python -m bot` from a clone has it.
    env["PYTHONPATH"] = str(Path(__file__).resolve().parents[1])
    started = time.monotonic()
    result = subprocess.run(
        [sys.executable, "-m", "bot"],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    return result, time.monotonic() - started


def test_no_env_file_names_each_missing_variable(tmp_path: Path):
    result, elapsed = _run_bot(tmp_path, {})

    assert result.returncode == 2
    assert "DISCORD_TOKEN is missing" in result.stderr
    assert "AKOOL_API_KEY is missing" in result.stderr
    assert "Traceback" not in result.stderr
    assert result.stdout == ""
    assert elapsed < 5  # the contract is "within a second"; leave room for a loaded CI machine


def test_env_file_is_read_and_only_the_missing_one_is_named(tmp_path: Path):
    (tmp_path / ".env").write_text("DISCORD_TOKEN=from-dotenv-file\nHTTP_PORT=abc\n")

    result, _ = _run_bot(tmp_path, {})

    assert result.returncode == 2
    assert "DISCORD_TOKEN" not in result.stderr
    assert "AKOOL_API_KEY is missing" in result.stderr
    assert "HTTP_PORT is not valid" in result.stderr
    assert "from-dotenv-file" not in result.stderr
