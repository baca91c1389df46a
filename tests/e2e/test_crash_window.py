"""The crash window: the real ``python -m bot``, killed with SIGKILL at each moment between a
member's command and its answer, answers that command once restarted.

Each kill comes at an exact moment, not after a guessed sleep: the fake Discord or the fake AKOOL
holds the one request that marks the moment, and the test kills the process while it waits.
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path

from tests.e2e.conftest import pinged, replied_to
from tests.e2e.processes import BotProcess, bot_env
from tests.fakes.akool import FakeAkool, Timeline
from tests.fakes.discord import FakeChannel, FakeDiscord, FakeMessage, FakeUser

PROMPT = "a fox in the crash window"
# Generous: a restart takes a few seconds, and the intent is answered only once it is older than
# any AKOOL call could be (AKOOL_TIMEOUT + 1).
WAIT = 60.0
CALLBACK = r"^/interactions/\d+/[^/]+/callback$"
ORIGINAL = r"^/webhooks/\d+/[^/]+/messages/@original$"
CHANNEL_POST = r"^/channels/\d+/messages$"


@dataclass
class Crashing:
    discord: FakeDiscord
    akool: FakeAkool
    channel: FakeChannel
    member: FakeUser
    bot: BotProcess
    db_path: Path

    async def restart(self) -> None:
        """SIGKILL, then start again."""
        await self.bot.kill()
        await self.bot.start()

    def stored_jobs(self) -> list[tuple[str, int | None]]:
        """``(akool_id, status_message_id)`` of every stored job."""
        with contextlib.closing(sqlite3.connect(self.db_path)) as db:
            return list(db.execute("SELECT akool_id, status_message_id FROM jobs ORDER BY id"))

    def presses(self) -> list[tuple[str, int, str | None]]:
        """``(button, presser_id, child_akool_id)`` of every standing claim of a button."""
        with contextlib.closing(sqlite3.connect(self.db_path)) as db:
            return list(db.execute("SELECT button, presser_id, child_akool_id FROM button_presses"))

    def intents(self) -> int:
        with contextlib.closing(sqlite3.connect(self.db_path)) as db:
            return int(db.execute("SELECT COUNT(*) FROM create_intents").fetchone()[0])

    def log(self) -> str:
        return self.bot.log_path.read_text(errors="replace")[-3000:]

    async def store_shows(self, check: Callable[[], bool], what: str) -> None:
        """Wait until ``check`` of the bot's database holds (the bot writes it in another
        process, so there is no event to wait on: it is looked at every 50 ms until then)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + WAIT
        while not check():
            if loop.time() > deadline:
                raise AssertionError(f"the store never showed {what}\n{self.log()}")
            await asyncio.sleep(0.05)


@contextlib.asynccontextmanager
async def crashing_bot(tmp_path: Path, **settings: str) -> AsyncIterator[Crashing]:
    discord = FakeDiscord(token="crash-window-token-0123456789")
    guild = discord.add_guild(name="Crash Window")
    channel = discord.add_channel(guild, name="images")
    member = discord.add_user(name="member", guild=guild)
    await discord.start()
    akool = FakeAkool()
    await akool.start()
    # Jobs stay at processing until the test finishes them.
    akool.timeline = Timeline(hold=True)
    db_path = tmp_path / "bot.sqlite3"
    env = bot_env(
        discord,
        akool,
        f"sqlite:///{db_path}",
        DISCORD_GUILD_ID=str(guild.id),
        # Room for a loaded machine between the moment held and the kill: the bot's own AKOOL
        # timeout must not end the held call first.
        AKOOL_TIMEOUT="5",
        **settings,
    )
    bot = BotProcess(env, tmp_path / "bot.log")
    try:
        await bot.start()
        await discord.wait_until_ready(timeout=30)
        yield Crashing(discord, akool, channel, member, bot, db_path)
    finally:
        await bot.ensure_stopped()
        await discord.close()
        await akool.close()


def channel_posts_saying(crash: Crashing, text: str) -> list[FakeMessage]:
    return [m for m in crash.discord.messages(crash.channel) if text in m.content]


async def test_killed_after_the_defer_before_akool_is_asked(tmp_path: Path):
    async with crashing_bot(tmp_path) as crash:
        # Discord records the "thinking" acknowledgement; the bot never hears back from it.
        held = crash.discord.hold_next("POST", CALLBACK, after=True)
        ix = await crash.discord.slash_command(
            crash.member, crash.channel, "imagine", {"prompt": PROMPT}
        )
        await held.wait_reached()
        assert (await ix.wait_response()).type == 5
        await crash.restart()

        answer = await ix.wait_original_edit(
            lambda m: "nothing was started" in m.content, timeout=WAIT
        )

        assert PROMPT in answer.content
        assert "nothing was charged" in answer.content
        assert crash.akool.calls["createbyprompt"] == 0
        assert crash.stored_jobs() == []
        # The command's own response is the answer: no second notice in the channel.
        assert channel_posts_saying(crash, "nothing was started") == [answer]
        await crash.store_shows(lambda: crash.intents() == 0, "the intent dropped")


