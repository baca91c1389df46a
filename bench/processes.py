"""Several processes: delivered jobs per second with one and with three bot processes on one
PostgreSQL, and the AKOOL request rate of all of them together against the shared budget.

Real ``python -m bot`` processes (one shard each when there are three) run against the fake
Discord and fake AKOOL, which live in this process. Once every process is connected, ``JOBS``
finished jobs are written to the shared store at once (spread over three servers, one per
shard); the clock runs until the last one is posted in Discord. With AKOOL's budget set far
above what the processes can use, AKOOL is not the limit. A second run gives three processes a
small budget and counts AKOOL's requests per second, all processes together. A third has members
start jobs with /imagine in all three servers while AKOOL calls back one process only, and counts
AKOOL's status requests per job: every process should learn that callbacks arrive, whichever one
they reach, and poll only as a safety net.

Needs PostgreSQL: ``BENCH_DATABASE_URL`` (default ``postgresql://postgres@127.0.0.1:5432/postgres``);
each run gets a schema of its own, dropped afterwards. Run alone with ``python -m bench.processes``.
"""

from __future__ import annotations

import asyncio
import os
import random
import secrets
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import asyncpg

from bench.common import cli, machine
from bench.live import ARRIVAL_EVERY, BASE_GAP, timed_prompt
from bot.server_settings import ServerSettings
from bot.store import JobKind, NewJob
from bot.store.postgres import WAKE_CHANNEL, PostgresJobStore
from tests.e2e.processes import BotProcess, bot_env, free_port
from tests.fakes.akool import FakeAkool, Timeline
from tests.fakes.discord import FakeDiscord
from tests.postgres import with_schema

SHARDS: Final = 3
JOBS: Final = {False: 900, True: 150}
# The budget for the second run (requests per second, all processes together) and how long
# it runs.
SMALL_BUDGET: Final = 20.0
BUDGET_JOBS: Final = {False: 300, True: 100}
WAIT: Final = 300.0
# The callback run: jobs started, and how many of the first are not counted (the processes are
# still learning that callbacks arrive), and members per server.
CALLBACK_JOBS: Final = {False: 300, True: 120}
CALLBACK_WARM_UP: Final = {False: 100, True: 60}
MEMBERS: Final = 20
# The callback run compresses time so (durations, poll interval, timeout and budget alike).
SCALE: Final = 40.0


@dataclass
class Throughput:
    processes: int
    jobs: int
    seconds: float
    fakes_cpu: float  # cores the fakes (this process) kept busy meanwhile
    bots_cpu: float  # cores the bot processes kept busy, all together
    postgres_cpu: float  # cores the PostgreSQL server kept busy

    @property
    def per_second(self) -> float:
        return self.jobs / self.seconds


@dataclass
class CallbackCalls:
    jobs: int
    calls: list[int]  # status requests per counted job
    callbacks: int


@dataclass
class BudgetCheck:
    budget: float
    requests: int
    seconds: float
    busiest_second: int


