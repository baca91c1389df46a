"""Interactions: many members using the bot at the same moment, through the fake Discord.

50 members issue /imagine at once, then each presses a U or V button on another member's finished
grid at once, then all of them press the same button of one grid at once. For each interaction the
fake Discord records when the bot's first response (the callback) arrived, counted from the moment
it dispatched the interaction; Discord allows 3 seconds. The time until the job id is shown (the
/imagine answer edited, or the press announced in the channel) is measured as well.

The bot runs as in production (``assemble`` via the end-to-end ``World``), against the fake
Discord and fake AKOOL in the same process and event loop, so their work counts against the bot's
figures too: on a real deployment the bot has the process to itself.

Run alone with ``python -m bench.interactions``.
"""

from __future__ import annotations

import asyncio
import logging
import re
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

from bench.common import cli, machine, percentile
from bot.server_settings import ServerSettings
from tests.e2e.conftest import World, make_world
from tests.fakes.akool import GRID_BUTTONS, FakeAkool
from tests.fakes.discord import FakeInteraction, FakeMessage, FakeUser

log = logging.getLogger(__name__)

USERS: Final = 50
# Rounds of (50 commands, 50 presses, 50 presses of one button). There is no warm-up round: a bot
# that has just started must answer in time too.
ROUNDS: Final = {False: 10, True: 1}
# Discord's window for the first response to an interaction.
DISCORD_LIMIT: Final = 3.0
# How long the benchmark waits for anything before calling it lost (far beyond Discord's window).
WAIT: Final = 60.0

_JOB_ID = re.compile(r"job `([0-9a-f]+)`")


@dataclass
class Samples:
    """Seconds from dispatch, per interaction; ``inf`` for one that never got an answer."""

    label: str
    values: list[float] = field(default_factory=list)

    def row(self) -> str:
        done = [v for v in self.values if v != float("inf")]
        within = sum(v <= DISCORD_LIMIT for v in self.values)
        share = within / len(self.values) if self.values else float("nan")
        return (
            f"| {self.label} | {len(self.values)} | {_ms(percentile(done, 50))} "
            f"| {_ms(percentile(done, 99))} | {_ms(max(done, default=float('nan')))} "
            f"| {share:.0%} |"
        )


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:,.0f} ms"


@dataclass
class Results:
    commands: Samples = field(default_factory=lambda: Samples("/imagine: first response"))
    command_ids: Samples = field(default_factory=lambda: Samples("/imagine: job id shown"))
    presses: Samples = field(default_factory=lambda: Samples("U/V press: first response"))
    press_ids: Samples = field(default_factory=lambda: Samples("U/V press: new job announced"))
    contended: Samples = field(
        default_factory=lambda: Samples(f"{USERS} presses of one button: first response")
    )
    seconds: float = 0.0
    # The AKOOL request budget the bot ran with (requests per second), where it has one.
    akool_budget: float | None = None

    @property
    def all(self) -> tuple[Samples, ...]:
        return (self.commands, self.command_ids, self.presses, self.press_ids, self.contended)


async def _first_responses(
    interactions: Sequence[FakeInteraction], samples: Samples, expected: int
) -> None:
    answers = await asyncio.gather(
        *(ix.wait_response(WAIT) for ix in interactions), return_exceptions=True
    )
    for ix, answer in zip(interactions, answers, strict=True):
        if isinstance(answer, BaseException):
            samples.values.append(float("inf"))
            continue
        if answer.type != expected:
            # A refusal (limits, permissions) would make the figures meaningless.
            raise RuntimeError(
                f"{ix.name or ix.custom_id} was answered with type {answer.type}, not "
                f"{expected}: {answer.content!r}"
            )
        samples.values.append(answer.elapsed)


async def _imagine_all(
    world: World, users: Sequence[FakeUser], round_no: int, r: Results
) -> list[str]:
    """Every member runs /imagine at once; return the job ids in member order."""
    interactions = await asyncio.gather(
        *(
            world.discord.slash_command(
                user, world.channel, "imagine", {"prompt": f"a lighthouse, study {round_no}.{n}"}
            )
            for n, user in enumerate(users)
        )
    )
    await _first_responses(interactions, r.commands, expected=5)
    shown = await asyncio.gather(
        *(ix.wait_original_edit(lambda m: "job `" in m.content, WAIT) for ix in interactions)
    )
    job_ids = []
    for ix, message in zip(interactions, shown, strict=True):
        edit = next(e for e in message.edits if "job `" in str(e.changes.get("content", "")))
        assert ix.dispatched_at is not None
        r.command_ids.values.append(edit.time - ix.dispatched_at)
        match = _JOB_ID.search(message.content)
        assert match is not None
        job_ids.append(match[1])
    return job_ids


async def _posts(world: World, job_ids: Sequence[str]) -> list[FakeMessage]:
    """The completion posts of ``job_ids`` (in that order), once all of them are up."""

    def check() -> list[FakeMessage] | None:
        by_nonce = {m.nonce: m for m in world.discord.messages(world.channel) if m.nonce}
        posts = [by_nonce.get(job_id) for job_id in job_ids]
        return None if any(p is None for p in posts) else [p for p in posts if p is not None]

    return await world.discord.feed.wait_for(check, WAIT, f"{len(job_ids)} completion posts")


