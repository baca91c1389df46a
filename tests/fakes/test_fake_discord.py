"""The fake Discord driven by a real discord.py ``commands.Bot`` over 127.0.0.1."""

from __future__ import annotations

import asyncio
import hashlib
import io
import re
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from dataclasses import dataclass
from typing import Any, Literal

import aiohttp
import discord
import pytest
from discord import app_commands
from discord.ext import commands

from tests.fakes.discord import (
    FakeChannel,
    FakeDiscord,
    FakeGuild,
    FakeUser,
    run_bot,
)

PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 8
JOBS = ["42", "66", "660", "7"]


class DemoButton(
    discord.ui.DynamicItem[discord.ui.Button[discord.ui.View]],
    template=r"demo:v1:(?P<n>[0-9]+)",
):
    """A counter button that survives restarts: its state lives in the custom_id."""

    def __init__(self, n: int) -> None:
        super().__init__(
            discord.ui.Button(
                label=f"Bump {n}", style=discord.ButtonStyle.primary, custom_id=f"demo:v1:{n}"
            )
        )
        self.n = n

    @classmethod
    async def from_custom_id(
        cls,
        interaction: discord.Interaction,
        item: discord.ui.Item[discord.ui.View],
        match: re.Match[str],
        /,
    ) -> DemoButton:
        return cls(int(match["n"]))

    async def callback(self, interaction: discord.Interaction) -> None:
        view = discord.ui.View(timeout=None)
        view.add_item(DemoButton(self.n + 1))
        await interaction.response.edit_message(content=f"count {self.n + 1}", view=view)


class RefreshView(discord.ui.View):
    """A persistent view: its button answers with a deferred update, then edits @original."""

    def __init__(self) -> None:
        super().__init__(timeout=None)

    @discord.ui.button(label="Refresh", custom_id="demo:refresh")
    async def refresh(
        self, interaction: discord.Interaction, button: discord.ui.Button[RefreshView]
    ) -> None:
        await interaction.response.defer()
        await interaction.edit_original_response(content="refreshed")


class Feedback(discord.ui.Modal, title="Feedback"):
    text: discord.ui.TextInput[Feedback] = discord.ui.TextInput(label="Text", custom_id="text")

    async def on_submit(self, interaction: discord.Interaction) -> None:
        await interaction.response.send_message(f"thanks: {self.text.value}")


def make_bot(guild_id: int, **options: object) -> commands.Bot:
    bot = commands.Bot(
        command_prefix=commands.when_mentioned,
        intents=discord.Intents.default(),
        **options,  # type: ignore[arg-type]
    )

    @app_commands.command(description="Make a picture")
    async def imagine(
        interaction: discord.Interaction,
        prompt: str,
        aspect: Literal["1:1", "16:9"] = "1:1",
        image: discord.Attachment | None = None,
    ) -> None:
        await interaction.response.defer(thinking=True)
        source = await image.read() if image else b""
        view = RefreshView()
        view.add_item(DemoButton(0))
        assert isinstance(interaction.channel, discord.TextChannel)
        await interaction.channel.send(
            f"result for {prompt}",
            file=discord.File(io.BytesIO(PNG), "result.png"),
            embed=discord.Embed(title=prompt, description=aspect),
            view=view,
        )
        digest = hashlib.sha256(source).hexdigest()[:12] if source else "none"
        await interaction.followup.send(f"done: {prompt} {aspect} {digest}")

    @app_commands.command(description="Job status")
    async def status(interaction: discord.Interaction, job_id: str) -> None:
        await interaction.response.send_message(f"job {job_id}")

    @status.autocomplete("job_id")
    async def job_choices(
        interaction: discord.Interaction, current: str
    ) -> list[app_commands.Choice[str]]:
        return [
            app_commands.Choice(name=f"Job {j}", value=j) for j in JOBS if j.startswith(current)
        ]

    @app_commands.command(description="Progress bar")
    async def progress(interaction: discord.Interaction) -> None:
        await interaction.response.defer()
        await interaction.edit_original_response(content="50%")
        await interaction.edit_original_response(content="100%")

    @app_commands.command(description="Greet someone quietly")
    async def greet(interaction: discord.Interaction, who: discord.Member) -> None:
        assert isinstance(interaction.channel, discord.TextChannel)
        await interaction.channel.send(
            f"hi {who.mention}", allowed_mentions=discord.AllowedMentions.none()
        )
        await interaction.response.send_message(f"pinged {who.display_name}", ephemeral=True)

    @app_commands.command(description="A card with files")
    async def card(interaction: discord.Interaction) -> None:
        await interaction.response.send_message(
            "card", file=discord.File(io.BytesIO(b"front"), "front.txt")
        )
        await interaction.followup.send("back", file=discord.File(io.BytesIO(b"back"), "back.txt"))
        await interaction.followup.send("secret", ephemeral=True)

    @app_commands.command(description="Answers too late")
    async def slow(interaction: discord.Interaction) -> None:
        await asyncio.sleep(0.2)
        await interaction.response.send_message("finally")

    @app_commands.command(description="Leave feedback")
    async def feedback(interaction: discord.Interaction) -> None:
        await interaction.response.send_modal(Feedback())

    jobs = app_commands.Group(name="jobs", description="Jobs")

    @jobs.command(description="Cancel a job")
    async def cancel(interaction: discord.Interaction, job_id: int) -> None:
        await interaction.response.send_message(f"cancelled {job_id + 1}")

    @app_commands.command(description="Guild-only ping")
    async def ping(interaction: discord.Interaction) -> None:
        await interaction.response.send_message("pong", ephemeral=True)

    async def setup_hook() -> None:
        bot.add_dynamic_items(DemoButton)
        bot.add_view(RefreshView())
        commands_: list[app_commands.Command[Any, Any, Any] | app_commands.Group] = [
            imagine,
            status,
            progress,
            greet,
            feedback,
            jobs,
            card,
            slow,
        ]
        for command in commands_:
            bot.tree.add_command(command)
        guild = discord.Object(guild_id)
        bot.tree.add_command(ping, guild=guild)
        await bot.tree.sync()
        await bot.tree.sync(guild=guild)

    bot.setup_hook = setup_hook  # type: ignore[method-assign]
    return bot