class Stage:
    """The fakes, a schema, and bot processes started against them."""

    def __init__(self, url: str, folder: Path) -> None:
        self.url = url
        self.folder = folder
        self.discord = FakeDiscord(token="bench-processes-token-0123456789")  # noqa: S106
        self.guilds = [
            self.discord.add_guild(name=f"Server {shard}", shard=(shard, SHARDS))
            for shard in range(SHARDS)
        ]
        self.channels = [self.discord.add_channel(guild, name="images") for guild in self.guilds]
        self.akool = FakeAkool()
        self.schema = f"bench_{secrets.token_hex(4)}"
        self.bots: list[BotProcess] = []

    async def __aenter__(self) -> Stage:
        await self.discord.start()
        await self.akool.start()
        self.akool.balance = 1e9
        self.akool.timeline = Timeline(processing_after=0.0, finished_after=0.0)
        admin = await asyncpg.connect(self.url)
        await admin.execute(f'CREATE SCHEMA "{self.schema}"')
        await admin.close()
        return self

    async def __aexit__(self, *exc: object) -> None:
        for bot in self.bots:
            await bot.ensure_stopped()
        await self.discord.close()
        await self.akool.close()
        admin = await asyncpg.connect(self.url)
        await admin.execute(f'DROP SCHEMA IF EXISTS "{self.schema}" CASCADE')
        await admin.close()

    @property
    def database_url(self) -> str:
        return with_schema(self.url, self.schema)

    async def start(
        self, processes: int, budget: float, first: dict[str, str] | None = None, **extra: str
    ) -> None:
        """Start ``processes`` bots; ``first`` is more environment for the first one only."""
        for n in range(processes):
            shards = {"SHARD_COUNT": str(SHARDS)}
            if processes > 1:
                shards["SHARD_IDS"] = ",".join(str(s) for s in range(SHARDS) if s % processes == n)
            env = bot_env(
                self.discord,
                self.akool,
                self.database_url,
                AKOOL_REQUESTS_PER_SECOND=str(budget),
                POLL_CONCURRENCY="16",
                LOG_LEVEL="WARNING",
                **shards,
                **extra,
                **((first or {}) if n == 0 else {}),
            )
            bot = BotProcess(env, self.folder / f"bot{len(self.bots)}.log")
            self.bots.append(bot)
            await bot.start()
        await self.discord.wait_until_ready(timeout=60, sessions=SHARDS)

    async def add_finished_jobs(self, count: int) -> list[str]:
        """``count`` jobs AKOOL has finished, in the store but not due for an hour."""
        ids = []
        store = await PostgresJobStore.open(self.database_url)
        try:
            now = time.time()
            later = now + 3600
            for n in range(count):
                job = self.akool.add_job(prompt=f"harbour {n}")
                channel = self.channels[n % SHARDS]
                await store.add_job(
                    NewJob(
                        job.id,
                        JobKind.TRACK,
                        requester_id=1,
                        channel_id=channel.id,
                        guild_id=channel.guild_id,
                    ),
                    now=now,
                    due_at=later,
                )
                ids.append(job.id)
        finally:
            await store.close()
        return ids

    def bots_cpu(self) -> float:
        """CPU seconds the bot processes have used so far."""
        return sum(_cpu_seconds(bot.proc.pid) for bot in self.bots if bot.proc is not None)

    async def make_all_due(self) -> None:
        """Every stored job due now, in one statement, and the processes told so."""
        connection = await asyncpg.connect(self.database_url)
        try:
            await connection.execute("UPDATE jobs SET due_at = $1", time.time())
            await connection.execute("SELECT pg_notify($1, '')", WAKE_CHANNEL)
        finally:
            await connection.close()

    async def wait_posted(self, ids: list[str]) -> None:
        wanted = set(ids)

        def done() -> bool | None:
            posted = {m.nonce for c in self.channels for m in self.discord.messages(c)}
            return True if wanted <= posted else None

        await self.discord.feed.wait_for(done, WAIT, f"{len(ids)} posts")

    def posts(self) -> Counter[str]:
        return Counter(str(m.nonce) for c in self.channels for m in self.discord.messages(c))


def _cpu_seconds(pid: int | str) -> float:
    """User + system CPU seconds of a process, from /proc; 0 if it is gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return 0.0
    fields = stat.rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def postgres_cpu() -> float:
    """CPU seconds used so far by the PostgreSQL server's processes on this machine."""
    total = 0.0
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                name = (entry / "comm").read_text().strip()
            except OSError:
                continue
            if name.startswith("postgres"):
                total += _cpu_seconds(entry.name)
    return total


async def throughput(url: str, processes: int, jobs: int) -> Throughput:
    with tempfile.TemporaryDirectory(prefix="bench-processes-") as folder:
        async with Stage(url, Path(folder)) as stage:
            await stage.start(processes, budget=100_000)
            ids = await stage.add_finished_jobs(jobs)
            started = time.perf_counter()
            cpu, bots_cpu, pg_cpu = time.process_time(), stage.bots_cpu(), postgres_cpu()
            await stage.make_all_due()
            await stage.wait_posted(ids)
            seconds = time.perf_counter() - started
            fakes_cpu = (time.process_time() - cpu) / seconds
            bots_cpu = (stage.bots_cpu() - bots_cpu) / seconds
            pg_cpu = (postgres_cpu() - pg_cpu) / seconds
            posts = stage.posts()
            if any(posts[i] != 1 for i in ids):
                raise RuntimeError("a job was posted twice or not at all")
    return Throughput(processes, jobs, seconds, fakes_cpu, bots_cpu, pg_cpu)


async def budget_check(url: str, jobs: int) -> BudgetCheck:
    with tempfile.TemporaryDirectory(prefix="bench-processes-") as folder:
        async with Stage(url, Path(folder)) as stage:
            await stage.start(SHARDS, budget=SMALL_BUDGET)
            ids = await stage.add_finished_jobs(jobs)
            await stage.make_all_due()
            await stage.wait_posted(ids)
            times = sorted(r.at for r in stage.akool.requests if r.endpoint in ("infobymodelid",))
    first = times[0]
    per_second = Counter(int(t - first) for t in times)
    return BudgetCheck(SMALL_BUDGET, len(times), times[-1] - first, max(per_second.values()))


