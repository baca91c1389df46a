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
