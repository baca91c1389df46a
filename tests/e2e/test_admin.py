"""Admin commands end to end: /settings is stored, shown and enforced; /usage and /credits.

An admin here is a member holding Manage Server. Discord itself hides the commands from everyone
else (default_member_permissions); the fake does not enforce that, so it is checked in what the
bot synced.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import discord
import pytest

from bot.akool.errors import USER_MESSAGES
from bot.core import OWNERS_FOR, AkoolBot
from bot.server_settings import ServerSettings
from bot.store import JobKind, NewJob
from tests.e2e.conftest import World, replied_to
from tests.fakes.akool import CREDITS_PER_JOB, Fault, FaultKind, Timeline
from tests.fakes.discord import (
    FakeChannel,
    FakeMessage,
    FakeRole,
    FakeUser,
    InteractionCallback,
)

DAY = 24 * 60 * 60
MANAGE_SERVER = discord.Permissions(manage_guild=True).value


@pytest.fixture
def admin(world: World) -> FakeUser:
    return world.discord.add_user(
        name="admin", guild=world.guild, permissions=discord.Permissions(manage_guild=True)
    )


@pytest.fixture
def artists(world: World) -> FakeRole:
    return world.discord.add_role(world.guild, "artists")


def guild_id(world: World) -> int:
    assert world.guild.id is not None
    return world.guild.id


async def stored(bot: AkoolBot, world: World) -> ServerSettings:
    return await bot.store.server_settings(guild_id(world))


async def save(bot: AkoolBot, world: World, settings: ServerSettings) -> None:
    await bot.store.save_server_settings(guild_id(world), settings, now=bot.clock())


async def settings_command(
    world: World, user: FakeUser, sub: str, options: dict[str, Any] | None = None
) -> InteractionCallback:
    ix = await world.discord.slash_command(user, world.channel, f"settings {sub}", options)
    return await ix.wait_response()


def the_embed(answer: InteractionCallback) -> dict[str, Any]:
    """The one embed of an answer (failing if there is not exactly one)."""
    embeds = (answer.data or {}).get("embeds") or []
    assert len(embeds) == 1, embeds
    embed: dict[str, Any] = embeds[0]
    return embed


def field(embed: dict[str, Any], name_starts: str) -> str:
    (value,) = [f["value"] for f in embed["fields"] if f["name"].startswith(name_starts)]
    return str(value)


async def start_job(
    world: World, user: FakeUser, prompt: str, channel: FakeChannel | None = None
) -> str:
    """/imagine, and the id of the job it started once its status message shows it."""
    before = set(world.akool.jobs)
    ix = await world.discord.slash_command(
        user, channel or world.channel, "imagine", {"prompt": prompt}
    )
    await ix.wait_original_edit(lambda m: "job `" in m.content)
    (job_id,) = set(world.akool.jobs) - before
    return job_id


async def start_grid(world: World, user: FakeUser, prompt: str = "a red fox") -> FakeMessage:
    """/imagine, and the finished grid's post."""
    job_id = await start_job(world, user, prompt)
    return await world.wait_for_post(world.is_post_of(job_id))


async def refused_imagine(world: World, user: FakeUser, prompt: str) -> InteractionCallback:
    ix = await world.discord.slash_command(user, world.channel, "imagine", {"prompt": prompt})
    return await ix.wait_response()


def button(grid: FakeMessage, name: str) -> str:
    return f"akool:v1:{grid.nonce}:{name}"


# What the bot synced


def walk(options: list[dict[str, Any]]) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    for option in options:
        found.append(option)
        found += walk(option.get("options") or [])
    return found


async def test_admin_commands_are_synced_for_manage_server_only(world: World):
    async with world.running():
        synced = {c["name"]: c for c in world.discord.guild_commands[guild_id(world)]}

    for name in ("settings", "usage", "credits"):
        # Discord sends it back as a string; discord.py sends a number.
        assert int(synced[name]["default_member_permissions"]) == MANAGE_SERVER, name
        assert synced[name]["contexts"] == [0], name  # servers only, no DMs
    assert synced["imagine"]["default_member_permissions"] is None
    subcommands = {o["name"] for o in synced["settings"]["options"]}
    assert subcommands >= {"show", "channel", "role", "limits", "banned-word", "buttons", "aspect"}
    # Discord refuses the whole sync if any description is empty or over 100 characters.
    for command in ("settings", "usage", "credits"):
        for item in [synced[command], *walk(synced[command]["options"])]:
            assert 1 <= len(item["description"].strip()) <= 100, item["name"]
            assert all(len(c["name"]) <= 100 for c in item.get("choices") or []), item["name"]


# Each change is stored and shown back

Case = tuple[
    Callable[[World], ServerSettings],  # stored before the command
    str,  # the subcommand
    Callable[[World], dict[str, Any]],  # its options
    Callable[[World], ServerSettings],  # what must be stored after
    Callable[[World], tuple[str, str]],  # (field, text) the answer must show
]


