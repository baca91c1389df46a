"""/imagine's options end to end: what a member picks reaches AKOOL's v4 body, a combination that
cannot be made is refused privately before AKOOL hears of it or a credit is held, and Discord
shows the options in each member's language with the types and bounds Discord enforces."""

from __future__ import annotations

from typing import Any

import pytest

from bot.server_settings import ServerSettings
from tests.e2e.conftest import World
from tests.fakes.discord import FakeInteraction
from tests.fakes.png import make_png

V4_CREATE = "createBySourcePrompt"
V3_CREATE = "createbyprompt"
CAT = {"image": ("cat.png", make_png(8, 8, "cat"))}
_INTEGER, _STRING, _NUMBER = 4, 3, 10


async def started(world: World, ix: FakeInteraction) -> None:
    """The command was taken: "thinking" in public, then the job's status line."""
    ack = await ix.wait_response()
    assert ack.type == 5
    assert not ack.ephemeral
    await ix.wait_original_edit(lambda m: "Queued" in m.content or "Processing" in m.content)


# (options, with the cat image?, AKOOL's v4 body beyond the prompt)
REACH_V4: dict[str, tuple[dict[str, Any], bool, dict[str, Any]]] = {
    "two 1080p images without blur": (
        {"aspect": "16:9", "count": 2, "resolution": "1080p", "negative": "blur,\n  <@1> **text**"},
        False,
        {
            "scale": "16:9",
            "resolution": "1080p",
            "batch_quantity": 2,
            # The member's text is data: sent as typed (on one line), never interpreted.
            "negative_prompt": "blur, <@1> **text**",
        },
    ),
    "one 4K image of the cat's shape, close to it": (
        {"aspect": "Original", "count": 1, "resolution": "4k", "similarity": 0.75},
        True,
        {"scale": "Original", "resolution": "4k", "batch_quantity": 1, "similar": 0.75},
    ),
    "only a similarity: AKOOL's defaults for the rest, sent explicitly": (
        {"similarity": 0.0},
        True,
        {"scale": "1:1", "resolution": "4k", "batch_quantity": 4, "similar": 0.0},
    ),
}


@pytest.mark.parametrize("case", list(REACH_V4))
async def test_the_options_reach_akools_v4_body(world: World, case: str):
    options, with_image, expected = REACH_V4[case]
    async with world.running():
        ix = await world.discord.slash_command(
            world.alice,
            world.channel,
            "imagine",
            {"prompt": "a red fox", **options},
            attachments=CAT if with_image else None,
        )
        await started(world, ix)

    (request,) = world.akool.requests_to(V4_CREATE)
    body = dict(request.body)
    sources = body.pop("source_images", None)
    assert body == {"prompt": "a red fox", **expected}
    if "similar" in expected:
        assert isinstance(body["similar"], float)
    if with_image:
        (source,) = sources
        assert source.startswith("http://127.0.0.1:")
        assert "cat.png" in source
    else:
        assert sources is None
    assert world.akool.requests_to(V3_CREATE) == []


async def test_four_images_and_nothing_else_is_the_grid(world: World):
    async with world.running():
        ix = await world.discord.slash_command(
            world.alice, world.channel, "imagine", {"prompt": "a red fox", "count": 4}
        )
        await started(world, ix)

    (request,) = world.akool.requests_to(V3_CREATE)
    assert request.body == {"prompt": "a red fox", "scale": "1:1"}
    assert world.akool.requests_to(V4_CREATE) == []


async def test_with_v4_forced_a_plain_prompt_gets_four_4k_images(world: World):
    async with world.running(akool_create_api="v4"):
        ix = await world.discord.slash_command(
            world.alice, world.channel, "imagine", {"prompt": "a red fox"}
        )
        await started(world, ix)

    (request,) = world.akool.requests_to(V4_CREATE)
    assert request.body == {
        "prompt": "a red fox",
        "scale": "1:1",
        "resolution": "4k",
        "batch_quantity": 4,
    }


