"""The bot's languages: gettext catalogs compiled from ``bot/locales/<language>/LC_MESSAGES/
messages.po`` and shipped in the package, looked up for one reader's locale at a time.

Every call names the locale it writes for (a member's ``interaction.locale`` for a private answer,
the server's language for a public post): there is no current language to set or forget to reset.
A locale with no catalog of its own falls back to its language's (``es-419`` to ``es``), then to
English, the language of the source. Plural forms follow each catalog's ``Plural-Forms`` header,
which Babel writes from the language's CLDR rules.

The catalogs are made and updated with ``python -m tools.i18n update`` (see the README).
"""

from __future__ import annotations

import functools
import gettext as _gettext
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Final

import discord

# The language the source is written in; it needs no catalog.
SOURCE_LANGUAGE: Final = "en"
DOMAIN: Final = "messages"
LOCALE_DIR: Final = Path(__file__).resolve().parent / "locales"

# What a caller may name: Discord's locale of a member or server, a language stored as text (a
# server's setting), or nothing (the source language).
LocaleLike = discord.Locale | str | None


def catalog_names(locale: LocaleLike) -> tuple[str, ...]:
    """The catalogs to try for ``locale``, most specific first: ``pt-BR`` -> ``("pt_BR", "pt")``.

    Discord writes locales with a hyphen (``zh-CN``), gettext with an underscore (``zh_CN``).
    """
    if locale is None:
        return ()
    text = (locale.value if isinstance(locale, discord.Locale) else locale).strip()
    name = text.replace("-", "_")
    if not name:
        return ()
    language = name.split("_", 1)[0].lower()
    return (name, language) if language != name else (name,)


class Catalogs:
    """Compiled catalogs by name (``de``, ``pt_BR``), with English behind every one of them."""

    def __init__(self, translations: Mapping[str, _gettext.NullTranslations]) -> None:
        self._translations = dict(translations)
        # The source language: messages as written, English plurals (one, other).
        self._source = _gettext.NullTranslations()

    @classmethod
    def load(cls, directory: Path = LOCALE_DIR) -> Catalogs:
        """Every ``<name>/LC_MESSAGES/messages.mo`` under ``directory``."""
        found: dict[str, _gettext.NullTranslations] = {}
        for path in sorted(directory.glob(f"*/LC_MESSAGES/{DOMAIN}.mo")):
            with path.open("rb") as compiled:
                found[path.parents[1].name] = _gettext.GNUTranslations(compiled)
        return cls(found)

    @property
    def languages(self) -> tuple[str, ...]:
        """The source language and every catalog's name."""
        return (SOURCE_LANGUAGE, *sorted(self._translations))

    def catalog_for(self, locale: LocaleLike) -> str | None:
        """The name of the catalog that serves ``locale``; ``None``: the source language."""
        return next((n for n in catalog_names(locale) if n in self._translations), None)

    def translations(self, locale: LocaleLike) -> _gettext.NullTranslations:
        name = self.catalog_for(locale)
        return self._source if name is None else self._translations[name]

    def gettext(self, locale: LocaleLike, message: str) -> str:
        return self.translations(locale).gettext(message)

    def ngettext(self, locale: LocaleLike, singular: str, plural: str, n: int) -> str:
        return self.translations(locale).ngettext(singular, plural, n)

    def pgettext(self, locale: LocaleLike, context: str, message: str) -> str:
        return self.translations(locale).pgettext(context, message)

    def npgettext(
        self, locale: LocaleLike, context: str, singular: str, plural: str, n: int
    ) -> str:
        return self.translations(locale).npgettext(context, singular, plural, n)

    def translated(self, locale: LocaleLike, context: str | None, message: str) -> str | None:
        """``message``'s translation for ``locale``, or ``None`` when no catalog has one (the
        source language, a locale without a catalog, a message the catalog lacks)."""
        name = self.catalog_for(locale)
        if name is None:
            return None
        catalog = self._translations[name]
        # gettext answers an unknown message with the message itself; a translation that happens
        # to equal its source (a name that stays English) is no translation either.
        result = catalog.gettext(message) if context is None else catalog.pgettext(context, message)
        return None if result == message else result


@functools.cache
def shipped() -> Catalogs:
    """The catalogs shipped in the package, loaded once."""
    return Catalogs.load()


def languages() -> Iterable[str]:
    return shipped().languages


# The functions the code calls; tools/i18n extracts their message arguments (the second and later:
# the first is always the locale).
def gettext(locale: LocaleLike, message: str) -> str:
    """``message`` in ``locale``'s language (English when it has no translation)."""
    return shipped().gettext(locale, message)


def ngettext(locale: LocaleLike, singular: str, plural: str, n: int) -> str:
    """The form of ``singular``/``plural`` that ``n`` takes in ``locale``'s language."""
    return shipped().ngettext(locale, singular, plural, n)


def pgettext(locale: LocaleLike, context: str, message: str) -> str:
    """``message``, in ``context`` (the same English word can need two translations)."""
    return shipped().pgettext(locale, context, message)


def npgettext(locale: LocaleLike, context: str, singular: str, plural: str, n: int) -> str:
    return shipped().npgettext(locale, context, singular, plural, n)
