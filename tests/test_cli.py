"""The ``akool-bot`` command line: its help, what ``backup`` refuses, the ``check`` slot and the
health probe. (Running the bot is ``tests/test_main.py`` and the process tests; a backup of a
running bot is ``tests/e2e/test_backup.py``.)"""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import types
from pathlib import Path

import pytest

from bot import cli
from tests.children import ROOT, current_user
from tests.ports import reserved_port

COMMAND = Path(sys.executable).with_name("akool-bot")


def _run(cwd: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    kept = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("DATABASE_", "DISCORD_", "AKOOL_", "HTTP_"))
    }
    return subprocess.run(  # noqa: S603 - this project's own command
        [str(COMMAND), *args],
        cwd=cwd,
        env=current_user().environment({**kept, "PYTHONPATH": str(ROOT), **env}),
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )


def _a_store(path: Path) -> None:
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE jobs (akool_id TEXT)")
        db.execute("INSERT INTO jobs VALUES ('job-1')")


def test_help_names_every_command(tmp_path: Path):
    result = _run(tmp_path, "--help")

    assert result.returncode == 0, result.stderr
    for command in ("run", "backup", "check", "health"):
        assert f"\n    {command} " in result.stdout


def test_backup_copies_a_store(tmp_path: Path):
    _a_store(tmp_path / "bot.sqlite3")

    result = _run(tmp_path, "backup", "copy.sqlite3", DATABASE_URL="sqlite:///bot.sqlite3")

    assert result.returncode == 0, result.stderr
    assert "1 jobs" in result.stdout
    with sqlite3.connect(tmp_path / "copy.sqlite3") as copy:
        assert copy.execute("SELECT akool_id FROM jobs").fetchall() == [("job-1",)]


def test_backup_never_overwrites(tmp_path: Path):
    _a_store(tmp_path / "bot.sqlite3")
    (tmp_path / "taken.sqlite3").write_text("an earlier backup")

    result = _run(tmp_path, "backup", "taken.sqlite3", DATABASE_URL="sqlite:///bot.sqlite3")

    assert result.returncode == 2
    assert result.stderr == (
        "No backup was made: taken.sqlite3 already exists: choose a new file name "
        "(nothing is replaced).\n"
    )
    assert (tmp_path / "taken.sqlite3").read_text() == "an earlier backup"


def test_backup_into_a_missing_folder_is_refused(tmp_path: Path):
    _a_store(tmp_path / "bot.sqlite3")

    result = _run(
        tmp_path, "backup", "no/such/folder/copy.sqlite3", DATABASE_URL="sqlite:///bot.sqlite3"
    )

    assert result.returncode == 2
    assert f"The folder {tmp_path}/no/such/folder does not exist." in result.stderr
    assert not (tmp_path / "no").exists()


def test_backup_of_a_missing_store_creates_nothing(tmp_path: Path):
    result = _run(tmp_path, "backup", "copy.sqlite3", DATABASE_URL="sqlite:///none.sqlite3")

    assert result.returncode == 2
    assert f"There is no database at {tmp_path}/none.sqlite3" in result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == []


def test_backup_of_postgres_says_to_use_pg_dump(tmp_path: Path):
    url = f"postgresql://akool:a-password-here@127.0.0.1:{reserved_port()}/akool"

    result = _run(tmp_path, "backup", "copy.sqlite3", DATABASE_URL=url)

    assert result.returncode == 2
    assert "DATABASE_URL names PostgreSQL" in result.stderr
    assert "pg_dump --format=custom" in result.stderr
    assert "a-password-here" not in result.stderr
    assert not (tmp_path / "copy.sqlite3").exists()


def test_health_without_a_bot_fails(tmp_path: Path):
    port = reserved_port()

    result = _run(tmp_path, "health", HTTP_PORT=str(port))

    assert result.returncode == 1
    assert f"no answer at http://127.0.0.1:{port}/healthz" in result.stderr


def test_check_hands_its_arguments_to_the_check_module(monkeypatch: pytest.MonkeyPatch):
    seen: list[list[str]] = []

    def main(argv: list[str]) -> int:
        seen.append(argv)
        return 7

    module = types.ModuleType("bot.check")
    module.main = main  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "bot.check", module)

    assert cli.main(["check", "--verbose", "x"]) == 7
    assert seen == [["--verbose", "x"]]


def test_check_without_its_module_says_so(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
):
    monkeypatch.setitem(sys.modules, "bot.check", None)  # as if bot/check.py were not there

    assert cli.main(["check"]) == 2
    assert capsys.readouterr().err == "akool-bot check is not available in this version.\n"


def test_check_is_the_checklist(tmp_path: Path):
    result = _run(tmp_path, "check", "--help")

    assert result.returncode == 0, result.stderr
    assert "--timeout" in result.stdout