async def test_killed_while_answering_a_lost_command_it_is_answered_at_once(tmp_path: Path):
    async with crashing_bot(tmp_path) as crash:
        held = crash.discord.hold_next("POST", CALLBACK, after=True)
        ix = await crash.discord.slash_command(
            crash.member, crash.channel, "imagine", {"prompt": PROMPT}
        )
        await held.wait_reached()
        # The restarted bot takes the lost command up to answer it, and dies while its answer
        # (the edit of the "thinking" response) is on the way: Discord never sees it.
        answering = crash.discord.hold_next("PATCH", ORIGINAL, after=False)
        # A hold far beyond the wait below: only a restart that frees what the dead process held
        # answers in time.
        crash.bot.env["CLAIM_HOLD"] = "600"
        await crash.restart()
        await answering.wait_reached(timeout=WAIT)
        await crash.restart()

        answer = await ix.wait_original_edit(
            lambda m: "nothing was started" in m.content, timeout=WAIT
        )

        assert PROMPT in answer.content
        assert crash.akool.calls["createbyprompt"] == 0
        assert channel_posts_saying(crash, "nothing was started") == [answer]
        await crash.store_shows(lambda: crash.intents() == 0, "the intent dropped")


async def test_killed_after_akool_accepted_before_the_job_is_stored(tmp_path: Path):
    async with crashing_bot(tmp_path) as crash:
        # AKOOL makes the job; its answer never reaches the bot.
        held = crash.akool.hold_next("createbyprompt", after=True)
        ix = await crash.discord.slash_command(
            crash.member, crash.channel, "imagine", {"prompt": PROMPT}
        )
        await held.wait_reached()
        assert len(crash.akool.jobs) == 1
        assert (await ix.wait_response()).type == 5
        await crash.restart()

        answer = await ix.wait_original_edit(
            lambda m: "restarted while AKOOL was starting" in m.content, timeout=WAIT
        )

        assert PROMPT in answer.content
        assert "AKOOL may have made it" in answer.content
        assert crash.stored_jobs() == []
        assert channel_posts_saying(crash, "restarted while AKOOL was starting") == [answer]
        await crash.store_shows(lambda: crash.intents() == 0, "the intent dropped")


async def test_killed_after_the_job_is_stored_before_the_answer(tmp_path: Path):
    async with crashing_bot(tmp_path) as crash:
        # The bot's edit of the "thinking" response, its answer, never reaches Discord.
        held = crash.discord.hold_next("PATCH", ORIGINAL, after=False)
        ix = await crash.discord.slash_command(
            crash.member, crash.channel, "imagine", {"prompt": PROMPT}
        )
        await held.wait_reached()
        (job_id,) = crash.akool.jobs
        assert crash.stored_jobs() == [(job_id, None)]
        await crash.restart()

        answer = await ix.wait_original_edit(lambda m: f"job `{job_id}`" in m.content, timeout=WAIT)
        # The answer is the job's status message: the result replies to it, and it says Done.
        crash.akool.finish(job_id)
        post = await crash.discord.wait_for_message(
            crash.channel, lambda m: m.nonce == job_id, timeout=WAIT
        )
        done = await ix.wait_original_edit(lambda m: "Done" in m.content, timeout=WAIT)

        assert PROMPT in answer.content
        assert crash.stored_jobs() == [(job_id, answer.id)]
        assert replied_to(post) == answer.id
        assert done.id == answer.id
        assert crash.akool.calls["createbyprompt"] == 1
        await crash.store_shows(lambda: crash.intents() == 0, "the intent dropped")


async def post_grid(crash: Crashing) -> tuple[str, FakeMessage]:
    """A finished grid with its buttons, made by an /imagine that nothing interrupts."""
    crash.akool.next_timelines.append(Timeline(processing_after=0.05, finished_after=0.2))
    ix = await crash.discord.slash_command(
        crash.member, crash.channel, "imagine", {"prompt": PROMPT}
    )
    await ix.wait_response()
    await crash.akool.wait_for_calls("createbyprompt", 1, timeout=WAIT)
    (job_id,) = crash.akool.jobs
    grid = await crash.discord.wait_for_message(
        crash.channel, lambda m: m.nonce == job_id and bool(m.components), timeout=WAIT
    )
    return job_id, grid


