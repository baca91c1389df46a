"""The real bot from outside: ``python -m bot`` as a child process against the fake Discord and
fake AKOOL (both in this process, on loopback), measured only by what the fakes see.

Members start jobs with /imagine at random moments (one every ``ARRIVAL_EVERY`` seconds on
average), and AKOOL takes a duration drawn from ``draw_job`` for each. From AKOOL's record of
the status requests and Discord's record of the posts, per job: detection (AKOOL finished to the
first status request that saw it), finished-seen to posted, status calls; and with webhooks,
callback to post. Next to the bot, a fixed ``POLL_INTERVAL`` poller is simulated on exactly the
same jobs, once limited to the bot's poll budget and once unlimited. Figures are by stage of
learning: the first 50 jobs, 51-300, and after.

Time can be compressed by ``scale``: every duration, the poll interval, the job timeout and the
request budget are scaled alike (the schedule's own constants are shares of the poll interval),
and detection is reported back in real-world seconds. The bot's own work (seen to posted,
callback to post) is not compressed and is reported as measured; at a high scale it weighs more
against the shortened intervals, so the published figures come from real time (scale 1).

A last run presses the bot with bursts of 200 members at once (/imagine, then a U/V press each)
and reads the bot process's resident memory (VmRSS) after each burst.

Run alone with ``python -m bench.live [--quick] [--scale N]``; ``--only latest`` runs the default
budget alone and lists the jobs it saw latest against the fixed poller with the same budget,
with the bot's gap between looks around each one's finish.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import heapq
import logging
import math
import random
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

from bench.common import machine, percentile, run_stoppable
from bot.akool import ImageStatus
from bot.server_settings import ServerSettings
from bot.store.sqlite import SqliteJobStore
from tests.e2e.processes import BotProcess, bot_env, free_port
from tests.fakes.akool import FakeAkool, FakeJob, Timeline
from tests.fakes.discord import FakeDiscord

BASE_GAP: Final = 3.0  # POLL_INTERVAL, seconds, real world (the default)
DEFAULT_BUDGET: Final = 5.0  # AKOOL_REQUESTS_PER_SECOND, the default
AMPLE_BUDGET: Final = 100.0
ARRIVAL_EVERY: Final = 2.0  # seconds between new jobs on average, real world
STAGES: Final = ((1, 50), (51, 300), (301, None))
JOBS: Final = {False: 500, True: 70}
QUICK_SCALE: Final = 10.0
MEMBERS: Final = 50
BURST: Final = 200
BURSTS: Final = {False: 10, True: 3}
WAIT: Final = 900.0  # real seconds, the longest any run waits for its last post


def draw_job(rng: random.Random) -> tuple[float, float, ImageStatus]:
    """(processing after, finished after, outcome) in real-world seconds: 5 % fail within a
    minute, 83 % finish in 20-90 s (log-normal, median 43 s), 12 % take 90-300 s."""
    roll = rng.random()
    if roll < 0.05:
        finished = rng.uniform(5, 60)
        return min(2.0, finished / 2), finished, ImageStatus.FAILED
    if roll < 0.17:
        finished = rng.uniform(90, 300)
    else:
        finished = min(90.0, max(20.0, rng.lognormvariate(3.75, 0.35)))
    return rng.uniform(1, 10), finished, ImageStatus.COMPLETED


def timed_prompt(akool: FakeAkool, rng: random.Random, n: int, scale: float) -> str:
    """The ``n``-th job's prompt, for which ``akool`` will take a duration drawn from the mix."""
    processing, finished, outcome = draw_job(rng)
    prompt = f"harbour at dusk, study {n}"
    akool.timelines_by_prompt[prompt] = Timeline(
        processing_after=processing / scale, finished_after=finished / scale, outcome=outcome
    )
    return prompt


