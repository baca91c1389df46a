"""The catalogs: which languages ship, how a Discord locale finds its catalog, plural rules."""

from __future__ import annotations

from pathlib import Path

import discord
import pytest
from babel.messages.catalog import Catalog
from babel.messages.mofile import write_mo
from discord import app_commands

from bot import i18n
from bot.i18n import Catalogs, catalog_names
from bot.translator import CatalogTranslator

SHIPPED = ("en", "de", "es", "fr", "ja", "pt_BR", "zh_CN")


def test_the_package_ships_english_and_six_translations():
    assert i18n.shipped().languages == SHIPPED


@pytest.mark.parametrize(
    ("locale", "catalog"),
    [
        (discord.Locale.german, "de"),
        (discord.Locale.spain_spanish, "es"),
        # No Latin American catalog: its language's is closer than English.
        (discord.Locale.latin_american_spanish, "es"),
        (discord.Locale.french, "fr"),
        (discord.Locale.brazil_portuguese, "pt_BR"),
        (discord.Locale.japanese, "ja"),
        (discord.Locale.chinese, "zh_CN"),
        # Traditional Chinese readers do not get Simplified Chinese.
        (discord.Locale.taiwan_chinese, None),
        (discord.Locale.american_english, None),
        (discord.Locale.british_english, None),
        (discord.Locale.korean, None),
        ("pt-BR", "pt_BR"),
        ("ja", "ja"),
        ("", None),
        (None, None),
    ],
)
def test_a_discord_locale_finds_its_catalog(locale, catalog):
    assert i18n.shipped().catalog_for(locale) == catalog


def test_locale_names_go_from_discord_to_gettext():
    assert catalog_names(discord.Locale.brazil_portuguese) == ("pt_BR", "pt")
    assert catalog_names("zh-TW") == ("zh_TW", "zh")
    assert catalog_names("de") == ("de",)


def test_each_call_names_its_reader_and_english_is_the_fallback():
    imagine = ("command name", "imagine")
    assert i18n.pgettext(discord.Locale.japanese, *imagine) == "画像生成"
    assert i18n.pgettext(discord.Locale.german, *imagine) == "bild"
    assert i18n.pgettext(discord.Locale.american_english, *imagine) == "imagine"
    assert i18n.pgettext(discord.Locale.korean, *imagine) == "imagine"
    # A message no catalog has is shown as written.
    assert i18n.gettext(discord.Locale.japanese, "Not in any catalog") == "Not in any catalog"


def _compile(directory: Path, language: str, entries: list[tuple[object, object]]) -> None:
    catalog = Catalog(locale=language, domain="messages")
    for ident, string in entries:
        catalog.add(ident, string)  # type: ignore[arg-type]
    target = directory / language / "LC_MESSAGES" / "messages.mo"
    target.parent.mkdir(parents=True)
    with target.open("wb") as file:
        write_mo(file, catalog)


def test_plural_forms_follow_each_language(tmp_path: Path):
    ids = ("%(count)d image", "%(count)d images")
    _compile(tmp_path, "fr", [(ids, ("%(count)d image", "%(count)d d'images", "%(count)d images"))])
    _compile(tmp_path, "ja", [(ids, ("%(count)d 枚",))])
    _compile(tmp_path, "de", [(ids, ("%(count)d Bild", "%(count)d Bilder"))])
    catalogs = Catalogs.load(tmp_path)

    def form(locale: str | None, n: int) -> str:
        return catalogs.ngettext(locale, *ids, n) % {"count": n}

    # French counts 0 as singular, English does not; a million takes French's "many" form.
    assert [form("fr", n) for n in (0, 1, 2)] == ["0 image", "1 image", "2 images"]
    assert form("fr", 1_000_000) == "1000000 d'images"
    assert [form(None, n) for n in (0, 1, 2)] == ["0 images", "1 image", "2 images"]
    assert [form("de", n) for n in (0, 1, 2)] == ["0 Bilder", "1 Bild", "2 Bilder"]
    # Japanese has one form.
    assert [form("ja", n) for n in (0, 1, 5)] == ["0 枚", "1 枚", "5 枚"]


async def test_a_name_a_language_keeps_in_english_is_not_sent_as_a_localization():
    translator = CatalogTranslator()
    # What discord.py passes for a command's name (the command itself does not matter here).
    context = app_commands.TranslationContext(
        location=app_commands.TranslationContextLocation.command_name,
        data=None,  # type: ignore[call-overload]
    )
    status = app_commands.locale_str("status")
    # German keeps /status; Japanese does not.
    assert await translator.translate(status, discord.Locale.german, context) is None
    assert await translator.translate(status, discord.Locale.japanese, context) == "ステータス"
    assert await translator.translate(status, discord.Locale.american_english, context) is None


async def test_choices_an_autocomplete_builds_are_never_translated():
    """Autocomplete choices are a member's jobs or a server's banned words: the member's text."""
    translator = CatalogTranslator()
    # "Everyone" is a declared choice with a Japanese translation.
    assert i18n.pgettext("ja", "choice name", "Everyone") == "全員"
    choice = app_commands.Choice(name="Everyone", value="everyone")
    payload = await choice.get_translated_payload_for_locale(translator, discord.Locale.japanese)
    assert payload["name"] == "Everyone"
