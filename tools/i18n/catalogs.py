"""Extracting the bot's strings into a template, merging it into each language's catalog and
compiling the catalogs, all with Babel.

Two sources make the template (``bot/locales/messages.pot``):

* calls of ``bot.i18n.gettext``/``ngettext``/``pgettext``/``npgettext`` in ``bot/`` and ``cogs/``
  (their first argument is the reader's locale, so the message is the second), and of
  ``lazy``/``nlazy`` (no locale: the message is the first);
* the command tree: every command, subcommand, option and choice name and description that a
  sync sends Discord, read from discord.py's own payload building (``bot.translator``), so a
  docstring or ``@describe`` needs no wrapping to be translated.
"""

from __future__ import annotations

import contextlib
import io
import tempfile
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import discord
from babel import Locale
from babel.messages.catalog import Catalog, Message
from babel.messages.extract import extract_from_dir
from babel.messages.mofile import read_mo, write_mo
from babel.messages.pofile import read_po, write_po
from discord import app_commands

from bot.i18n import DOMAIN, LOCALE_DIR
from bot.translator import command_strings

ROOT: Final = Path(__file__).resolve().parents[2]
SOURCE_DIRS: Final = ("bot", "cogs")
TEMPLATE: Final = LOCALE_DIR / f"{DOMAIN}.pot"
PROJECT: Final = "akool-discord-bot"
HEADER: Final = """\
# {language} translations of the AKOOL Discord bot.
# Distributed under the same license as the project (MIT).
# Made with: python -m tools.i18n update
#"""
# Babel keyword specs: the argument positions (1-based) of the message, "c" for a context.
KEYWORDS: Final = {
    "gettext": (2,),
    "ngettext": (2, 3),
    "pgettext": ((2, "c"), 3),
    "npgettext": ((2, "c"), 3, 4),
    # bot.i18n.lazy/nlazy: a sentence whose reader is not known yet (no locale argument).
    "lazy": (1,),
    "nlazy": (1, 2),
}
# A comment that starts so, just above a call, reaches the translators.
COMMENT_TAGS: Final = ("Translators:",)

MessageKey = tuple[str | None, str]


@dataclass(frozen=True)
class Paths:
    """Where the catalogs live (the package; a copy in tests)."""

    locales: Path = LOCALE_DIR

    @property
    def template(self) -> Path:
        return self.locales / f"{DOMAIN}.pot"

    def po(self, language: str) -> Path:
        return self.locales / language / "LC_MESSAGES" / f"{DOMAIN}.po"

    def mo(self, language: str) -> Path:
        return self.po(language).with_suffix(".mo")

    def languages(self) -> list[str]:
        return sorted(p.parents[1].name for p in self.locales.glob(f"*/LC_MESSAGES/{DOMAIN}.po"))


def key(message: Message) -> MessageKey:
    ident = message.id[0] if isinstance(message.id, list | tuple) else message.id
    return (message.context, str(ident))


def keys(catalog: Catalog) -> set[MessageKey]:
    return {key(m) for m in catalog if m.id}


def source_messages(root: Path = ROOT, dirs: tuple[str, ...] = SOURCE_DIRS) -> Iterator[Message]:
    """The messages of the gettext calls in the source, with the files they are in."""
    for folder in dirs:
        for filename, lineno, text, comments, context in extract_from_dir(
            root / folder,
            method_map=[("**.py", "python")],
            keywords=KEYWORDS,
            comment_tags=COMMENT_TAGS,
            strip_comment_tags=True,
        ):
            yield Message(
                text,
                locations=[(f"{folder}/{filename}", lineno)],
                auto_comments=comments,
                context=context,
            )


@contextlib.asynccontextmanager
async def command_tree() -> AsyncIterator[app_commands.CommandTree[discord.Client]]:
    """The bot's command tree, from the bot assembled as in production (offline)."""
    # Imported here: the bot and its settings are needed only to read the tree.
    from bot.core import EXTENSIONS
    from bot.runner import assemble
    from bot.secret import Secret
    from bot.settings import Settings

    with tempfile.TemporaryDirectory() as scratch:
        settings = Settings(
            discord_token=Secret("extract"),
            akool_api_key=Secret("extract"),
            database_url=f"sqlite:///{Path(scratch) / 'extract.sqlite3'}",
            http_port=0,
        )
        async with assemble(settings) as runtime:
            for extension in EXTENSIONS:
                await runtime.bot.load_extension(extension)
            yield runtime.bot.tree


