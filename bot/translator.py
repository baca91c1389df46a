"""Command names, descriptions, options and choices in each member's language: discord.py asks
this translator for every locale Discord knows when the tree syncs, and sends the answers as
``name_localizations`` and ``description_localizations``.

Each kind of string has its own gettext context, so ``aspect`` the option and ``aspect`` the
subcommand can be translated apart, and a command's words never collide with a message's.
Choices that an autocomplete builds (a member's jobs, a server's banned words) are plain strings
that discord.py does not pass here: a member's text is never translated.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

import discord
from discord import app_commands
from discord.app_commands import TranslationContextLocation as Location

from bot.i18n import Catalogs, shipped

# The gettext context (msgctxt) of each kind of string; tools/i18n writes the same ones.
CONTEXTS: Final[dict[Location, str]] = {
    Location.command_name: "command name",
    Location.group_name: "command name",
    Location.command_description: "command description",
    Location.group_description: "command description",
    Location.parameter_name: "option name",
    Location.parameter_description: "option description",
    Location.choice_name: "choice name",
}
NAME_CONTEXTS: Final = frozenset({"command name", "option name"})


@dataclass(frozen=True, order=True)
class CommandString:
    """One string of the command tree that Discord shows, as the catalogs key it."""

    context: str
    message: str


class CatalogTranslator(app_commands.Translator):
    """Answers discord.py from the gettext catalogs; ``None`` where a language keeps the English."""

    def __init__(self, catalogs: Catalogs | None = None) -> None:
        self._catalogs = catalogs

    @property
    def catalogs(self) -> Catalogs:
        return shipped() if self._catalogs is None else self._catalogs

    async def translate(
        self,
        string: app_commands.locale_str,
        locale: discord.Locale,
        context: app_commands.TranslationContextTypes,
    ) -> str | None:
        return self.catalogs.translated(locale, CONTEXTS.get(context.location), string.message)


class _Recorder(app_commands.Translator):
    """Collects what discord.py would ask a translator while building the sync payload, with
    where each string is used (``/settings channel allow``) for the translators' notes."""

    def __init__(self) -> None:
        self.found: dict[CommandString, set[str]] = {}
        self._where = ""

    async def translate(
        self,
        string: app_commands.locale_str,
        locale: discord.Locale,
        context: app_commands.TranslationContextTypes,
    ) -> str | None:
        data = context.data
        if isinstance(data, app_commands.Command | app_commands.Group | app_commands.ContextMenu):
            self._where = f"/{data.qualified_name}"
        elif isinstance(data, app_commands.Parameter):
            self._where = f"/{data.command.qualified_name} {data.display_name}"
        # A choice is translated right after its option: it is used where the option is.
        where = CONTEXTS.get(context.location)
        if where is not None:
            self.found.setdefault(CommandString(where, string.message), set()).add(self._where)
        return None


async def command_strings(
    tree: app_commands.CommandTree[discord.Client],
) -> dict[CommandString, list[str]]:
    """Every name, description and choice that syncing ``tree`` sends Discord (with the commands
    each is used in), sorted: exactly the strings the catalogs must translate. tools/i18n
    extracts them; the tests check them."""
    recorder = _Recorder()
    for command in tree.get_commands():
        await command.get_translated_payload(tree, recorder)
    return {s: sorted(recorder.found[s]) for s in sorted(recorder.found)}
