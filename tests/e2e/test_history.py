"""/history end to end: a member's jobs in this server, ten a page, turned with lasting buttons."""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from bot import render
from bot.core import AkoolBot
from bot.custom_ids import HistoryRef
from bot.store import JobKind, JobStatus, NewJob, StatusUpdate
from tests.e2e.conftest import World
from tests.fakes.discord import FakeInteraction, FakeMessage, FakeUser

# A message id for seeded jobs that were "posted" (only its link is checked).
SEEDED_POST = 880_000


@dataclass(frozen=True)
class Seeded:
    job_id: str
    prompt: str
    status: JobStatus
    credits: int
    delivered: bool


async def seed(
    bot: AkoolBot,
    world: World,
    count: int,
    *,
    user: FakeUser | None = None,
    guild_id: int | None = None,
    start: float = 10_000.0,
) -> list[Seeded]:
    """``count`` jobs made before this test, newest first, in a round of states.

    Every fourth one was posted; then one failed, one is processing, and one is done but not
    posted. None of them is due, so the job loop leaves them alone.
    """
    requester = user or world.alice
    seeded = []
    for n in range(count):
        job_id = secrets.token_hex(12)
        prompt = f"seeded fox {n:02d}"
        created = bot.clock() - start - n
        new = NewJob(
            akool_id=job_id,
            kind=JobKind.TRACK,
            requester_id=requester.id,
            channel_id=world.channel.id,
            guild_id=world.guild.id if guild_id is None else guild_id,
            prompt=prompt,
        )
        await bot.store.add_job(new, now=created, due_at=None)
        credits = 10 + n
        status = (
            JobStatus.COMPLETED,
            JobStatus.FAILED,
            JobStatus.PROCESSING,
            JobStatus.COMPLETED,
        )[n % 4]
        update = StatusUpdate(
            status,
            image_url=f"https://cdn.akool.example/{job_id}.png"
            if status is JobStatus.COMPLETED
            else None,
            credits=credits,
            error="AKOOL said no." if status is JobStatus.FAILED else None,
        )
        await bot.store.record_status(job_id, update, now=created, due_at=None)
        delivered = n % 4 == 0
        if delivered:
            await bot.store.mark_delivered(job_id, SEEDED_POST + n, now=created)
        seeded.append(Seeded(job_id, prompt, status, credits, delivered))
    return seeded


def description(message: FakeMessage) -> str:
    (embed,) = message.embeds
    return str(embed["description"])


def footer(message: FakeMessage) -> str:
    (embed,) = message.embeds
    return str(embed["footer"]["text"])


def buttons(world: World, message: FakeMessage) -> list[tuple[str, str, bool]]:
    """``(label, custom_id, disabled)`` of each button on the message, in order."""
    return [
        (
            str(world.discord.button(message, c).get("label")),
            c,
            bool(world.discord.button(message, c).get("disabled")),
        )
        for c in world.custom_ids_of(message)
    ]


def page_id(user: FakeUser, page: int) -> str:
    return HistoryRef(user.id, page).custom_id


async def open_history(world: World, user: FakeUser) -> FakeMessage:
    ix: FakeInteraction = await world.discord.slash_command(user, world.channel, "history")
    answer = await ix.wait_response()
    assert answer.type == 4
    assert answer.elapsed < 3.0
    assert ix.ephemeral
    assert ix.original_message is not None
    return ix.original_message


async def turn(world: World, user: FakeUser, message: FakeMessage, page: int) -> None:
    """``user`` presses the button that leads to ``page``; the message is edited in place."""
    press = await world.discord.click(user, message, page_id(user, page))
    answer = await press.wait_response()
    assert answer.type == 7  # the history message itself is updated