def defaults(_: World) -> ServerSettings:
    return ServerSettings()


def extra_channel(world: World) -> int:
    """A second channel, created once per world."""
    found = [c for c in world.discord.channels.values() if c.name == "second"]
    if found:
        return found[0].id
    return world.discord.add_channel(world.guild, name="second").id


CHANGES: dict[str, Case] = {
    "allow a channel": (
        defaults,
        "channel allow",
        lambda w: {"channel": w.channel},
        lambda w: ServerSettings(channels=frozenset({w.channel.id})),
        lambda w: ("Channels", f"Only <#{w.channel.id}>"),
    ),
    "allow a second channel": (
        lambda w: ServerSettings(channels=frozenset({w.channel.id})),
        "channel allow",
        lambda w: {"channel": extra_channel(w)},
        lambda w: ServerSettings(channels=frozenset({w.channel.id, extra_channel(w)})),
        lambda w: ("Channels", f"Only <#{w.channel.id}>, <#{extra_channel(w)}>"),
    ),
    "disallow a channel": (
        lambda w: ServerSettings(channels=frozenset({w.channel.id, extra_channel(w)})),
        "channel disallow",
        lambda w: {"channel": w.channel},
        lambda w: ServerSettings(channels=frozenset({extra_channel(w)})),
        lambda w: ("Channels", f"Only <#{extra_channel(w)}>"),
    ),
    "disallow a channel with all allowed": (
        defaults,
        "channel disallow",
        lambda w: {"channel": w.channel},
        lambda w: ServerSettings(channels_excluded=frozenset({w.channel.id})),
        lambda w: ("Channels", f"All channels except <#{w.channel.id}>"),
    ),
    "disallow a second channel": (
        lambda w: ServerSettings(channels_excluded=frozenset({w.channel.id})),
        "channel disallow",
        lambda w: {"channel": extra_channel(w)},
        lambda w: ServerSettings(channels_excluded=frozenset({w.channel.id, extra_channel(w)})),
        lambda w: ("Channels", f"All channels except <#{w.channel.id}>, <#{extra_channel(w)}>"),
    ),
    "allow a disallowed channel again": (
        lambda w: ServerSettings(channels_excluded=frozenset({w.channel.id, extra_channel(w)})),
        "channel allow",
        lambda w: {"channel": w.channel},
        lambda w: ServerSettings(channels_excluded=frozenset({extra_channel(w)})),
        lambda w: ("Channels", f"All channels except <#{extra_channel(w)}>"),
    ),
    "allow the last disallowed channel again": (
        lambda w: ServerSettings(channels_excluded=frozenset({w.channel.id})),
        "channel allow",
        lambda w: {"channel": w.channel},
        defaults,
        lambda w: ("Channels", "All channels"),
    ),
    "all channels again after disallowing": (
        lambda w: ServerSettings(channels_excluded=frozenset({w.channel.id})),
        "channel all",
        lambda w: {},
        defaults,
        lambda w: ("Channels", "All channels"),
    ),
    "all channels again": (
        lambda w: ServerSettings(channels=frozenset({w.channel.id})),
        "channel all",
        lambda w: {},
        defaults,
        lambda w: ("Channels", "All channels"),
    ),
    "allow a role": (
        defaults,
        "role allow",
        lambda w: {"role": role_named(w, "artists")},
        lambda w: ServerSettings(roles=frozenset({role_named(w, "artists")})),
        lambda w: ("Who may create", f"Only <@&{role_named(w, 'artists')}>"),
    ),
    "disallow a role": (
        lambda w: ServerSettings(roles=frozenset({role_named(w, "artists"), 1234})),
        "role disallow",
        lambda w: {"role": role_named(w, "artists")},
        lambda w: ServerSettings(roles=frozenset({1234})),
        lambda w: ("Who may create", "Only <@&1234>"),
    ),
    "disallow a role with everyone allowed": (
        defaults,
        "role disallow",
        lambda w: {"role": role_named(w, "artists")},
        lambda w: ServerSettings(roles_excluded=frozenset({role_named(w, "artists")})),
        lambda w: ("Who may create", f"Everyone except <@&{role_named(w, 'artists')}>"),
    ),
    "allow a disallowed role again": (
        lambda w: ServerSettings(roles_excluded=frozenset({role_named(w, "artists"), 1234})),
        "role allow",
        lambda w: {"role": role_named(w, "artists")},
        lambda w: ServerSettings(roles_excluded=frozenset({1234})),
        lambda w: ("Who may create", "Everyone except <@&1234>"),
    ),
    "everyone again after disallowing": (
        lambda w: ServerSettings(roles_excluded=frozenset({1234})),
        "role everyone",
        lambda w: {},
        defaults,
        lambda w: ("Who may create", "Everyone"),
    ),
    "everyone again": (
        lambda w: ServerSettings(roles=frozenset({1234})),
        "role everyone",
        lambda w: {},
        defaults,
        lambda w: ("Who may create", "Everyone"),
    ),
    "both limits": (
        defaults,
        "limits",
        lambda w: {"active": 1, "daily": 1000},
        lambda w: ServerSettings(max_active_jobs=1, max_daily_jobs=1000),
        lambda w: ("Limits", "1 unfinished job at once, 1,000 jobs in 24 hours"),
    ),
    "one limit keeps the other": (
        lambda w: ServerSettings(max_active_jobs=7),
        "limits",
        lambda w: {"daily": 5},
        lambda w: ServerSettings(max_active_jobs=7, max_daily_jobs=5),
        lambda w: ("Limits", "7 unfinished jobs at once, 5 jobs in 24 hours"),
    ),
    "ban a word": (
        lambda w: ServerSettings(banned_words=("gore",)),
        "banned-word add",
        lambda w: {"word": "  Blood   Bath "},
        lambda w: ServerSettings(banned_words=("gore", "blood bath")),
        lambda w: ("Banned words (2)", "gore, blood bath"),
    ),
    "unban a word": (
        lambda w: ServerSettings(banned_words=("gore", "blood")),
        "banned-word remove",
        lambda w: {"word": "GORE"},
        lambda w: ServerSettings(banned_words=("blood",)),
        lambda w: ("Banned words (1)", "blood"),
    ),
    "buttons for the requester": (
        defaults,
        "buttons",
        lambda w: {"who": "requester"},
        lambda w: ServerSettings(buttons_for_everyone=False),
        lambda w: ("Who may press", "Only the member who asked for the image"),
    ),
    "buttons for everyone": (
        lambda w: ServerSettings(buttons_for_everyone=False),
        "buttons",
        lambda w: {"who": "everyone"},
        defaults,
        lambda w: ("Who may press", "Anyone in the channel"),
    ),
    "aspect": (
        defaults,
        "aspect",
        lambda w: {"ratio": "9:16"},
        lambda w: ServerSettings(default_aspect="9:16"),
        lambda w: ("Default aspect", "9:16"),
    ),
}