def fixed_poller(
    jobs: Sequence[tuple[float, float]],
    interval: float,
    per_second: float | None,
    *,
    offset: float = 0.0,
) -> tuple[list[float], list[int]]:
    """A poller asking about every job every ``interval`` after its last answer, from
    ``interval`` (and ``offset``) after its start. With ``per_second`` its requests share that
    budget with the members' creates, which go first (as the bot serves them); polls are served
    in order of due time (``None``: every request at once). ``jobs`` are (created, finished)
    times; returns each job's detection delay and its status calls."""
    due = [(created + interval + offset, n) for n, (created, _) in enumerate(jobs)]
    heapq.heapify(due)
    creates = sorted(created for created, _ in jobs)
    served = 0  # creates that have had their slot
    free = -math.inf
    delays = [0.0] * len(jobs)
    calls = [0] * len(jobs)
    while due:
        at, n = heapq.heappop(due)
        if per_second is not None:
            slot = 1 / per_second
            # Every create waiting by the time this poll could go takes its slot first.
            while served < len(creates) and creates[served] <= max(at, free):
                free = max(creates[served], free) + slot
                served += 1
            at = max(at, free)
            free = at + slot
        calls[n] += 1
        if at >= jobs[n][1]:
            delays[n] = at - jobs[n][1]
        else:
            heapq.heappush(due, (at + interval, n))
    return delays, calls


@dataclass
class JobRecord:
    """One job as the fakes saw it (times on the fakes' clock)."""

    created: float
    finished: float
    failed: bool
    polls: list[float]
    posted: float
    callback: float | None = None

    @property
    def seen(self) -> float:
        """The first status request at or after the finish (the one that saw it)."""
        return next((t for t in self.polls if t >= self.finished), math.nan)


@dataclass
class Run:
    label: str
    budget: float
    scale: float
    webhooks: bool
    jobs: list[JobRecord] = field(default_factory=list)


class Stage:
    """The fakes, a SQLite store and one bot process started against them."""

    def __init__(self, folder: Path, *, budget: float, scale: float, webhooks: bool) -> None:
        self.folder = folder
        self.discord = FakeDiscord(token="bench-live-token-0123456789")  # noqa: S106
        self.guild = self.discord.add_guild(name="Bench")
        self.channel = self.discord.add_channel(self.guild, name="images")
        self.akool = FakeAkool()
        self.budget = budget
        self.scale = scale
        self.webhooks = webhooks
        self.bot: BotProcess | None = None

    async def __aenter__(self) -> Stage:
        await self.discord.start()
        await self.akool.start()
        self.akool.balance = 1e9
        self.akool.progress_webhooks = self.webhooks
        database = self.folder / "bot.sqlite3"
        store = await SqliteJobStore.open(database)
        try:
            limits = ServerSettings().with_limits(active=20, daily=1000)
            await store.save_server_settings(self.guild.id, limits, now=time.time())
        finally:
            await store.close()
        extra = {
            "AKOOL_REQUESTS_PER_SECOND": str(self.budget * self.scale),
            "POLL_INTERVAL": str(BASE_GAP / self.scale),
            "JOB_TIMEOUT": str(3600 / self.scale),
            "LOG_LEVEL": "WARNING",
        }
        if self.webhooks:
            port = free_port()
            extra |= {
                "HTTP_PORT": str(port),
                "AKOOL_CLIENT_ID": self.akool.client_id,
                "WEBHOOK_PUBLIC_URL": f"http://127.0.0.1:{port}/akool/webhook",
            }
        env = bot_env(self.discord, self.akool, f"sqlite:///{database}", **extra)
        self.bot = BotProcess(env, self.folder / "bot.log")
        await self.bot.start()
        await self.discord.wait_until_ready(timeout=60)
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self.bot is not None:
            await self.bot.ensure_stopped()
        await self.discord.close()
        await self.akool.close()

    def rss_mib(self) -> float:
        assert self.bot is not None
        assert self.bot.proc is not None
        status = Path(f"/proc/{self.bot.proc.pid}/status").read_text()
        line = next(row for row in status.splitlines() if row.startswith("VmRSS:"))
        return int(line.split()[1]) / 1024

    def posted(self) -> dict[str, float]:
        return {str(m.nonce): m.created_at for m in self.discord.messages(self.channel) if m.nonce}