async def tree_messages(tree: app_commands.CommandTree[discord.Client]) -> list[Message]:
    """The command tree's strings, noted with the commands that use them."""
    return [
        Message(s.message, context=s.context, auto_comments=[", ".join(places)])
        for s, places in (await command_strings(tree)).items()
    ]


async def template(tree: app_commands.CommandTree[discord.Client], root: Path = ROOT) -> Catalog:
    """The template: every message the bot can show, once each."""
    catalog = _catalog(None)
    for message in [*source_messages(root), *await tree_messages(tree)]:
        existing = catalog.get(key(message)[1], context=message.context)
        if existing is None:
            catalog.add(
                message.id,
                locations=message.locations,
                auto_comments=message.auto_comments,
                context=message.context,
            )
        else:
            existing.locations.extend(message.locations)
            existing.auto_comments.extend(
                c for c in message.auto_comments if c not in existing.auto_comments
            )
    return catalog


def _catalog(language: str | None) -> Catalog:
    name = "Template for the" if language is None else Locale.parse(language).english_name
    return Catalog(
        locale=language,
        domain=DOMAIN,
        header_comment=HEADER.format(language=name),
        project=PROJECT,
        version="1",
        msgid_bugs_address="",
        last_translator="",
        language_team="",
        fuzzy=False,
    )


def read_catalog(path: Path, locale: str | None = None) -> Catalog:
    with path.open("rb") as file:
        return read_po(file, locale=locale, domain=DOMAIN)


def write_catalog(path: Path, catalog: Catalog) -> None:
    """Written without line numbers, so editing a file elsewhere does not touch every catalog."""
    buffer = io.BytesIO()
    write_po(buffer, catalog, width=100, include_lineno=False, ignore_obsolete=True)
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists() or path.read_bytes() != buffer.getvalue():
        path.write_bytes(buffer.getvalue())


def compile_catalog(catalog: Catalog) -> bytes:
    buffer = io.BytesIO()
    write_mo(buffer, catalog, use_fuzzy=False)
    return buffer.getvalue()


def compiled(path: Path) -> Catalog:
    with path.open("rb") as file:
        return read_mo(file)


def same_messages(a: Catalog, b: Catalog) -> bool:
    """The same translations (untranslated entries are not compiled, so they do not count)."""

    def translated(c: Catalog) -> set[tuple[MessageKey, tuple[str, ...]]]:
        return {(key(m), _strings(m)) for m in c if m.id and all(_strings(m))}

    return translated(a) == translated(b)


def _strings(message: Message) -> tuple[str, ...]:
    value = message.string
    return tuple(value) if isinstance(value, list | tuple) else (value or "",)


def update(new_template: Catalog, paths: Paths = Paths()) -> list[Path]:
    """Write the template, merge it into every language's catalog and compile each; the files
    that changed. Nothing is rewritten when its messages are already current, so running it
    twice changes nothing."""
    changed: list[Path] = []
    old_template = read_catalog(paths.template) if paths.template.exists() else None
    if old_template is None or _template_differs(old_template, new_template):
        write_catalog(paths.template, new_template)
        changed.append(paths.template)
    for language in paths.languages():
        po = paths.po(language)
        catalog = read_catalog(po, locale=language)
        if _template_differs(catalog, new_template):
            catalog.update(new_template)
            write_catalog(po, catalog)
            changed.append(po)
        mo = paths.mo(language)
        data = compile_catalog(catalog)
        if not mo.exists() or mo.read_bytes() != data:
            mo.write_bytes(data)
            changed.append(mo)
    return changed


def _template_differs(catalog: Catalog, new_template: Catalog) -> bool:
    """Do the messages, or what the translators are told about them, differ?"""

    def notes(c: Catalog) -> dict[MessageKey, tuple[object, ...]]:
        return {
            key(m): (
                m.id,
                # The files only: catalogs are written without line numbers (see write_catalog).
                tuple(sorted({path for path, _ in m.locations})),
                tuple(m.auto_comments),
                tuple(sorted(m.flags - {"fuzzy"})),
            )
            for m in c
            if m.id
        }

    return notes(catalog) != notes(new_template) or bool(catalog.obsolete)


def init(language: str, new_template: Catalog, paths: Paths = Paths()) -> Path:
    """A new language's catalog, every message untranslated, with its CLDR plural rules."""
    po = paths.po(language)
    if po.exists():
        raise FileExistsError(f"{po} exists; use update")
    catalog = _catalog(language)
    catalog.update(new_template)
    write_catalog(po, catalog)
    return po