@dataclass
class World:
    fake: FakeDiscord
    guild: FakeGuild
    channel: FakeChannel
    alice: FakeUser


@pytest.fixture
async def world() -> AsyncIterator[World]:
    fake = FakeDiscord()
    guild = fake.add_guild(name="Test Guild", premium_tier=0)
    channel = fake.add_channel(guild, name="general")
    alice = fake.add_user(name="alice", guild=guild)
    async with fake:
        yield World(fake, guild, channel, alice)


@pytest.fixture
async def bot(world: World) -> AsyncIterator[commands.Bot]:
    async with run_bot(world.fake, make_bot(world.guild.id)) as running:
        yield running


async def test_login_ready_and_guild_cache(world: World, bot: commands.Bot) -> None:
    fake = world.fake
    await fake.wait_until_ready(timeout=1)
    assert bot.user is not None
    assert bot.user.id == fake.bot_user.id
    assert bot.application_id == fake.application_id
    guild = bot.get_guild(world.guild.id)
    assert guild is not None
    assert guild.name == "Test Guild"
    assert guild.filesize_limit == 10 * 1024 * 1024
    assert guild.me is not None
    assert guild.me.guild_permissions.send_messages
    assert bot.get_channel(world.channel.id) is not None
    assert {c["name"] for c in fake.global_commands} >= {"imagine", "status", "jobs"}
    assert [c["name"] for c in fake.guild_commands[world.guild.id]] == ["ping"]
    assert discord.utils.snowflake_time(world.guild.id).year >= 2024
    assert fake.unimplemented == []

    joined = asyncio.create_task(bot.wait_for("guild_join", timeout=5))
    await asyncio.sleep(0)
    new_guild = fake.add_guild(name="Later Guild", premium_tier=3)
    assert (await joined).id == new_guild.id
    later = bot.get_guild(new_guild.id)
    assert later is not None
    assert later.filesize_limit == 100 * 1024 * 1024


