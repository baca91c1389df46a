"""A prompt is the member's text, never the bot's formatting: wherever the bot shows it (status
line, result post, failure post, press and re-roll announcements, /status, /history), every
character Discord would turn into a link, a mention or formatting is escaped."""

from __future__ import annotations

import re
from typing import Any

import discord
import pytest

from bot.akool.models import ImageStatus
from tests.e2e.conftest import World
from tests.fakes.akool import Timeline
from tests.fakes.discord import FakeMessage

FAKE_ID = 123456789012345678
PROMPT = (
    "[Free Nitro](https://evil.example) **bold** __u__ ~~s~~ ||spoiler|| `code` # heading "
    f"> quote -# small <@{FAKE_ID}> @everyone"
)
FAILING = f"{PROMPT} fails"
# Characters that would format, link or mention if Discord met them unescaped.
MARKUP = set("[]*_~|`<>#@")


def custom_id(job_id: str, action: str) -> str:
    return f"akool:v1:{job_id}:{action}"


def texts_of(message: FakeMessage) -> list[str]:
    """Every text of a message that Discord renders: its content (now and before each edit),
    and its embeds' titles, descriptions and field values."""
    found = [message.content]
    found += [str(edit.previous.get("content") or "") for edit in message.edits]
    for embed in message.embeds:
        found += [embed.get("title") or "", embed.get("description") or ""]
        found += [f["value"] for f in embed.get("fields", [])]
    return [text for text in found if "Free Nitro" in text]


def prompt_part(text: str) -> str:
    """The part of ``text`` that came from the prompt: from its "[" to its end or the cut."""
    start = text.index("Free Nitro") - 1
    if start > 0 and text[start - 1] == "\\":
        start -= 1
    end = text.find("everyone", start)
    end = end + len("everyone") if end != -1 else text.index("…", start)
    return text[start:end]


def assert_inert(text: str) -> None:
    """As Discord renders ``text``, nothing in the prompt's part of it formats or links: every
    markup character is behind a backslash, and no "://" makes a bare link."""
    part = prompt_part(text)
    unescaped = re.sub(r"\\.", "", part)  # what remains once each escaped character is read
    assert not MARKUP & set(unescaped), (text, sorted(MARKUP & set(unescaped)))
    assert "://" not in unescaped, text
    assert "](" not in part.replace("\\](", ""), text
    assert re.search(r"(?<!\\)\*\*bold", part) is None, text


async def test_a_prompt_shows_as_typed_everywhere(world: World):
    world.akool.timelines_by_prompt[FAILING] = Timeline(
        finished_after=0.1, outcome=ImageStatus.FAILED
    )
    shown: dict[str, list[str]] = {}
    async with world.running():
        # /imagine: the status line, then the grid.
        ix = await world.discord.slash_command(
            world.alice, world.channel, "imagine", {"prompt": PROMPT}
        )
        await ix.wait_response()
        grid = await world.wait_for_post(lambda m: world.is_post(m) and bool(m.components))
        status = await ix.wait_original_edit(lambda m: "Done" in m.content)
        grid_id = str(grid.nonce)
        shown["status line"] = texts_of(status)
        shown["result post"] = texts_of(grid)

        # A press: its announcement and its post.
        await world.discord.click(world.bob, grid, custom_id(grid_id, "U1"))
        upscale_note = await world.wait_for_post(lambda m: "Upscale U1" in m.content)
        (upscale_id,) = set(world.akool.jobs) - {grid_id}
        upscale = await world.wait_for_post(world.is_post_of(upscale_id))
        shown["press announcement"] = texts_of(upscale_note)
        shown["press result"] = texts_of(upscale)

        # A re-roll: its announcement and its grid.
        await world.discord.click(world.bob, grid, custom_id(grid_id, "reroll"))
        reroll_note = await world.wait_for_post(lambda m: "Re-roll of" in m.content)
        (reroll_id,) = set(world.akool.jobs) - {grid_id, upscale_id}
        reroll = await world.wait_for_post(world.is_post_of(reroll_id))
        shown["re-roll announcement"] = texts_of(reroll_note)
        shown["re-roll result"] = texts_of(reroll)

        # A failure post.
        ix = await world.discord.slash_command(
            world.alice, world.channel, "imagine", {"prompt": FAILING}
        )
        await ix.wait_original_edit(lambda m: "job `" in m.content)
        (failed_id,) = set(world.akool.jobs) - {grid_id, upscale_id, reroll_id}
        failure = await world.wait_for_post(world.is_post_of(failed_id))
        shown["failure post"] = texts_of(failure)

        # /status and /history.
        status_ix = await world.discord.slash_command(
            world.alice, world.channel, "status", {"job_id": grid_id}
        )
        shown["/status"] = texts_of(await status_ix.wait_followup())
        history_ix = await world.discord.slash_command(world.alice, world.channel, "history")
        await history_ix.wait_response()
        assert history_ix.original_message is not None
        shown["/history"] = texts_of(history_ix.original_message)

    for surface, texts in shown.items():
        # A press is announced by its button and the grid's id ("Upscale U1 of `…`").
        assert texts or surface == "press announcement", f"no prompt in the {surface}"
        for text in texts:
            assert_inert(text)
    # The failure post shows the prompt in its content and in its embed's Prompt field.
    assert len(shown["failure post"]) == 2
    # Nothing the bot sent anywhere shows the prompt unescaped.
    every: list[Any] = [t for m in world.discord.all_messages.values() for t in texts_of(m)]
    assert len(every) >= sum(map(len, shown.values()))
    for text in every:
        assert_inert(text)


def test_the_check_catches_an_unescaped_prompt():
    """The assertion above can fail: the raw prompt, or one escaped only by discord.py's
    escape_markdown, does not pass it."""
    for text in (f"**{PROMPT}**", f"**{discord.utils.escape_markdown(PROMPT)}**"):
        with pytest.raises(AssertionError):
            assert_inert(text)
