"""No secret in any log line: a whole end-to-end run logged at DEBUG, tracebacks included.

Every record of every logger (the bot's, discord.py's, aiohttp's, asyncio's) is formatted raw, not
through the bot's redacting formatter, so this proves the secrets never reach a log call at all.
The run covers /imagine to completion, a button press, a gateway reconnect (discord.py resends
the token), AKOOL refusing the key, AKOOL failing and being retried, and unexpected exceptions in a
command and in a button.
"""

from __future__ import annotations

import io
import logging
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import NoReturn

import pytest

from bot.secret import Secret
from bot.server_settings import ServerSettings
from tests.e2e.conftest import World, make_world
from tests.fakes.akool import FakeAkool, FaultKind

# Distinctive values, so a hit can only be a leak (the shared fixtures use "test-token").
BOT_TOKEN = "MTE5ODYyMjQ4.GhX3kQ.distinctive-bot-token-9f2c71d0"
API_KEY = "akool-key-distinctive-7e41b95d03"  # 32 characters, as AKOOL's AES needs
LOGGERS = ("", "discord", "discord.http", "discord.gateway", "discord.client", "asyncio")
AIOHTTP_LOGGERS = ("aiohttp", "aiohttp.client", "aiohttp.server", "aiohttp.access", "aiohttp.web")


class Capture(logging.Handler):
    """Every record, formatted with its traceback and stack, into one text."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.buffer = io.StringIO()
        self.records: list[logging.LogRecord] = []
        self.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)
        self.buffer.write(self.format(record) + "\n")

    @property
    def text(self) -> str:
        return self.buffer.getvalue()


@pytest.fixture
def capture() -> Iterator[Capture]:
    """Root at DEBUG, and the chatty libraries' loggers opened up (``setup_logging`` in another
    test may have raised ``discord.http`` to INFO for the rest of the session)."""
    handler = Capture()
    names = LOGGERS + AIOHTTP_LOGGERS
    saved = {name: logging.getLogger(name).level for name in names}
    for name in names:
        logging.getLogger(name).setLevel(logging.DEBUG)
    logging.disable(logging.NOTSET)
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        yield handler
    finally:
        root.removeHandler(handler)
        for name, level in saved.items():
            logging.getLogger(name).setLevel(level)


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[World]:
    """The usual end-to-end world, with a distinctive bot token and AKOOL key."""
    async with (
        FakeAkool(api_key=API_KEY) as akool,
        make_world(akool, tmp_path, token=BOT_TOKEN) as built,
    ):
        yield built


async def test_no_secret_reaches_any_log_line(world: World, capture: Capture):
    assert world.discord.token == BOT_TOKEN
    assert world.akool.api_key == API_KEY
    async with world.running() as bot:
        # /imagine through to the completion post, then a button press through to its post.
        ix = await world.discord.slash_command(
            world.alice, world.channel, "imagine", {"prompt": "a red fox"}
        )
        grid = await world.wait_for_post(lambda m: world.is_post(m) and bool(m.components))
        await ix.wait_original_edit(lambda m: "Done" in m.content)
        job_id = str(grid.nonce)
        await world.discord.click(world.bob, grid, f"akool:v1:{job_id}:U1")
        await world.wait_for_post(lambda m: "Upscale U1" in m.content)
        (child_id,) = [j for j in world.akool.jobs if j != job_id]
        await world.wait_for_post(world.is_post_of(child_id))

        # The gateway drops; discord.py reconnects and RESUMEs with the token.
        world.discord.disconnect_gateway(4000)

        # AKOOL refuses the API key (1101).
        world.akool.inject(FaultKind.CODE, code=1101)
        refused = await world.discord.slash_command(
            world.alice, world.channel, "imagine", {"prompt": "a blue fox"}
        )
        await refused.wait_original_edit(lambda m: "could not be started" in m.content)

        # AKOOL fails twice and a live lookup (an id the bot never stored) is retried.
        await bot.store.save_server_settings(
            world.guild.id, ServerSettings(lookups_for_everyone=True), now=time.time()
        )
        world.akool.inject(FaultKind.HTTP_500, times=2)
        status = await world.discord.slash_command(
            world.alice, world.channel, "status", {"job_id": "f" * 24}
        )
        await status.wait_followup()

        # Unexpected exceptions: in a command, and in a button press.
        async def broken(*args: object, **kwargs: object) -> NoReturn:
            raise RuntimeError("the database is on fire")

        bot.jobs.press = broken  # type: ignore[method-assign]
        pressed = await world.discord.click(world.bob, grid, f"akool:v1:{job_id}:V2")
        # A press fails before it is acknowledged, so the apology is its private response.
        assert "something went wrong" in (await pressed.wait_response()).content
        bot.store.get_job = broken  # type: ignore[method-assign]
        crashed = await world.discord.slash_command(
            world.alice, world.channel, "status", {"job_id": job_id}
        )
        assert "something went wrong" in (await crashed.wait_followup()).content

    text = capture.text
    leaks = [line for line in text.splitlines() if BOT_TOKEN in line or API_KEY in line]
    assert leaks == [], f"{len(leaks)} log line(s) carry a secret, e.g. {leaks[0][:300]!r}"

    # The capture saw what it claims to: library DEBUG lines, the failures and the tracebacks.
    names = {record.name for record in capture.records}
    assert {"discord.http", "discord.gateway", "bot.akool.client"} <= names
    assert any(r.levelno == logging.DEBUG and r.name == "discord.http" for r in capture.records)
    assert "1101" in text or "Invalid authorization" in text
    assert "retry 1" in text
    assert text.count("RuntimeError: the database is on fire") >= 2  # both tracebacks
    assert "RESUME" in text or "resumed" in text.lower()
    # And a secret in a DEBUG line of aiohttp or discord.py would have been caught.
    for name in ("aiohttp.client", "aiohttp.web", "discord.http", "discord.gateway"):
        logging.getLogger(name).debug("canary %s", Secret(API_KEY).reveal())
        assert capture.text.count(API_KEY) == 1, f"DEBUG records of {name} are not captured"
        capture.buffer = io.StringIO()