async def traffic(
    *, jobs: int, budget: float, scale: float, webhooks: bool, label: str, seed: int = 7
) -> Run:
    """``jobs`` jobs started by members at random moments; every one waited for until posted."""
    rng = random.Random(seed)
    run = Run(label, budget, scale, webhooks)
    with tempfile.TemporaryDirectory(prefix="bench-live-") as folder:
        async with Stage(Path(folder), budget=budget, scale=scale, webhooks=webhooks) as stage:
            akool, discord = stage.akool, stage.discord
            members = [discord.add_user(name=f"m{n}", guild=stage.guild) for n in range(MEMBERS)]
            prompts = []
            for n in range(jobs):
                prompt = timed_prompt(akool, rng, n, scale)
                prompts.append(prompt)
                await discord.slash_command(
                    members[n % MEMBERS], stage.channel, "imagine", {"prompt": prompt}
                )
                await asyncio.sleep(rng.expovariate(1 / ARRIVAL_EVERY) / scale)

            def all_posted() -> bool | None:
                ids = {j.id for j in akool.jobs.values() if j.prompt in prompts}
                return True if len(ids) == jobs and ids <= set(stage.posted()) else None

            await discord.feed.wait_for(all_posted, WAIT, "every job's post")
            posted = stage.posted()
    polls: dict[str, list[float]] = defaultdict(list)
    for request in akool.requests_to("infobymodelid"):
        polls[request.query.get("image_model_id", "")].append(request.at)
    by_prompt: dict[str, FakeJob] = {job.prompt: job for job in akool.jobs.values()}
    for prompt in prompts:
        job = by_prompt[prompt]
        run.jobs.append(
            JobRecord(
                created=job.created,
                finished=job.created + job.timeline.finished_after,
                failed=job.timeline.outcome is ImageStatus.FAILED,
                polls=sorted(polls[job.id]),
                posted=posted[job.id],
                callback=akool.callbacks_at.get(job.id),
            )
        )
    return run


async def bursts(count: int) -> list[float]:
    """RSS of the bot process (MiB) before the first and after each burst of ``BURST`` members
    at once: each runs /imagine, then presses a U/V button of another member's grid."""
    rss = []
    with tempfile.TemporaryDirectory(prefix="bench-live-") as folder:
        async with Stage(Path(folder), budget=AMPLE_BUDGET, scale=1.0, webhooks=False) as stage:
            discord = stage.discord
            # On a loaded machine 200 presses at once can take the bot past Discord's 3 s; the
            # interaction benchmark measures that. Here every press must go through, so that each
            # burst leaves behind what a served burst does.
            discord.interaction_response_deadline = None
            stage.akool.timeline = Timeline(processing_after=0.0, finished_after=0.5)
            rss.append(stage.rss_mib())
            for burst in range(count):
                members = [
                    discord.add_user(name=f"b{burst}m{n}", guild=stage.guild) for n in range(BURST)
                ]
                commands = await asyncio.gather(
                    *(
                        discord.slash_command(
                            m, stage.channel, "imagine", {"prompt": f"burst {burst} {n}"}
                        )
                        for n, m in enumerate(members)
                    )
                )
                for ix in commands:
                    # Each is answered (with its job, or a refusal) or was answered too late.
                    with contextlib.suppress(TimeoutError):
                        if not (await ix.wait_response(timeout=10)).ephemeral:
                            await ix.wait_original_edit(
                                lambda m: "job `" in m.content or "could not" in m.content,
                                timeout=30,
                            )

                def grids(prefix: str = f"burst {burst} ") -> list[str] | None:
                    ids = [
                        j.id
                        for j in stage.akool.jobs.values()
                        if j.prompt.startswith(prefix) and j.kind == "grid"
                    ]
                    posted = stage.posted()
                    return ids if ids and all(i in posted for i in ids) else None

                ids = await discord.feed.wait_for(grids, WAIT, f"burst {burst}'s grids")
                by_id = {str(m.nonce): m for m in discord.messages(stage.channel) if m.nonce}
                presses = []
                for n, member in enumerate(members):
                    grid = by_id[ids[(n + 1) % len(ids)]]
                    button = next(
                        c
                        for c in discord.custom_ids(grid)
                        if c.rsplit(":", 1)[-1] == f"U{n % 4 + 1}"
                    )
                    presses.append(discord.click(member, grid, button, timeout=60))
                for ix in await asyncio.gather(*presses):
                    # Late answers (past Discord's 3 s) are the interaction benchmark's subject;
                    # here only what the burst leaves in memory counts.
                    with contextlib.suppress(TimeoutError):
                        await ix.wait_response(timeout=10)

                def pressed_posted(prefix: str = f"burst {burst} ") -> bool | None:
                    children = [
                        j.id
                        for j in stage.akool.jobs.values()
                        if j.prompt.startswith(prefix) and j.kind != "grid"
                    ]
                    posted = stage.posted()
                    return True if children and all(c in posted for c in children) else None

                await discord.feed.wait_for(pressed_posted, WAIT, f"burst {burst}'s upscales")
                rss.append(stage.rss_mib())
                print(f"burst {burst + 1}: {rss[-1]:.1f} MiB", file=sys.stderr, flush=True)
    return rss


