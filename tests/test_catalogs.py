"""The catalogs stay whole: every string the bot shows is in the template and translated in every
language, with the source's placeholders, inside Discord's limits, and compiled as shipped."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from babel.messages.catalog import Catalog

from bot.i18n import LOCALE_DIR
from tools.i18n import catalogs
from tools.i18n.catalogs import Paths, keys, read_catalog, write_catalog
from tools.i18n.check import (
    all_problems,
    compiled_problems,
    discord_problems,
    limit_problems,
    placeholders,
    translation_problems,
    valid_name,
)

LANGUAGES = ["de", "es", "fr", "ja", "pt_BR", "zh_CN"]


@pytest.fixture
def copied(tmp_path: Path) -> Paths:
    """A copy of the shipped catalogs to break."""
    shutil.copytree(LOCALE_DIR, tmp_path / "locales")
    return Paths(tmp_path / "locales")


def _edit(paths: Paths, language: str, context: str | None, ident: str, string: object) -> None:
    catalog = read_catalog(paths.po(language), locale=language)
    message = catalog.get(ident, context=context)
    assert message is not None
    message.string = string  # type: ignore[assignment]
    write_catalog(paths.po(language), catalog)


async def test_the_shipped_catalogs_are_whole_and_current():
    """Every command, subcommand, option and choice string (read from the live tree, so a new
    one without a catalog entry fails here) is translated in every language, keeps Discord's
    rules, and each .mo is compiled from its .po."""
    paths = Paths()
    assert paths.languages() == LANGUAGES
    async with catalogs.command_tree() as tree:
        template = await catalogs.template(tree)
        assert all_problems(paths, template, tree) == []
    # The committed template is the extracted one.
    assert keys(read_catalog(paths.template)) == keys(template)
    assert len(template) >= 90


async def test_a_new_string_without_a_catalog_entry_is_reported(copied: Paths):
    async with catalogs.command_tree() as tree:
        template = await catalogs.template(tree)
        template.add("Brand new description", context="option description")
        problems = all_problems(copied, template, tree)
    assert len(problems) == len(LANGUAGES)
    assert "ja: no entry for ('option description', 'Brand new description')" in problems


async def test_broken_translations_are_reported(copied: Paths):
    _edit(copied, "de", "command name", "settings", "")
    _edit(copied, "fr", "command name", "settings", "mes réglages")
    _edit(copied, "ja", "command description", "Show this server's image bot settings.", "x" * 101)
    _edit(copied, "es", "command name", "allow", "bloquear")  # /settings channel disallow's
    _edit(
        copied,
        "pt_BR",
        "option description",
        "The aspect ratio /imagine uses when none is given",
        "A proporção padrão",
    )
    async with catalogs.command_tree() as tree:
        template = await catalogs.template(tree)
        problems = all_problems(copied, template, tree)
    assert "de: ('command name', 'settings') is not translated" in problems
    assert any(p.startswith("fr: 'mes réglages' is not a valid command name") for p in problems)
    assert any(p.startswith("ja: command description 'xxx") for p in problems)
    assert "es: 'disallow' and 'allow' both show as 'bloquear'" in problems
    assert "pt_BR: 'A proporção padrão' should name /imagine as /imaginar" in problems


def test_placeholders_must_match_the_source():
    template = Catalog()
    template.add("%(count)d jobs left for {name}")
    template.add(("One job", "%(count)d jobs"))
    catalog = Catalog(locale="de")
    catalog.add("%(count)d jobs left for {name}", "%(anzahl)d Aufträge übrig für {name}")
    catalog.add(("One job", "%(count)d jobs"), ("Ein Auftrag", "%(count)d Aufträge"))
    problems = translation_problems("de", catalog, template)
    assert len(problems) == 1
    assert "%(anzahl)d" in problems[0]
    assert placeholders("{a} %(b)s %% {{c}}") == {"{a}": 1, "%(b)s": 1}


def test_discord_rules_for_names_and_descriptions():
    assert valid_name("画像生成")
    assert valid_name("palabra-prohibida")
    assert valid_name("id_tâche")
    assert not valid_name("Bild")
    assert not valid_name("two words")
    assert not valid_name("x" * 33)
    assert not valid_name("")
    assert not valid_name("a.b")
    assert discord_problems("option description", "x" * 100) == []
    assert discord_problems("option description", "x" * 101) != []
    assert discord_problems("choice name", "") != []


def test_a_stale_compiled_catalog_is_reported(copied: Paths):
    assert compiled_problems(copied) == []
    _edit(copied, "ja", "command name", "history", "れきし")
    assert compiled_problems(copied) == [
        "ja: messages.mo is older than messages.po; run python -m tools.i18n update"
    ]


async def test_update_merges_compiles_and_changes_nothing_when_current(copied: Paths):
    async with catalogs.command_tree() as tree:
        template = await catalogs.template(tree)
    assert catalogs.update(template, copied) == []
    _edit(copied, "ja", "command name", "history", "れきし")
    template.add("Brand new description", context="option description")
    changed = catalogs.update(template, copied)
    assert copied.mo("ja") in changed
    assert copied.po("de") in changed
    assert compiled_problems(copied) == []
    assert read_catalog(copied.po("fr")).get("Brand new description", "option description")


async def test_a_language_is_added_by_adding_its_catalog(copied: Paths):
    async with catalogs.command_tree() as tree:
        template = await catalogs.template(tree)
    created = catalogs.init("it", template, copied)
    assert created == copied.po("it")
    italian = read_catalog(created, locale="it")
    assert italian.num_plurals == 3
    assert keys(italian) == keys(template)
    assert "it" in copied.languages()


def test_gettext_calls_in_the_source_are_extracted(tmp_path: Path):
    (tmp_path / "bot").mkdir()
    (tmp_path / "bot" / "answer.py").write_text(
        "from bot import i18n\n"
        "def answer(locale, n, name):\n"
        "    # Translators: shown when a job starts.\n"
        "    i18n.gettext(locale, 'Started %(name)s')\n"
        "    i18n.ngettext(locale, 'One image', '%(count)d images', n)\n"
        "    i18n.pgettext(locale, 'button', 'Post here')\n",
        encoding="utf-8",
    )
    found = {
        m.id if isinstance(m.id, str) else m.id[0]: m
        for m in catalogs.source_messages(tmp_path, ("bot",))
    }
    assert set(found) == {"Started %(name)s", "One image", "Post here"}
    assert "python-format" in found["Started %(name)s"].flags
    assert found["Started %(name)s"].auto_comments == ["shown when a job starts."]
    assert found["One image"].id == ("One image", "%(count)d images")
    assert found["Post here"].context == "button"


def test_messages_must_fit_discord_with_their_longest_values(copied: Paths):
    """Each translation is measured with its placeholders at their longest realistic values: a
    prompt of 300 escaped characters, an AKOOL link of 512, a mention of 23."""
    assert limit_problems("de", read_catalog(copied.po("de"), locale="de")) == []
    _edit(copied, "de", None, "Post here", "Hier posten " + "!" * 80)  # a button's label
    _edit(
        copied,
        "ja",
        None,
        "❌ {prompt} could not be started: {reason}",
        "❌ {prompt} " + "を開始できませんでした" * 120 + ": {reason}",
    )
    _edit(copied, "fr", None, "Posted: {link}", "Publié : {lien}")
    german = limit_problems("de", read_catalog(copied.po("de"), locale="de"))
    japanese = limit_problems("ja", read_catalog(copied.po("ja"), locale="ja"))
    french = limit_problems("fr", read_catalog(copied.po("fr"), locale="fr"))
    assert german == ["de: 'Hier posten " + "!" * 48 + "'… can reach 92 characters (at most 80)"]
    assert len(japanese) == 1
    assert "(at most 2000)" in japanese[0]
    assert french == ["fr: no realistic length is known for {lien}"]


async def test_the_shipped_messages_fit_discord_as_written():
    async with catalogs.command_tree() as tree:
        template = await catalogs.template(tree)
    assert limit_problems("en", template, source=True) == []
    messages = [m for m in template if m.id and m.context is None]
    assert len(messages) > 200  # the messages are checked, not only the command strings
