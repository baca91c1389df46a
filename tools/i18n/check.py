"""What keeps the catalogs whole: every message translated in every language, the same
placeholders as the source, names and descriptions inside Discord's rules, and compiled catalogs
that match their sources. Each check returns its problems as sentences (none: all is well)."""

from __future__ import annotations

import re
import string
import unicodedata
from collections import Counter
from typing import Final

import discord
from babel.messages.catalog import PYTHON_FORMAT, Catalog, Message
from discord import app_commands

from tools.i18n.catalogs import (
    MessageKey,
    Paths,
    compiled,
    key,
    keys,
    read_catalog,
    same_messages,
)

# Discord's limits on what a command shows.
NAME_MAX: Final = 32
DESCRIPTION_MAX: Final = 100
CHOICE_NAME_MAX: Final = 100
NAME_CONTEXTS: Final = frozenset({"command name", "option name"})
DESCRIPTION_CONTEXTS: Final = frozenset({"command description", "option description"})


def valid_name(name: str) -> bool:
    """Discord's rule for command and option names: 1-32 of ``-``, ``_``, letters and digits of
    any script (and Devanagari's and Thai's marks), lower case where the script has case."""
    if not 1 <= len(name) <= NAME_MAX or name != name.lower():
        return False
    return all(c in "-_" or unicodedata.category(c)[0] in "LN" or _indic_mark(c) for c in name)


def _indic_mark(c: str) -> bool:
    """Devanagari's and Thai's vowel signs, which Discord's name pattern allows too."""
    mark = unicodedata.category(c)[0] == "M"
    return mark and unicodedata.name(c, "").startswith(("DEVANAGARI", "THAI"))


def discord_problems(context: str | None, text: str) -> list[str]:
    """Where ``text`` (a command string in ``context``) breaks Discord's rules."""
    if context in NAME_CONTEXTS and not valid_name(text):
        return [f"{text!r} is not a valid {context} (lower case, 1-32, no spaces)"]
    if context in DESCRIPTION_CONTEXTS and not 1 <= len(text) <= DESCRIPTION_MAX:
        return [f"{context} {text!r} has {len(text)} characters (1 to {DESCRIPTION_MAX})"]
    if context == "choice name" and not 1 <= len(text) <= CHOICE_NAME_MAX:
        return [f"choice name {text!r} has {len(text)} characters (1 to {CHOICE_NAME_MAX})"]
    return []


# Discord's limits on what a message shows.
CONTENT_MAX: Final = 2000  # a message's content
LABEL_MAX: Final = 80  # a button's label, the strictest of the short texts (titles, field names)
# A message whose source is this short, and no sentence, is a label: a button, a title, a field's
# name or a status word; its translations must fit the strictest place a label goes.
LABEL_SOURCE_MAX: Final = 40
# The longest realistic value of each placeholder the messages use, as the bot fills them in:
# a prompt cut to 300 characters and escaped, an AKOOL link as long as one goes in content,
# another message's sentence (a reason, a problem) at its longest.
PLACEHOLDER_MAX: Final = {
    "active": 60,
    "amount": 20,
    "aspect": 5,
    "aspects": 40,
    "batch": 24,
    "button": 2,
    "cap": 12,
    "ceiling": 12,
    "channel": 23,
    "channels": 1000,
    "choice": 100,
    "choices": 300,
    "command": 60,
    "cost": 12,
    "count": 2,
    "credits": 12,
    "daily": 60,
    "done": 2,
    "duration": 24,
    "everything": 40,
    "failed": 2,
    "frees": 300,
    "height": 6,
    "held": 12,
    "high": 12,
    "how": 160,
    "icon": 2,
    "image": 32,
    "job": 24,
    "kind": 40,
    "language": 40,
    "left": 12,
    "limit": 12,
    "link": 100,
    "list": 1024,
    "low": 12,
    "member": 23,
    "mention": 23,
    "minutes": 8,
    "n": 12,
    "now": 200,
    "off": 20,
    "on": 20,
    "option": 32,
    "options": 200,
    "own": 12,
    "owner": 23,
    "page": 6,
    "pages": 6,
    "passes": 600,
    "position": 8,
    "press": 140,
    "problem": 400,
    "prompt": 604,
    "ratio": 5,
    "ready": 2,
    "reason": 400,
    "reference": 8,
    "seconds": 8,
    "size": 4,
    "spent": 12,
    "stale": 200,
    "status": 30,
    "time": 18,
    "total": 2,
    "url": 512,
    "value": 12,
    "waiting": 2,
    "what": 604,
    "why": 200,
    "width": 6,
    "word": 100,
}


def limit_problems(language: str, catalog: Catalog, *, source: bool = False) -> list[str]:
    """Messages (not command strings) whose translation, with every placeholder at its longest
    realistic value, would break a Discord limit: content over 2,000 characters, or a label
    over 80. ``source``: check the messages as written (the template, English)."""
    problems: list[str] = []
    for message in catalog:
        if not message.id or message.context not in (None, "job status"):
            continue
        written = _sources(message)[0]
        label = len(written) <= LABEL_SOURCE_MAX and not written.rstrip().endswith((".", ")"))
        limit = LABEL_MAX if label and not placeholders(written) else CONTENT_MAX
        for form in _sources(message) if source else _forms(message):
            if not form:
                continue
            size = len(form)
            for name, count in placeholders(form).items():
                field = name.strip("{}")
                if field not in PLACEHOLDER_MAX:
                    problems.append(f"{language}: no realistic length is known for {name}")
                    continue
                size += count * (PLACEHOLDER_MAX[field] - len(name))
            if size > limit:
                problems.append(
                    f"{language}: {form[:60]!r}… can reach {size} characters (at most {limit})"
                )
    return problems


