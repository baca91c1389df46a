"""A member's own text (a prompt, a banned word) as the bot shows it: escaped so that it reads
as typed. Its own module so that anything that quotes a member (``bot.render``, the settings'
refusals) can, whatever else it imports."""

from __future__ import annotations

import re
from typing import Final

# What makes Discord format a member's text, or turn it into a link, a mention, a timestamp or an
# emoji: bold, italics, underline, strike, spoiler, code, a backslash, masked links ([x](url)),
# <@id> <#id> <@&id> <t:...> <:emoji:id>, @everyone, a bare URL's "://", headings and quotes.
# discord.utils.escape_markdown is not enough on its own: it escapes only the first of several
# masked links ("[a](b) [c](d)" keeps the second) and leaves mentions and mid-line # alone.
_INLINE: Final = re.compile(r"[\\*_~|`\[\]<>#@]|:(?=//)")
# These format only at the start of a line: a list item, "-#" small text, a "1." list.
_LINE_START: Final = re.compile(r"^(?:[-+]|\d+\.)")


def shown(text: str, limit: int | None = None) -> str:
    """Member-provided text (a prompt, a banned word) as the bot shows it: on one line, with
    every character Discord would format escaped, so it reads as typed and nothing in it becomes
    a link, a mention or formatting in the bot's voice. With ``limit``, it is cut (with an
    ellipsis) so that the escaped text fits in that many characters."""
    pieces = _escaped_pieces(" ".join(text.split()))
    if limit is None or sum(map(len, pieces)) <= limit:
        return "".join(pieces)
    kept: list[str] = []
    size = 0
    for piece in pieces:  # cut between characters, never inside an escape
        if size + len(piece) > limit - 1:
            break
        kept.append(piece)
        size += len(piece)
    return "".join(kept).rstrip() + "…"


def _escaped_pieces(flat: str) -> list[str]:
    """Each character of ``flat``, behind a backslash if Discord would format it."""
    marked = {m.start() for m in _INLINE.finditer(flat)}
    start = _LINE_START.match(flat)
    if start:
        marked.add(start.end() - 1)  # the "-", the "+" or the "." of "1."
    return ["\\" + c if i in marked else c for i, c in enumerate(flat)]