def role_named(world: World, name: str) -> int:
    (role,) = [r for r in world.guild.roles.values() if r.name == name]
    return role.id


@pytest.mark.parametrize("case", CHANGES.values(), ids=CHANGES.keys())
async def test_each_change_is_stored_and_shown_back(
    world: World, admin: FakeUser, artists: FakeRole, case: Case
):
    before, sub, options, after, shown = case
    opts = options(world)  # may create a channel or role, which must exist before the bot starts
    async with world.running() as bot:
        await save(bot, world, before(world))
        answer = await settings_command(world, admin, sub, opts)
        now_stored = await stored(bot, world)
        show = await settings_command(world, admin, "show")

    assert answer.type == 4
    assert answer.ephemeral
    assert now_stored == after(world)
    embed = the_embed(answer)
    name, text = shown(world)
    assert field(embed, name) == text
    assert embed["description"]  # says what was changed
    # /settings show gives the same embed, without the note.
    shown_embed = the_embed(show)
    assert show.ephemeral
    assert shown_embed["fields"] == embed["fields"]
    assert "description" not in shown_embed


async def test_show_gives_the_defaults(world: World, admin: FakeUser):
    async with world.running():
        answer = await settings_command(world, admin, "show")

    embed = the_embed(answer)
    assert answer.ephemeral
    assert field(embed, "Channels") == "All channels"
    assert field(embed, "Who may create") == "Everyone"
    assert field(embed, "Limits") == "3 unfinished jobs at once, 25 jobs in 24 hours"
    assert field(embed, "Who may press") == "Anyone in the channel"
    assert field(embed, "Default aspect") == "1:1"
    assert field(embed, "Banned words (0)") == "None"


async def test_long_lists_are_cut_to_fit_the_embed(world: World, admin: FakeUser):
    words = tuple(f"{n:03d}" + "x" * 47 for n in range(200))  # the most, at the longest
    channels = frozenset(range(10**17, 10**17 + 100))
    async with world.running() as bot:
        await save(bot, world, ServerSettings(banned_words=words, channels=channels))
        answer = await settings_command(world, admin, "show")

    embed = the_embed(answer)
    listed = field(embed, "Banned words (200)")
    assert len(listed) <= 1024
    assert listed.startswith(f"{words[0]}, {words[1]}, ")
    shown = listed.count(", ") + 1
    assert listed.endswith(f" and {200 - shown} more")
    assert field(embed, "Channels").endswith(" more")


# Invalid values are refused with the reason, and nothing is saved

# Far from the defaults, so a save of anything else would show.
DISTINCT = ServerSettings(
    max_active_jobs=7, max_daily_jobs=70, buttons_for_everyone=False, default_aspect="3:2"
)


def distinct(_: World) -> ServerSettings:
    return DISTINCT


Refusal = tuple[
    Callable[[World], ServerSettings],  # stored before the command
    str,  # the subcommand
    Callable[[World], dict[str, Any]],  # its options
    str,  # the reason the answer must give
]

