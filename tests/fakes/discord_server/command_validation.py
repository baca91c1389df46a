"""Server-side checks Discord applies to application command definitions (``PUT .../commands``).

Names (of commands, subcommands, groups and options, and each of their localizations) are 1-32
characters of ``-``, ``_``, letters and digits of any script, lower case for slash commands;
descriptions 1-100 characters; choice names 1-100; a localization is keyed by one of Discord's
locales. An option's shape is checked too: at most 25 choices, each valued as the option is typed
(text of at most 100 characters, a whole number, a number); ``min_value``/``max_value`` only on a
number option, in order; ``min_length``/``max_length`` only on text, 0-6000; choices and
autocomplete not both; required options before optional ones. A break answers ``50035 Invalid
Form Body`` pointing at the field, as Discord does.
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
_STRING, _INTEGER, _NUMBER = 3, 4, 10
_CHOICES_MAX = 25
_LENGTH_MAX = 6000
# Discord's bounds on a number option's value (the doubles that hold whole numbers exactly).
_VALUE_MAX = 2**53


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
    error = _shape_error(path, body)
    if error:
        return error
    optional_seen = False
    for i, option in enumerate(body.get("options") or []):
        error = _entry_error([*path, "options", i], option, lower=lower)
        if error:
            return error
        if option.get("type") in _SUBCOMMAND_TYPES:
            continue
        if option.get("required") and optional_seen:
            return form_error(
                [*path, "options", i, "required"],
                "APPLICATION_COMMAND_OPTIONS_REQUIRED_INVALID",
                "Required options must be placed before non-required options",
            )
        optional_seen = optional_seen or not option.get("required")
    return None


def _is_whole(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _value_ok(kind: object, value: object) -> bool:
    """A choice's value or a bound, as an option of ``kind`` holds one."""
    if kind == _STRING:
        return isinstance(value, str) and 1 <= len(value) <= 100
    if kind == _INTEGER:
        return _is_whole(value) and abs(value) <= _VALUE_MAX  # type: ignore[arg-type]
    if kind == _NUMBER:
        return _is_number(value) and abs(value) <= _VALUE_MAX  # type: ignore[arg-type]
    return False


def _shape_error(path: list[str | int], body: dict[str, Any]) -> dict[str, Any] | None:
    """An option's choices, bounds and lengths, for its type."""
    kind = body.get("type")
    choices = body.get("choices") or []
    if len(choices) > _CHOICES_MAX:
        return form_error([*path, "choices"], "BASE_TYPE_MAX_LENGTH", "Must be 25 or fewer")
    for i, choice in enumerate(choices):
        if not _value_ok(kind, choice.get("value")):
            return form_error(
                [*path, "choices", i, "value"], "BASE_TYPE_BAD_VALUE", "Invalid choice value"
            )
    if choices and body.get("autocomplete"):
        return form_error(
            [*path, "autocomplete"],
            "APPLICATION_COMMAND_OPTION_CHOICES_AUTOCOMPLETE",
            "Autocomplete cannot be used with choices",
        )
    for bound in ("min_value", "max_value"):
        if bound in body and (kind not in (_INTEGER, _NUMBER) or not _value_ok(kind, body[bound])):
            return form_error([*path, bound], "BASE_TYPE_BAD_VALUE", f"Invalid {bound}")
    if "min_value" in body and "max_value" in body and body["min_value"] > body["max_value"]:
        return form_error([*path, "max_value"], "NUMBER_TYPE_MIN", "Must be at least min_value")
    for bound, least in (("min_length", 0), ("max_length", 1)):
        if bound in body and (
            kind != _STRING or not _is_whole(body[bound]) or not least <= body[bound] <= _LENGTH_MAX
        ):
            return form_error([*path, bound], "BASE_TYPE_BAD_VALUE", f"Invalid {bound}")
    if body.get("min_length", 0) > body.get("max_length", _LENGTH_MAX):
        return form_error([*path, "max_length"], "NUMBER_TYPE_MIN", "Must be at least min_length")
    return None


def command_errors(bodies: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The first break in a bulk overwrite, as Discord reports it; ``None``: all valid."""
    for i, body in enumerate(bodies):
        error = _entry_error([i], body, lower=int(body.get("type", _CHAT_INPUT)) == _CHAT_INPUT)
        if error:
            return error
    return None