async def test_slash_command_defer_followup_attachment_and_dynamic_button(
    world: World, bot: commands.Bot
) -> None:
    fake, channel, alice = world.fake, world.channel, world.alice
    ix = await fake.slash_command(
        alice,
        channel,
        "imagine",
        {"prompt": "a cat", "aspect": "16:9"},
        attachments={"image": ("cat.png", PNG)},
    )
    first = await ix.wait_response(timeout=5)
    assert first.type == 5
    assert first.elapsed < 3.0
    followup = await ix.wait_followup(timeout=5)
    digest = hashlib.sha256(PNG).hexdigest()[:12]
    assert followup.content == f"done: a cat 16:9 {digest}"  # the bot downloaded our attachment
    # Discord turns the "thinking" placeholder into the first follow-up.
    assert ix.original_message is followup
    assert not followup.loading
    assert not ix.ephemeral

    result = await fake.wait_for_message(channel, lambda m: bool(m.attachments))
    [attachment] = result.attachments
    assert (attachment.filename, attachment.content_type, attachment.data) == (
        "result.png",
        "image/png",
        PNG,
    )
    assert result.embeds[0]["title"] == "a cat"
    async with aiohttp.ClientSession() as http, http.get(attachment.url) as served:
        assert await served.read() == PNG
    assert fake.custom_ids(result) == ["demo:refresh", "demo:v1:0"]
    assert fake.button(result, "demo:v1:0")["label"] == "Bump 0"

    refresh = await fake.click(alice, result, "demo:refresh")
    assert (await refresh.wait_response()).type == 6  # deferred update of the clicked message
    assert (await refresh.wait_original_edit()) is result
    assert result.content == "refreshed"

    click = await fake.click(alice, result, "demo:v1:0")
    assert (await click.wait_response()).type == 7
    edited = await fake.wait_for_edit(result, lambda m: m.content == "count 1")
    assert fake.custom_ids(edited) == ["demo:v1:1"]
    assert [m.id for m in fake.messages(channel)] == [followup.id, result.id]
    assert len(fake.requests_matching("POST", r"^/channels/\d+/messages$")) == 1


async def test_edit_original_response(world: World, bot: commands.Bot) -> None:
    ix = await world.fake.slash_command(world.alice, world.channel, "progress")
    assert (await ix.wait_response()).type == 5
    final = await ix.wait_original_edit(lambda m: m.content == "100%")
    assert ix.original_edits == 2
    assert [e.changes["content"] for e in final.edits] == ["50%", "100%"]


async def test_autocomplete_subcommands_guild_commands_and_modals(
    world: World, bot: commands.Bot
) -> None:
    fake, channel, alice = world.fake, world.channel, world.alice
    choices = await fake.autocomplete(alice, channel, "status", {"job_id": "66"}, focused="job_id")
    assert choices == [{"name": "Job 66", "value": "66"}, {"name": "Job 660", "value": "660"}]

    cancel = await fake.slash_command(alice, channel, "jobs cancel", {"job_id": 41})
    assert (await cancel.wait_response()).data == {"content": "cancelled 42", "tts": False}

    ping = await fake.slash_command(alice, channel, "ping")
    assert (await ping.wait_response()).ephemeral
    assert ping.ephemeral
    assert ping.data["guild_id"] == str(world.guild.id)
    assert ping.original_message is not None
    assert ping.original_message.content == "pong"
    assert all(m.content != "pong" for m in fake.messages(channel))  # ephemeral: not public

    dm = fake.dm_channel(alice)
    in_dm = await fake.slash_command(alice, dm, "status", {"job_id": "42"})
    assert (await in_dm.wait_response()).data == {"content": "job 42", "tts": False}
    assert "member" not in in_dm.payload
    assert [m.content for m in fake.messages(dm)] == ["job 42"]
    with pytest.raises(LookupError, match="has not synced /ping"):
        await fake.slash_command(alice, dm, "ping")  # guild command: not offered in DMs

    opened = await fake.slash_command(alice, channel, "feedback")
    assert (await opened.wait_response()).type == 9
    submitted = await fake.submit_modal(opened, {"text": "great"})
    await submitted.wait_response()
    await fake.wait_for_message(channel, lambda m: m.content == "thanks: great")

    with pytest.raises(ValueError, match="not one of the choices"):
        await fake.slash_command(alice, channel, "imagine", {"prompt": "x", "aspect": "4:3"})


async def test_files_in_callback_and_followups_and_ephemeral_followup(
    world: World, bot: commands.Bot
) -> None:
    fake, channel = world.fake, world.channel
    ix = await fake.slash_command(world.alice, channel, "card")
    response = await ix.wait_response()
    assert response.type == 4
    assert [a.data for a in response.attachments] == [b"front"]
    back = await ix.wait_followup(lambda m: m.content == "back")
    assert [(a.filename, a.content_type, a.data) for a in back.attachments] == [
        ("back.txt", "text/plain", b"back")
    ]
    secret = await ix.wait_followup(lambda m: m.content == "secret")
    assert secret.ephemeral
    assert [m.content for m in fake.messages(channel)] == ["card", "back"]
    assert [f[0] for f in fake.requests_matching("POST", r"^/webhooks/")[0].files] == ["files[0]"]

    text = bot.get_channel(channel.id)
    assert isinstance(text, discord.TextChannel)
    sent = await text.send("files", file=discord.File(io.BytesIO(b"one"), "one.txt"))
    await sent.edit(attachments=[*sent.attachments, discord.File(io.BytesIO(b"two"), "two.txt")])
    stored = fake.messages(channel)[-1]
    assert [a.data for a in stored.attachments] == [b"one", b"two"]
    await sent.edit(attachments=[])
    assert stored.attachments == []
    assert len(stored.edits) == 2


