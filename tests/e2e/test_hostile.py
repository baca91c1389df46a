"""Hostile and bad input end to end: each case gets a private sentence, and nothing reaches AKOOL
or the store. Pings never go beyond the people a post is for, whatever a prompt contains.

Some cases cannot come from a well-behaved Discord client (an empty or 10,000-character option, a
``custom_id`` that is not on the pressed message), so they are forged: the fake driver's
``send_interaction`` dispatches them past its client-side checks. Payloads of the wrong shape
altogether are in test_bad_input.py.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot import render
from bot.components import DYNAMIC_ITEMS
from bot.core import AkoolBot
from bot.custom_ids import GRID_BUTTONS, ButtonRef, reaches_dynamic_item
from bot.store import ButtonPress, Job
from tests.e2e.conftest import World
from tests.fakes.discord import FakeChannel, FakeInteraction, FakeMessage, FakeUser
from tests.fakes.png import make_png

NOT_OURS = "does not belong to a job this bot can act on"
UNKNOWN_JOB = "no record of that job"
BAD_ID = "not an AKOOL job id"
UNKNOWN = "f" * 24  # a well-formed job id this bot never stored
_BUTTON = 2


# ---------------------------------------------------------------------------- helpers


async def forge_command(
    world: World, user: FakeUser, channel: FakeChannel, name: str, options: dict[str, Any]
) -> FakeInteraction:
    """Dispatch ``/name`` with option values as given, past the fake client's length checks."""
    command = world.discord.find_command(name, channel.guild_id)
    assert command is not None, f"/{name} is not synced"
    types = {o["name"]: o["type"] for o in command.get("options") or []}
    sent = [{"name": k, "type": types[k], "value": v} for k, v in options.items()]
    data = world.discord.command_data(channel, name, sent)
    return await world.discord.send_interaction(2, user, channel, data)


async def forge_click(
    world: World, user: FakeUser, message: FakeMessage, custom_id: str, component_type: int = 2
) -> FakeInteraction:
    """A press of ``custom_id`` on ``message``, whether or not the message has that component."""
    channel = world.discord.channels[message.channel_id]
    data = {"custom_id": custom_id, "component_type": component_type}
    return await world.discord.send_interaction(3, user, channel, data, message=message)


def bot_message(world: World, channel: FakeChannel, *custom_ids: str) -> FakeMessage:
    """A message by the bot carrying buttons with these ids (an old or copied grid)."""
    buttons = [{"type": _BUTTON, "style": 2, "label": "U1", "custom_id": c} for c in custom_ids]
    body = {"content": "An old grid", "components": [{"type": 1, "components": buttons}]}
    return world.discord.create_message(channel, world.discord.bot_user, body)


def callbacks(world: World, ix: FakeInteraction) -> int:
    """How many times the bot tried to answer ``ix`` (Discord accepts only the first)."""
    return len(world.discord.requests_matching("POST", rf"^/interactions/{ix.id}/"))


async def store_contents(bot: AkoolBot, world: World) -> tuple[list[Job], list[ButtonPress]]:
    """Every job of every fake user in every server, and every winning button press."""
    jobs: list[Job] = []
    for guild in world.discord.guilds.values():
        for user in world.discord.users.values():
            jobs += await bot.store.recent_jobs(guild.id, user.id, limit=1000)
    presses = [
        press
        for job in jobs
        for button in GRID_BUTTONS
        if (press := await bot.store.get_press(job.akool_id, button)) is not None
    ]
    return sorted(jobs, key=lambda j: j.id), presses


async def settled_grid(
    world: World, prompt: str = "a red fox"
) -> tuple[str, FakeMessage, FakeInteraction]:
    """Alice's grid, posted and recorded as delivered (so the store stops changing)."""
    ix = await world.discord.slash_command(
        world.alice, world.channel, "imagine", {"prompt": prompt}
    )
    grid = await world.wait_for_post(lambda m: world.is_post(m) and bool(m.components))
    # The status message says Done only once the post is recorded as delivered.
    await ix.wait_original_edit(lambda m: "Done" in m.content)
    assert isinstance(grid.nonce, str)
    return grid.nonce, grid, ix


async def assert_refused(world: World, ix: FakeInteraction, text: str) -> None:
    """Answered once, privately, with ``text``."""
    answer = await ix.wait_response()
    # Either the sentence at once, or a private defer and then the sentence as the follow-up.
    content = answer.content if answer.type == 4 else (await ix.wait_followup()).content
    assert ix.ephemeral, f"{ix.custom_id or ix.name!r} was answered in public"
    assert text in content, f"{ix.custom_id or ix.name!r} got {content!r}"
    assert callbacks(world, ix) == 1


# ---------------------------------------------------------------------------- slash options


