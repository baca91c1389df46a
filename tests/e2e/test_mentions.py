"""Mentions typed into a prompt ping nobody: the prompt is shown as written wherever the bot
shows it (status messages, posts, re-roll and press announcements, failures, refusals, /status,
/history, reposts, DM copies), and each of those messages pings only the people it is for.

The autouse check in conftest.py holds every end-to-end test to the same rule; this test makes
sure a prompt full of mentions really goes through every one of those paths.
"""

from __future__ import annotations

import json
from typing import Any

from bot import render
from bot.akool.models import ImageStatus
from tests.e2e.conftest import World, unwanted_pings
from tests.fakes.akool import Fault, FaultKind, Timeline
from tests.fakes.discord import FakeMessage, FakeUser


def custom_id(job_id: str, action: str) -> str:
    return f"akool:v1:{job_id}:{action}"


def sent_by_bot(world: World) -> list[FakeMessage]:
    """Every message the bot sent: in the channel, privately (ephemeral) and by DM."""
    return [m for m in world.discord.all_messages.values() if m.author is world.discord.bot_user]


def pinged_at_creation(message: FakeMessage) -> set[int]:
    return set(message.pings[0].users)


async def test_a_prompt_full_of_mentions_pings_nobody_it_mentions(world: World):
    carol: FakeUser = world.users[0]
    role = world.discord.add_role(world.guild, "artists")
    mentions = f"@everyone @here <@&{role.id}> <@{carol.id}> <@!{carol.id}>"
    prompt = f"{mentions} a fox"
    failing = f"{mentions} a fox that fails"
    refused = f"{mentions} a fox AKOOL refuses"
    world.akool.timelines_by_prompt[failing] = Timeline(
        finished_after=0.1, outcome=ImageStatus.FAILED
    )
    async with world.running():
        notify = await world.discord.slash_command(
            world.alice, world.channel, "notify", {"dm": "on"}
        )
        await notify.wait_response()

        # /imagine: the status message, then the grid (and its DM copy).
        ix = await world.discord.slash_command(
            world.alice, world.channel, "imagine", {"prompt": prompt}
        )
        grid = await world.wait_for_post(lambda m: world.is_post(m) and bool(m.components))
        await ix.wait_original_edit(lambda m: "Done" in m.content)
        grid_id = str(grid.nonce)
        dm = world.discord.dm_channel(world.alice)
        dm_copy = await world.discord.wait_for_message(
            dm, lambda m: render.shown(prompt) in m.content
        )

        # 🔄 by bob: an announcement replying to the grid, then bob's own grid.
        await world.discord.click(world.bob, grid, custom_id(grid_id, "reroll"))
        reroll_post = await world.wait_for_post(
            lambda m: world.is_post(m) and m.nonce != grid_id and bool(m.components)
        )
        reroll_id = str(reroll_post.nonce)
        announcement = await world.wait_for_post(
            lambda m: m.referenced is grid and f"job `{reroll_id}`" in m.content
        )

        # U1 by bob: its announcement and its post.
        await world.discord.click(world.bob, grid, custom_id(grid_id, "U1"))
        press_announcement = await world.wait_for_post(lambda m: "Upscale U1" in m.content)
        upscale = await world.wait_for_post(
            lambda m: world.is_post(m) and world.akool.jobs[str(m.nonce)].button == "U1"
        )

        # A job AKOOL fails, and a create AKOOL refuses.
        await world.discord.slash_command(
            world.alice, world.channel, "imagine", {"prompt": failing}
        )
        failure = await world.wait_for_post(
            lambda m: world.is_post(m) and world.akool.jobs[str(m.nonce)].prompt == failing
        )
        world.akool.inject(Fault(FaultKind.CODE, code=1003, endpoint="createbyprompt"))
        refusal_ix = await world.discord.slash_command(
            world.alice, world.channel, "imagine", {"prompt": refused}
        )
        refusal = await refusal_ix.wait_original_edit(lambda m: "could not be started" in m.content)

        # /status, "Post here" from it, and /history.
        status_ix = await world.discord.slash_command(
            world.alice, world.channel, "status", {"job_id": grid_id}
        )
        status = await status_ix.wait_followup()
        show = await world.discord.click(world.alice, status, custom_id(grid_id, "show"))
        await show.wait_followup(lambda m: "Posted" in m.content)
        repost = await world.wait_for_post(
            lambda m: (
                not world.is_post(m) and render.shown(prompt) in m.content and bool(m.attachments)
            )
        )
        history_ix = await world.discord.slash_command(world.alice, world.channel, "history")
        history = await history_ix.wait_response()

    # The prompt, mentions and all, reached every one of those messages as written.
    assert ix.original_message is not None
    shown = {
        "status message": ix.original_message,
        "grid": grid,
        "DM copy": dm_copy,
        "re-roll announcement": announcement,
        "re-roll grid": reroll_post,
        "upscale": upscale,
        "failure": failure,
        "refusal": refusal,
        "repost": repost,
    }
    # Each shows the mentions as text, escaped so that they do not even look like mentions.
    escaped = render.shown(mentions)
    for name, message in shown.items():
        assert escaped in message.content or escaped in embed_text(message.embeds), name
    assert press_announcement.referenced is grid
    assert escaped in embed_text(status.embeds)
    # (/history cuts each prompt short, in the middle of the mentions.)
    history_text = embed_text((history.data or {}).get("embeds") or [])
    assert render.shown(f"@everyone @here <@&{role.id}>") in history_text
    # None of them, nor anything else the bot sent, pinged beyond the people it is for.
    assert unwanted_pings(world.discord) == []
    everything = sent_by_bot(world)
    assert not any(ping.everyone or ping.roles for m in everything for ping in m.pings)
    assert carol.id not in {u for m in everything for ping in m.pings for u in ping.users}
    # And those people are still pinged, when the message is created.
    assert pinged_at_creation(grid) == {world.alice.id}
    assert pinged_at_creation(failure) == {world.alice.id}
    assert pinged_at_creation(announcement) == {world.bob.id}
    assert pinged_at_creation(press_announcement) == {world.bob.id}
    assert pinged_at_creation(upscale) == {world.alice.id, world.bob.id}
    assert pinged_at_creation(reroll_post) == {world.alice.id, world.bob.id}


def embed_text(embeds: list[dict[str, Any]]) -> str:
    """The embeds' texts as Discord shows them (not as Python's repr escapes them)."""
    return json.dumps(embeds, ensure_ascii=False).replace("\\\\", "\\")
