"""A slash command's options checked against the command they name, before any of it runs.

Discord's own client sends only the options a command declares, typed as declared, a choice from
the list, every required one, and text that is valid Unicode. A forged or broken client can get
Discord to carry anything else, and discord.py passes an option's value on as it came (a number
where text is declared, an id with nothing resolved behind it) and the stores cannot save a lone
surrogate. So the command tree asks :func:`options_problem` first and refuses what it finds.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final, TypeGuard, cast

import discord
from discord import AppCommandOptionType, app_commands

from bot.i18n import Listing, Term, Text, lazy

if TYPE_CHECKING:
    from discord.types.interactions import ResolvedData

INVALID_TEXT: Final = lazy(
    "That text contains characters that are not valid Unicode (half of an emoji, perhaps), "
    "so nothing was done. Please type it again."
)
_STALE: Final = lazy("If Discord shows an old form of the command, restarting Discord updates it.")
NO_SUCH_COMMAND: Final = lazy(
    "This bot has no such command, so nothing was done. {stale}", stale=_STALE
)
MALFORMED: Final = lazy(
    "This command arrived in a shape it does not take, so nothing was done. {stale}",
    stale=_STALE,
)

_SNOWFLAKE: Final = re.compile(r"[0-9]{1,20}")
_SUBCOMMAND_TYPES: Final = (AppCommandOptionType.subcommand, AppCommandOptionType.subcommand_group)
# The options whose value is an id, and where in ``resolved`` the object it names must be.
_RESOLVED_IN: Final = {
    AppCommandOptionType.user: ("users",),
    AppCommandOptionType.channel: ("channels",),
    AppCommandOptionType.role: ("roles",),
    AppCommandOptionType.mentionable: ("users", "roles"),
    AppCommandOptionType.attachment: ("attachments",),
}
_KIND_WORDS: Final = {
    AppCommandOptionType.string: lazy("text"),
    AppCommandOptionType.integer: lazy("a whole number"),
    AppCommandOptionType.boolean: lazy("yes or no"),
    AppCommandOptionType.user: lazy("a member"),
    AppCommandOptionType.channel: lazy("a channel"),
    AppCommandOptionType.role: lazy("a role"),
    AppCommandOptionType.mentionable: lazy("a member or a role"),
    AppCommandOptionType.number: lazy("a number"),
    AppCommandOptionType.attachment: lazy("an attachment"),
}

_Command = app_commands.Command[Any, ..., Any]


@dataclass(frozen=True, slots=True)
class BadOptions:
    """What is wrong: ``reason`` for the log (user text only as ``repr``), ``message`` for them."""

    reason: str
    message: Text


def kind_words(kind: AppCommandOptionType) -> Text:
    """How an option type is named to a member: "a channel", "a whole number"."""
    return _KIND_WORDS.get(kind) or lazy("a value")


def _strings(data: object) -> Iterator[str]:
    """Every string in a JSON value, keys included (iteratively: the nesting is the sender's)."""
    pending = [data]
    while pending:
        item = pending.pop()
        if isinstance(item, str):
            yield item
        elif isinstance(item, dict):
            pending.extend(item.keys())
            pending.extend(item.values())
        elif isinstance(item, list):
            pending.extend(item)


def is_valid_text(text: str) -> bool:
    """False for text with a lone surrogate, which no UTF-8 encoder (nor store) accepts."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: object) -> TypeGuard[int | float]:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _is_id(value: object) -> bool:
    return isinstance(value, str) and _SNOWFLAKE.fullmatch(value) is not None


def _bad(reason: str) -> BadOptions:
    return BadOptions(reason, MALFORMED)


def options_problem(
    tree: app_commands.CommandTree[Any], interaction: discord.Interaction
) -> BadOptions | None:
    """What is wrong with an application command interaction's data; ``None`` if nothing."""
    data: object = interaction.data
    if not isinstance(data, dict):
        return _bad("its data is not an object")
    if not all(is_valid_text(text) for text in _strings(data)):
        return BadOptions("it contains text that is not valid Unicode", INVALID_TEXT)
    found = _command(tree, data)
    if found is None or isinstance(found, BadOptions):
        return found
    command, options = found
    resolved = data.get("resolved", {})
    if not isinstance(resolved, dict):
        return _bad("its resolved data is not an object")
    autocomplete = interaction.type is discord.InteractionType.autocomplete
    problem = _options_problem(command, options, resolved, autocomplete=autocomplete)
    if problem is not None:
        return problem
    try:
        # The members, channels and files behind the ids, built as discord.py is about to.
        app_commands.Namespace(interaction, cast("ResolvedData", resolved), options)
    except Exception as exc:
        return _bad(f"discord.py cannot read its resolved data ({exc!r:.100})")
    return None


def _command(
    tree: app_commands.CommandTree[Any], data: dict[str, Any]
) -> tuple[_Command, Any] | BadOptions | None:
    """The slash command ``data`` names (found as discord.py will) and its own options;
    ``None`` for a context menu command, which has a target and no options."""
    name, kind, guild_id = data.get("name"), data.get("type", 1), data.get("guild_id")
    if not isinstance(name, str) or kind not in [t.value for t in discord.AppCommandType]:
        return _bad(f"it names no command ({name!r:.40}, type {kind!r:.10})")
    if guild_id is not None and not _is_id(guild_id):
        return _bad(f"its guild_id {guild_id!r:.40} is not an id")
    command_type = discord.AppCommandType(kind)
    found: _Command | app_commands.Group | app_commands.ContextMenu | None = None
    if guild_id is not None:
        found = tree.get_command(name, guild=discord.Object(int(guild_id)), type=command_type)
    if found is None and (guild_id is None or tree.fallback_to_global):
        found = tree.get_command(name, type=command_type)
    if found is None:
        return BadOptions(f"there is no command {name!r:.40}", NO_SUCH_COMMAND)
    if isinstance(found, app_commands.ContextMenu):
        return None
    options = data.get("options", [])
    while isinstance(found, app_commands.Group):
        if not isinstance(options, list) or len(options) != 1 or not isinstance(options[0], dict):
            return _bad(f"/{found.qualified_name} arrived without one subcommand")
        sub = options[0]
        sub_name = sub.get("name")
        child = found.get_command(sub_name) if isinstance(sub_name, str) else None
        if child is None or sub.get("type") not in [t.value for t in _SUBCOMMAND_TYPES]:
            return BadOptions(
                f"/{found.qualified_name} has no subcommand {sub_name!r:.40}",
                NO_SUCH_COMMAND,
            )
        found, options = child, sub.get("options", [])
    return found, options


def _value_fits(kind: AppCommandOptionType, value: object, resolved: dict[str, Any]) -> bool:
    if kind is AppCommandOptionType.string:
        return isinstance(value, str)
    if kind is AppCommandOptionType.integer:
        return _is_int(value)
    if kind is AppCommandOptionType.boolean:
        return isinstance(value, bool)
    if kind is AppCommandOptionType.number:
        return _is_number(value)
    places = _RESOLVED_IN.get(kind)
    if places is None:
        return False
    return _is_id(value) and any(
        isinstance(entries := resolved.get(place), dict) and value in entries for place in places
    )


def _options_problem(
    command: _Command, options: object, resolved: dict[str, Any], *, autocomplete: bool
) -> BadOptions | None:
    where = f"/{command.qualified_name}"
    if not isinstance(options, list):
        return _bad(f"the options of {where} are not a list")
    parameters = {parameter.display_name: parameter for parameter in command.parameters}
    seen: set[str] = set()
    focused = 0
    for option in options:
        if not isinstance(option, dict):
            return _bad(f"an option of {where} is not an object")
        name = option.get("name")
        parameter = parameters.get(name) if isinstance(name, str) else None
        if parameter is None:
            return _bad(f"{where} has no option {name!r:.40}")
        if parameter.display_name in seen:
            return _bad(f"{where} got {name!r} twice")
        seen.add(parameter.display_name)
        words = lazy(
            "The `{option}` option did not arrive as {kind}, so nothing was done. {stale}",
            option=Term("option name", parameter.display_name),
            kind=kind_words(parameter.type),
            stale=_STALE,
        )
        if option.get("type") != parameter.type.value or "value" not in option:
            return BadOptions(
                f"{where} got {name!r} as type {option.get('type')!r:.20}, "
                f"not {parameter.type.value}",
                words,
            )
        value = option["value"]
        if option.get("focused"):
            # What the member has typed so far: text (a number option may send a number).
            typed = isinstance(value, str) or (
                parameter.type is not AppCommandOptionType.string and _is_number(value)
            )
            if not (autocomplete and parameter.autocomplete and typed):
                return _bad(f"{where} got {name!r} focused outside its autocomplete")
            focused += 1
            continue
        if not _value_fits(parameter.type, value, resolved):
            return BadOptions(
                f"{where} got {name!r} = {value!r:.60}, not {parameter.type.name}",
                words,
            )
        if parameter.choices and value not in [choice.value for choice in parameter.choices]:
            return BadOptions(
                f"{where} got {name!r} = {value!r:.60}, not one of its choices",
                lazy(
                    "`{option}` must be one of its choices ({choices}); pick one from the list "
                    "Discord shows.",
                    option=Term("option name", parameter.display_name),
                    choices=Listing(
                        tuple(Term("choice name", choice.name) for choice in parameter.choices)
                    ),
                ),
            )
    if autocomplete:
        # Discord sends exactly one focused option, with whatever else is filled in so far.
        return None if focused == 1 else _bad(f"{where} autocomplete has {focused} focused options")
    missing = [
        p.display_name for p in command.parameters if p.required and p.display_name not in seen
    ]
    if missing:
        return BadOptions(
            f"{where} arrived without {', '.join(missing)}",
            lazy(
                "This command needs `{option}`, which did not arrive, so nothing was done. {stale}",
                option=Term("option name", missing[0]),
                stale=_STALE,
            ),
        )
    return None
