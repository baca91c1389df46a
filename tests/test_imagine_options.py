"""/imagine's options into an ImageOrder: each combination made or refused, with its reason."""

from __future__ import annotations

from typing import Any

import pytest

from bot.create_api import CreateApiChooser, ImageOrder
from bot.errors import UserFacingError
from bot.imagine_options import NEGATIVE_MAX, Asked, clean_negative, order
from bot.server_settings import ServerSettings

IMAGE = "https://cdn.example/cat.png"
SERVER = ServerSettings(default_aspect="16:9", banned_words=("gore",))


def offers(mode: str) -> Any:
    # The chooser's own rule; offers() touches neither the client nor the store.
    return CreateApiChooser(None, None, mode).offers  # type: ignore[arg-type]


MADE: dict[str, tuple[Asked, str, ImageOrder]] = {
    "nothing but a prompt: the server's aspect, a grid": (
        Asked("a fox"),
        "v3",
        ImageOrder("a fox", "16:9"),
    ),
    "an aspect of one's own": (Asked("a fox", aspect="3:4"), "auto", ImageOrder("a fox", "3:4")),
    "every option, with an image": (
        Asked(
            "a fox",
            aspect="Original",
            source_image=IMAGE,
            count=2,
            resolution="1080p",
            negative="  blur,\n  text ",
            similarity=0.8,
        ),
        "auto",
        ImageOrder(
            "a fox",
            "Original",
            source_image=IMAGE,
            count=2,
            resolution="1080p",
            negative="blur, text",
            similarity=0.8,
        ),
    ),
    "similarity at its ends": (
        Asked("a fox", source_image=IMAGE, similarity=0.0),
        "v4",
        ImageOrder("a fox", "16:9", source_image=IMAGE, similarity=0.0),
    ),
    "a whole-number similarity, as Discord may send it": (
        Asked("a fox", source_image=IMAGE, similarity=1),
        "v4",
        ImageOrder("a fox", "16:9", source_image=IMAGE, similarity=1.0),
    ),
    "four images, the grid's number, even with v3 forced": (
        Asked("a fox", count=4),
        "v3",
        ImageOrder("a fox", "16:9", count=4),
    ),
    "4K and one image through v4": (
        Asked("a fox", count=1, resolution="4k"),
        "v4",
        ImageOrder("a fox", "16:9", count=1, resolution="4k"),
    ),
    "a banned word as part of another word is no banned word": (
        Asked("a fox", negative="gorecki"),
        "auto",
        ImageOrder("a fox", "16:9", negative="gorecki"),
    ),
}


@pytest.mark.parametrize("case", list(MADE))
def test_an_order_is_made(case: str):
    asked, mode, expected = MADE[case]
    made = order(asked, SERVER, offers(mode))
    assert made == expected
    assert type(made.similarity) is type(expected.similarity)


REFUSED: dict[str, tuple[Asked, str, str]] = {
    "similarity without an image": (
        Asked("a fox", similarity=0.5),
        "auto",
        "`similarity` says how close the new images stay to the image you start from, so it "
        "needs `image`",
    ),
    "Original without an image": (
        Asked("a fox", aspect="Original"),
        "v4",
        "The aspect `Original (the image's own shape)` keeps the shape of the image you start "
        "from, so it needs `image`",
    ),
    "a count with v3 forced": (
        Asked("a fox", count=2),
        "v3",
        "AKOOL's older API, which has no `count`. Leave them out",
    ),
    "every v4 option with v3 forced, each named": (
        Asked(
            "a fox",
            aspect="Original",
            source_image=IMAGE,
            count=1,
            resolution="4k",
            negative="blur",
            similarity=0.2,
        ),
        "v3",
        "which has no `count`, `resolution`, `negative`, `similarity`, "
        "`Original (the image's own shape)`.",
    ),
    "similarity without an image is said before v3 is": (
        Asked("a fox", similarity=0.5),
        "v3",
        "so it needs `image`",
    ),
    "a banned word in what to leave out": (
        Asked("a fox", negative="no GORE please"),
        "v4",
        "`negative` contains “gore”, which this server does not allow. Nothing was spent.",
    ),
    "a negative of nothing but spaces": (
        Asked("a fox", negative=" \u200b\n "),
        "v4",
        "`negative` is empty.",
    ),
    "a negative over the limit": (
        Asked("a fox", negative="x" * (NEGATIVE_MAX + 1)),
        "v4",
        f"`negative` is {NEGATIVE_MAX + 1} characters long; the limit is {NEGATIVE_MAX}.",
    ),
    "no images": (Asked("a fox", count=0), "v4", "`count` must be a whole number from 1 to 4"),
    "five images": (Asked("a fox", count=5), "v4", "`count` must be a whole number from 1 to 4"),
    "a resolution AKOOL has not": (
        Asked("a fox", resolution="4K"),
        "v4",
        "`resolution` must be one of its choices",
    ),
    "similarity over 1": (
        Asked("a fox", source_image=IMAGE, similarity=1.5),
        "v4",
        "`similarity` must be a number from 0",
    ),
    "similarity below 0": (
        Asked("a fox", source_image=IMAGE, similarity=-0.1),
        "v4",
        "`similarity` must be a number from 0",
    ),
    "similarity not a number": (
        Asked("a fox", source_image=IMAGE, similarity=float("nan")),
        "v4",
        "`similarity` must be a number from 0",
    ),
}


@pytest.mark.parametrize("case", list(REFUSED))
def test_an_order_is_refused_with_the_reason(case: str):
    asked, mode, reason = REFUSED[case]
    with pytest.raises(UserFacingError) as refused:
        order(asked, SERVER, offers(mode))
    assert reason in refused.value.message


def test_the_reasons_name_the_options_in_the_readers_language():
    with pytest.raises(UserFacingError) as refused:
        order(Asked("a fox", count=2, negative="blur"), SERVER, offers("v3"))
    german = refused.value.in_language("de")
    assert "`anzahl`" in german
    assert "`ohne`" in german
    assert "count" not in german


def test_the_limit_counts_the_cleaned_text():
    assert clean_negative(" ".join(["x"] * (NEGATIVE_MAX // 2))) == " ".join(
        ["x"] * (NEGATIVE_MAX // 2)
    )
    padded = "x" * NEGATIVE_MAX + "   \n"
    assert clean_negative(padded) == "x" * NEGATIVE_MAX
