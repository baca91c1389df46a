"""The commands the bot syncs carry their translations: a member whose Discord is in Japanese
(or German, Spanish, French, Brazilian Portuguese, Simplified Chinese) sees them so."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from tests.e2e.conftest import World

# Latin American Spanish readers get the Spanish catalog rather than English.
TRANSLATED = ("de", "es-ES", "es-419", "fr", "pt-BR", "ja", "zh-CN")


def _entries(payload: list[dict[str, Any]]) -> Iterator[tuple[str, dict[str, Any]]]:
    """Every command, subcommand, option and choice in a sync payload, with where it is."""

    def walk(where: str, entry: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
        here = f"{where} {entry['name']}".strip()
        yield here, entry
        for option in entry.get("options") or []:
            yield from walk(here, option)
        for choice in entry.get("choices") or []:
            yield f"{here}={choice['value']}", choice

    for command in payload:
        yield from walk("", command)


async def test_synced_commands_carry_every_languages_names_and_descriptions(world: World):
    async with world.running():
        pass
    (sync,) = world.discord.requests_matching("PUT", r"/commands$")
    assert sync.status == 200
    entries = list(_entries(sync.json))
    assert len(entries) > 60
    for where, entry in entries:
        if "description" in entry:
            localized = entry.get("description_localizations") or {}
            assert set(localized) == set(TRANSLATED), where
        # A name a language keeps in English is not repeated as a localization.
        names = entry.get("name_localizations") or {}
        assert entry["name"] not in names.values(), where
        assert set(names) <= set(TRANSLATED), where

    by_place = dict(entries)
    assert by_place["imagine"]["name_localizations"]["ja"] == "画像生成"
    assert by_place["imagine prompt"]["name_localizations"]["ja"] == "プロンプト"
    assert by_place["imagine aspect=16:9"]["name_localizations"]["ja"] == "16:9 ワイド"
    assert by_place["settings channel allow"]["name_localizations"]["ja"] == "許可"
    assert by_place["settings channel allow"]["description_localizations"]["ja"].startswith(
        "チャンネルでボットを動作させます"
    )
    assert by_place["notify dm=on"]["name_localizations"]["de"] == "an"
    # German keeps /status.
    assert "de" not in (by_place["status"].get("name_localizations") or {})
    assert by_place["status"]["name_localizations"]["ja"] == "ステータス"
    # The fake keeps what Discord would: commands as synced, localizations included.
    stored = world.discord.guild_commands[world.guild.id]
    assert {c["name"]: c["name_localizations"]["zh-CN"] for c in stored}["settings"] == "设置"
