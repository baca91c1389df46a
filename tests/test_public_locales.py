"""The language of the job loop's posts per server (bot.languages.PublicLocales): read from the
store at most every 30 seconds, and again at once after this process changed the settings."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from unittest import mock

import discord
import pytest

from bot import languages
from bot.server_settings import ServerSettings
from bot.store.sqlite import SqliteJobStore
from tests.clock import Clock

GUILD = 1234


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[SqliteJobStore]:
    opened = await SqliteJobStore.open(tmp_path / "bot.sqlite3")
    try:
        yield opened
    finally:
        await opened.close()


def client(guild: discord.Guild | None = None) -> discord.Client:
    made: discord.Client = mock.create_autospec(discord.Client, instance=True)
    made.get_guild.return_value = guild  # type: ignore[attr-defined]
    return made


async def choose(store: SqliteJobStore, language: str, now: float) -> None:
    settings = ServerSettings().with_language(language, languages.shipped())
    await store.save_server_settings(GUILD, settings, now=now)


async def test_a_change_made_elsewhere_is_followed_once_the_30_seconds_are_over(
    store: SqliteJobStore,
):
    clock = Clock()
    public = languages.PublicLocales(store, client(), clock=clock)
    await choose(store, "de", clock.now)
    assert await public.of(GUILD) == "de"
    # Another process changes the setting (this one is not told).
    await choose(store, "fr", clock.now)
    clock.now += languages.CACHE_TTL - 0.1
    assert await public.of(GUILD) == "de"
    clock.now += 0.1
    assert await public.of(GUILD) == "fr"
    # ...and the new reading lasts its own 30 seconds.
    await choose(store, "ja", clock.now)
    clock.now += languages.CACHE_TTL - 0.1
    assert await public.of(GUILD) == "fr"
    clock.now += 0.1
    assert await public.of(GUILD) == "ja"


async def test_a_change_made_here_is_followed_at_once(store: SqliteJobStore):
    clock = Clock()
    public = languages.PublicLocales(store, client(), clock=clock)
    await choose(store, "de", clock.now)
    assert await public.of(GUILD) == "de"
    await choose(store, "pt_BR", clock.now)
    public.forget(GUILD)
    assert await public.of(GUILD) == "pt_BR"
    # Forgetting another server changes nothing here.
    await choose(store, "es", clock.now)
    public.forget(GUILD + 1)
    assert await public.of(GUILD) == "pt_BR"


async def test_discords_choice_is_the_one_the_gateway_last_reported(store: SqliteJobStore):
    guild: discord.Guild = mock.create_autospec(discord.Guild, instance=True)
    guild.features = ["COMMUNITY"]
    guild.preferred_locale = discord.Locale.french
    clock = Clock()
    public = languages.PublicLocales(store, client(guild), clock=clock)
    assert await public.of(GUILD) == "fr"
    # Within the 30 seconds, a new choice in Discord is followed at once (it is not cached).
    guild.preferred_locale = discord.Locale.japanese
    assert await public.of(GUILD) == "ja"
    assert await public.of(None) == "en"
