"""``akool-bot check`` against the fakes: a server with a channel the bot can work in, a
migrated SQLite store, and the environment an operator would give it.

The check runs as ``main()`` in a thread (it runs its own event loop, as from the command line)
while the fakes go on serving in the test's loop.
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from bot.check import main
from bot.store.sqlite import SqliteJobStore
from tests.fakes.akool import FakeAkool
from tests.fakes.discord import FakeChannel, FakeDiscord, FakeGuild, FakeRole

_SETTINGS_SOURCE = Path(__file__).resolve().parents[2] / "bot" / "settings.py"
# Every variable the settings read, so that none leaks in from the test runner's environment.
VARIABLES = frozenset(re.findall(r'reader\.\w+\(\s*"([A-Z_]+)"', _SETTINGS_SOURCE.read_text()))


@dataclass
class Stage:
    discord: FakeDiscord
    akool: FakeAkool
    guild: FakeGuild
    channel: FakeChannel
    db_path: Path
    env: dict[str, str] = field(default_factory=dict)

    @property
    def bot_role(self) -> FakeRole:
        return next(r for r in self.guild.roles.values() if r.bot_id is not None)

    @property
    def secrets(self) -> list[str]:
        return [self.discord.token, self.akool.api_key, self.akool.client_id]


@dataclass(frozen=True)
class Checked:
    status: int
    out: str

    def lines(self, mark: str) -> list[str]:
        return [line for line in self.out.splitlines() if line.startswith(mark)]

    def line(self, mark: str, *words: str) -> str:
        """The one line with ``mark`` holding every one of ``words``."""
        found = [line for line in self.lines(mark) if all(w in line for w in words)]
        assert len(found) == 1, f"expected one {mark} line with {words} in:\n{self.out}"
        return found[0]

    def fix_after(self, line: str) -> str:
        """The ``Fix:`` line that follows ``line``."""
        lines = self.out.splitlines()
        following = lines[lines.index(line) + 1].strip()
        assert following.startswith("Fix: "), f"no fix after {line!r} in:\n{self.out}"
        return following


@pytest.fixture
async def stage(fake_akool: FakeAkool, tmp_path: Path) -> AsyncIterator[Stage]:
    discord = FakeDiscord(token="check-discord-token")
    discord.bot_public = False  # as the README asks
    guild = discord.add_guild(name="Art Club")
    channel = discord.add_channel(guild, name="images")
    await discord.start()
    db_path = tmp_path / "data" / "bot.sqlite3"
    # As after the bot's first start: every migration applied.
    async with await SqliteJobStore.open(db_path):
        pass
    env = {
        "DISCORD_TOKEN": discord.token,
        "DISCORD_API_BASE_URL": discord.rest_base,
        "AKOOL_API_KEY": fake_akool.api_key,
        "AKOOL_BASE_URL": fake_akool.base_url,
        "DATABASE_URL": f"sqlite:///{db_path}",
        "ALLOWED_GUILD_IDS": str(guild.id),
    }
    try:
        yield Stage(discord, fake_akool, guild, channel, db_path, env)
    finally:
        await discord.close()


@pytest.fixture
def logging_restored() -> Iterator[None]:
    """main() configures logging for the process, as the command does; undo it afterwards."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


CheckRunner = Callable[..., Awaitable[Checked]]


@pytest.fixture
def run_check(
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    logging_restored: None,
) -> CheckRunner:
    async def run(stage: Stage, *argv: str) -> Checked:
        monkeypatch.chdir(tmp_path)  # the only .env is one the test writes
        for name in VARIABLES | set(stage.env):
            monkeypatch.delenv(name, raising=False)
        for name, value in stage.env.items():
            monkeypatch.setenv(name, value)
        status = await asyncio.to_thread(main, ["--timeout", "3", *argv])
        checked = Checked(status, capsys.readouterr().out)
        for secret in stage.secrets:
            assert secret not in checked.out
        return checked

    return run


def without(env: dict[str, str], *names: str) -> dict[str, str]:
    return {k: v for k, v in env.items() if k not in names}


def environ_for_child(stage: Stage) -> dict[str, str]:
    """The environment of ``python -m bot.check`` as a child process: the test runner's, minus
    every setting, plus the stage's."""
    env = {k: v for k, v in os.environ.items() if k not in VARIABLES}
    env.update(stage.env)
    env["PYTHONPATH"] = str(_SETTINGS_SOURCE.parents[1])
    return env
