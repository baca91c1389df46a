"""The real ``python -m bot`` as a child process, configured only through its environment, and
the traffic the process tests send it."""

from __future__ import annotations

import asyncio
import os
import random
import signal
import socket
import sys
from pathlib import Path

from tests.fakes.akool import FakeAkool
from tests.fakes.discord import FakeChannel, FakeDiscord, FakeInteraction, FakeUser

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def bot_env(
    discord: FakeDiscord, akool: FakeAkool, database_url: str, **extra: str
) -> dict[str, str]:
    """The environment of a bot process that talks to the fakes and nothing else."""
    return {
        **{k: v for k, v in os.environ.items() if not k.startswith(("DISCORD_", "AKOOL_"))},
        "DISCORD_TOKEN": discord.token,
        "DISCORD_API_BASE_URL": discord.rest_base,
        "DISCORD_GATEWAY_URL": discord.gateway_url,
        "AKOOL_API_KEY": akool.api_key,
        "AKOOL_BASE_URL": akool.base_url,
        "DATABASE_URL": database_url,
        "IMAGE_HOSTS": "127.0.0.1",
        "HTTP_PORT": str(free_port()),
        "POLL_INTERVAL": "0.1",
        "AKOOL_TIMEOUT": "2",
        "LOG_LEVEL": "INFO",
        "PYTHONPATH": str(ROOT),
        **extra,
    }


class BotProcess:
    """``python -m bot`` as a child process; its output goes to ``log_path``."""

    def __init__(self, env: dict[str, str], log_path: Path) -> None:
        self.env = env
        self.log_path = log_path
        self.proc: asyncio.subprocess.Process | None = None

    async def start(self) -> None:
        log = self.log_path.open("ab")
        self.proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bot", cwd=ROOT, env=self.env, stdout=log, stderr=log
        )
        log.close()

    async def kill(self) -> None:
        assert self.proc is not None
        self.proc.kill()
        await self.proc.wait()

    async def terminate(self) -> int:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGTERM)
        return await asyncio.wait_for(self.proc.wait(), timeout=10)

    async def ensure_stopped(self) -> None:
        if self.proc is not None and self.proc.returncode is None:
            self.proc.kill()
            await self.proc.wait()


async def imagine_and_press(
    discord: FakeDiscord,
    channel: FakeChannel,
    members: list[FakeUser],
    rng: random.Random,
    label: str,
    *,
    commands: int,
    grids: int,
) -> list[FakeInteraction]:
    """``commands`` /imagine from random members, then on up to ``grids`` posted grids one U or V
    button pressed by two members at once; returns the commands."""
    sent = []
    for n in range(commands):
        prompt = f"{label} fox {n}"
        sent.append(
            await discord.slash_command(rng.choice(members), channel, "imagine", {"prompt": prompt})
        )
    posted = [m for m in discord.messages(channel) if m.components and not m.ephemeral]
    for grid in rng.sample(posted, min(len(posted), grids)):
        # U/V only: the others would start or delete posts outside what the tests count.
        enabled = [
            c
            for c in discord.custom_ids(grid)
            if c.rsplit(":", 1)[-1][:1] in ("U", "V")
            and not discord.button(grid, c).get("disabled", False)
        ]
        if enabled:
            custom_id = rng.choice(enabled)
            for member in rng.sample(members, 2):
                await discord.click(member, grid, custom_id)
    return sent
