"""The bot's languages: gettext catalogs compiled from ``bot/locales/<language>/LC_MESSAGES/
messages.po`` and shipped in the package, looked up for one reader's locale at a time.

Every call names the locale it writes for (a member's ``interaction.locale`` for a private answer,
the server's language for a public post): there is no current language to set or forget to reset.
A locale with no catalog of its own falls back to its language's (``es-419`` to ``es``), then to
English, the language of the source. Plural forms follow each catalog's ``Plural-Forms`` header,
which Babel writes from the language's CLDR rules.

Messages take their values as named ``{placeholders}`` (``gettext(locale, "Job {id}", id=...)``),
filled in after translation so a translator can move them; the count of a plural is ``{n}``,
written in the language's digits and separators. A sentence made before its reader is known
(an error raised deep in ``bot/``) is a :class:`Text`, rendered where it is shown.

The catalogs are made and updated with ``python -m tools.i18n update`` (see the README).
"""

from __future__ import annotations

import functools
import gettext as _gettext
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

import babel
import babel.numbers
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


def babel_locale(locale: LocaleLike) -> babel.Locale:
    """The CLDR locale whose digits and separators ``locale``'s reader expects (English when
    Babel does not know it)."""
    for name in catalog_names(locale):
        try:
            return babel.Locale.parse(name)
        except (ValueError, babel.UnknownLocaleError):
            continue
    return babel.Locale.parse(SOURCE_LANGUAGE)


def number(locale: LocaleLike, value: int | float, *, decimals: int | None = None) -> str:
    """``value`` as ``locale`` writes numbers: ``1,234`` in English, ``1.234`` in German; with
    ``decimals``, exactly that many digits after the separator (``1,234.50``)."""
    pattern = None if not decimals else "#,##0." + "0" * decimals
    return babel.numbers.format_decimal(value, format=pattern, locale=babel_locale(locale))


def language_name(language: str) -> str:
    """A language's name in itself (``Deutsch``, ``Español``, ``日本語``), as a member picks it."""
    name = babel_locale(language).get_display_name() or language
    return name[:1].upper() + name[1:]


class Localized:
    """Something written once its reader's language is known: ``thing(locale)``. A message's
    parameter that is one is written in the message's language."""

    __slots__ = ()

    def __call__(self, locale: LocaleLike) -> str:
        raise NotImplementedError

    def __str__(self) -> str:
        """In the source language (for logs, and for what is stored)."""
        return self(None)


def _filled(locale: LocaleLike, text: str, params: Mapping[str, object]) -> str:
    if not params:
        return text
    values = {k: v(locale) if isinstance(v, Localized) else v for k, v in params.items()}
    return text.format(**values)


# The functions the code calls; tools/i18n extracts their message arguments (the second and later:
# the first is always the locale).
def gettext(locale: LocaleLike, message: str, /, **params: object) -> str:
    """``message`` in ``locale``'s language (English when it has no translation), with
    ``params`` filled into its ``{placeholders}``."""
    return _filled(locale, shipped().gettext(locale, message), params)


def ngettext(locale: LocaleLike, singular: str, plural: str, n: int, /, **params: object) -> str:
    """The form of ``singular``/``plural`` that ``n`` takes in ``locale``'s language, with ``{n}``
    written as the language writes numbers."""
    text = shipped().ngettext(locale, singular, plural, n)
    return _filled(locale, text, {"n": number(locale, n), **params})


def pgettext(locale: LocaleLike, context: str, message: str, /, **params: object) -> str:
    """``message``, in ``context`` (the same English word can need two translations)."""
    return _filled(locale, shipped().pgettext(locale, context, message), params)


def npgettext(
    locale: LocaleLike, context: str, singular: str, plural: str, n: int, /, **params: object
) -> str:
    text = shipped().npgettext(locale, context, singular, plural, n)
    return _filled(locale, text, {"n": number(locale, n), **params})


@dataclass(frozen=True, slots=True)
class Text(Localized):
    """A sentence whose reader is not known yet: raised in ``bot/`` and shown, in the reader's
    language, where it reaches Discord (``text(interaction.locale)``). Made by :func:`lazy` and
    :func:`nlazy`; a parameter that is itself a ``Text`` is rendered in the same language."""

    message: str
    plural: str | None = None
    n: int = 1
    params: Mapping[str, object] = field(default_factory=dict)

    def __call__(self, locale: LocaleLike) -> str:
        if self.plural is None:
            return gettext(locale, self.message, **self.params)
        return ngettext(locale, self.message, self.plural, self.n, **self.params)


def lazy(message: str, /, **params: object) -> Text:
    """``message`` to be translated when its reader is known."""
    return Text(message, params=params)


def nlazy(singular: str, plural: str, n: int, /, **params: object) -> Text:
    """A plural to be chosen and translated when its reader is known."""
    return Text(singular, plural, n, params)


@dataclass(frozen=True, slots=True)
class Command(Localized):
    """A command as a member types it (``/settings channel all``), in the names their Discord
    shows them: a message names commands through this, never in its own words."""

    path: str

    def __call__(self, locale: LocaleLike) -> str:
        names = (pgettext(locale, "command name", part) for part in self.path.split())
        return "/" + " ".join(names)


def command(path: str) -> Command:
    """``/path`` in each reader's language: ``command("settings language")``."""
    return Command(path)


@dataclass(frozen=True, slots=True)
class Term(Localized):
    """A word of the command tree (an option's or a choice's name) as a member's Discord shows
    it, for a message that names one: ``Term("option name", "aspect")``."""

    context: str
    message: str

    def __call__(self, locale: LocaleLike) -> str:
        return pgettext(locale, self.context, self.message)


@dataclass(frozen=True, slots=True)
class Number(Localized):
    """A number in a message made before its reader is known, written as they write numbers."""

    value: int | float

    def __call__(self, locale: LocaleLike) -> str:
        return number(locale, self.value)


@dataclass(frozen=True, slots=True)
class Listing(Localized):
    """Items named in a message, separated as the reader's language separates a list (``、``
    in Japanese and Chinese); an item that is itself ``Localized`` is written in that language.
    """

    items: tuple[object, ...]

    def __call__(self, locale: LocaleLike) -> str:
        return gettext(locale, ", ").join(
            item(locale) if isinstance(item, Localized) else str(item) for item in self.items
        )
