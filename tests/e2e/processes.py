"""The real ``python -m bot`` as a child process, configured only through its environment, and
the traffic the process tests send it.

Nothing here sleeps hoping something happened: commands are answered, grids are posted and
processes are killed when the fakes or the store show it, each wait with a timeout.
"""

from __future__ import annotations

import asyncio
import os
import random
import re
import signal
import sys
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

from tests.fakes.akool import FakeAkool
from tests.fakes.discord import FakeChannel, FakeDiscord, FakeInteraction, FakeMessage, FakeUser
from tests.ports import reserved_port

ROOT = Path(__file__).resolve().parents[2]
# How long a stopped process is left to run between two looks at what it is doing.
_RUN_BETWEEN_LOOKS = 0.01
_JOB_ID = re.compile(r"job `(\w+)`")

T = TypeVar("T")


def free_port() -> int:
    """A port for a child's HTTP server that no other test process is given meanwhile."""
    return reserved_port()


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

    async def kill_when(
        self, seen: Callable[[], Awaitable[T | None]], *, timeout: float, what: str
    ) -> T:
        """SIGKILL the process at the first moment ``seen()`` finds what it looks for.

        Each look is taken with the process frozen (SIGSTOP), and the kill lands before it
        runs again, so what ``seen()`` returned is exactly the state the process died in: a
        claim it held, a create it had in flight. Between looks it runs on for a moment.
        """
        assert self.proc is not None
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            self.proc.send_signal(signal.SIGSTOP)
            try:
                found = await seen()
            except BaseException:
                self.proc.send_signal(signal.SIGCONT)
                raise
            if found is not None:
                await self.kill()  # SIGKILL ends a stopped process too
                return found
            self.proc.send_signal(signal.SIGCONT)
            if loop.time() > deadline:
                raise TimeoutError(f"the process never showed {what} within {timeout:g}s")
            await asyncio.sleep(_RUN_BETWEEN_LOOKS)  # the gap between looks, not a wait

    async def terminate(self) -> int:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGTERM)
        return await asyncio.wait_for(self.proc.wait(), timeout=10)

    async def ensure_stopped(self) -> None:
        if self.proc is not None and self.proc.returncode is None:
            self.proc.send_signal(signal.SIGCONT)
            self.proc.kill()
            await self.proc.wait()


@dataclass
class Press:
    """One U/V button of a posted grid, pressed by two members at once."""

    grid: FakeMessage
    grid_job: str
    button: str
    presses: list[FakeInteraction] = field(default_factory=list)

    @property
    def announcement_text(self) -> str:
        """What the winner's status message says the job is (see ``render.what``)."""
        action = "Upscale" if self.button.startswith("U") else "Variation"
        return f"{action} {self.button} of `{self.grid_job}`"


async def imagine(
    discord: FakeDiscord,
    channel: FakeChannel,
    members: list[FakeUser],
    rng: random.Random,
    label: str,
    *,
    commands: int,
) -> list[FakeInteraction]:
    """``commands`` /imagine from random members, one after another without waiting."""
    return [
        await discord.slash_command(
            rng.choice(members), channel, "imagine", {"prompt": f"{label} fox {n}"}
        )
        for n in range(commands)
    ]


async def answers(commands: list[FakeInteraction], *, timeout: float = 30) -> list[str | None]:
    """Wait until every /imagine is answered; the AKOOL job id each started, or None for a
    refusal (a fair-use limit, privately; or AKOOL's own, in the channel)."""
    started: list[str | None] = []
    for ix in commands:
        if (await ix.wait_response(timeout=timeout)).ephemeral:
            started.append(None)
            continue
        message = await ix.wait_original_edit(
            lambda m: "job `" in m.content or "could not be started" in m.content,
            timeout=timeout,
        )
        started.append(job_answered(message))
    return started


def job_answered(message: FakeMessage | None) -> str | None:
    """The AKOOL job id a status message names, if it names one."""
    found = _JOB_ID.search(message.content) if message is not None else None
    return found.group(1) if found else None


async def press_posted_grids(
    discord: FakeDiscord,
    channel: FakeChannel,
    members: list[FakeUser],
    rng: random.Random,
    grid_jobs: list[str],
    *,
    grids: int,
    timeout: float = 30,
) -> list[Press]:
    """On ``grids`` of these jobs' grids, once each is posted, one U or V button pressed by two
    members at once."""
    pressed = []
    for job_id in rng.sample(grid_jobs, min(grids, len(grid_jobs))):
        grid = await discord.wait_for_message(channel, _post_of(job_id), timeout=timeout)
        # U/V only: the others would start or delete posts outside what the tests count.
        enabled = [
            c
            for c in discord.custom_ids(grid)
            if c.rsplit(":", 1)[-1][:1] in ("U", "V")
            and not discord.button(grid, c).get("disabled", False)
        ]
        assert enabled, f"grid {job_id} was posted without U/V buttons: {grid.components}"
        custom_id = rng.choice(enabled)
        press = Press(grid, job_id, custom_id.rsplit(":", 1)[-1])
        for member in rng.sample(members, 2):
            press.presses.append(await discord.click(member, grid, custom_id))
        pressed.append(press)
    return pressed


def _post_of(job_id: str) -> Callable[[FakeMessage], bool]:
    return lambda message: message.nonce == job_id


def announced(discord: FakeDiscord, channel: FakeChannel, press: Press) -> str | None:
    """The job the press started, as its status message (a reply to the grid) names it."""
    for message in discord.messages(channel):
        if message.referenced is press.grid and press.announcement_text in message.content:
            return job_answered(message)
    return None


async def press_outcome(
    discord: FakeDiscord, channel: FakeChannel, press: Press, *, timeout: float = 30
) -> str | None:
    """Wait until the press is settled: the job it started (its announcement), or None when
    both members were only answered privately (a fair-use limit, or a lost race)."""

    def settled() -> tuple[str | None] | None:
        child = announced(discord, channel, press)
        if child is not None:
            return (child,)
        private = all(
            (ix.response is not None and ix.response.type == 4 and ix.response.ephemeral)
            or ix.followups
            for ix in press.presses
        )
        return (None,) if private else None

    (child,) = await discord.feed.wait_for(
        settled, timeout, f"the outcome of {press.button} on grid {press.grid_job}"
    )
    return child