async def callback_calls(url: str, *, quick: bool) -> CallbackCalls:
    """Jobs started in every server while AKOOL calls back the first process only."""
    rng = random.Random(7)
    count, warm_up = CALLBACK_JOBS[quick], CALLBACK_WARM_UP[quick]
    with tempfile.TemporaryDirectory(prefix="bench-processes-") as folder:
        async with Stage(url, Path(folder)) as stage:
            akool = stage.akool
            akool.progress_webhooks = True
            store = await PostgresJobStore.open(stage.database_url)
            try:
                limits = ServerSettings().with_limits(active=20, daily=1000)
                for guild in stage.guilds:
                    await store.save_server_settings(guild.id, limits, now=time.time())
            finally:
                await store.close()
            port = free_port()
            await stage.start(
                SHARDS,
                budget=5.0 * SCALE,  # the default budget, compressed like the time
                # Only the first process listens where AKOOL calls back.
                first={"HTTP_PORT": str(port)},
                POLL_INTERVAL=str(BASE_GAP / SCALE),
                JOB_TIMEOUT=str(3600 / SCALE),
                AKOOL_CLIENT_ID=akool.client_id,
                WEBHOOK_PUBLIC_URL=f"http://127.0.0.1:{port}/akool/webhook",
            )
            members = [
                [stage.discord.add_user(name=f"s{n}m{m}", guild=guild) for m in range(MEMBERS)]
                for n, guild in enumerate(stage.guilds)
            ]
            prompts = []
            for n in range(count):
                prompt = timed_prompt(akool, rng, n, SCALE)
                prompts.append(prompt)
                server = n % SHARDS
                await stage.discord.slash_command(
                    members[server][n // SHARDS % MEMBERS],
                    stage.channels[server],
                    "imagine",
                    {"prompt": prompt},
                )
                await asyncio.sleep(rng.expovariate(1 / ARRIVAL_EVERY) / SCALE)

            def all_posted() -> bool | None:
                ids = {j.id for j in akool.jobs.values() if j.prompt in prompts}
                posted = {m.nonce for c in stage.channels for m in stage.discord.messages(c)}
                return True if len(ids) == count and ids <= posted else None

            await stage.discord.feed.wait_for(all_posted, WAIT, "every job's post")
            posts = stage.posts()
            if any(posts[job.id] != 1 for job in akool.jobs.values()):
                raise RuntimeError("a job was posted twice")
    by_prompt = {job.prompt: job.id for job in akool.jobs.values()}
    polls = Counter(r.query.get("image_model_id") for r in akool.requests_to("infobymodelid"))
    counted = [by_prompt[p] for p in prompts[warm_up:]]
    return CallbackCalls(len(counted), [polls[j] for j in counted], len(akool.webhooks_sent))


async def run(*, quick: bool = False) -> str:
    url = os.environ.get("BENCH_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
    try:
        await (await asyncpg.connect(url, timeout=5)).close()
    except (OSError, asyncpg.PostgresError) as exc:
        return (
            "### Several processes on one PostgreSQL\n\nNot run: no PostgreSQL at "
            f"BENCH_DATABASE_URL ({type(exc).__name__}).\n"
        )
    jobs = JOBS[quick]
    one = await throughput(url, 1, jobs)
    three = await throughput(url, SHARDS, jobs)
    check = await budget_check(url, BUDGET_JOBS[quick])
    rate = check.requests / check.seconds
    called = await callback_calls(url, quick=quick)
    return "\n".join(
        [
            "### Several processes on one PostgreSQL",
            "",
            f"Real bot processes against the fake Discord (three servers, one per shard) and fake "
            f"AKOOL, both in the benchmark's own process on the same machine; {jobs} finished "
            "jobs in the shared store made due at once, timed until the last is posted (each "
            "exactly once). AKOOL's budget is far above what the processes use.",
            "",
            "| processes | jobs | seconds | delivered jobs/s | cores busy: bots | fakes "
            "| PostgreSQL | all |",
            "|---:|---:|---:|---:|---:|---:|---:|---:|",
            *(
                f"| {r.processes} | {r.jobs} | {r.seconds:.2f} | {r.per_second:.0f} "
                f"| {r.bots_cpu:.2f} | {r.fakes_cpu:.2f} | {r.postgres_cpu:.2f} "
                f"| {r.bots_cpu + r.fakes_cpu + r.postgres_cpu:.2f} |"
                for r in (one, three)
            ),
            "",
            f"Ratio, {SHARDS} processes / 1: **{three.per_second / one.per_second:.2f}**.",
            "",
            f"The shared budget: {SHARDS} processes with AKOOL_REQUESTS_PER_SECOND="
            f"{check.budget:g} delivered {BUDGET_JOBS[quick]} jobs with {check.requests} status "
            f"requests in {check.seconds:.1f} s: **{rate:.1f}** requests/s in all (polls may use "
            f"80 % of the budget, {0.8 * check.budget:g}/s), busiest second "
            f"{check.busiest_second}.",
            "",
            f"Callbacks to one process: members started {CALLBACK_JOBS[quick]} jobs with "
            f"/imagine in the three servers (the live benchmark's mix of durations, "
            f"compressed {SCALE:g}x, with its default budget and poll interval compressed alike), "
            f"and AKOOL called back the first of {SHARDS} processes only ({called.callbacks} "
            f"callbacks). Over the last {called.jobs} jobs, AKOOL status requests per job: mean "
            f"**{sum(called.calls) / len(called.calls):.2f}**, most for one job "
            f"{max(called.calls)}.",
            "",
            f"Machine: {machine()}.",
        ]
    )


if __name__ == "__main__":
    cli("processes", __doc__, run, quick="fewer jobs")
