"""The v4 request: every documented field in AKOOL's spelling, and each range refused in words."""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import pytest

from bot.akool import InvalidSourcePromptRequest, SourcePromptRequest

SOURCE = ("https://cdn.example/source.png",)


def test_a_text_to_image_request_sends_akool_defaults_explicitly():
    request = SourcePromptRequest("a red fox")

    assert request.body() == {
        "prompt": "a red fox",
        "scale": "1:1",
        "resolution": "4k",
        "batch_quantity": 1,
    }
    assert not request.image_to_image


def test_every_field_in_akool_spelling():
    request = SourcePromptRequest(
        "a red fox",
        source_images=SOURCE,
        scale="Original",
        resolution="1080p",
        batch_quantity=4,
        similar=0.25,
        negative_prompt="text, watermark",
        webhook_url="https://bot.example/akool/webhook",
        model_name="wavespeed-ai/flux-kontext-dev",
    )

    assert request.body() == {
        "prompt": "a red fox",
        "source_images": ["https://cdn.example/source.png"],
        "scale": "Original",
        "resolution": "1080p",
        "batch_quantity": 4,
        "similar": 0.25,
        "negative_prompt": "text, watermark",
        "webhookurl": "https://bot.example/akool/webhook",  # lowercase in v4, unlike v3
        "model_name": "wavespeed-ai/flux-kontext-dev",
    }
    assert request.image_to_image


@pytest.mark.parametrize("count", [1, 2, 3, 4])
def test_batch_quantity_from_one_to_four(count: int):
    assert SourcePromptRequest("fox", batch_quantity=count).body()["batch_quantity"] == count


@pytest.mark.parametrize("similar", [0, 0.0, 0.5, 1, 1.0])
def test_similar_from_zero_to_one(similar: float):
    assert SourcePromptRequest("fox", source_images=SOURCE, similar=similar).similar == similar


@pytest.mark.parametrize(
    "scale", ["1:1", "3:2", "4:3", "16:9", "2:3", "3:4", "9:16"], ids=lambda s: s
)
def test_every_documented_scale(scale: str):
    assert SourcePromptRequest("fox", scale=scale).body()["scale"] == scale


@pytest.mark.parametrize(
    ("fields", "reason"),
    [
        ({"prompt": ""}, "prompt is empty"),
        ({"prompt": "   "}, "prompt is empty"),
        ({"batch_quantity": 0}, "from 1 to 4"),
        ({"batch_quantity": 5}, "from 1 to 4"),
        ({"batch_quantity": -1}, "from 1 to 4"),
        ({"batch_quantity": True}, "from 1 to 4"),
        ({"batch_quantity": 2.0}, "from 1 to 4"),
        ({"source_images": SOURCE, "similar": -0.01}, "from 0"),
        ({"source_images": SOURCE, "similar": 1.01}, "from 0"),
        ({"source_images": SOURCE, "similar": math.nan}, "from 0"),
        ({"source_images": SOURCE, "similar": math.inf}, "from 0"),
        ({"source_images": SOURCE, "similar": True}, "from 0"),
        ({"similar": 0.5}, "only applies when a source image"),
        ({"scale": "Original"}, "needs a source image"),
        ({"scale": "5:1"}, "must be one of"),
        ({"scale": "1:1 "}, "must be one of"),
        ({"resolution": "4K"}, "1080p or 4k"),
        ({"resolution": "720p"}, "1080p or 4k"),
        ({"source_images": ("https://a.example/1.png", "https://a.example/2.png")}, "only one"),
        ({"source_images": ("",)}, "as a link"),
        ({"source_images": ["https://a.example/1.png"]}, "as a link"),
        ({"negative_prompt": " "}, "negative prompt is empty"),
        ({"webhook_url": "ftp://bot.example/hook"}, "http(s) URL"),
        ({"webhook_url": "https://"}, "http(s) URL"),
        ({"model_name": ""}, "model name is empty"),
    ],
)
def test_an_invalid_request_is_refused_with_the_reason(fields: dict[str, Any], reason: str):
    fields = {"prompt": "fox", **fields}

    with pytest.raises(InvalidSourcePromptRequest) as caught:
        SourcePromptRequest(**fields)

    assert reason.lower() in str(caught.value).lower()
    assert isinstance(caught.value, ValueError)


def test_original_is_allowed_with_a_source_image():
    assert SourcePromptRequest("fox", source_images=SOURCE, scale="Original").scale == "Original"


def test_the_request_is_frozen():
    request = SourcePromptRequest("fox")

    with pytest.raises(dataclasses.FrozenInstanceError):
        request.batch_quantity = 9  # type: ignore[misc]