async def _press_all(
    world: World,
    users: Sequence[FakeUser],
    grid_ids: list[str],
    grids: list[FakeMessage],
    r: Results,
) -> list[str]:
    """Member n presses one button on member n+1's grid, all at once; return the new job ids."""
    count = len(users)
    picks = [(users[n], (n + 1) % count, GRID_BUTTONS[n % len(GRID_BUTTONS)]) for n in range(count)]
    interactions = await asyncio.gather(
        *(
            world.discord.click(user, grids[g], f"akool:v1:{grid_ids[g]}:{button}")
            for user, g, button in picks
        )
    )
    await _first_responses(interactions, r.presses, expected=6)

    def children() -> list[str] | None:
        for ix in interactions:
            if ix.followups:  # only a refusal or an error comes as a follow-up here
                raise RuntimeError(f"a press failed: {ix.followups[0].content!r}")
        found = {
            (job.parent_id, job.button): job.id
            for job in world.akool.jobs.values()
            if job.parent_id is not None
        }
        ids = [found.get((grid_ids[g], button)) for _, g, button in picks]
        return None if any(i is None for i in ids) else [i for i in ids if i is not None]

    child_ids = await world.discord.feed.wait_for(children, WAIT, "the pressed jobs at AKOOL")

    def announcements() -> list[FakeMessage] | None:
        messages = world.discord.messages(world.channel)
        found = []
        for child_id in child_ids:
            hit = next((m for m in messages if child_id in m.content and m.nonce != child_id), None)
            if hit is None:
                return None
            found.append(hit)
        return found

    announced = await world.discord.feed.wait_for(announcements, WAIT, "the press announcements")
    for ix, message in zip(interactions, announced, strict=True):
        assert ix.dispatched_at is not None
        r.press_ids.values.append(message.created_at - ix.dispatched_at)
    return child_ids


async def _press_one_button(
    world: World, users: Sequence[FakeUser], grid_id: str, grid: FakeMessage, r: Results
) -> str:
    """Every member presses the same unused button of one grid at once: one wins. Return the id
    of the job the winner started."""
    used = set(world.akool.jobs[grid_id].used_buttons)
    button = next(b for b in reversed(GRID_BUTTONS) if b not in used)
    interactions = await asyncio.gather(
        *(world.discord.click(user, grid, f"akool:v1:{grid_id}:{button}") for user in users)
    )
    await _first_responses(interactions, r.contended, expected=6)

    def settled() -> str | None:
        # The others learn who won by a private follow-up; the winner's job is announced.
        if sum(bool(ix.followups) for ix in interactions) < len(users) - 1:
            return None
        child = next(
            (
                j.id
                for j in world.akool.jobs.values()
                if (j.parent_id, j.button) == (grid_id, button)
            ),
            None,
        )
        if child is None:
            return None
        announced = any(
            child in m.content and m.nonce != child for m in world.discord.messages(world.channel)
        )
        return child if announced else None

    return await world.discord.feed.wait_for(settled, WAIT, "the outcome of the contended press")


async def measure(*, quick: bool = False) -> Results:
    results = Results()
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="bench-interactions-") as tmp:
        async with FakeAkool() as akool, make_world(akool, Path(tmp)) as world:
            akool.balance = 1e9  # 2 credits a job: the default balance would run out
            users = [
                world.discord.add_user(name=f"artist{n}", guild=world.guild) for n in range(USERS)
            ]
            # Measure past Discord's deadline instead of refusing late answers, so a slow answer
            # shows how slow it was.
            world.discord.interaction_response_deadline = None
            results.akool_budget = getattr(world.settings, "akool_requests_per_second", None)
            async with world.running() as bot:
                # Nobody may be refused: every interaction below must start a job.
                limits = ServerSettings().with_limits(active=20, daily=1000)
                await bot.store.save_server_settings(world.guild.id, limits, now=bot.clock())
                for round_no in range(ROUNDS[quick]):
                    grid_ids = await _imagine_all(world, users, round_no, results)
                    grids = await _posts(world, grid_ids)
                    child_ids = await _press_all(world, users, grid_ids, grids, results)
                    winner = await _press_one_button(world, users, grid_ids[0], grids[0], results)
                    # Let every derived job finish and post before the next round.
                    await _posts(world, [*child_ids, winner])
    results.seconds = time.perf_counter() - started
    return results


def _rounds(quick: bool) -> str:
    rounds = ROUNDS[quick]
    return "1 round" if rounds == 1 else f"{rounds} rounds"


def _budget(results: Results) -> str:
    if results.akool_budget is None:
        return ""
    return f" and an AKOOL request budget of {results.akool_budget:,g} per second"


def section(results: Results, *, quick: bool) -> str:
    lines = [
        f"### Interactions: {USERS} members at once",
        "",
        f"Through the fake Discord, {USERS} members issued /imagine at the same moment, then each "
        "pressed a U or V button on another member's finished grid at the same moment, then all "
        f"pressed one button of one grid ({_rounds(quick)} against the real bot, with the fakes "
        f"in its event loop{_budget(results)}); times run from the fake's dispatch of each "
        "interaction to the bot's first callback, or to the job id appearing.",
        "",
        f"| Interaction | n | p50 | p99 | max | within {DISCORD_LIMIT:g} s |",
        "|---|---:|---:|---:|---:|---:|",
        *(samples.row() for samples in results.all),
        "",
        f"Machine: {machine()}.",
    ]
    return "\n".join(lines) + "\n"


async def run(*, quick: bool = False) -> str:
    """Measure and return the Markdown section."""
    return section(await measure(quick=quick), quick=quick)


if __name__ == "__main__":
    cli("interactions", __doc__, run, quick="one round instead of several")