async def test_empty_blank_and_oversized_prompts_are_refused(world: World):
    cases = {
        "": "prompt is empty",
        "   \t  ": "prompt is empty",
        "\u200b\u200d\u2060": "prompt is empty",  # zero-width characters only
        "\x00\x07": "prompt is empty",
        "x" * 10_000: "the limit is 1500",
        "a fox " * 2_000: "the limit is 1500",
    }
    async with world.running() as bot:
        for prompt, text in cases.items():
            # Forged: a real client enforces the option's 1-1500 length, a forged one need not.
            ix = await forge_command(
                world, world.alice, world.channel, "imagine", {"prompt": prompt}
            )
            answer = await ix.wait_response()
            assert answer.type == 4, f"{prompt[:20]!r} was not refused at once"
            assert answer.ephemeral
            assert text in answer.content, f"{prompt[:20]!r} got {answer.content!r}"
        stored = await bot.store.recent_jobs(world.guild.id, world.alice.id, limit=10)

    assert sum(world.akool.calls.values()) == 0
    assert stored == []


async def test_attachments_that_are_not_usable_images_are_refused(world: World):
    png = make_png(8, 8, "cat")
    cases: list[tuple[tuple[str, bytes] | tuple[str, bytes, str], str]] = [
        (("notes.txt", b"just some words"), "must be a PNG, JPEG or WebP"),
        (("setup.exe", b"MZ\x90\x00" + bytes(60)), "must be a PNG, JPEG or WebP"),
        # The declared type lies: a program and a page dressed up as a PNG.
        (("setup.exe", b"MZ\x90\x00" + bytes(60), "image/png"), "must be a PNG, JPEG or WebP"),
        (("index.html", b"<script>alert(1)</script>", "image/png"), "must be a PNG, JPEG or WebP"),
        (("cat.png", png, "text/html"), "must be a PNG, JPEG or WebP"),
        (("logo.svg", b"<svg onload='alert(1)'/>"), "must be a PNG, JPEG or WebP"),
        (("empty.png", b""), "must be a PNG, JPEG or WebP"),
        (("huge.png", png + bytes(21 * 1024 * 1024)), "larger than 20 MiB"),
    ]
    async with world.running() as bot:
        for attachment, text in cases:
            ix = await world.discord.slash_command(
                world.alice,
                world.channel,
                "imagine",
                {"prompt": "make it blue"},
                attachments={"image": attachment},
            )
            answer = await ix.wait_response()
            assert answer.type == 4, f"{attachment[0]} was not refused at once"
            assert answer.ephemeral
            assert text in answer.content, f"{attachment[0]} got {answer.content!r}"
        stored = await bot.store.recent_jobs(world.guild.id, world.alice.id, limit=10)

    assert sum(world.akool.calls.values()) == 0
    assert stored == []


@pytest.mark.parametrize("command", ["track", "status"])
async def test_job_ids_that_are_not_akool_ids_are_refused(world: World, command: str):
    bad_ids = [
        "z" * 24,  # right length, not hex
        "662a10df4197",  # too short
        "662a10df4197b3af58532e89a",  # too long
        "662a10df4197b3af58532e8%",  # a LIKE wildcard
        "'; DROP TABLE jobs; --",
        "0' OR '1'='1",
        "662a10df4197b3af58532e89\nUNION SELECT 1",
        "1" * 5000,
    ]
    async with world.running() as bot:
        for bad in bad_ids:
            ix = await world.discord.slash_command(
                world.alice, world.channel, command, {"job_id": bad}
            )
            answer = await ix.wait_response()
            assert answer.type == 4, f"{bad[:30]!r} was not refused at once"
            assert answer.ephemeral
            assert BAD_ID in answer.content, f"{bad[:30]!r} got {answer.content!r}"
        stored = await bot.store.recent_jobs(world.guild.id, world.alice.id, limit=10)
        # The store still answers: nothing was dropped or injected.
        assert await bot.store.get_job("662a10df4197b3af58532e89") is None

    assert sum(world.akool.calls.values()) == 0
    assert stored == []


# ---------------------------------------------------------------------------- mentions


def states(message: FakeMessage) -> list[dict[str, Any]]:
    """The message as it was after its creation and after each edit."""
    return [edit.previous for edit in message.edits] + [message.payload()]


def pinged_in(state: dict[str, Any]) -> set[int]:
    return {int(user["id"]) for user in state["mentions"]}