def _stage_jobs(jobs: Sequence[JobRecord], first: int, last: int | None) -> range:
    return range(first - 1, min(len(jobs), last if last is not None else len(jobs)))


def detection_table(runs: Sequence[Run]) -> list[str]:
    rows = [
        "| budget (req/s) | jobs | poller | detection p50 (s) | p95 (s) | max (s) "
        "| status calls/job | p95 / fixed poller's |",
        "|---|---|---|---:|---:|---:|---:|---:|",
    ]
    for run in runs:
        scale = run.scale
        created_finished = [(j.created, j.finished) for j in run.jobs]
        interval = BASE_GAP / scale
        limited = fixed_poller(created_finished, interval, run.budget * scale)
        # The same rule with every look half an interval later: how much the ratio moves with
        # the phase alone.
        shifted = fixed_poller(created_finished, interval, run.budget * scale, offset=interval / 2)
        free = fixed_poller(created_finished, interval, None)
        bot = ([(j.seen - j.finished) for j in run.jobs], [len(j.polls) for j in run.jobs])
        for first, last in STAGES:
            index = _stage_jobs(run.jobs, first, last)
            if not index:
                continue
            name = f"{first}-{last if last is not None else len(run.jobs)}"
            fixed_p95 = percentile([limited[0][i] * scale for i in index], 95)
            for poller, (delays, calls) in (
                ("this bot", bot),
                ("fixed, same budget", limited),
                ("fixed, same budget, half an interval later", shifted),
                ("fixed, no budget", free),
            ):
                shown = [delays[i] * scale for i in index]
                rows.append(
                    f"| {run.budget:g} | {name} | {poller} | {percentile(shown, 50):.2f} "
                    f"| {percentile(shown, 95):.2f} | {max(shown):.2f} "
                    f"| {sum(calls[i] for i in index) / len(index):.2f} "
                    f"| {percentile(shown, 95) / fixed_p95:.2f} |"
                )
    return rows