# (options, with the cat image?, AKOOL_CREATE_API, what the private answer says)
REFUSED: dict[str, tuple[dict[str, Any], bool, str, str]] = {
    "a similarity without an image": (
        {"similarity": 0.5},
        False,
        "auto",
        "`similarity` says how close the new images stay to the image you start from, so it "
        "needs `image`.",
    ),
    "Original without an image": (
        {"aspect": "Original"},
        False,
        "v4",
        "The aspect `Original (the image's own shape)` keeps the shape of the image you start "
        "from, so it needs `image`.",
    ),
    "a count with v3 forced": (
        {"count": 2},
        False,
        "v3",
        "AKOOL's older API, which has no `count`.",
    ),
    "a resolution with v3 forced": (
        {"resolution": "1080p"},
        False,
        "v3",
        "which has no `resolution`.",
    ),
    "a negative with v3 forced": (
        {"negative": "blur"},
        False,
        "v3",
        "which has no `negative`.",
    ),
    "a similarity and Original with v3 forced": (
        {"similarity": 0.5, "aspect": "Original"},
        True,
        "v3",
        "which has no `similarity`, `Original (the image's own shape)`.",
    ),
    "a banned word in what to leave out": (
        {"negative": "blood and GORE"},
        False,
        "auto",
        "`negative` contains “gore”, which this server does not allow. Nothing was spent.",
    ),
    "nothing to leave out but invisible characters": (
        {"negative": "\u200b \u200b"},
        False,
        "auto",
        "`negative` is empty.",
    ),
}


@pytest.mark.parametrize("case", list(REFUSED))
async def test_an_invalid_combination_is_refused_privately_before_anything_is_spent(
    world: World, case: str
):
    options, with_image, api, reason = REFUSED[case]
    async with world.running(akool_create_api=api) as bot:
        await bot.store.save_server_settings(
            world.guild.id, ServerSettings(banned_words=("gore",)), now=bot.clock()
        )
        asked_before = len(world.akool.requests)
        ix = await world.discord.slash_command(
            world.alice,
            world.channel,
            "imagine",
            {"prompt": "a red fox", **options},
            attachments=CAT if with_image else None,
        )
        answer = await ix.wait_response()
        usage = await bot.store.member_usage(world.guild.id, world.alice.id, since=0)
        intents = await bot.store.lost_create_intents(bot.clock() + 3600)
        jobs = await bot.store.recent_jobs(world.guild.id, world.alice.id, limit=5)

    assert answer.type == 4
    assert answer.ephemeral
    assert reason in answer.content
    assert world.akool.requests[asked_before:] == []
    assert (usage.active, usage.daily) == (0, 0)
    assert intents == []
    assert jobs == []


async def test_a_refusal_names_the_options_in_the_members_language(world: World):
    world.alice.locale = "de"
    async with world.running(akool_create_api="v3"):
        ix = await world.discord.slash_command(
            world.alice, world.channel, "imagine", {"prompt": "ein Fuchs", "count": 1}
        )
        answer = await ix.wait_response()

    assert answer.ephemeral
    assert "ältere API von AKOOL, die `anzahl` nicht kennt" in answer.content


async def test_the_options_are_synced_with_discords_types_bounds_and_languages(world: World):
    async with world.running():
        pass
    (sync,) = world.discord.requests_matching("PUT", r"/commands$")
    (imagine,) = [c for c in sync.json if c["name"] == "imagine"]
    options = {o["name"]: o for o in imagine["options"]}
    assert list(options) == [
        "prompt",
        "aspect",
        "image",
        "count",
        "resolution",
        "negative",
        "similarity",
    ]
    count, resolution = options["count"], options["resolution"]
    negative, similarity = options["negative"], options["similarity"]
    assert (count["type"], count["min_value"], count["max_value"]) == (_INTEGER, 1, 4)
    assert (similarity["type"], similarity["min_value"], similarity["max_value"]) == (
        _NUMBER,
        0,
        1,
    )
    assert (negative["type"], negative["min_length"], negative["max_length"]) == (_STRING, 1, 500)
    assert [c["value"] for c in resolution["choices"]] == ["1080p", "4k"]
    assert options["aspect"]["choices"][-1]["value"] == "Original"
    assert not any(o.get("required") for o in (count, resolution, negative, similarity))
    for option in (count, resolution, negative, similarity):
        assert option["description"]
        assert set(option["description_localizations"]) >= {"de", "ja", "zh-CN"}
    assert count["name_localizations"]["ja"] == "枚数"
    assert similarity["name_localizations"]["de"] == "ähnlichkeit"
    assert resolution["name_localizations"]["zh-CN"] == "分辨率"
    assert resolution["choices"][1]["name_localizations"]["ja"].startswith("4K")
    assert options["aspect"]["choices"][-1]["name_localizations"]["fr"] == (
        "Original (la forme de l'image)"
    )


@pytest.mark.parametrize(
    "options",
    [{"count": 2.5}, {"count": 0}, {"count": 5}, {"similarity": 1.5}, {"resolution": "8k"}],
    ids=str,
)
async def test_the_fake_discord_sends_only_what_discords_client_would(world: World, options):
    async with world.running():
        with pytest.raises(ValueError, match=r"whole number|outside|not one of the choices"):
            await world.discord.slash_command(
                world.alice, world.channel, "imagine", {"prompt": "a red fox", **options}
            )