async def test_mentions_in_a_prompt_ping_nobody_beyond_the_requester_and_presser(world: World):
    carol = world.users[0]
    role = world.discord.add_role(world.guild, "artists")
    prompt = f"@everyone @here <@&{role.id}> <@{world.bob.id}> <@!{carol.id}> a fox in snow"
    async with world.running():
        job_id, grid, ix = await settled_grid(world, prompt)
        await world.discord.click(world.bob, grid, f"akool:v1:{job_id}:U1")
        announcement = await world.wait_for_post(lambda m: "Upscale U1" in m.content)
        (child_id,) = [j for j in world.akool.jobs if j != job_id]
        child_post = await world.wait_for_post(world.is_post_of(child_id))

    # The job ran with the prompt as written, and the posts show it.
    assert world.akool.requests_to("createbyprompt")[0].body["prompt"] == prompt
    assert render.shown(prompt) in grid.content
    assert ix.original_message is not None
    grid_messages = {"status": ix.original_message, "grid": grid}
    derived_messages = {"announcement": announcement, "child post": child_post}
    for name, message in {**grid_messages, **derived_messages}.items():
        for state in states(message):
            assert state["mention_everyone"] is False, f"the {name} pinged @everyone"
            assert state["mention_roles"] == [], f"the {name} pinged a role"
            assert carol.id not in pinged_in(state), f"the {name} pinged a user named in the prompt"
    for name, message in grid_messages.items():
        for state in states(message):
            assert pinged_in(state) <= {world.alice.id}, f"the {name} pinged beyond alice"
    for name, message in derived_messages.items():
        for state in states(message):
            assert pinged_in(state) <= {world.alice.id, world.bob.id}, f"the {name} over-pinged"
    # The people a post is for are still pinged when it is created (edits never ping again).
    assert pinged_in(states(grid)[0]) == {world.alice.id}
    assert pinged_in(states(announcement)[0]) == {world.bob.id}
    assert pinged_in(states(child_post)[0]) == {world.alice.id, world.bob.id}


# ---------------------------------------------------------------------------- forged buttons


async def test_custom_ids_that_do_not_parse_are_refused(world: World):
    async with world.running() as bot:
        job_id, grid, _ = await settled_grid(world)
        calls, before = Counter(world.akool.calls), await store_contents(bot, world)
        forged = [
            "akool:v1:zzz:U1",
            "garbage",
            "",
            f"akool:v1:{job_id}:U1" + "x" * 200,  # over-long
            f"akool:v1:{job_id}:U5",
            f"akool:v1:{job_id.upper()}:U1",
            f"akool:v1:{job_id}:U1\n",
            f"akool:v2:{job_id}:U1",
            f"akool:v1:{job_id}' OR 1=1 --:U1",
        ]
        for custom_id in forged:
            ix = await forge_click(world, world.bob, grid, custom_id)
            await assert_refused(world, ix, NOT_OURS)
        after = await store_contents(bot, world)

    assert world.akool.calls == calls
    assert after == before


async def test_an_id_that_is_not_on_the_pressed_message_is_refused(world: World):
    async with world.running() as bot:
        job_id, grid, _ = await settled_grid(world)
        calls, before = Counter(world.akool.calls), await store_contents(bot, world)
        forged: list[tuple[str, int]] = [
            (f"akool:v1:{job_id}:show", _BUTTON),  # a real action the grid does not carry
            (f"akool:v1:{UNKNOWN}:U1", _BUTTON),  # another job's button on this grid
            (f"akool:v1:{job_id}:U1", 3),  # on the grid, but as a select menu
        ]
        for custom_id, component_type in forged:
            ix = await forge_click(world, world.bob, grid, custom_id, component_type)
            await assert_refused(world, ix, NOT_OURS)
        after = await store_contents(bot, world)

    assert world.akool.calls == calls
    assert after == before
    assert len(world.discord.messages(world.channel)) == 2  # the status message and the grid


async def test_a_button_naming_an_unknown_job_is_refused(world: World):
    async with world.running() as bot:
        await settled_grid(world)
        calls, before = Counter(world.akool.calls), await store_contents(bot, world)
        # A grid whose job this bot does not know (its database was replaced, say).
        stale = bot_message(world, world.channel, f"akool:v1:{UNKNOWN}:V2")
        ix = await world.discord.click(world.bob, stale, f"akool:v1:{UNKNOWN}:V2")
        await assert_refused(world, ix, UNKNOWN_JOB)
        after = await store_contents(bot, world)

    assert world.akool.calls == calls
    assert after == before