REFUSALS: dict[str, Refusal] = {
    "active limit 0": (distinct, "limits", lambda w: {"active": 0}, "from 1 to 20; 0 is not"),
    "active limit 21": (distinct, "limits", lambda w: {"active": 21}, "from 1 to 20; 21 is not"),
    "daily limit 0": (distinct, "limits", lambda w: {"daily": 0}, "from 1 to 1000; 0 is not"),
    "daily limit 1001": (
        distinct,
        "limits",
        lambda w: {"active": 5, "daily": 1001},
        "The daily limit must be from 1 to 1000; 1001 is not.",
    ),
    "no limit given": (distinct, "limits", lambda w: {}, "Give a new active limit"),
    "a banned word without letters": (
        distinct,
        "banned-word add",
        lambda w: {"word": "   "},
        "needs at least one letter or digit",
    ),
    "a banned word too long": (
        distinct,
        "banned-word add",
        lambda w: {"word": "x" * 51},
        "at most 50 characters",
    ),
    "a word banned already": (
        lambda w: dataclasses.replace(DISTINCT, banned_words=("gore",)),
        "banned-word add",
        lambda w: {"word": "GORE"},
        "“gore” is already banned.",
    ),
    "unbanning a word not banned": (
        lambda w: dataclasses.replace(DISTINCT, banned_words=("gore",)),
        "banned-word remove",
        lambda w: {"word": "blood"},
        "“blood” is not on the banned list.",
    ),
    "a channel allowed already": (
        lambda w: dataclasses.replace(DISTINCT, channels=frozenset({w.channel.id})),
        "channel allow",
        lambda w: {"channel": w.channel},
        "is already allowed",
    ),
    "disallowing a channel not on the allowed list": (
        lambda w: dataclasses.replace(DISTINCT, channels=frozenset({extra_channel(w)})),
        "channel disallow",
        lambda w: {"channel": w.channel},
        "is not on the allowed list, so it is already disallowed",
    ),
    "a channel disallowed already": (
        lambda w: dataclasses.replace(DISTINCT, channels_excluded=frozenset({w.channel.id})),
        "channel disallow",
        lambda w: {"channel": w.channel},
        "is already disallowed",
    ),
    "allowing a channel not disallowed": (
        lambda w: dataclasses.replace(DISTINCT, channels_excluded=frozenset({extra_channel(w)})),
        "channel allow",
        lambda w: {"channel": w.channel},
        "is already allowed: only the channels you disallowed are not. To allow only certain "
        "channels, use /settings channel all and then allow them.",
    ),
    "disallowing @everyone as a role": (
        distinct,
        "role disallow",
        lambda w: {"role": w.guild.roles[guild_id(w)]},
        "@everyone is every member.",
    ),
    "a role disallowed already": (
        lambda w: dataclasses.replace(
            DISTINCT, roles_excluded=frozenset({role_named(w, "artists")})
        ),
        "role disallow",
        lambda w: {"role": role_named(w, "artists")},
        "is already disallowed",
    ),
    "disallowing the last channel": (
        lambda w: dataclasses.replace(DISTINCT, channels=frozenset({w.channel.id})),
        "channel disallow",
        lambda w: {"channel": w.channel},
        "is the only channel allowed, and removing it would allow every channel.",
    ),
    "allowing @everyone as a role": (
        distinct,
        "role allow",
        lambda w: {"role": w.guild.roles[guild_id(w)]},
        "Use /settings role everyone",
    ),
    "disallowing the last role": (
        lambda w: dataclasses.replace(DISTINCT, roles=frozenset({role_named(w, "artists")})),
        "role disallow",
        lambda w: {"role": role_named(w, "artists")},
        "is the only role allowed, and removing it would allow every member.",
    ),
}


@pytest.mark.parametrize("case", REFUSALS.values(), ids=REFUSALS.keys())
async def test_invalid_values_are_refused_and_nothing_is_saved(
    world: World, admin: FakeUser, artists: FakeRole, case: Refusal
):
    before, sub, options, reason = case
    opts = options(world)
    async with world.running() as bot:
        start = before(world)
        await save(bot, world, start)
        answer = await settings_command(world, admin, sub, opts)
        after = await stored(bot, world)

    assert answer.type == 4
    assert answer.ephemeral
    assert reason in answer.content
    assert not (answer.data or {}).get("embeds")
    assert after == start


async def test_banned_word_remove_offers_the_banned_words(world: World, admin: FakeUser):
    async with world.running() as bot:
        await save(bot, world, ServerSettings(banned_words=("gore", "blood bath", "bloody")))
        choices = await world.discord.autocomplete(
            admin, world.channel, "settings banned-word remove", {"word": "BLOOD"}, "word"
        )

    assert [c["value"] for c in choices] == ["blood bath", "bloody"]


# The settings take effect on members