async def test_history_pages_through_23_jobs_ten_at_a_time(world: World):
    async with world.running() as bot:
        ix = await world.discord.slash_command(
            world.alice, world.channel, "imagine", {"prompt": "the newest fox"}
        )
        await ix.wait_original_edit(lambda m: "Done" in m.content)
        (job_id,) = world.akool.jobs
        (post,) = world.posts_for(job_id)
        older = await seed(bot, world, 22)
        # Not alice's, or not in this server: never in her history here.
        (bobs,) = await seed(bot, world, 1, user=world.bob)
        (elsewhere,) = await seed(bot, world, 1, guild_id=world.guild.id + 1)

        history = await open_history(world, world.alice)
        first = description(history)
        first_footer = footer(history)
        first_buttons = buttons(world, history)

        await turn(world, world.alice, history, 1)
        second = description(history)
        second_footer = footer(history)
        second_buttons = buttons(world, history)

        await turn(world, world.alice, history, 2)
        last = description(history)
        last_footer = footer(history)
        last_buttons = buttons(world, history)

        await turn(world, world.alice, history, 1)
        back = description(history)

    # Page 1: the job just made, then the nine newest seeded ones.
    link = render.message_link(world.guild.id, world.channel.id, post.id)
    assert first.count("\n\n") == 9
    assert first.index(job_id) < first.index(older[0].job_id)
    assert "✅ Done · **the newest fox**\n" in first
    assert f"[result]({link})" in first
    assert all(s.job_id in first for s in older[:9])
    assert first_footer == "Page 1 of 3 · 23 jobs, newest first"
    assert first_buttons == [
        ("◀", page_id(world.alice, 0), True),
        ("▶", page_id(world.alice, 1), False),
    ]
    # Each entry: status, prompt excerpt, credits, and where its result is.
    posted, failed, processing, unposted = older[:4]
    seeded_link = render.message_link(world.guild.id, world.channel.id, SEEDED_POST)
    assert f"✅ Done · **{posted.prompt}**\n{posted.credits} credits · [result]({seeded_link})" in (
        first
    )
    assert f"❌ Failed · **{failed.prompt}**\n{failed.credits} credits · `" in first
    assert f"🎨 Processing · **{processing.prompt}**\n{processing.credits} credits" in first
    image = f"[image on AKOOL](https://cdn.akool.example/{unposted.job_id}.png)"
    assert f"{unposted.credits} credits · {image}" in first

    # Page 2: the next ten; both ways open.
    assert second.count("\n\n") == 9
    assert [s.job_id in second for s in older] == [False] * 9 + [True] * 10 + [False] * 3
    assert second_footer == "Page 2 of 3 · 23 jobs, newest first"
    assert second_buttons == [
        ("◀", page_id(world.alice, 0), False),
        ("▶", page_id(world.alice, 2), False),
    ]

    # Page 3: the last three; ▶ is closed.
    assert last.count("\n\n") == 2
    assert [s.job_id in last for s in older] == [False] * 19 + [True] * 3
    assert last_footer == "Page 3 of 3 · 23 jobs, newest first"
    assert last_buttons == [
        ("◀", page_id(world.alice, 1), False),
        ("▶", page_id(world.alice, 3), True),
    ]
    assert back == second

    for page in (first, second, last):
        assert bobs.job_id not in page
        assert elsewhere.job_id not in page


async def test_only_the_member_can_turn_their_history(world: World):
    async with world.running() as bot:
        await seed(bot, world, 12)
        history = await open_history(world, world.alice)
        before = description(history)

        # Bob's client sends a press of alice's ▶ (a forged or replayed interaction).
        press = await world.discord.click(world.bob, history, page_id(world.alice, 1))
        refusal = await press.wait_response()

    assert refusal.type == 4
    assert press.ephemeral
    assert press.original_message is not None
    assert "someone else's history" in press.original_message.content
    assert press.original_message.embeds == []  # nothing of alice's jobs shown to bob
    assert description(history) == before
    assert footer(history).startswith("Page 1 of 2")


async def test_history_pages_still_turn_after_a_restart(world: World):
    async with world.running() as bot:
        older = await seed(bot, world, 13)
        history = await open_history(world, world.alice)
        assert footer(history).startswith("Page 1 of 2")

    async with world.running():
        await turn(world, world.alice, history, 1)
        second = description(history)
        second_buttons = buttons(world, history)
        await turn(world, world.alice, history, 0)
        first = description(history)

    assert [s.job_id in second for s in older] == [False] * 10 + [True] * 3
    assert footer(history).startswith("Page 1 of 2")
    assert second_buttons == [
        ("◀", page_id(world.alice, 0), False),
        ("▶", page_id(world.alice, 2), True),
    ]
    assert [s.job_id in first for s in older] == [True] * 10 + [False] * 3


async def test_an_empty_history_says_so(world: World):
    async with world.running() as bot:
        await seed(bot, world, 3, user=world.bob)
        ix = await world.discord.slash_command(world.alice, world.channel, "history")
        answer = await ix.wait_response()

    assert answer.type == 4
    assert ix.ephemeral
    assert ix.original_message is not None
    assert "no jobs in this server" in ix.original_message.content
    assert ix.original_message.components == []


async def test_a_single_page_has_no_buttons(world: World):
    async with world.running() as bot:
        older = await seed(bot, world, 10)
        history = await open_history(world, world.alice)

    assert all(s.job_id in description(history) for s in older)
    assert footer(history) == "Page 1 of 1 · 10 jobs, newest first"
    assert history.components == []


async def test_a_page_of_long_akool_links_still_fits_discords_embed(world: World):
    """Ten unposted results whose AKOOL URLs are each as long as a content link may be: the page
    points to /status for them rather than going past Discord's 4,096-character description."""
    async with world.running() as bot:
        jobs = []
        for n in range(10):
            job_id = secrets.token_hex(12)
            new = NewJob(
                akool_id=job_id,
                kind=JobKind.TRACK,
                requester_id=world.alice.id,
                channel_id=world.channel.id,
                guild_id=world.guild.id,
                prompt=f"long link fox {n}",
            )
            await bot.store.add_job(new, now=bot.clock() - 100 - n, due_at=None)
            url = f"https://cdn.akool.example/{job_id}.png?sig=" + "x" * 460
            update = StatusUpdate(JobStatus.COMPLETED, image_url=url, credits=1)
            await bot.store.record_status(job_id, update, now=bot.clock() - 100, due_at=None)
            jobs.append(job_id)
        history = await open_history(world, world.alice)

    text = description(history)
    assert len(text) <= 4096
    assert all(f"`/status {job_id}`" in text for job_id in jobs)
    assert "cdn.akool.example" not in text