async def test_a_reroll_killed_before_akool_is_asked_is_answered_privately(tmp_path: Path):
    async with crashing_bot(tmp_path) as crash:
        grid_id, grid = await post_grid(crash)
        held = crash.discord.hold_next("POST", CALLBACK, after=True)
        ix = await crash.discord.click(crash.member, grid, f"akool:v1:{grid_id}:reroll")
        await held.wait_reached()
        assert (await ix.wait_response()).type == 6
        await crash.restart()

        answer = await ix.wait_followup(lambda m: "nothing was started" in m.content, timeout=WAIT)

        # The grid, the press's original response, is left as it was.
        assert "nothing was started" not in grid.content
        assert answer.ephemeral
        assert PROMPT in answer.content
        assert crash.akool.calls["createbyprompt"] == 1  # the grid's own
        await crash.store_shows(lambda: crash.intents() == 0, "the intent dropped")


async def test_a_reroll_killed_before_its_announcement_is_announced(tmp_path: Path):
    async with crashing_bot(tmp_path) as crash:
        grid_id, grid = await post_grid(crash)
        # The announcement of the new grid (a reply to the old one) never reaches Discord.
        held = crash.discord.hold_next("POST", CHANNEL_POST, after=False)
        await crash.discord.click(crash.member, grid, f"akool:v1:{grid_id}:reroll")
        await held.wait_reached()
        child_id = next(job for job in crash.akool.jobs if job != grid_id)
        assert (child_id, None) in crash.stored_jobs()
        await crash.restart()

        announcement = await crash.discord.wait_for_message(
            crash.channel, lambda m: f"job `{child_id}`" in m.content, timeout=WAIT
        )

        await crash.store_shows(
            lambda: (child_id, announcement.id) in crash.stored_jobs(), "the status message"
        )

        assert replied_to(announcement) == grid.id
        assert crash.member.id in announcement.mention_ids
        await crash.store_shows(lambda: crash.intents() == 0, "the intent dropped")


def press_of(grid_id: str, button: str) -> str:
    return f"akool:v1:{grid_id}:{button}"


def public_posts_saying(crash: Crashing, text: str) -> list[FakeMessage]:
    return [m for m in channel_posts_saying(crash, text) if not m.ephemeral]


def grid_untouched_by(crash: Crashing, grid: FakeMessage, text: str) -> bool:
    """The grid (a press's original response) never showed ``text``, in any of its versions."""
    versions = [grid.content, *(str(edit.previous.get("content", "")) for edit in grid.edits)]
    return all(text not in version for version in versions)


async def test_a_press_killed_before_akool_is_asked_gives_the_button_back(tmp_path: Path):
    async with crashing_bot(tmp_path) as crash:
        grid_id, grid = await post_grid(crash)
        # Discord records the press's acknowledgement; the bot never hears back from it.
        held = crash.discord.hold_next("POST", CALLBACK, after=True)
        ix = await crash.discord.click(crash.member, grid, press_of(grid_id, "U2"))
        await held.wait_reached()
        assert (await ix.wait_response()).type == 6
        assert crash.presses() == [("U2", crash.member.id, None)]
        await crash.restart()

        answer = await ix.wait_followup(lambda m: "nothing was started" in m.content, timeout=WAIT)
        await crash.store_shows(lambda: crash.intents() == 0, "the intent dropped")
        # Given back: pressing U2 again starts the job.
        await crash.store_shows(lambda: crash.presses() == [], "the claim released")
        again = await crash.discord.click(crash.member, grid, press_of(grid_id, "U2"))
        announcement = await crash.discord.wait_for_message(
            crash.channel, lambda m: "Upscale U2" in m.content, timeout=WAIT
        )

        assert answer.ephemeral
        assert "nothing was charged; you can press U2 again" in answer.content
        assert f"U2 (`{grid_id}`)" in answer.content
        assert grid_untouched_by(crash, grid, "nothing was started")
        assert public_posts_saying(crash, "nothing was started") == []
        assert (await again.wait_response()).type == 6
        assert replied_to(announcement) == grid.id
        assert crash.akool.calls["createbybutton"] == 1


async def test_a_press_killed_after_akool_accepted_it_is_told_the_button_is_used(tmp_path: Path):
    async with crashing_bot(tmp_path) as crash:
        grid_id, grid = await post_grid(crash)
        # AKOOL starts the upscale; its answer (the job's id) never reaches the bot.
        held = crash.akool.hold_next("createbybutton", after=True)
        ix = await crash.discord.click(crash.member, grid, press_of(grid_id, "V3"))
        await held.wait_reached()
        assert "V3" in crash.akool.jobs[grid_id].used_buttons
        assert (await ix.wait_response()).type == 6
        await crash.restart()

        answer = await ix.wait_followup(
            lambda m: "restarted while AKOOL was starting" in m.content, timeout=WAIT
        )
        await crash.store_shows(lambda: crash.intents() == 0, "the intent dropped")

        assert answer.ephemeral
        assert f"V3 (`{grid_id}`)" in answer.content
        assert "AKOOL counts V3 as used" in answer.content
        assert "cannot be pressed again" in answer.content
        assert grid_untouched_by(crash, grid, "restarted")
        assert public_posts_saying(crash, "restarted while AKOOL") == []
        # AKOOL used the button: the claim stands, and no job the bot cannot follow is stored.
        assert crash.presses() == [("V3", crash.member.id, None)]
        assert [job for job, _ in crash.stored_jobs()] == [grid_id]
        assert crash.akool.calls["createbybutton"] == 1


