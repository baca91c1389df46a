"""Every sentence the bot sends a member goes through the catalogs: no English literal is passed
straight to Discord (a message, an edit, an embed, a button) or raised as a member's error.

Together with tests/test_catalogs.py (every extracted message translated in every language),
this is what makes a new user-facing string without a catalog entry fail the suite: either it
is written as a literal here, or it is extracted there and has no translation.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Final

ROOT: Final = Path(__file__).resolve().parents[1]
SOURCES: Final = ("bot", "cogs")
# The operator's own tools (the set-up check, start-up errors, logs) speak English to the
# operator's console; they send nothing to Discord.
OPERATOR_ONLY: Final = ("bot/check/",)
# Calls that send or raise text a member reads, and the keywords that carry it.
SENDERS: Final = {
    "send": ("content",),
    "send_message": ("content",),
    "edit_message": ("content",),
    "edit_original_response": ("content",),
    "edit": ("content",),
    "answer_privately": ("message",),
    "UserFacingError": ("text",),
    "InvalidSetting": ("text",),
    "Cooldown": ("text",),
    "Embed": ("title", "description"),
    "add_field": ("name", "value"),
    "set_footer": ("text",),
    "set_author": ("name",),
    "Button": ("label",),
    "problem_note": ("problem",),
    # Why a result is posted without its image: the notifier writes it into the post.
    "ImageDownloadError": ("reason",),
}
_WORDS: Final = re.compile(r"[^\W\d_]{2,}")


def _words(node: ast.expr, constants: frozenset[str] = frozenset()) -> bool:
    """Whether ``node`` is a literal, an f-string or a module's constant string, with words of
    its own in it."""
    if isinstance(node, ast.Name):
        return node.id in constants
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return bool(_WORDS.search(node.value))
    if isinstance(node, ast.JoinedStr):
        return any(_words(part) for part in node.values if isinstance(part, ast.Constant))
    if isinstance(node, ast.BinOp):  # "a" + "b", "..." % x
        return _words(node.left, constants) or _words(node.right, constants)
    if isinstance(node, ast.IfExp):
        return _words(node.body, constants) or _words(node.orelse, constants)
    return False


def _constants(tree: ast.Module) -> frozenset[str]:
    """The names bound to an English string anywhere in the module: its constants
    (``BUSY: Final = "The bot is busy..."``) and a function's variables (``problem = "..."``)."""
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign) and _words(node.value):
            found.update(t.id for t in node.targets if isinstance(t, ast.Name))
        elif (
            isinstance(node, ast.AnnAssign)
            and isinstance(node.target, ast.Name)
            and node.value is not None
            and _words(node.value)
        ):
            found.add(node.target.id)
    return frozenset(found)


def _name(call: ast.Call) -> str:
    func = call.func
    if isinstance(func, ast.Attribute):
        return func.attr
    return func.id if isinstance(func, ast.Name) else ""


def literals(source: str) -> Iterator[tuple[int, str]]:
    """``(line, call)`` of each English literal handed to a sender in ``source``."""
    tree = ast.parse(source)
    constants = _constants(tree)
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call) or _name(node) not in SENDERS:
            continue
        keywords = SENDERS[_name(node)]
        carried = [a for a in node.args if not isinstance(a, ast.Starred)]
        carried += [k.value for k in node.keywords if k.arg in keywords]
        if _name(node) in {"Embed", "add_field", "set_footer", "set_author", "Button"}:
            carried = [k.value for k in node.keywords if k.arg in keywords]
        for value in carried:
            if _words(value, constants):
                yield node.lineno, _name(node)


def offenders() -> dict[str, list[tuple[int, str]]]:
    found: dict[str, list[tuple[int, str]]] = {}
    for folder in SOURCES:
        for path in sorted((ROOT / folder).rglob("*.py")):
            where = path.relative_to(ROOT).as_posix()
            if where.startswith(OPERATOR_ONLY):
                continue
            hits = list(literals(path.read_text(encoding="utf-8")))
            if hits:
                found[where] = hits
    return found


def test_no_english_literal_reaches_a_member_outside_the_catalogs():
    assert offenders() == {}, "wrap these with bot.i18n (gettext/ngettext/lazy)"


def test_the_scan_finds_literals_of_every_shape():
    source = """
BUSY = "The bot is busy."
LATER = i18n.lazy("Later.")


async def answer(interaction, n, i18n):
    await interaction.response.send_message("Done.", ephemeral=True)
    await interaction.followup.send(content=f"Job {n} is done")
    raise UserFacingError("Nope" + " again")
    embed = discord.Embed(title="Settings", colour=1)
    embed.add_field(name="Job", value=f"`{n}`")
    button = discord.ui.Button(label="Post here")
    await interaction.response.send_message(i18n.gettext(interaction.locale, "Fine."))
    await interaction.followup.send(f"<@{n}> {n}")
    await channel.send("🔄")
    raise UserFacingError(BUSY)
    raise UserFacingError(LATER)
"""
    assert sorted(call for _, call in literals(source)) == sorted(
        [
            "send_message",
            "send",
            "UserFacingError",
            "Embed",
            "add_field",
            "Button",
            "UserFacingError",
        ]
    )