async def test_a_button_naming_another_servers_job_is_refused(world: World):
    other = world.discord.add_guild(name="Other Club")
    elsewhere = world.discord.add_channel(other, name="elsewhere")
    mallory = world.discord.add_user(name="mallory", guild=other)
    async with world.running() as bot:
        job_id, _, _ = await settled_grid(world)
        calls, before = Counter(world.akool.calls), await store_contents(bot, world)
        # Art Club's buttons, copied onto a message in another server.
        copy = bot_message(world, elsewhere, f"akool:v1:{job_id}:U1", f"akool:v1:{job_id}:show")
        # Post here answers as for an id the bot never stored: a lookup, for admins only.
        for button, refusal in (("U1", UNKNOWN_JOB), ("show", "manage this server")):
            ix = await world.discord.click(mallory, copy, f"akool:v1:{job_id}:{button}")
            await assert_refused(world, ix, refusal)
        after = await store_contents(bot, world)

    assert world.akool.calls == calls
    assert after == before
    assert world.discord.messages(elsewhere) == [copy]  # nothing was reposted there


async def test_presses_the_buttons_take_are_answered_once(world: World, caplog):
    async with world.running():
        job_id, grid, _ = await settled_grid(world)
        press = await world.discord.click(world.bob, grid, f"akool:v1:{job_id}:U3")
        await world.wait_for_post(lambda m: "Upscale U3" in m.content)
        (child_id,) = [j for j in world.akool.jobs if j != job_id]
        await world.wait_for_post(world.is_post_of(child_id))
        status = await world.discord.slash_command(
            world.alice, world.channel, "status", {"job_id": job_id}
        )
        shown = await status.wait_followup()
        show = await world.discord.click(world.alice, shown, f"akool:v1:{job_id}:show")
        posted = await show.wait_followup()
        grid_ids = world.custom_ids_of(grid)
        await world.wait_for_post(lambda m: m.id != grid.id and world.custom_ids_of(m) == grid_ids)

    assert (await press.wait_response()).type == 6  # the grid's own deferred update
    assert "Posted" in posted.content
    for ix in (press, show):
        assert callbacks(world, ix) == 1
        assert all(NOT_OURS not in m.content for m in ix.followups)
    assert not [r for r in caplog.records if "Refused a press" in r.getMessage()]


# ---------------------------------------------------------------------------- custom_id fuzzing
# (Pure, but kept next to the end-to-end cases whose listener decision it checks.)

_MADE = st.builds(
    lambda job, action: ButtonRef(job, action).custom_id,
    st.from_regex(r"[0-9a-f]{24}", fullmatch=True),
    st.sampled_from([*GRID_BUTTONS, "show"]),
)


@st.composite
def _near_misses(draw: st.DrawFn) -> str:
    """A made custom_id with one character inserted, deleted or replaced."""
    made = draw(_MADE)
    at = draw(st.integers(0, len(made) - 1))
    char = draw(st.characters() | st.sampled_from("0123456789abcdefABCDEFUVshow:\n "))
    return draw(
        st.sampled_from(
            [
                made[:at] + char + made[at:],
                made[:at] + made[at + 1 :],
                made[:at] + char + made[at + 1 :],
            ]
        )
    )


_CUSTOM_IDS = st.one_of(
    _MADE,
    _near_misses(),
    st.builds(lambda made, tail: made + tail, _MADE, st.text(min_size=1, max_size=5)),
    st.text(max_size=120),
    st.text(alphabet="akool:v1UVshow0123456789abcdef\n", max_size=60),
)
_COMPONENT_TYPES = st.sampled_from([2, 3, 5, 6, 7, 8])  # button and the select menus


@given(
    custom_id=_CUSTOM_IDS,
    component_type=_COMPONENT_TYPES,
    others=st.sets(st.tuples(_COMPONENT_TYPES, _CUSTOM_IDS), max_size=5),
    listed_as=st.sets(_COMPONENT_TYPES),
)
def test_the_listener_decision_agrees_with_discord_py(
    custom_id: str,
    component_type: int,
    others: set[tuple[int, str]],
    listed_as: set[int],
):
    # The pressed id is on the message as none, some or all component types, among others.
    on_message = others | {(listed, custom_id) for listed in listed_as}
    # What discord.py's ViewStore does: fullmatch a registered template, then find the component.
    templates = [item.__discord_ui_compiled_template__ for item in DYNAMIC_ITEMS]
    expected = (
        any(template.fullmatch(custom_id) for template in templates)
        and (component_type, custom_id) in on_message
    )

    reaches = reaches_dynamic_item(custom_id, component_type, on_message)

    assert reaches is expected
    if reaches:  # so from_custom_id never fails on a press that reaches an item
        assert ButtonRef.parse(custom_id) is not None


@given(custom_id=_CUSTOM_IDS)
def test_a_press_that_parses_and_is_on_the_message_always_reaches_an_item(custom_id: str):
    on_message = {(2, custom_id)}

    assert reaches_dynamic_item(custom_id, 2, on_message) is (
        ButtonRef.parse(custom_id) is not None
    )
    assert not reaches_dynamic_item(custom_id, 2, set())