async def test_a_disallowed_channel_refuses_imagine_and_buttons(world: World, admin: FakeUser):
    studio = world.discord.add_channel(world.guild, name="studio")
    async with world.running():
        grid = await start_grid(world, world.alice)
        await settings_command(world, admin, "channel allow", {"channel": studio})
        imagine = await refused_imagine(world, world.bob, "a cat")
        press = await world.discord.click(world.bob, grid, button(grid, "U1"))
        pressed = await press.wait_response()
        creates, presses = world.akool.calls["createbyprompt"], world.akool.calls["createbybutton"]
        # The allowed channel works.
        await start_job(world, world.bob, "a cat", studio)

    for refusal in (imagine, pressed):
        assert refusal.type == 4
        assert refusal.ephemeral
        assert f"works only in <#{studio.id}>" in refusal.content
    assert (creates, presses) == (1, 0)
    assert world.akool.calls["createbyprompt"] == 2


# Every channel mode, on every action that spends credits, in each channel: a press is judged
# where it happens (on a grid posted there, or a copy reposted there from the other channel), and
# a job it starts belongs there.

PlaceRule = Callable[[World, FakeChannel], ServerSettings]  # (world, studio) -> settings

CHANNEL_MODES: dict[str, PlaceRule] = {
    "all": lambda w, studio: ServerSettings(),
    "only studio": lambda w, studio: ServerSettings(channels=frozenset({studio.id})),
    "all except images": lambda w, studio: ServerSettings(
        channels_excluded=frozenset({w.channel.id})
    ),
}
# (mode, channel acted in) -> the refusal's words, or None where the action is allowed.
CHANNEL_RULES: dict[tuple[str, str], Callable[[World, FakeChannel], str] | None] = {
    ("all", "images"): None,
    ("all", "studio"): None,
    ("only studio", "images"): lambda w, studio: f"works only in <#{studio.id}> on this server",
    ("only studio", "studio"): None,
    ("all except images", "images"): lambda w, studio: f"does not work in <#{w.channel.id}>",
    ("all except images", "studio"): None,
}
PAID_ACTIONS = ("imagine", "U1", "reroll", "U1 on a repost", "reroll on a repost")


async def grid_in(world: World, channel: FakeChannel) -> FakeMessage:
    """A finished grid, made with /imagine in ``channel``."""
    job_id = await start_job(world, world.alice, "a red fox", channel)
    return await world.discord.wait_for_message(channel, world.is_post_of(job_id))


async def repost_in(world: World, channel: FakeChannel, grid: FakeMessage) -> FakeMessage:
    """``grid`` posted again in ``channel`` with /status and Post here."""
    status = await world.discord.slash_command(
        world.alice, channel, "status", {"job_id": str(grid.nonce)}
    )
    shown = await status.wait_followup()
    show = await world.discord.click(world.alice, shown, button(grid, "show"))
    await show.wait_followup(lambda m: "Posted" in m.content)
    return await world.discord.wait_for_message(
        channel, lambda m: m.id != grid.id and button(grid, "U1") in world.custom_ids_of(m)
    )


@pytest.mark.parametrize("action", PAID_ACTIONS)
@pytest.mark.parametrize("mode_and_place", CHANNEL_RULES.keys(), ids="{0[0]} in {0[1]}".format)
async def test_the_channel_rules_apply_where_the_member_acts(
    world: World, mode_and_place: tuple[str, str], action: str
):
    mode, place = mode_and_place
    studio = world.discord.add_channel(world.guild, name="studio")
    here, other = (world.channel, studio) if place == "images" else (studio, world.channel)
    refusal = CHANNEL_RULES[mode_and_place]
    async with world.running() as bot:
        # The grid (and its copy) are made while every channel is allowed.
        pressed: FakeMessage | None = None
        grid: FakeMessage | None = None
        if action in ("U1", "reroll"):
            pressed = grid = await grid_in(world, here)
        elif action != "imagine":
            grid = await grid_in(world, other)
            pressed = await repost_in(world, here, grid)
        await save(bot, world, CHANNEL_MODES[mode](world, studio))
        before = set(world.akool.jobs)
        calls = dict(world.akool.calls)
        if pressed is None or grid is None:
            ix = await world.discord.slash_command(world.bob, here, "imagine", {"prompt": "a cat"})
        else:
            ix = await world.discord.click(world.bob, pressed, button(grid, action.split()[0]))
        answer = await ix.wait_response()
        if refusal is None:
            if pressed is None:
                await ix.wait_original_edit(lambda m: "job `" in m.content)
            else:
                announced = await world.discord.wait_for_message(
                    here, lambda m: f"<@{world.bob.id}>" in m.content and replied_to(m) is not None
                )
            (made,) = set(world.akool.jobs) - before
            result = await world.discord.wait_for_message(here, world.is_post_of(made))
            job = await bot.store.get_job(made)

    if refusal is not None:
        assert answer.type == 4
        assert answer.ephemeral
        assert refusal(world, studio) in answer.content
        assert world.akool.calls == calls  # nothing asked of AKOOL
        return
    assert answer.type == (5 if pressed is None else 6)
    # The job belongs to the channel it was asked for in, and is delivered there.
    assert job is not None
    assert job.channel_id == here.id
    assert result in world.discord.messages(here)
    assert not any(m.nonce == made for m in world.discord.messages(other))
    if pressed is not None:
        assert replied_to(announced) == pressed.id  # beside the grid pressed, copy or not


