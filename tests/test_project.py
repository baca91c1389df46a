"""Project invariants: the README's commands, CI and the settings documentation agree."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from bot.settings import Settings, SettingsError

ROOT = Path(__file__).resolve().parents[1]


def _settings_variables() -> list[str]:
    """Every variable Settings.from_env reads, found by watching what it asks for."""
    asked: list[str] = []

    class Recording(dict[str, str]):
        def get(self, key, default=None):
            asked.append(key)
            return super().get(key, default)

    with pytest.raises(SettingsError):
        Settings.from_env(Recording())
    return asked


def test_ci_runs_exactly_the_readme_test_command():
    ci = (ROOT / ".ci" / "run").read_text()
    readme = (ROOT / "README.md").read_text()
    (command,) = [line for line in ci.splitlines() if line.startswith("python3 -m venv")]

    assert f"```sh\n{command}\n```" in readme
    assert "pytest" in command


def test_every_setting_is_in_env_example_and_readme():
    variables = _settings_variables()
    example = (ROOT / ".env.example").read_text()
    readme = (ROOT / "README.md").read_text()

    assert len(variables) >= 10
    for name in variables:
        assert re.search(rf"^{name}=", example, re.MULTILINE), f"{name} not in .env.example"
        assert f"`{name}`" in readme, f"{name} not in the README's table"