def placeholders(text: str) -> Counter[str]:
    """The %-style (``%(count)d``) and brace-style (``{count}``) placeholders in ``text``."""
    found: Counter[str] = Counter()
    for match in PYTHON_FORMAT.finditer(text):
        name, _, kind = match.groups()
        if kind != "%":
            found[f"%({name or ''}){kind}"] += 1
    if "{" in text:
        try:
            parsed = list(string.Formatter().parse(text))
        except ValueError:
            found["{unbalanced"] += 1
        else:
            found.update("{" + field + "}" for _, field, _, _ in parsed if field is not None)
    return found


def _forms(message: Message) -> list[str]:
    value = message.string
    return list(value) if isinstance(value, list | tuple) else [value or ""]


def _sources(message: Message) -> list[str]:
    value = message.id
    return [str(v) for v in value] if isinstance(value, list | tuple) else [str(value)]


def translation_problems(language: str, catalog: Catalog, template: Catalog) -> list[str]:
    """Every template message translated (no fuzzy guesses), in as many plural forms as the
    language has, with the source's placeholders; nothing the template lacks."""
    problems: list[str] = []
    wanted = keys(template)
    have = keys(catalog)
    problems += [f"{language}: no entry for {k!r}" for k in sorted(wanted - have, key=str)]
    problems += [
        f"{language}: {k!r} is not in the template" for k in sorted(have - wanted, key=str)
    ]
    for message in catalog:
        if not message.id or key(message) not in wanted:
            continue
        where = f"{language}: {key(message)!r}"
        forms = _forms(message)
        if message.fuzzy:
            problems.append(f"{where} is marked fuzzy (a guess to review)")
        if not all(forms):
            problems.append(f"{where} is not translated")
            continue
        if message.pluralizable and len(forms) != catalog.num_plurals:
            problems.append(f"{where} has {len(forms)} plural forms, not {catalog.num_plurals}")
        sources = [placeholders(s) for s in _sources(message)]
        for form in forms:
            if placeholders(form) not in sources:
                problems.append(
                    f"{where}: placeholders {sorted(placeholders(form))} in {form!r} do not "
                    f"match the source's {sorted(sources[-1])}"
                )
        for form in forms:
            problems += [f"{language}: {p}" for p in discord_problems(message.context, form)]
    return problems


def side_by_side(tree: app_commands.CommandTree[discord.Client]) -> list[list[MessageKey]]:
    """Names Discord shows side by side, which must stay distinct once translated: the top-level
    commands, each group's subcommands, each command's options, each option's choices."""
    groups: list[list[MessageKey]] = [[("command name", c.name) for c in tree.get_commands()]]
    for command in tree.walk_commands():
        if isinstance(command, app_commands.Group):
            groups.append([("command name", c.name) for c in command.commands])
            continue
        groups.append([("option name", p.display_name) for p in command.parameters])
        groups += [
            [("choice name", c.name) for c in p.choices] for p in command.parameters if p.choices
        ]
    return groups


def _shown(catalog: Catalog, context: str | None, text: str) -> str:
    message = catalog.get(text, context=context)
    return _forms(message)[0] if message is not None and _forms(message)[0] else text


def unique_names_problems(
    language: str, catalog: Catalog, groups: list[list[MessageKey]]
) -> list[str]:
    problems: list[str] = []
    for group in groups:
        shown: dict[str, str] = {}
        for context, name in group:
            text = _shown(catalog, context, name)
            if text in shown:
                problems.append(f"{language}: {name!r} and {shown[text]!r} both show as {text!r}")
            shown[text] = name
    return problems


def command_reference_problems(language: str, catalog: Catalog, commands: list[str]) -> list[str]:
    """A description that names a top-level command (``/imagine``) names it as this language
    shows it."""
    problems: list[str] = []
    local = {command: _shown(catalog, "command name", command) for command in commands}
    for message in catalog:
        if not message.id or message.context not in DESCRIPTION_CONTEXTS:
            continue
        for form in _forms(message):
            for command in re.findall(r"/([-_\w]+)", str(message.id)):
                if command in local and f"/{local[command]}" not in form:
                    problems.append(
                        f"{language}: {form!r} should name /{command} as /{local[command]}"
                    )
    return problems


def compiled_problems(paths: Paths) -> list[str]:
    """Each shipped ``.mo`` holds exactly its ``.po``'s translations."""
    problems = []
    for language in paths.languages():
        mo = paths.mo(language)
        if not mo.exists():
            problems.append(f"{language}: {mo.name} is missing; run python -m tools.i18n update")
            continue
        source = read_catalog(paths.po(language), locale=language)
        # Fuzzy entries are not compiled.
        for message in list(source):
            if message.id and message.fuzzy:
                source.delete(message.id, context=message.context)
        if not same_messages(compiled(mo), source):
            problems.append(
                f"{language}: {mo.name} is older than {mo.with_suffix('.po').name}; "
                "run python -m tools.i18n update"
            )
    return problems


def all_problems(
    paths: Paths, template: Catalog, tree: app_commands.CommandTree[discord.Client]
) -> list[str]:
    """Everything above, for every language in ``paths``."""
    groups = side_by_side(tree)
    commands = [c.name for c in tree.get_commands()]
    problems: list[str] = limit_problems("en", template, source=True)
    for language in paths.languages():
        catalog = read_catalog(paths.po(language), locale=language)
        problems += translation_problems(language, catalog, template)
        problems += unique_names_problems(language, catalog, groups)
        problems += command_reference_problems(language, catalog, commands)
        problems += limit_problems(language, catalog)
    return problems + compiled_problems(paths)