ROLE_MODES: dict[str, Callable[[FakeRole], ServerSettings]] = {
    "everyone": lambda artists: ServerSettings(),
    "only artists": lambda artists: ServerSettings(roles=frozenset({artists.id})),
    "everyone except artists": lambda artists: ServerSettings(
        roles_excluded=frozenset({artists.id})
    ),
}
# (mode, whether the member is an artist) -> the refusal's words, or None where allowed.
ROLE_RULES: dict[tuple[str, bool], str | None] = {
    ("everyone", True): None,
    ("everyone", False): None,
    ("only artists", True): None,
    ("only artists", False): "Only members with certain roles may create images",
    ("everyone except artists", True): "One of your roles may not create images",
    ("everyone except artists", False): None,
}


@pytest.mark.parametrize("action", ["imagine", "U1", "reroll"])
@pytest.mark.parametrize(
    "mode_and_member", ROLE_RULES.keys(), ids=lambda k: f"{k[0]}, {'an' if k[1] else 'no'} artist"
)
async def test_the_role_rules_apply_to_every_paid_action(
    world: World, artists: FakeRole, mode_and_member: tuple[str, bool], action: str
):
    mode, is_artist = mode_and_member
    member = world.discord.add_user(
        name="carol", guild=world.guild, roles=[artists] if is_artist else []
    )
    refusal = ROLE_RULES[mode_and_member]
    async with world.running() as bot:
        grid = await grid_in(world, world.channel)
        await save(bot, world, ROLE_MODES[mode](artists))
        before = set(world.akool.jobs)
        calls = dict(world.akool.calls)
        if action == "imagine":
            ix = await world.discord.slash_command(
                member, world.channel, "imagine", {"prompt": "a cat"}
            )
        else:
            ix = await world.discord.click(member, grid, button(grid, action))
        answer = await ix.wait_response()
        if refusal is None:
            made = await world.wait_for_post(lambda m: world.is_post(m) and m.nonce not in before)

    if refusal is not None:
        assert answer.type == 4
        assert answer.ephemeral
        assert refusal in answer.content
        assert world.akool.calls == calls
        return
    assert answer.type == (5 if action == "imagine" else 6)
    assert member.id in made.mention_ids  # the new job is the member's


async def test_a_member_without_an_allowed_role_is_refused(
    world: World, admin: FakeUser, artists: FakeRole
):
    carol = world.discord.add_user(name="carol", guild=world.guild, roles=[artists])
    async with world.running():
        grid = await start_grid(world, world.alice)
        await settings_command(world, admin, "role allow", {"role": artists})
        imagine = await refused_imagine(world, world.bob, "a cat")
        press = await world.discord.click(world.bob, grid, button(grid, "U1"))
        pressed = await press.wait_response()
        creates, presses = world.akool.calls["createbyprompt"], world.akool.calls["createbybutton"]
        # A member with the role may do both.
        await start_job(world, carol, "a dog")
        await world.discord.click(carol, grid, button(grid, "U1"))
        await world.wait_for_post(lambda m: "Upscale U1" in m.content)

    for refusal in (imagine, pressed):
        assert refusal.type == 4
        assert refusal.ephemeral
        assert "Only members with certain roles" in refusal.content
    assert (creates, presses) == (1, 0)
    assert (world.akool.calls["createbyprompt"], world.akool.calls["createbybutton"]) == (2, 1)


async def test_a_banned_word_is_refused_before_akool(world: World, admin: FakeUser):
    async with world.running():
        await settings_command(world, admin, "banned-word add", {"word": "Dragon"})
        refusal = await refused_imagine(world, world.alice, "a  DRAGON over the sea")
        creates = world.akool.calls["createbyprompt"]
        # Only the whole word is banned.
        await start_job(world, world.alice, "a dragonfly over the sea")

    assert refusal.type == 4
    assert refusal.ephemeral
    assert "“dragon”" in refusal.content
    assert "Nothing was spent" in refusal.content
    assert creates == 0
    assert [r.body["prompt"] for r in world.akool.requests_to("createbyprompt")] == [
        "a dragonfly over the sea"
    ]


DODGES = {
    "zero-width space": "a dra\u200bgon over the sea",
    "Cyrillic o": "a dragon over the sea".replace("o", "\u043e"),
    "full-width": "a \uff44\uff52\uff41\uff47\uff4f\uff4e over the sea",
    "soft hyphen and Greek alpha": "a dr\u03b1\u00adgon over the sea",
}