async def test_a_press_killed_before_its_announcement_is_announced(tmp_path: Path):
    async with crashing_bot(tmp_path) as crash:
        grid_id, grid = await post_grid(crash)
        # The announcement of the upscale (a reply to the grid) never reaches Discord.
        held = crash.discord.hold_next("POST", CHANNEL_POST, after=False)
        await crash.discord.click(crash.member, grid, press_of(grid_id, "U4"))
        await held.wait_reached()
        child_id = next(job for job in crash.akool.jobs if job != grid_id)
        assert (child_id, None) in crash.stored_jobs()
        await crash.restart()

        announcement = await crash.discord.wait_for_message(
            crash.channel, lambda m: f"job `{child_id}`" in m.content, timeout=WAIT
        )
        await crash.store_shows(
            lambda: (child_id, announcement.id) in crash.stored_jobs(), "the status message"
        )
        await crash.store_shows(lambda: crash.intents() == 0, "the intent dropped")
        # The announcement is the job's status message: it says Done once the result is posted.
        crash.akool.finish(child_id)
        post = await crash.discord.wait_for_message(
            crash.channel, lambda m: m.nonce == child_id, timeout=WAIT
        )
        await crash.discord.wait_for_message(
            crash.channel,
            lambda m: m.id == announcement.id and "Done" in m.content,
            timeout=WAIT,
        )

        assert "Upscale U4" in announcement.content
        assert replied_to(announcement) == grid.id
        assert pinged(announcement) == [crash.member.id]
        assert replied_to(post) == grid.id
        assert crash.presses() == [("U4", crash.member.id, child_id)]
        assert channel_posts_saying(crash, f"job `{child_id}`") == [announcement]
        assert crash.akool.calls["createbybutton"] == 1


async def post_batch(crash: Crashing) -> tuple[str, FakeMessage]:
    """A finished v4 batch's post with its buttons, made by an /imagine nothing interrupts."""
    crash.akool.next_timelines.extend(
        Timeline(processing_after=0.05, finished_after=0.2) for _ in range(4)
    )
    ix = await crash.discord.slash_command(
        crash.member, crash.channel, "imagine", {"prompt": PROMPT}
    )
    await ix.wait_response()
    await crash.akool.wait_for_calls("createBySourcePrompt", 1, timeout=WAIT)
    post = await crash.discord.wait_for_message(
        crash.channel, lambda m: m.nonce in crash.akool.jobs and bool(m.components), timeout=WAIT
    )
    return str(post.nonce), post


async def test_a_batch_variation_killed_after_akool_accepted_it_gives_the_button_back(
    tmp_path: Path,
):
    async with crashing_bot(tmp_path, AKOOL_CREATE_API="v4") as crash:
        lead, post = await post_batch(crash)
        # AKOOL makes the variation; its answer (the images' ids) never reaches the bot.
        held = crash.akool.hold_next("createBySourcePrompt", after=True)
        ix = await crash.discord.click(crash.member, post, press_of(lead, "V2"))
        await held.wait_reached()
        assert (await ix.wait_response()).type == 6
        await crash.restart()

        answer = await ix.wait_followup(
            lambda m: "restarted while AKOOL was starting" in m.content, timeout=WAIT
        )
        await crash.store_shows(lambda: crash.intents() == 0, "the intent dropped")
        stored = [job for job, _ in crash.stored_jobs()]
        # AKOOL keeps no button for a v4 image, so nothing can say whether the create made a
        # job; as after an unanswered /imagine, the member may try again.
        await crash.store_shows(lambda: crash.presses() == [], "the claim released")
        again = await crash.discord.click(crash.member, post, press_of(lead, "V2"))
        announcement = await crash.discord.wait_for_message(
            crash.channel,
            lambda m: replied_to(m) == post.id and "job `" in m.content,
            timeout=WAIT,
        )

        assert answer.ephemeral
        assert f"V2 (`{lead}`)" in answer.content
        assert "AKOOL cannot say now whether it made it" in answer.content
        assert grid_untouched_by(crash, post, "restarted")
        assert len(stored) == 4  # the batch alone: no job the bot cannot follow
        assert (await again.wait_response()).type == 6
        assert pinged(announcement) == [crash.member.id]
        assert crash.akool.calls["createBySourcePrompt"] == 3
