"""The catalogs: which languages ship, how a Discord locale finds its catalog, plural rules."""

from __future__ import annotations

from pathlib import Path
from unittest import mock

import discord
import pytest
from babel.messages.catalog import Catalog
from babel.messages.mofile import write_mo
from discord import app_commands

from bot import i18n, languages
from bot.i18n import Catalogs, catalog_names
from bot.server_settings import InvalidSetting, ServerSettings
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


def test_values_are_filled_in_after_translation_and_counts_written_as_the_language_does():
    assert i18n.gettext("de", "Job `{job}`", job="abc") == "Auftrag `abc`"
    # The translator moved the values; they land where the language puts them.
    assert i18n.gettext("ja", "{button} of `{job}`", button="U1", job="a") == "`a` の U1"
    # {n} is the count in the language's digits and separators, in its plural form.
    assert i18n.ngettext("de", "{n} credit", "{n} credits", 1) == "1 Credit"
    assert i18n.ngettext("de", "{n} credit", "{n} credits", 1234) == "1.234 Credits"
    assert i18n.ngettext(None, "{n} credit", "{n} credits", 1234) == "1,234 credits"
    assert i18n.ngettext("fr", "{n} credit", "{n} credits", 1234) == "1\u202f234 crédits"
    assert i18n.number("pt-BR", 10_000_000) == "10.000.000"
    # A member's text passed as a value is never read as a template or translated.
    assert i18n.gettext("fr", "Posted: {link}", link="{job} Job") == "Publié : {job} Job"


def test_a_sentence_made_before_its_reader_is_known_is_written_in_each_readers_language():
    status = i18n.command("status")
    text = i18n.lazy(
        "Job `{job}` is already followed in this channel. Use {command} {job}.",
        job="abc",
        command=status,
    )
    assert text("de") == "Auftrag `abc` wird in diesem Kanal bereits verfolgt. Nutze /status abc."
    assert text("ja") == (
        "ジョブ `abc` はすでにこのチャンネルで追跡されています。/ステータス abc を使ってください。"
    )
    # English for the logs and for what is stored.
    assert str(text) == "Job `abc` is already followed in this channel. Use /status abc."
    # A sentence inside a sentence follows its reader too.
    stale = i18n.lazy("If Discord shows an old form of the command, restarting Discord updates it.")
    outer = i18n.lazy("This bot has no such command, so nothing was done. {stale}", stale=stale)
    assert outer("es").endswith("reiniciar Discord la actualiza.")
    # A command named in a message is named as each reader's Discord shows it.
    assert i18n.command("settings channel all")("de") == "/einstellungen kanal alle"
    assert i18n.nlazy("{n} credit", "{n} credits", 2)("pt_BR") == "2 créditos"


def _guild(community: bool, locale: discord.Locale) -> discord.Guild:
    guild: discord.Guild = mock.create_autospec(discord.Guild, instance=True)
    guild.features = ["COMMUNITY"] if community else []
    guild.preferred_locale = locale
    return guild


def test_the_server_language_is_the_admins_then_a_community_servers_then_english():
    chosen = ServerSettings().with_language("de", languages.shipped())
    community = _guild(True, discord.Locale.french)
    plain = _guild(False, discord.Locale.japanese)  # a preferred locale no admin chose
    assert languages.server_locale(chosen, community) == "de"
    assert languages.server_locale(ServerSettings(), community) == "fr"
    assert languages.server_locale(ServerSettings(), plain) == "en"
    assert languages.server_locale(ServerSettings(), None) == "en"
    with pytest.raises(InvalidSetting, match="does not speak"):
        ServerSettings().with_language("tlh", languages.shipped())
    # Stored with the other settings, and back to Discord's with the empty choice.
    assert ServerSettings.from_json(chosen.to_json()).language == "de"
    assert chosen.with_language("", languages.shipped()).language == ""