@pytest.mark.parametrize("prompt", DODGES.values(), ids=DODGES.keys())
async def test_a_disguised_banned_word_is_refused_before_akool(
    world: World, admin: FakeUser, prompt: str
):
    async with world.running():
        await settings_command(world, admin, "banned-word add", {"word": "Dragon"})
        refusal = await refused_imagine(world, world.alice, prompt)

    assert refusal.type == 4
    assert refusal.ephemeral
    assert "“dragon”" in refusal.content
    assert "Nothing was spent" in refusal.content
    assert world.akool.calls["createbyprompt"] == 0


async def test_buttons_for_the_requester_only(world: World, admin: FakeUser):
    async with world.running():
        grid = await start_grid(world, world.alice)
        await settings_command(world, admin, "buttons", {"who": "requester"})
        other = await world.discord.click(world.bob, grid, button(grid, "U1"))
        refusal = await other.wait_response()
        presses = world.akool.calls["createbybutton"]
        own = await world.discord.click(world.alice, grid, button(grid, "U1"))
        await own.wait_response()
        announced = await world.wait_for_post(lambda m: "Upscale U1" in m.content)

    assert refusal.type == 4
    assert refusal.ephemeral
    assert f"only <@{world.alice.id}>" in refusal.content
    assert presses == 0
    assert [r.body for r in world.akool.requests_to("createbybutton")] == [
        {"_id": grid.nonce, "button": "U1"}
    ]
    assert f"<@{world.alice.id}>" in announced.content


async def test_the_default_aspect_is_sent_to_akool(world: World, admin: FakeUser):
    async with world.running():
        await settings_command(world, admin, "aspect", {"ratio": "16:9"})
        await start_job(world, world.alice, "a wide valley")
        ix = await world.discord.slash_command(
            world.alice, world.channel, "imagine", {"prompt": "a square", "aspect": "1:1"}
        )
        await ix.wait_original_edit(lambda m: "job `" in m.content)

    scales = [r.body["scale"] for r in world.akool.requests_to("createbyprompt")]
    assert scales == ["16:9", "1:1"]  # the default, then an explicit choice


async def test_the_active_limit_set_by_settings_is_enforced(world: World, admin: FakeUser):
    world.akool.timeline = Timeline(hold=True)
    async with world.running():
        await settings_command(world, admin, "limits", {"active": 1})
        await start_job(world, world.alice, "the one at a time")
        refusal = await refused_imagine(world, world.alice, "one too many")

    assert refusal.type == 4
    assert refusal.ephemeral
    assert "You have 1 unfinished" in refusal.content
    assert "allows 1 at once" in refusal.content
    assert world.akool.calls["createbyprompt"] == 1


async def test_the_daily_limit_set_by_settings_is_enforced(world: World, admin: FakeUser):
    async with world.running():
        await settings_command(world, admin, "limits", {"daily": 1})
        job_id = await start_job(world, world.alice, "today's only one")
        await world.wait_for_post(world.is_post_of(job_id))
        refusal = await refused_imagine(world, world.alice, "another today")

    assert refusal.ephemeral
    assert "started 1 job in the last 24 hours" in refusal.content
    assert "allows 1 a day" in refusal.content
    assert world.akool.calls["createbyprompt"] == 1


# /usage and /credits


async def usage(world: World, admin: FakeUser) -> tuple[FakeMessage, dict[str, Any]]:
    ix = await world.discord.slash_command(admin, world.channel, "usage")
    answer = await ix.wait_followup()
    assert len(answer.embeds) == 1, answer.embeds
    return answer, answer.embeds[0]


async def test_usage_matches_what_akool_charged(world: World, admin: FakeUser):
    async with world.running():
        grid = await start_grid(world, world.alice, "fox one")
        await start_job(world, world.alice, "fox two")
        await world.discord.click(world.bob, grid, button(grid, "U1"))
        await world.wait_for_post(lambda m: "Upscale U1" in m.content)
        answer, embed = await usage(world, admin)

    charged = 1000 - world.akool.balance
    assert charged == 3 * CREDITS_PER_JOB
    assert answer.ephemeral
    for window in ("Last 24 hours", "Last 7 days", "All time"):
        assert field(embed, window) == f"{charged:g}"
    per_member = field(embed, "By member").splitlines()
    alice, bob = 2 * CREDITS_PER_JOB, CREDITS_PER_JOB
    assert per_member == [
        f"<@{world.alice.id}>: {alice} · {alice} · {alice}",
        f"<@{world.bob.id}>: {bob} · {bob} · {bob}",
    ]


