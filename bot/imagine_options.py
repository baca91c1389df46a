"""/imagine's options turned into an :class:`ImageOrder`, or refused with the reason.

Everything here runs before the command is acknowledged, so a refusal is private and nothing has
been spent or asked of AKOOL. Discord's own client already keeps each option in its range and to
its choices (the command declares them); what it cannot know is how the options go together: a
similarity or the Original aspect means something only with an image to start from, and an
operator who forced AKOOL's older create API (``AKOOL_CREATE_API=v3``) has none of the options
only the current one has. The negative prompt is the member's text like the prompt: one line,
bounded, and the server's banned words apply to it.
"""

from __future__ import annotations

import math
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

from bot.akool.source_prompt import MAX_BATCH, MIN_BATCH, ORIGINAL_SCALE, RESOLUTIONS
from bot.create_api import ImageOrder
from bot.errors import UserFacingError
from bot.i18n import LocaleLike, Localized, Term, gettext, lazy, nlazy
from bot.server_settings import ServerSettings
from bot.shown import shown

# AKOOL documents no limit; a list of things to leave out is short, and this keeps it readable
# wherever it is shown next to the prompt.
NEGATIVE_MAX: Final = 500
COUNT_MIN: Final = MIN_BATCH
COUNT_MAX: Final = MAX_BATCH
SIMILARITY_MIN: Final = 0.0
SIMILARITY_MAX: Final = 1.0
# The option names, as the command declares them (messages name them in the reader's language).
COUNT: Final = "count"
RESOLUTION: Final = "resolution"
NEGATIVE: Final = "negative"
SIMILARITY: Final = "similarity"
ASPECT: Final = "aspect"
# The aspect choice that keeps the source image's shape, as the command lists it.
ORIGINAL_CHOICE: Final = "Original (the image's own shape)"


@dataclass(frozen=True, slots=True)
class Asked:
    """The options as they arrived; ``None``: the member left that option out."""

    prompt: str
    aspect: str | None = None
    source_image: str | None = None
    count: int | None = None
    resolution: str | None = None
    negative: str | None = None
    similarity: float | None = None


@dataclass(frozen=True, slots=True)
class _Terms(Localized):
    """Option and choice names as the reader's Discord shows them, each in backticks."""

    terms: tuple[Term, ...]

    def __call__(self, locale: LocaleLike) -> str:
        return gettext(locale, ", ").join(f"`{term(locale)}`" for term in self.terms)


def clean_negative(negative: str) -> str:
    """What to leave out, on one line, or a :class:`UserFacingError` saying what is wrong."""
    cleaned = " ".join(negative.split())
    if not any(unicodedata.category(char)[0] not in "CZ" for char in cleaned):
        raise UserFacingError(
            lazy(
                "`{option}` is empty. Say what to leave out of the image, or leave the option out.",
                option=Term("option name", NEGATIVE),
            )
        )
    if len(cleaned) > NEGATIVE_MAX:
        raise UserFacingError(
            nlazy(
                "`{option}` is {n} character long; the limit is {limit}.",
                "`{option}` is {n} characters long; the limit is {limit}.",
                len(cleaned),
                option=Term("option name", NEGATIVE),
                limit=NEGATIVE_MAX,
            )
        )
    return cleaned


def check_negative(settings: ServerSettings, negative: str) -> None:
    """A :class:`UserFacingError` if what to leave out holds one of the server's banned words,
    as :func:`bot.policy.check_prompt` refuses a prompt (a repeat of an order checks it again)."""
    word = settings.banned_word_in(negative)
    if word is not None:
        raise UserFacingError(
            lazy(
                "`{option}` contains “{word}”, which this server does not allow. Nothing "
                "was spent.",
                option=Term("option name", NEGATIVE),
                word=shown(word),
            )
        )


def order(
    asked: Asked, settings: ServerSettings, offers: Callable[[ImageOrder], bool]
) -> ImageOrder:
    """The order ``asked`` makes on a server with ``settings`` (its default aspect, its banned
    words), if ``offers`` (the create API chooser's) can make it; else a
    :class:`UserFacingError` with the reason, the first that applies."""
    negative = None if asked.negative is None else clean_negative(asked.negative)
    if negative is not None:
        check_negative(settings, negative)
    scale = settings.default_aspect if asked.aspect is None else asked.aspect
    if asked.source_image is None:
        if asked.similarity is not None:
            raise UserFacingError(
                lazy(
                    "`{option}` says how close the new images stay to the image you start "
                    "from, so it needs `{image}`. Add an image, or leave `{option}` out.",
                    option=Term("option name", SIMILARITY),
                    image=Term("option name", "image"),
                )
            )
        if scale == ORIGINAL_SCALE:
            raise UserFacingError(
                lazy(
                    "The aspect `{choice}` keeps the shape of the image you start from, so it "
                    "needs `{image}`. Add an image, or pick another aspect.",
                    choice=Term("choice name", ORIGINAL_CHOICE),
                    image=Term("option name", "image"),
                )
            )
    _check_ranges(asked)
    made = ImageOrder(
        asked.prompt,
        scale,
        source_image=asked.source_image,
        count=asked.count,
        resolution=asked.resolution,
        negative=negative,
        # Always a float: Discord sends a whole number as a JSON integer (``1``, not ``1.0``).
        similarity=None if asked.similarity is None else float(asked.similarity),
    )
    if not offers(made):
        raise UserFacingError(
            lazy(
                "This bot makes images through AKOOL's older API, which has no {options}. Leave "
                "them out and try again. Nothing was spent.",
                options=_Terms(_v4_only(made)),
            )
        )
    return made


def _check_ranges(asked: Asked) -> None:
    """What Discord's client keeps in range already, checked again: a forged or stale client
    gets the same refusal rather than an error from AKOOL."""
    if asked.count is not None and not COUNT_MIN <= asked.count <= COUNT_MAX:
        raise UserFacingError(
            lazy(
                "`{option}` must be a whole number from {low} to {high}.",
                option=Term("option name", COUNT),
                low=COUNT_MIN,
                high=COUNT_MAX,
            )
        )
    if asked.resolution is not None and asked.resolution not in RESOLUTIONS:
        raise UserFacingError(
            lazy(
                "`{option}` must be one of its choices; pick one from the list Discord shows.",
                option=Term("option name", RESOLUTION),
            )
        )
    similarity = asked.similarity
    if similarity is not None and (
        math.isnan(similarity) or not SIMILARITY_MIN <= similarity <= SIMILARITY_MAX
    ):
        raise UserFacingError(
            lazy(
                "`{option}` must be a number from 0 (more creative) to 1 (closer to the image).",
                option=Term("option name", SIMILARITY),
            )
        )


def _v4_only(made: ImageOrder) -> tuple[Term, ...]:
    """The options ``made`` asks for that only AKOOL's current create API has."""
    terms = []
    if made.count is not None and made.count != MAX_BATCH:
        terms.append(Term("option name", COUNT))
    if made.resolution is not None:
        terms.append(Term("option name", RESOLUTION))
    if made.negative is not None:
        terms.append(Term("option name", NEGATIVE))
    if made.similarity is not None:
        terms.append(Term("option name", SIMILARITY))
    if made.scale == ORIGINAL_SCALE:
        terms.append(Term("choice name", ORIGINAL_CHOICE))
    return tuple(terms)
