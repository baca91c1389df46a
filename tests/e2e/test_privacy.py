"""A job belongs where it was made: another server, or a channel a member cannot view, learns
nothing of it, and ids the bot never stored are for the server's admins to look up."""

from __future__ import annotations

import json

import discord
import pytest

from bot.lookups import FOR_ADMINS, UNKNOWN_JOB
from tests.e2e.conftest import World
from tests.fakes.discord import FakeChannel, FakeInteraction, FakeMessage, FakeUser

MANAGE_SERVER = discord.Permissions(manage_guild=True)
# An id neither the bot nor AKOOL has ever seen.
NOWHERE = "0123456789abcdef01234567"


@pytest.fixture(autouse=True)
def no_cooldown(monkeypatch: pytest.MonkeyPatch) -> None:
    """These tests look many ids up at once; the cooldown has its own tests."""
    monkeypatch.setattr("bot.lookups.LOOKUP_COOLDOWN", 0.0)


def lookups_of(world: World, job_id: str) -> int:
    """How often AKOOL was asked about ``job_id``."""
    return sum(job_id in r.query.values() for r in world.akool.requests_to("infobymodelid"))


def shown(message: FakeMessage | str, job_id: str) -> str:
    """The whole answer, with the job's id taken out."""
    if isinstance(message, str):
        return message.replace(job_id, "")
    dumped = json.dumps([message.content, message.embeds, message.components])
    return dumped.replace(job_id, "")


async def answer(ix: FakeInteraction) -> FakeMessage | str:
    """What the member saw: the deferred answer's follow-up, or the immediate reply."""
    first = await ix.wait_response()
    if first.type == 4:
        return first.content
    return await ix.wait_followup()


async def ask(world: World, who: FakeUser, where: FakeChannel, command: str, job_id: str) -> str:
    ix = await world.discord.slash_command(who, where, command, {"job_id": job_id})
    return shown(await answer(ix), job_id)


def copied_show_button(world: World, channel: FakeChannel, job_id: str) -> FakeMessage:
    """A bot message carrying a Post here button for ``job_id`` (a forged or copied one)."""
    button = {"type": 2, "style": 2, "label": "Post here", "custom_id": f"akool:v1:{job_id}:show"}
    body = {"content": "Look", "components": [{"type": 1, "components": [button]}]}
    return world.discord.create_message(channel, world.discord.bot_user, body)


async def press_show(world: World, who: FakeUser, channel: FakeChannel, job_id: str) -> str:
    message = copied_show_button(world, channel, job_id)
    ix = await world.discord.click(who, message, f"akool:v1:{job_id}:show")
    return shown(await answer(ix), job_id)


async def made_by(world: World, who: FakeUser, channel: FakeChannel, prompt: str) -> str:
    """A finished job ``who`` made with /imagine in ``channel``; its id."""
    before = set(world.akool.jobs)
    ix = await world.discord.slash_command(who, channel, "imagine", {"prompt": prompt})
    await ix.wait_original_edit(lambda m: "Done" in m.content, timeout=10)
    (job_id,) = set(world.akool.jobs) - before
    return job_id


async def test_another_servers_job_is_answered_as_an_id_nobody_knows(world: World):
    other = world.discord.add_guild(name="Other Club")
    elsewhere = world.discord.add_channel(other, name="elsewhere")
    mallory = world.discord.add_user(name="mallory", guild=other, permissions=MANAGE_SERVER)
    eve = world.discord.add_user(name="eve", guild=other)
    async with world.running(discord_guild_id=None) as bot:  # commands in every server
        job_id = await made_by(world, world.alice, world.channel, "a secret red fox")
        before = await bot.store.get_job(job_id)
        asked_before = lookups_of(world, job_id)
        answers: dict[tuple[str, str], tuple[str, str]] = {}
        for who in (mallory, eve):
            for command in ("status", "track"):
                answers[who.name, command] = (
                    await ask(world, who, elsewhere, command, job_id),
                    await ask(world, who, elsewhere, command, NOWHERE),
                )
            answers[who.name, "Post here"] = (
                await press_show(world, who, elsewhere, job_id),
                await press_show(world, who, elsewhere, NOWHERE),
            )
        choices = await world.discord.autocomplete(
            mallory, elsewhere, "status", {"job_id": job_id[:4]}, focused="job_id"
        )
        after = await bot.store.get_job(job_id)
        home = await ask(world, world.alice, world.channel, "status", job_id)

    for (name, path), (of_server_a, of_nobody) in answers.items():
        assert of_server_a == of_nobody, f"{name}'s {path} told server A's job apart"
        assert "secret red fox" not in of_server_a
    assert str(UNKNOWN_JOB) in answers["mallory", "status"][0]
    assert str(UNKNOWN_JOB) in answers["mallory", "track"][0]
    assert str(FOR_ADMINS) in answers["eve", "status"][0]
    assert lookups_of(world, job_id) == asked_before  # AKOOL was never asked about it
    assert lookups_of(world, NOWHERE) > 0  # while the unknown id was looked up
    assert choices == []
    assert after == before
    assert not any(world.is_post(m) for m in world.discord.messages(elsewhere))
    assert "secret red fox" in home  # at home the same /status shows it