def guarantees(runs: Sequence[Run]) -> list[str]:
    """How much later than the fixed poller with the same budget any job, and any early
    failure, was seen, in intervals (the unlimited one's look in brackets)."""
    lines = []
    for run in runs:
        interval = BASE_GAP / run.scale
        created_finished = [(j.created, j.finished) for j in run.jobs]
        limited, _ = fixed_poller(created_finished, interval, run.budget * run.scale)
        free, _ = fixed_poller(created_finished, interval, None)

        every = range(len(run.jobs))
        early = [
            i
            for i, j in enumerate(run.jobs)
            if j.failed and j.finished - j.created < 20 / run.scale
        ]
        worst, worst_free = _later(run, every, limited), _later(run, every, free)
        failed, failed_free = _later(run, early, limited), _later(run, early, free)
        # The same fixed poller with its looks half an interval later: how far behind another
        # poller's phase one loses, with the same budget and the same rule.
        shifted, _ = fixed_poller(
            created_finished, interval, run.budget * run.scale, offset=interval / 2
        )
        floor = max((s - f) / interval for s, f in zip(shifted, limited, strict=True))
        lines.append(
            f"At {run.budget:g} requests/s: the latest any job was seen after the fixed "
            f"poller with the same budget would have seen it, **{worst:.2f}** intervals "
            f"({worst_free:.2f} after the unlimited one; the same fixed poller with its looks "
            f"half an interval later: {floor:.2f}); early failures (finished within "
            f"20 s, {len(early)} jobs): at most **{failed:.2f}** intervals ({failed_free:.2f})."
        )
    return lines


def _later(run: Run, index: Sequence[int], looks: list[float]) -> float:
    """The most, in intervals, any of these jobs was seen after a poller with ``looks``
    (detection delays) would have seen it."""
    interval = BASE_GAP / run.scale
    return max(
        ((run.jobs[i].seen - run.jobs[i].finished - looks[i]) / interval for i in index),
        default=0.0,
    )


def latest_table(run: Run, count: int = 15) -> list[str]:
    """The ``count`` jobs ``run`` saw latest after the fixed poller with the same budget would
    have, with the bot's looks around the finish: where a job's lateness came from."""
    interval = BASE_GAP / run.scale
    created_finished = [(j.created, j.finished) for j in run.jobs]
    limited, _ = fixed_poller(created_finished, interval, run.budget * run.scale)
    order = sorted(
        range(len(run.jobs)),
        key=lambda i: run.jobs[i].seen - run.jobs[i].finished - limited[i],
        reverse=True,
    )
    rows = [
        "| job | finished at age (s) | later (intervals) | fixed poller's delay (s) "
        "| this bot's delay (s) | this bot's gap before the finish, after (s) |",
        "|---:|---:|---:|---:|---:|---:|",
    ]
    for i in order[:count]:
        job = run.jobs[i]
        before = max((t for t in job.polls if t < job.finished), default=job.created)
        rows.append(
            f"| {i + 1} | {(job.finished - job.created) * run.scale:.1f} "
            f"| {(job.seen - job.finished - limited[i]) / interval:.2f} "
            f"| {limited[i] * run.scale:.2f} | {(job.seen - job.finished) * run.scale:.2f} "
            f"| {(job.seen - before) * run.scale:.1f} |"
        )
    return rows


async def latest(*, jobs: int, scale: float) -> str:
    """The default budget's run alone: its detection table and the jobs it saw latest."""
    polls = await traffic(
        jobs=jobs, budget=DEFAULT_BUDGET, scale=scale, webhooks=False, label="polls"
    )
    return "\n".join([*detection_table([polls]), "", *latest_table(polls)])


def delivery_table(runs: Sequence[Run]) -> list[str]:
    rows = [
        "| budget (req/s) | webhooks | jobs | seen to posted p50 | p95 | max "
        "| callback to post p95 | max | status calls/job |",
        "|---|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    for run in runs:
        for first, last in STAGES:
            index = _stage_jobs(run.jobs, first, last)
            if not index:
                continue
            jobs = [run.jobs[i] for i in index]
            to_post = [j.posted - j.seen for j in jobs]
            called = [j.posted - j.callback for j in jobs if j.callback is not None]
            callback = f"{_ms(percentile(called, 95))} | {_ms(max(called))}" if called else "- | -"
            rows.append(
                f"| {run.budget:g} | {'on' if run.webhooks else 'off'} "
                f"| {first}-{last if last is not None else len(run.jobs)} "
                f"| {_ms(percentile(to_post, 50))} | {_ms(percentile(to_post, 95))} "
                f"| {_ms(max(to_post))} | {callback} "
                f"| {sum(len(j.polls) for j in jobs) / len(jobs):.2f} |"
            )
    return rows


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:,.0f} ms"


