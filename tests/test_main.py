"""``python -m bot`` without its settings stops at once with one clear message."""

from __future__ import annotations

import os
import socket
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


def _offline(tmp_path: Path) -> dict[str, str]:
    """Everything the bot would reach pointed at a closed port on 127.0.0.1, and its HTTP
    server at a free one: should it start after all, it reaches nothing else."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        free = probe.getsockname()[1]
    return {
        "DISCORD_TOKEN": "a-token",
        "DISCORD_API_BASE_URL": "http://127.0.0.1:9/api/v10",
        "DISCORD_GATEWAY_URL": "ws://127.0.0.1:9/gateway",
        "AKOOL_BASE_URL": "http://127.0.0.1:9",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'bot.sqlite3'}",
        "HTTP_HOST": "127.0.0.1",
        "HTTP_PORT": str(free),
    }


def _problem_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.startswith("  - ")]


def test_webhook_url_without_client_id_is_refused_in_one_line(tmp_path: Path):
    env = {
        **_offline(tmp_path),
        "AKOOL_API_KEY": "sixteen-byte-key",
        "WEBHOOK_PUBLIC_URL": "https://bot.example.org/akool/webhook",
    }

    result, elapsed = _run_bot(tmp_path, env)

    assert result.returncode == 2, result.stderr
    (line,) = _problem_lines(result.stderr)
    assert "WEBHOOK_PUBLIC_URL needs AKOOL_CLIENT_ID" in line
    assert "Traceback" not in result.stderr
    assert elapsed < 5


def test_api_key_that_cannot_decrypt_webhooks_is_refused_in_one_line(tmp_path: Path):
    env = {
        **_offline(tmp_path),
        "AKOOL_API_KEY": "key-of-twenty-bytes!",
        "AKOOL_CLIENT_ID": "client-id-value",
    }

    result, elapsed = _run_bot(tmp_path, env)

    assert result.returncode == 2, result.stderr
    (line,) = _problem_lines(result.stderr)
    assert "AKOOL_API_KEY must be 16, 24 or 32 characters long" in line
    assert "Traceback" not in result.stderr
    assert "key-of-twenty-bytes!" not in result.stderr
    assert elapsed < 5
