"""Input Discord's own client never sends, which the bot must survive all the same, end to end.

Discord carries what a forged or broken client asks it to: text with lone surrogates (the gateway's
JSON escapes ``\\ud800``, and Python's JSON reader makes a lone surrogate of it), an option of
another type than declared, a choice that is not on the list, a button press without a
``custom_id``. Each one gets a private answer or is dropped with one warning, never a traceback,
and the next ordinary /imagine still works: the process and its gateway connection live.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import discord
import pytest

from tests.e2e.conftest import World
from tests.e2e.processes import BotProcess, bot_env
from tests.fakes.akool import FakeAkool
from tests.fakes.discord import FakeDiscord, FakeInteraction, FakeMessage, FakeUser

INVALID_TEXT = "not valid Unicode"
SHAPE = "arrived in a shape it does not take"
NO_SUCH_COMMAND = "has no such command"
_COMMAND, _COMPONENT, _AUTOCOMPLETE, _MODAL_SUBMIT = 2, 3, 4, 5
_STRING, _INTEGER, _CHANNEL, _ROLE, _ATTACHMENT = 3, 4, 7, 8, 11
_SUBCOMMAND = 1
_BUTTON = 2
PRESSABLE = f"akool:v1:{'f' * 24}:U1"  # a well-formed id, for payloads broken elsewhere


def option(name: str, type_: int, value: Any, **extra: Any) -> dict[str, Any]:
    return {"name": name, "type": type_, "value": value, **extra}


def prompt(value: Any = "a red fox") -> dict[str, Any]:
    return option("prompt", _STRING, value)


# ---------------------------------------------------------------------------- helpers


@dataclass
class Logs:
    """The records logged since the bot became ready."""

    caplog: pytest.LogCaptureFixture
    start: int = 0

    def mark(self) -> None:
        self.start = len(self.caplog.records)

    def since(self) -> list[logging.LogRecord]:
        return self.caplog.records[self.start :]

    def assert_one_warning(self, containing: str) -> None:
        """Exactly one WARNING and nothing worse, no traceback: the recoverable oddity, once."""
        records = self.since()
        worse = [
            f"{r.levelname} {r.name}: {r.getMessage()}"
            for r in records
            if r.levelno > logging.WARNING
        ]
        assert worse == [], worse
        warnings = [r for r in records if r.levelno == logging.WARNING]
        lines = [f"{r.name}: {r.getMessage()}" for r in warnings]
        assert len(warnings) == 1, lines
        assert containing in warnings[0].getMessage(), lines
        assert warnings[0].exc_info is None, lines


@pytest.fixture
def logs(caplog: pytest.LogCaptureFixture) -> Logs:
    caplog.set_level(logging.INFO)
    return Logs(caplog)


def callbacks_to(discord: FakeDiscord, ix: FakeInteraction) -> int:
    """How many times the bot tried to answer ``ix``."""
    return len(discord.requests_matching("POST", rf"^/interactions/{ix.id}/"))


def callbacks(world: World, ix: FakeInteraction) -> int:
    return callbacks_to(world.discord, ix)


async def still_works(world: World) -> None:
    """An ordinary /imagine is answered and its grid posted: the bot and its gateway live."""
    ix = await world.discord.slash_command(
        world.alice, world.channel, "imagine", {"prompt": "a calm lake"}
    )
    assert (await ix.wait_response()).type == 5
    await world.wait_for_post(lambda m: world.is_post(m) and bool(m.components))
    # Done once the grid is recorded as delivered: nothing of it is left in flight.
    await ix.wait_original_edit(lambda m: "Done" in m.content)


def admin_of(world: World) -> FakeUser:
    return world.discord.add_user(
        name="admin", guild=world.guild, permissions=discord.Permissions(manage_guild=True)
    )


async def answer_of(ix: FakeInteraction) -> str:
    """The private sentence ``ix`` was answered with (at once, or after a private defer)."""
    answer = await ix.wait_response()
    content = answer.content if answer.type == 4 else (await ix.wait_followup()).content
    assert ix.ephemeral, f"{ix.name!r} was answered in public: {content!r}"
    return content


# ---------------------------------------------------------------------------- slash commands

# (command, its options exactly as sent, what the private answer says)
BAD_COMMANDS: dict[str, tuple[str, Any, str]] = {
    # Text that no store can save.
    "a lone high surrogate": ("imagine", [prompt("a fox \ud800 in snow")], INVALID_TEXT),
    "a lone low surrogate": ("imagine", [prompt("\udfff")], INVALID_TEXT),
    "half an emoji": ("imagine", [prompt("a fox \ud83e")], INVALID_TEXT),
    "a surrogate in a banned word": (
        "settings banned-word add",
        [option("word", _STRING, "gore\udc00")],
        INVALID_TEXT,
    ),
    "a surrogate in an unknown option": (
        "imagine",
        [prompt(), option("\ud800", _STRING, "x")],
        INVALID_TEXT,
    ),
    # Choices that are not on the list.
    "an aspect outside its choices": (
        "imagine",
        [prompt(), option("aspect", _STRING, "7:1")],
        "`aspect` must be one of its choices (1:1 square",
    ),
    "an empty aspect": (
        "imagine",
        [prompt(), option("aspect", _STRING, "")],
        "`aspect` must be one of its choices",
    ),
    "a server aspect outside its choices": (
        "settings aspect",
        [option("ratio", _STRING, "1:99")],
        "`ratio` must be one of its choices",
    ),
    # Values of another type than declared.
    "an integer prompt": ("imagine", [prompt(5)], "`prompt` option did not arrive as text"),
    "a null prompt": ("imagine", [prompt(None)], "`prompt` option did not arrive as text"),
    "a list prompt": ("imagine", [prompt(["a", "fox"])], "`prompt` option did not arrive as text"),
    "an integer aspect": (
        "imagine",
        [prompt(), option("aspect", _STRING, 169)],
        "`aspect` option did not arrive as text",
    ),
    "a prompt declared as an integer": (
        "imagine",
        [option("prompt", _INTEGER, 5)],
        "`prompt` option did not arrive as text",
    ),
    "a string image": (
        "imagine",
        [prompt(), option("image", _ATTACHMENT, "cat.png")],
        "`image` option did not arrive as an attachment",
    ),
    "an image id with nothing resolved": (
        "imagine",
        [prompt(), option("image", _ATTACHMENT, "123456789012345678")],
        "`image` option did not arrive as an attachment",
    ),
    "a string limit": (
        "settings limits",
        [option("active", _INTEGER, "ten")],
        "`active` option did not arrive as a whole number",
    ),
    "a boolean limit": (
        "settings limits",
        [option("daily", _INTEGER, True)],
        "`daily` option did not arrive as a whole number",
    ),
    "a fractional limit": (
        "settings limits",
        [option("daily", _INTEGER, 2.5)],
        "`daily` option did not arrive as a whole number",
    ),
    "an integer channel": (
        "settings channel allow",
        [option("channel", _CHANNEL, 5)],
        "`channel` option did not arrive as a channel",
    ),
    "a string role": (
        "settings role allow",
        [option("role", _ROLE, "artists")],
        "`role` option did not arrive as a role",
    ),
    # Options missing, unknown, repeated or not a list.
    "no prompt": ("imagine", [], "This command needs `prompt`"),
    "an aspect but no prompt": (
        "imagine",
        [option("aspect", _STRING, "1:1")],
        "This command needs `prompt`",
    ),
    "an unknown option": ("imagine", [prompt(), option("colour", _STRING, "red")], SHAPE),
    "a prompt twice": ("imagine", [prompt(), prompt("a blue fox")], SHAPE),
    "options that are not a list": ("imagine", "a red fox", SHAPE),
    "an option that is not an object": ("imagine", [prompt(), "aspect"], SHAPE),
    "an option without a value": (
        "imagine",
        [{"name": "prompt", "type": _STRING}],
        "`prompt` option did not arrive as text",
    ),
    "a focused option outside autocomplete": (
        "status",
        [option("job_id", _STRING, "662a", focused=True)],
        SHAPE,
    ),
    "a group without a subcommand": ("settings", [], SHAPE),
    "an unknown subcommand": (
        "settings",
        [{"name": "colours", "type": _SUBCOMMAND, "options": []}],
        NO_SUCH_COMMAND,
    ),
}


@pytest.mark.parametrize("case", list(BAD_COMMANDS))
async def test_options_discord_never_sends_get_a_private_answer(
    world: World, logs: Logs, case: str
):
    name, options, text = BAD_COMMANDS[case]
    admin = admin_of(world)
    async with world.running() as bot:
        logs.mark()
        data = world.discord.command_data(world.channel, name, options)
        ix = await world.discord.send_interaction(_COMMAND, admin, world.channel, data)
        content = await answer_of(ix)
        settings = await bot.store.server_settings(world.guild.id)
        await still_works(world)
        logs.assert_one_warning("Refused a command")

    assert text in content, content
    assert callbacks(world, ix) == 1
    assert settings == type(settings)()  # nothing was saved
    assert world.akool.calls["createbyprompt"] == 1  # only still_works's job


FILE_ID = "123456789012345678"
NOT_A_FILE = "`image` option did not arrive as an attachment"
# Resolved data behind an attachment id that discord.py cannot build a file from.
BAD_RESOLVED: dict[str, tuple[Any, str]] = {
    "resolved that is not an object": ([FILE_ID], SHAPE),
    "attachments that are a list": ({"attachments": [FILE_ID]}, NOT_A_FILE),
    "an attachment without its fields": ({"attachments": {FILE_ID: {"id": FILE_ID}}}, SHAPE),
    "an attachment that is text": ({"attachments": {FILE_ID: "cat.png"}}, SHAPE),
    "users that are text": ({"attachments": {FILE_ID: {"id": FILE_ID}}, "users": "alice"}, SHAPE),
}


@pytest.mark.parametrize("case", list(BAD_RESOLVED))
async def test_resolved_data_discord_py_cannot_read_gets_a_private_answer(
    world: World, logs: Logs, case: str
):
    resolved, text = BAD_RESOLVED[case]
    async with world.running():
        logs.mark()
        options = [prompt(), option("image", _ATTACHMENT, FILE_ID)]
        data = world.discord.command_data(world.channel, "imagine", options)
        data["resolved"] = resolved
        ix = await world.discord.send_interaction(_COMMAND, world.alice, world.channel, data)
        content = await answer_of(ix)
        await still_works(world)
        logs.assert_one_warning("Refused a command")

    assert text in content, content


async def test_lone_surrogates_typed_through_the_client_are_refused(world: World, logs: Logs):
    # The driver's own client path: nothing forged but the text itself.
    async with world.running() as bot:
        logs.mark()
        ix = await world.discord.slash_command(
            world.alice, world.channel, "imagine", {"prompt": "a fox \ud800 in snow"}
        )
        content = await answer_of(ix)
        await still_works(world)
        logs.assert_one_warning("not valid Unicode")
        stored = await bot.store.recent_jobs(world.guild.id, world.alice.id, limit=10)

    assert INVALID_TEXT in content
    assert [job.prompt for job in stored] == ["a calm lake"]


async def test_an_unknown_command_gets_a_private_answer(world: World, logs: Logs):
    async with world.running():
        logs.mark()
        data = world.discord.command_data(world.channel, "imagine", [prompt()])
        data["name"] = "imagine-more"  # a command this bot has never had
        ix = await world.discord.send_interaction(_COMMAND, world.alice, world.channel, data)
        content = await answer_of(ix)
        await still_works(world)
        logs.assert_one_warning("there is no command 'imagine-more'")

    assert NO_SUCH_COMMAND in content


async def test_a_channel_this_bot_cannot_see_gets_a_private_answer(world: World, logs: Logs):
    admin = admin_of(world)
    async with world.running() as bot:
        logs.mark()
        # Typed and resolved as Discord would, but a channel the bot's server does not have.
        unknown = "123456789012345678"
        resolved = {
            "channels": {unknown: {"id": unknown, "type": 0, "name": "secret", "permissions": "0"}}
        }
        data = world.discord.command_data(
            world.channel, "settings channel allow", [option("channel", _CHANNEL, unknown)]
        )
        data["resolved"] = resolved
        ix = await world.discord.send_interaction(_COMMAND, admin, world.channel, data)
        content = await answer_of(ix)
        await still_works(world)
        logs.assert_one_warning("could not be used as channel")
        settings = await bot.store.server_settings(world.guild.id)

    assert "That is not a channel this bot can use here" in content
    assert settings.channels == frozenset()


# ---------------------------------------------------------------------------- autocomplete

BAD_AUTOCOMPLETE: dict[str, tuple[str, list[Any]]] = {
    "a surrogate typed into /status": (
        "status",
        [option("job_id", _STRING, "66\ud800", focused=True)],
    ),
    "a surrogate typed into a banned word": (
        "settings banned-word remove",
        [option("word", _STRING, "\udc00blood", focused=True)],
    ),
    "a number typed into /status": ("status", [option("job_id", _STRING, 662, focused=True)]),
    "nothing focused": ("status", [option("job_id", _STRING, "662a")]),
    "a focused option twice": (
        "status",
        [
            option("job_id", _STRING, "66", focused=True),
            option("job_id", _STRING, "6", focused=True),
        ],
    ),
    "a focused option without autocomplete": (
        "imagine",
        [option("prompt", _STRING, "a fox", focused=True)],
    ),
}


@pytest.mark.parametrize("case", list(BAD_AUTOCOMPLETE))
async def test_bad_autocomplete_input_gets_no_choices(world: World, logs: Logs, case: str):
    name, options = BAD_AUTOCOMPLETE[case]
    admin = admin_of(world)
    async with world.running():
        logs.mark()
        data = world.discord.command_data(world.channel, name, options)
        ix = await world.discord.send_interaction(_AUTOCOMPLETE, admin, world.channel, data)
        answer = await ix.wait_response()
        await still_works(world)
        logs.assert_one_warning("Refused an autocomplete")

    assert answer.type == 8
    assert answer.choices == []


async def test_a_surrogate_typed_through_the_client_gets_no_choices(world: World, logs: Logs):
    async with world.running():
        logs.mark()
        choices = await world.discord.autocomplete(
            world.alice, world.channel, "status", {"job_id": "\ud800"}, "job_id"
        )
        await still_works(world)
        logs.assert_one_warning("not valid Unicode")

    assert choices == []


# ---------------------------------------------------------------------------- dropped payloads


def without(key: str) -> Callable[[dict[str, Any]], None]:
    return lambda payload: payload.pop(key)


def setting(key: str, value: Any) -> Callable[[dict[str, Any]], None]:
    return lambda payload: payload.__setitem__(key, value)


# (interaction type, its data, a change to the rest of the payload)
DROPPED: dict[str, tuple[int, Any, Callable[[dict[str, Any]], None] | None]] = {
    "a press without a custom_id": (_COMPONENT, {"component_type": _BUTTON}, None),
    "a numeric custom_id": (_COMPONENT, {"custom_id": 5, "component_type": _BUTTON}, None),
    "a null custom_id": (_COMPONENT, {"custom_id": None, "component_type": _BUTTON}, None),
    "a list custom_id": (_COMPONENT, {"custom_id": [PRESSABLE], "component_type": _BUTTON}, None),
    "an object custom_id": (_COMPONENT, {"custom_id": {"id": 1}, "component_type": _BUTTON}, None),
    "a press without a component_type": (_COMPONENT, {"custom_id": PRESSABLE}, None),
    "a string component_type": (_COMPONENT, {"custom_id": PRESSABLE, "component_type": "2"}, None),
    "a word component_type": (_COMPONENT, {"custom_id": PRESSABLE, "component_type": "x"}, None),
    "a null component_type": (_COMPONENT, {"custom_id": PRESSABLE, "component_type": None}, None),
    "a boolean component_type": (
        _COMPONENT,
        {"custom_id": PRESSABLE, "component_type": True},
        None,
    ),
    "select values that are not a list": (
        _COMPONENT,
        {"custom_id": PRESSABLE, "component_type": 3, "values": "U1"},
        None,
    ),
    "a press without data": (_COMPONENT, None, without("data")),
    "a press whose data is text": (_COMPONENT, "akool", None),
    "a press whose data is a list": (_COMPONENT, [PRESSABLE, _BUTTON], None),
    "a press whose data is null": (_COMPONENT, None, None),
    "a press by nobody": (
        _COMPONENT,
        {"custom_id": PRESSABLE, "component_type": _BUTTON},
        without("member"),
    ),
    "a press whose type is text": (
        _COMPONENT,
        {"custom_id": PRESSABLE, "component_type": _BUTTON},
        setting("type", "3"),
    ),
    "a press with no id": (
        _COMPONENT,
        {"custom_id": PRESSABLE, "component_type": _BUTTON},
        setting("id", "not-a-snowflake"),
    ),
    "a modal without a custom_id": (_MODAL_SUBMIT, {"components": []}, None),
    "a modal with a list custom_id": (_MODAL_SUBMIT, {"custom_id": ["m"], "components": []}, None),
    "a modal without components": (_MODAL_SUBMIT, {"custom_id": "akool:modal"}, None),
    "a modal whose components are text": (
        _MODAL_SUBMIT,
        {"custom_id": "akool:modal", "components": "x"},
        None,
    ),
    "a modal whose components are numbers": (
        _MODAL_SUBMIT,
        {"custom_id": "akool:modal", "components": [1, 2]},
        None,
    ),
    "a modal whose resolved data is a list": (
        _MODAL_SUBMIT,
        {"custom_id": "akool:modal", "components": [], "resolved": []},
        None,
    ),
    "a modal whose data is a list": (_MODAL_SUBMIT, [], None),
    "a command whose data is text": (_COMMAND, "imagine", None),
    "an autocomplete whose data is null": (_AUTOCOMPLETE, None, None),
}


def bot_message(world: World) -> FakeMessage:
    """A message by the bot with a button on it, for the forged presses to be "on"."""
    button = {"type": _BUTTON, "style": 2, "label": "U1", "custom_id": PRESSABLE}
    body = {"content": "An old grid", "components": [{"type": 1, "components": [button]}]}
    return world.discord.create_message(world.channel, world.discord.bot_user, body)


@pytest.mark.parametrize("case", list(DROPPED))
async def test_payloads_discord_py_cannot_read_are_dropped(world: World, logs: Logs, case: str):
    type_, data, edit = DROPPED[case]
    message = bot_message(world) if type_ == _COMPONENT else None
    async with world.running():
        logs.mark()
        ix = await world.discord.send_interaction(
            type_, world.bob, world.channel, data, message=message, edit=edit
        )
        # Gateway events are read in order: once this is answered, the forged one was read.
        await still_works(world)
        logs.assert_one_warning("Dropped interaction")

    assert callbacks(world, ix) == 0


# ---------------------------------------------------------------------------- the real process


async def test_the_bot_process_outlives_a_press_discord_py_cannot_read(
    fake_akool: FakeAkool, tmp_path: Path
):
    # discord.py raises inside the gateway's read loop, so the shard ends, the client closes and
    # bot.start() raises: without the guard ``python -m bot`` exits here with a traceback.
    discord = FakeDiscord(token="bad-input-token-0123456789")
    guild = discord.add_guild(name="Art Club")
    channel = discord.add_channel(guild, name="images")
    alice = discord.add_user(name="alice", guild=guild)
    await discord.start()
    env = bot_env(
        discord, fake_akool, f"sqlite:///{tmp_path / 'bot.sqlite3'}", DISCORD_GUILD_ID=str(guild.id)
    )
    bot = BotProcess(env, tmp_path / "bot.log")
    try:
        await bot.start()
        await discord.wait_until_ready(timeout=20)
        button = {"type": _BUTTON, "style": 2, "label": "U1", "custom_id": PRESSABLE}
        body = {"content": "An old grid", "components": [{"type": 1, "components": [button]}]}
        grid = discord.create_message(channel, discord.bot_user, body)
        forged = await discord.send_interaction(
            _COMPONENT, alice, channel, {"component_type": _BUTTON}, message=grid
        )
        ix = await discord.slash_command(alice, channel, "imagine", {"prompt": "a calm lake"})
        answered = await ix.wait_response(timeout=20)
        # Done only once the grid is posted and recorded: nothing is in flight at the stop.
        await ix.wait_original_edit(lambda m: "Done" in m.content, timeout=20)
        alive = bot.proc is not None and bot.proc.returncode is None
        code = await bot.terminate()
    finally:
        await bot.ensure_stopped()
        await discord.close()
    output = (tmp_path / "bot.log").read_text()

    assert answered.type == 5
    assert alive
    assert code == 0
    assert callbacks_to(discord, forged) == 0
    assert output.count("Dropped interaction") == 1
    assert "Traceback" not in output