async def test_late_first_response_is_rejected_like_discord(
    world: World, bot: commands.Bot
) -> None:
    fake = world.fake
    fake.interaction_response_deadline = 0.05  # Discord's is 3 s; keep the test fast
    ix = await fake.slash_command(world.alice, world.channel, "slow")
    with pytest.raises(TimeoutError, match=r"timed out after 0\.5s waiting for a response"):
        await ix.wait_response(timeout=0.5)
    [late] = fake.requests_matching("POST", rf"^/interactions/{ix.id}/")
    assert late.status == 404


async def test_user_option_and_allowed_mentions(world: World, bot: commands.Bot) -> None:
    fake = world.fake
    bob = fake.add_user(name="bob", guild=world.guild)
    ix = await fake.slash_command(world.alice, world.channel, "greet", {"who": bob})
    assert (await ix.wait_response()).data == {"content": "pinged Bob", "tts": False, "flags": 64}
    msg = await fake.wait_for_message(world.channel, lambda m: m.content.startswith("hi"))
    assert msg.content == f"hi <@{bob.id}>"
    assert msg.allowed_mentions == {"parse": []}
    assert msg.mentions == []


async def test_nonce_dedup_rate_limit_retry_and_upload_limit(
    world: World, bot: commands.Bot
) -> None:
    fake = world.fake
    channel = bot.get_channel(world.channel.id)
    assert isinstance(channel, discord.TextChannel)

    first = await channel.send("once", nonce=424242)
    second = await channel.send("once", nonce=424242)
    assert first.id == second.id
    assert [m.content for m in fake.messages(world.channel)] == ["once"]
    assert fake.requests_matching("POST", r"/messages$")[-1].json["enforce_nonce"] is True

    fake.fail_next("POST", r"^/channels/\d+/messages$", status=429, retry_after=0.05)
    sent = await channel.send("after a 429")
    posts = fake.requests_matching("POST", r"^/channels/\d+/messages$")[-2:]
    assert [p.status for p in posts] == [429, 200]
    assert sent.content == "after a 429"

    oversize = discord.File(io.BytesIO(b"\0" * (channel.guild.filesize_limit + 1)), "big.bin")
    with pytest.raises(discord.HTTPException) as caught:
        await channel.send(file=oversize)
    assert (caught.value.status, caught.value.code) == (413, 40005)

    alice = await bot.fetch_user(world.alice.id)
    await alice.send("psst")  # POST /users/@me/channels, then a message in the DM channel
    assert [m.content for m in fake.messages(fake.dm_channel(world.alice))] == ["psst"]

    fake.fail_next("POST", r"/messages$", status=403)
    with pytest.raises(discord.Forbidden) as denied:
        await channel.send("nope")
    assert denied.value.code == 50013


async def test_deleted_message_and_channel_answer_404(world: World, bot: commands.Bot) -> None:
    fake = world.fake
    channel = bot.get_channel(world.channel.id)
    assert isinstance(channel, discord.TextChannel)
    sent = await channel.send("short-lived")
    await sent.delete()
    with pytest.raises(discord.NotFound) as gone:
        await sent.edit(content="too late")
    assert gone.value.code == 10008
    fake.delete_channel(world.channel)
    with pytest.raises(discord.NotFound) as no_channel:
        await channel.send("into the void")
    assert no_channel.value.code == 10003


