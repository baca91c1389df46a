"""Server-side checks Discord applies to application command definitions (``PUT .../commands``).

Names (of commands, subcommands, groups and options, and each of their localizations) are 1-32
characters of ``-``, ``_``, letters and digits of any script, lower case for slash commands;
descriptions 1-100 characters; choice names 1-100; a localization is keyed by one of Discord's
locales. A break answers ``50035 Invalid Form Body`` pointing at the field, as Discord does.
"""

from __future__ import annotations

import unicodedata
from typing import Any

from tests.fakes.discord_server.validation import form_error

# Discord's locales (https://discord.com/developers/docs/reference#locales).
LOCALES = frozenset(
    (
        "id", "da", "de", "en-GB", "en-US", "es-ES", "es-419", "fr", "hr", "it", "lt", "hu",
        "nl", "no", "pl", "pt-BR", "ro", "fi", "sv-SE", "vi", "tr", "cs", "el", "bg", "ru",
        "uk", "hi", "th", "zh-CN", "ja", "zh-TW", "ko",
    )
)  # fmt: skip
_CHAT_INPUT = 1
_SUBCOMMAND_TYPES = (1, 2)


def _name_ok(name: object, *, lower: bool) -> bool:
    if not isinstance(name, str) or not 1 <= len(name) <= 32:
        return False
    if lower and name != name.lower():
        return False
    return all(c in "-_" or unicodedata.category(c)[0] in "LN" or _indic_mark(c) for c in name)


def _indic_mark(c: str) -> bool:
    """Devanagari's and Thai's vowel signs, which Discord's name pattern allows too."""
    mark = unicodedata.category(c)[0] == "M"
    return mark and unicodedata.name(c, "").startswith(("DEVANAGARI", "THAI"))


def _length_ok(text: object, most: int) -> bool:
    return isinstance(text, str) and 1 <= len(text) <= most


def _localization_error(
    path: list[str | int], localizations: object, ok: Any
) -> dict[str, Any] | None:
    if localizations is None:
        return None
    if not isinstance(localizations, dict):
        return form_error(path, "DICT_TYPE_CONVERT", "Only dictionaries may be used in a DictType")
    for locale, text in localizations.items():
        if locale not in LOCALES:
            return form_error([*path, locale], "LOCALE_INVALID", "Invalid locale")
        if not ok(text):
            return form_error([*path, locale], "BASE_TYPE_BAD_LENGTH", f"Invalid value {text!r}")
    return None


def _entry_error(
    path: list[str | int], body: dict[str, Any], *, lower: bool
) -> dict[str, Any] | None:
    """One command or option: its name, description, localizations, options and choices."""
    if not _name_ok(body.get("name"), lower=lower):
        return form_error([*path, "name"], "APPLICATION_COMMAND_INVALID_NAME", "Invalid name")
    error = _localization_error(
        [*path, "name_localizations"],
        body.get("name_localizations"),
        lambda text: _name_ok(text, lower=lower),
    )
    if error:
        return error
    if lower and not _length_ok(body.get("description"), 100):
        return form_error([*path, "description"], "BASE_TYPE_BAD_LENGTH", "Must be 1-100 long")
    error = _localization_error(
        [*path, "description_localizations"],
        body.get("description_localizations"),
        lambda text: _length_ok(text, 100),
    )
    if error:
        return error
    for i, choice in enumerate(body.get("choices") or []):
        where: list[str | int] = [*path, "choices", i]
        if not _length_ok(choice.get("name"), 100):
            return form_error([*where, "name"], "BASE_TYPE_BAD_LENGTH", "Must be 1-100 long")
        error = _localization_error(
            [*where, "name_localizations"],
            choice.get("name_localizations"),
            lambda text: _length_ok(text, 100),
        )
        if error:
            return error
    for i, option in enumerate(body.get("options") or []):
        error = _entry_error([*path, "options", i], option, lower=lower)
        if error:
            return error
    return None


def command_errors(bodies: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The first break in a bulk overwrite, as Discord reports it; ``None``: all valid."""
    for i, body in enumerate(bodies):
        error = _entry_error([i], body, lower=int(body.get("type", _CHAT_INPUT)) == _CHAT_INPUT)
        if error:
            return error
    return None
