"""The variables the settings read, for the tests that check every one is documented."""

from __future__ import annotations

import pytest

from bot.settings import Settings, SettingsError


def every_variable() -> list[str]:
    """Every variable Settings.from_env reads, found by watching what it asks for."""
    asked: list[str] = []

    class Recording(dict[str, str]):
        def get(self, key, default=None):
            asked.append(key)
            return super().get(key, default)

    with pytest.raises(SettingsError):
        Settings.from_env(Recording())
    return asked