async def test_usage_splits_the_last_day_week_and_all_time(world: World, admin: FakeUser):
    async with world.running() as bot:
        _, empty = await usage(world, admin)
        now = bot.clock()
        jobs = [  # (member, credits, age, server)
            (world.alice, 3, 60.0, guild_id(world)),
            (world.alice, 5, 3 * DAY, guild_id(world)),
            (world.bob, 1, 2 * 3600.0, guild_id(world)),
            (world.bob, 7, 30 * DAY, guild_id(world)),
            (world.bob, None, 60.0, guild_id(world)),  # AKOOL never said what it cost
            (world.bob, 100, 60.0, guild_id(world) + 1),  # another server
        ]
        for n, (who, credits, age, server) in enumerate(jobs):
            job = NewJob(
                akool_id=f"{n:024x}",
                kind=JobKind.IMAGINE,
                requester_id=who.id,
                channel_id=world.channel.id,
                guild_id=server,
                prompt="seeded",
                credits=credits,
            )
            await bot.store.add_job(job, now=now - age, due_at=None)
        _, embed = await usage(world, admin)

    assert empty["description"] == "No credits spent yet."
    assert [field(embed, w) for w in ("Last 24 hours", "Last 7 days", "All time")] == [
        "4",
        "9",
        "16",
    ]
    assert field(embed, "By member").splitlines() == [
        f"<@{world.alice.id}>: 3 · 8 · 8",
        f"<@{world.bob.id}>: 1 · 1 · 8",
    ]


async def test_usage_of_many_members_is_cut_to_fit(world: World, admin: FakeUser):
    async with world.running() as bot:
        for n in range(100):
            job = NewJob(
                akool_id=f"{n:024x}",
                kind=JobKind.IMAGINE,
                requester_id=10**18 + n,
                channel_id=world.channel.id,
                guild_id=guild_id(world),
                credits=1000 - n,
            )
            await bot.store.add_job(job, now=bot.clock(), due_at=None)
        _, embed = await usage(world, admin)

    lines = field(embed, "By member").splitlines()
    assert len("\n".join(lines)) <= 1024
    assert lines[0] == f"<@{10**18}>: 1,000 · 1,000 · 1,000"  # the biggest spender first
    assert lines[-1] == f"…and {100 - (len(lines) - 1)} more"
    assert field(embed, "All time") == f"{sum(range(901, 1001)):,}"


async def credits(world: World, user: FakeUser) -> FakeMessage:
    ix = await world.discord.slash_command(user, world.channel, "credits")
    return await ix.wait_followup()


async def test_credits_shows_the_account_balance(world: World):
    owner = world.discord.owner  # owns the application (and, here, the server)
    async with world.running():
        world.akool.balance = 1234.5
        fractional = await credits(world, owner)
        world.akool.balance = 987
        whole = await credits(world, owner)

    assert fractional.ephemeral
    assert "1,234.50 credits left" in fractional.content
    assert "987 credits left" in whole.content
    assert world.akool.calls["quota"] == 2


async def test_credits_says_what_akool_refused(world: World):
    world.akool.inject(Fault(FaultKind.CODE, code=1101, endpoint="quota"))
    async with world.running():
        answer = await credits(world, world.discord.owner)

    assert answer.ephemeral
    assert answer.content == str(USER_MESSAGES[1101])


async def test_credits_is_refused_to_a_server_admin_who_does_not_own_the_bot(
    world: World, admin: FakeUser
):
    world.akool.balance = 987
    async with world.running():
        answer = await credits(world, admin)
        # The owner still gets it, in the same process.
        owned = await credits(world, world.discord.owner)

    assert answer.ephemeral
    assert "Only the bot's owner" in answer.content
    assert "987" not in answer.content
    assert "987 credits left" in owned.content
    assert world.akool.calls["quota"] == 1  # the owner's only


async def test_a_new_owner_of_the_bot_counts_without_a_restart(world: World):
    heir = world.discord.add_user(name="heir", guild=world.guild)
    world.akool.balance = 987
    async with world.running():
        before = await credits(world, heir)
        world.discord.set_application_team(heir, {heir: "admin"})
        soon = await credits(world, heir)  # remembered a while: Discord is not asked each time
        world.clock.advance(OWNERS_FOR)
        later = await credits(world, heir)

    assert "Only the bot's owner" in before.content
    assert "Only the bot's owner" in soon.content
    assert "987 credits left" in later.content


async def test_credits_answers_the_owning_teams_admins_and_developers(
    world: World, admin: FakeUser
):
    lead, dev, viewer = (world.discord.add_user(name=n, guild=world.guild) for n in "ldv")
    world.discord.set_application_team(lead, {lead: "admin", dev: "developer", viewer: "read_only"})
    world.akool.balance = 987
    async with world.running():
        answers = {
            who.name: await credits(world, who)
            for who in (lead, dev, viewer, admin, world.discord.owner)
        }

    assert {name: "987 credits left" in a.content for name, a in answers.items()} == {
        "l": True,
        "d": True,
        "v": False,  # a read-only team member is not an owner of the bot
        "admin": False,
        "owner": False,  # owned by the team now, not by its old owner
    }
    assert all(a.ephemeral for a in answers.values())
    assert world.akool.calls["quota"] == 2