async def test_a_job_from_a_channel_the_member_cannot_view_is_not_shown(world: World):
    mods = world.discord.add_role(world.guild, "mods")
    mod_only = world.discord.add_private_channel(world.guild, "mod-only", seen_by=[mods])
    moderator = world.discord.add_user(name="mod", guild=world.guild, roles=[mods])
    # May manage the server, so may look up ids the bot never stored, yet not see #mod-only.
    manager = world.discord.add_user(name="manager", guild=world.guild, permissions=MANAGE_SERVER)
    async with world.running():
        job_id = await made_by(world, moderator, mod_only, "the ban list")
        asked_before = lookups_of(world, job_id)
        unseen = {
            path: (
                await run(world, manager, world.channel, job_id),
                await run(world, manager, world.channel, NOWHERE),
            )
            for path, run in _PATHS.items()
        }
        asked_after = lookups_of(world, job_id)
        seen = await ask(world, moderator, world.channel, "status", job_id)
        mod_choices = await world.discord.autocomplete(
            moderator, world.channel, "status", {"job_id": ""}, focused="job_id"
        )
        # The moderator loses the role: their own job from #mod-only is hidden from them too.
        world.guild.members[moderator.id].roles.remove(mods.id)
        choices_after = await world.discord.autocomplete(
            moderator, world.channel, "status", {"job_id": ""}, focused="job_id"
        )
        status_after = await ask(world, moderator, world.channel, "status", job_id)

    for path, (of_mod_only, of_nobody) in unseen.items():
        assert of_mod_only == of_nobody, f"{path} told the #mod-only job apart"
        assert "ban list" not in of_mod_only
    assert str(UNKNOWN_JOB) in unseen["status"][0]
    assert asked_after == asked_before
    assert not [m for m in world.discord.messages(world.channel) if world.is_post(m)]
    assert "the ban list" in seen
    assert [c["value"] for c in mod_choices] == [job_id]
    assert choices_after == []
    assert str(FOR_ADMINS) in status_after


async def _status(world: World, who: FakeUser, where: FakeChannel, job_id: str) -> str:
    return await ask(world, who, where, "status", job_id)


async def _track(world: World, who: FakeUser, where: FakeChannel, job_id: str) -> str:
    return await ask(world, who, where, "track", job_id)


_PATHS = {"status": _status, "track": _track, "Post here": press_show}


async def test_ids_never_stored_are_for_admins_until_lookups_are_opened(world: World):
    unstored = world.akool.add_job(prompt="made in the web app")
    admin = world.discord.add_user(name="admin", guild=world.guild, permissions=MANAGE_SERVER)
    async with world.running():
        refused = {
            command: await ask(world, world.alice, world.channel, command, unstored.id)
            for command in ("status", "track")
        }
        refused_calls = lookups_of(world, unstored.id)
        as_admin = await ask(world, admin, world.channel, "status", unstored.id)
        opened = await world.discord.slash_command(
            admin, world.channel, "settings lookups", {"who": "everyone"}
        )
        embed = ((await opened.wait_response()).data or {})["embeds"][0]
        now_shown = await ask(world, world.alice, world.channel, "status", unstored.id)

    assert all(str(FOR_ADMINS) in text for text in refused.values())
    assert refused_calls == 0
    assert "made in the web app" in as_admin
    fields = {f["name"]: f["value"] for f in embed["fields"]}
    assert fields["Who may look up jobs not made here"] == "Everyone"
    assert "made in the web app" in now_shown