async def test_attachment_links_are_signed_expire_and_are_fresh_on_every_fetch(
    world: World, bot: commands.Bot
) -> None:
    fake = world.fake
    now = [fake.wall_clock()]
    fake.wall_clock = lambda: now[0]
    channel = bot.get_channel(world.channel.id)
    assert isinstance(channel, discord.TextChannel)
    sent = await channel.send(file=discord.File(io.BytesIO(PNG), filename="kept.png"))
    (first,) = sent.attachments
    query = dict(part.split("=") for part in first.url.split("?")[1].split("&") if part)
    assert set(query) == {"ex", "is", "hm"}
    assert int(query["ex"], 16) - int(query["is"], 16) == 24 * 3600

    async def status_of(url: str) -> int:
        async with aiohttp.ClientSession() as http, http.get(url) as served:
            return served.status

    assert await status_of(first.url) == 200
    assert await status_of(first.url.split("?")[0]) == 404  # unsigned
    assert await status_of(first.url.replace("hm=", "hm=0")) == 404  # tampered
    now[0] += 31 * 24 * 3600
    assert await status_of(first.url) == 404  # expired
    (fresh,) = (await channel.fetch_message(sent.id)).attachments
    assert fresh.id == first.id
    assert fresh.url != first.url
    assert await status_of(fresh.url) == 200
    assert await fresh.read() == PNG
    await sent.delete()
    assert await status_of(fresh.url) == 404  # deleted with its message


async def test_gateway_resume_after_drop(world: World, bot: commands.Bot) -> None:
    fake = world.fake
    resumed = asyncio.create_task(bot.wait_for("resumed", timeout=5))
    missed = asyncio.create_task(bot.wait_for("message", timeout=5))
    await asyncio.sleep(0)  # let both wait_fors register before the drop
    fake.disconnect_gateway(4000)
    posted = await fake.post_message(world.alice, world.channel, "while you were away")
    await resumed
    message = await missed  # replayed from the session's backlog on RESUME
    assert message.id == posted.id
    assert message.content == ""  # no MESSAGE_CONTENT intent: Discord withholds the text
    ix = await fake.slash_command(world.alice, world.channel, "status", {"job_id": "7"})
    assert (await ix.wait_response()).data == {"content": "job 7", "tts": False}


async def test_two_bots_on_two_shards_both_get_ready() -> None:
    fake = FakeDiscord()
    guilds = [fake.add_guild(name=f"G{n}", shard=(n % 2, 2)) for n in range(3)]
    by_shard = {fake.shard_of(g, 2): g for g in guilds}
    assert sorted(by_shard) == [0, 1]
    channels = {shard: fake.add_channel(g) for shard, g in by_shard.items()}
    users = {shard: fake.add_user(name=f"user{shard}", guild=g) for shard, g in by_shard.items()}
    async with fake, AsyncExitStack() as stack:
        bots = [
            await stack.enter_async_context(
                run_bot(fake, make_bot(by_shard[0].id, shard_id=shard, shard_count=2))
            )
            for shard in (0, 1)
        ]
        await fake.wait_until_ready(sessions=2)
        for shard, running in enumerate(bots):
            assert {g.id for g in running.guilds} == {
                g.id for g in guilds if fake.shard_of(g, 2) == shard
            }
            ix = await fake.slash_command(users[shard], channels[shard], "status", {"job_id": "1"})
            assert ix.shard_id == shard
            assert (await ix.wait_response()).data == {"content": "job 1", "tts": False}


async def test_bad_token_is_a_login_failure(world: World) -> None:
    with pytest.raises(discord.LoginFailure, match="Improper token"):
        async with run_bot(world.fake, make_bot(world.guild.id), token="wrong"):
            pass


async def test_the_bot_leaves_a_guild(world: World, bot: commands.Bot) -> None:
    fake = world.fake
    other = fake.add_guild(name="Other Guild")
    fake.add_channel(other, name="elsewhere")
    fake.add_member(world.alice, other)
    joined = await bot.wait_for("guild_join", check=lambda g: g.id == other.id, timeout=5)
    removed = asyncio.create_task(bot.wait_for("guild_remove", timeout=5))
    await asyncio.sleep(0)

    await joined.leave()

    assert (await removed).id == other.id
    assert bot.get_guild(other.id) is None
    assert other.bot_left
    assert fake.bot_user.id not in other.members
    assert fake.requests_matching("DELETE", rf"^/users/@me/guilds/{other.id}$")
    with pytest.raises(discord.NotFound):
        await joined.leave()  # not a member any more: Unknown Guild
    with pytest.raises(ValueError, match="the bot left guild 'Other Guild'"):
        await fake.slash_command(
            world.alice, fake.channels[other.channel_ids[0]], "imagine", {"prompt": "a cat"}
        )
    assert bot.get_guild(world.guild.id) is not None
    assert not world.guild.bot_left
