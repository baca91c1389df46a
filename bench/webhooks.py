"""Webhooks: from a job's completion at AKOOL to its post in Discord, when AKOOL calls back.

The whole bot runs as in production (``assemble`` via the end-to-end ``World``) with its webhook
receiver on, against the fake Discord and a fake AKOOL that calls back, encrypted and signed, when
a job starts processing and when it ends. Members start jobs with /imagine at random moments,
with the same mix of durations as the detection benchmark, compressed in time by ``SCALE``; the
delay from completion to post is real time, not compressed: it is the bot's own work.

Run alone with ``python -m bench.webhooks``.
"""

from __future__ import annotations

import asyncio
import dataclasses
import random
import socket
import tempfile
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from bench.common import cli, machine, percentile
from bench.detection import ARRIVAL_EVERY, BASE_GAP, SCALE, draw_job
from bot.secret import Secret
from bot.server_settings import ServerSettings
from tests.e2e.conftest import make_world
from tests.fakes.akool import FakeAkool, Timeline

JOBS: Final = {False: 400, True: 80}
# The first jobs, started while the bot is still learning that callbacks arrive, are not counted.
WARM_UP: Final = {False: 100, True: 40}
MEMBERS: Final = 40
DEFAULT_BUDGET: Final = 5.0  # AKOOL requests per second
WAIT: Final = 120.0


@dataclass
class Outcome:
    delays: list[float]  # completion at AKOOL to the post in Discord, seconds
    calls: list[int]  # status requests per measured job
    jobs: int
    webhooks: int


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def measure(*, quick: bool = False) -> Outcome:
    rng = random.Random(11)
    count = JOBS[quick]
    with tempfile.TemporaryDirectory(prefix="bench-webhooks-") as tmp:
        async with FakeAkool() as akool, make_world(akool, Path(tmp)) as world:
            akool.balance = 1e9
            akool.progress_webhooks = True
            port = _free_port()
            world.settings = dataclasses.replace(
                world.settings,
                http_port=port,
                webhook_public_url=f"http://127.0.0.1:{port}/akool/webhook",
                akool_client_id=Secret(akool.client_id),
                poll_interval=BASE_GAP / SCALE,
                job_timeout=3600 / SCALE,
                # The default budget, compressed like the time.
                akool_requests_per_second=DEFAULT_BUDGET * SCALE,
            )
            members = [
                world.discord.add_user(name=f"m{n}", guild=world.guild) for n in range(MEMBERS)
            ]
            async with world.running() as bot:
                limits = ServerSettings().with_limits(active=20, daily=1000)
                await bot.store.save_server_settings(world.guild.id, limits, now=bot.clock())
                prompts = []
                for n in range(count):
                    prompt = timed_prompt(akool, rng, n)
                    prompts.append(prompt)
                    await world.discord.slash_command(
                        members[n % len(members)], world.channel, "imagine", {"prompt": prompt}
                    )
                    await asyncio.sleep(rng.expovariate(1 / ARRIVAL_EVERY) / SCALE)

                def all_posted() -> bool | None:
                    ids = {j.id for j in akool.jobs.values() if j.prompt in prompts}
                    posted = {m.nonce for m in world.discord.messages(world.channel)}
                    return True if len(ids) == count and ids <= posted else None

                await world.discord.feed.wait_for(all_posted, WAIT, "every job's post")
    by_prompt = {job.prompt: job for job in akool.jobs.values()}
    jobs = [by_prompt[p] for p in prompts]
    finish = {job.id: job.created + job.timeline.finished_after for job in jobs}
    measured = [job.id for job in jobs[WARM_UP[quick] :]]
    posts = {m.nonce: m.created_at for m in world.discord.messages(world.channel) if m.nonce}
    polls = Counter(r.query.get("image_model_id") for r in akool.requests_to("infobymodelid"))
    return Outcome(
        delays=[posts[j] - finish[j] for j in measured],
        calls=[polls[j] for j in measured],
        jobs=len(measured),
        webhooks=len(akool.webhooks_sent),
    )


def timed_prompt(akool: FakeAkool, rng: random.Random, n: int) -> str:
    """The ``n``-th job's prompt, for which ``akool`` will take a duration drawn from the mix."""
    processing, finished, outcome = draw_job(rng)
    prompt = f"harbour at dusk, study {n}"
    akool.timelines_by_prompt[prompt] = Timeline(
        processing_after=processing / SCALE, finished_after=finished / SCALE, outcome=outcome
    )
    return prompt


def section(result: Outcome, *, quick: bool) -> str:
    mean_calls = sum(result.calls) / len(result.calls)
    return "\n".join(
        [
            "### Webhooks: completion at AKOOL to the post in Discord",
            "",
            f"{JOBS[quick]} jobs started with /imagine by {MEMBERS} members (the whole bot, "
            "fake Discord and fake AKOOL on loopback, in one process), with the detection "
            "benchmark's mix of durations compressed "
            f"{SCALE:g}x; AKOOL called back when each job started processing and when it "
            f"ended ({result.webhooks} callbacks); the default budget of {DEFAULT_BUDGET:g} AKOOL "
            f"requests per second. The first {WARM_UP[quick]} jobs, started while "
            "the bot learns that callbacks arrive, are not counted. Delays are real time.",
            "",
            "| jobs | p50 to post | p95 to post | max to post | AKOOL status calls/job (mean) "
            "| max calls for one job |",
            "|---:|---:|---:|---:|---:|---:|",
            f"| {result.jobs} | {_ms(percentile(result.delays, 50))} "
            f"| {_ms(percentile(result.delays, 95))} | {_ms(max(result.delays))} "
            f"| {mean_calls:.2f} | {max(result.calls)} |",
            "",
            f"Machine: {machine()}.",
        ]
    )


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:,.0f} ms"


async def run(*, quick: bool = False) -> str:
    return section(await measure(quick=quick), quick=quick)


if __name__ == "__main__":
    cli("webhooks", __doc__, run, quick="fewer jobs")
