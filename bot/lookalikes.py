"""Text as a banned-word check should see it: look-alike spellings folded to one form.

A member dodging a banned word writes it so that it looks the same but compares differently:
full-width or styled letters, an invisible character inside it (a zero-width space), accents or
combining marks on it, or a letter from another script that looks Latin (a Cyrillic o). Both the
banned word and the prompt go through :func:`comparable`, so they meet in the same form.
"""

from __future__ import annotations

import functools
import unicodedata

from confusable_homoglyphs import confusables

# Unicode's confusables.txt maps each look-alike to a prototype; confusable-homoglyphs ships that
# table. Only non-ASCII characters are folded: an ASCII letter or digit was typed as itself, and
# folding it too ("1" to "l", "m" to "rn") would ban innocent words that merely look alike.
_PREFERRED: tuple[str, ...] = ("latin",)


def comparable(text: str) -> str:
    """``text`` in the form banned words are matched in.

    NFKC (styled and full-width letters become plain ones), format characters (category Cf:
    zero-width spaces and joiners, the word joiner, the byte-order mark, the soft hyphen) and
    combining marks removed, case folded, and letters that look Latin folded to that letter.
    """
    decomposed = unicodedata.normalize("NFKD", text)
    kept = "".join(c for c in decomposed if unicodedata.category(c) not in ("Cf", "Mn"))
    folded = "".join(_latin(c) for c in unicodedata.normalize("NFKC", kept).casefold())
    # A prototype can be a capital (Greek capital alpha is "A"), so fold case once more.
    return " ".join(unicodedata.normalize("NFKC", folded).casefold().split())


@functools.lru_cache(maxsize=4096)
def _latin(char: str) -> str:
    """The Latin letters or digits ``char`` looks like, or ``char`` itself."""
    if char.isascii():
        return char
    found = confusables.is_confusable(char, greedy=True, preferred_aliases=list(_PREFERRED))
    if not found:
        return char
    for homoglyph in found[0]["homoglyphs"]:
        prototype = homoglyph["c"]
        if isinstance(prototype, str) and prototype.isascii() and prototype.isalnum():
            return prototype.casefold()
    return char