async def run(*, quick: bool = False, scale: float | None = None) -> str:
    scale = scale if scale is not None else (QUICK_SCALE if quick else 1.0)
    jobs = JOBS[quick]
    polled = [
        await traffic(jobs=jobs, budget=budget, scale=scale, webhooks=False, label="polls")
        for budget in (DEFAULT_BUDGET, AMPLE_BUDGET)
    ]
    called = await traffic(
        jobs=jobs, budget=DEFAULT_BUDGET, scale=scale, webhooks=True, label="webhooks"
    )
    rss = await bursts(BURSTS[quick])
    growth = rss[-1] / rss[1] - 1
    return "\n".join(
        [
            "### The real bot from outside: detection, delivery and memory",
            "",
            f"`python -m bot` as a child process against the fake Discord and fake AKOOL on "
            f"loopback; {jobs} jobs started with /imagine by {MEMBERS} members, one every "
            f"{ARRIVAL_EVERY:g} s on average; 83 % finish in 20-90 s (log-normal, median 43 s), "
            "12 % take 90-300 s, 5 % fail within a minute; POLL_INTERVAL 3 s. Time "
            + (
                "real."
                if scale == 1
                else f"compressed {scale:g}x (durations, POLL_INTERVAL, "
                "JOB_TIMEOUT and the budget alike); detection in real-world seconds, the bot's "
                "own work (seen to posted, callback to post) as measured."
            )
            + " Detection: AKOOL finished to the status request that saw it. The fixed "
            "pollers are simulated on the same jobs: one asks about each job every "
            "POLL_INTERVAL, its requests limited to the bot's whole AKOOL budget, which it "
            "shares with the same creates at the same moments (creates first, as the bot "
            "serves them; polls take the rest in order of due time), the other unlimited.",
            "",
            *detection_table(polled),
            "",
            *guarantees(polled),
            "",
            "Finished-seen to posted (the status request that saw a job finished, to its post "
            "in Discord), and with webhooks (AKOOL calls back when a job starts and ends, "
            "the default budget) callback to post:",
            "",
            *delivery_table([*polled, called]),
            "",
            f"Memory: {len(rss) - 1} bursts of {BURST} members at once (each /imagine, then a "
            "U press on another's grid, every result posted), VmRSS of the bot process: "
            f"before {rss[0]:.0f} MiB, after the first burst {rss[1]:.0f} MiB, after the last "
            f"{rss[-1]:.0f} MiB (**{growth:+.1%}** after the first): "
            + ", ".join(f"{value:.0f}" for value in rss[1:])
            + " MiB.",
            "",
            f"Machine: {machine()}.",
        ]
    )


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.live", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="fewer jobs, time compressed 10x")
    parser.add_argument("--scale", type=float, default=None, help="time compression (1: real)")
    parser.add_argument(
        "--only",
        choices=("memory", "latest"),
        default=None,
        help="only the bursts' memory, or only the default budget with the jobs seen latest",
    )
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    # The fake Discord warns of every late answer; a burst's are counted, not listed.
    logging.getLogger("tests.fakes").setLevel(logging.ERROR)
    started = time.perf_counter()
    if args.only == "memory":
        print(run_stoppable(bursts(BURSTS[args.quick])))
    elif args.only == "latest":
        scale = args.scale or (QUICK_SCALE if args.quick else 1.0)
        print(run_stoppable(latest(jobs=JOBS[args.quick], scale=scale)))
    else:
        print(run_stoppable(run(quick=args.quick, scale=args.scale)))
    print(f"(took {time.perf_counter() - started:.0f} s)", file=sys.stderr)


if __name__ == "__main__":
    main()
