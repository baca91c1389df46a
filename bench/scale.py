"""Scale: a store with a long history and many unfinished jobs.

10,000 unfinished jobs over 100,000 finished ones, then 1,000 unfinished over the same history, then
1,000 unfinished over none: CPU time per poll, time per tick, the ``due_jobs`` query alone and
resident memory. The figures should follow the due jobs, never the finished history, because
``due_jobs`` reads the partial index ``jobs_due`` (rows with a due time only).

Each store size is measured in a fresh child process, so its memory figures are its own, and the
fake AKOOL serves from another process, so the CPU time counted is the bot's alone (the store's
aiosqlite thread included). Every unfinished job stays "processing" at the fake, so every tick
polls a full batch and nothing is delivered.

Run alone with ``python -m bench.scale``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import resource
import sqlite3
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Final
from unittest.mock import create_autospec

import aiohttp
import aiosqlite

from bench.common import machine, run_stoppable
from bot.akool import AkoolClient, ImageStatus
from bot.job_loop import JobLoop
from bot.notifier import Notifier
from bot.secret import Secret
from bot.settings import Settings
from bot.store.sqlite import _DUE_JOBS, SqliteJobStore
from tests.fakes.akool import API_KEY, FakeAkool, FakeJob, Timeline

log = logging.getLogger(__name__)

# (unfinished, finished) jobs in the store; the quick run uses smaller stores of the same shape.
FULL_SIZES: Final = ((10_000, 100_000), (1_000, 100_000), (1_000, 0))
QUICK_SIZES: Final = ((2_000, 20_000), (500, 20_000), (500, 0))
# Jobs per tick: the JobLoop's default batch, passed explicitly so the figures say what they mean.
BATCH: Final = 100
# Timed runs of the due_jobs query (median reported) and of an idle tick.
QUERY_RUNS: Final = {False: 300, True: 50}
IDLE_RUNS: Final = {False: 100, True: 20}
# Small stores are swept again (time moved on) until this many full ticks have been measured.
MIN_FULL_TICKS: Final = {False: 60, True: 10}
# Finished jobs are spread over this many members and days, as a busy server's history would be.
MEMBERS: Final = 500
HISTORY_DAYS: Final = 90
GUILD_ID: Final = 900_000_000_000_000_001
CHANNEL_ID: Final = 900_000_000_000_000_002

# Children run ``python -m bench.scale`` from here, so they import this very checkout.
_REPO_ROOT: Final = Path(__file__).resolve().parent.parent

# The store's own statement, so the figures follow any change to it; a table scan for contrast.
_DUE_SQL: Final = _DUE_JOBS
_DUE_SQL_SCAN: Final = _DUE_JOBS.replace("FROM jobs", "FROM jobs NOT INDEXED", 1)

_INSERT: Final = """
INSERT INTO jobs (
    akool_id, kind, requester_id, guild_id, channel_id, prompt, scale, status, status_rank,
    image_url, upscaled_urls, buttons, used_buttons, credits, delivery, status_message_id,
    result_message_id, created_at, updated_at, akool_created_at, finished_at, due_at
) VALUES (?, 'imagine', ?, ?, ?, ?, '1:1', ?, ?, ?, ?, ?, '[]', ?, ?, ?, ?, ?, ?, ?, ?, ?)
"""


def unfinished_id(n: int) -> str:
    """The AKOOL id of the n-th unfinished job: 24 hex digits, like AKOOL's own ids."""
    return f"{n:024x}"


def finished_id(n: int) -> str:
    return f"f{n:023x}"


# ---------------------------------------------------------------------------------- the fixture


def _finished_rows(count: int, now: float) -> Iterator[tuple[Any, ...]]:
    span = HISTORY_DAYS * 86_400.0
    buttons = json.dumps(["U1", "U2", "U3", "U4", "V1", "V2", "V3", "V4"])
    for n in range(count):
        job_id = finished_id(n)
        created = now - span + span * n / max(count, 1)
        url = f"https://d2qf6ukcym4kn9.cloudfront.net/final/{job_id}.png"
        upscaled = json.dumps([url.replace(".png", f"-{c}.png") for c in range(1, 5)])
        yield (
            job_id,
            1_000 + n % MEMBERS,
            GUILD_ID,
            CHANNEL_ID,
            f"a watercolour fox in a snowy birch forest at dusk, variation {n}",
            "completed",
            3,
            url,
            upscaled,
            buttons,
            2,
            "delivered",
            10**17 + 2 * n,
            10**17 + 2 * n + 1,
            created,
            created + 40.0,
            created,
            created + 40.0,
            None,
        )


def _unfinished_rows(count: int, now: float) -> Iterator[tuple[Any, ...]]:
    for n in range(count):
        created = now - 60.0  # well inside the job timeout, so every tick polls AKOOL
        yield (
            unfinished_id(n),
            1_000 + n % MEMBERS,
            GUILD_ID,
            CHANNEL_ID,
            f"a lighthouse in a storm, oil on canvas, take {n}",
            "processing",
            2,
            None,
            "[]",
            "[]",
            None,
            "pending",
            10**18 + n,
            None,
            created,
            created,
            created,
            None,
            now - 30.0 + n * 1e-4,  # all due, the oldest first
        )


async def build_store(path: Path, unfinished: int, finished: int, now: float) -> None:
    """Create the schema as the bot does, then bulk-insert the fixture rows in one transaction."""
    async with await SqliteJobStore.open(path):
        pass
    async with aiosqlite.connect(path, isolation_level=None) as db:
        await db.execute("BEGIN IMMEDIATE")
        await db.executemany(_INSERT, _finished_rows(finished, now))
        await db.executemany(_INSERT, _unfinished_rows(unfinished, now))
        await db.execute("COMMIT")
        await db.execute("PRAGMA wal_checkpoint(TRUNCATE)")


# ---------------------------------------------------------------------------------- measuring


@dataclass(frozen=True)
class Figures:
    unfinished: int
    finished: int
    build_s: float
    query_ms: float  # SqliteJobStore.due_jobs(now, BATCH), Job objects included
    sql_ms: float  # the same SQL alone, through sqlite3
    scan_ms: float  # the same SQL told not to use an index: what the partial index saves
    uses_index: bool
    first_tick_s: float
    tick_wall_ms: float
    tick_cpu_ms: float
    cpu_per_poll_ms: float
    polls_per_s: float
    sweep_s: float
    polls: int
    full_ticks: int
    idle_tick_ms: float
    rss_mib: float
    peak_rss_mib: float


def _rss_mib() -> tuple[float, float]:
    """Resident memory now and at its peak, in MiB (from /proc where there is one)."""
    with contextlib.suppress(OSError):
        fields = dict(
            line.split(":", 1) for line in Path("/proc/self/status").read_text().splitlines()
        )
        now_kib = int(fields["VmRSS"].split()[0])
        peak_kib = int(fields["VmHWM"].split()[0])
        return now_kib / 1024, peak_kib / 1024
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    peak_mib = peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024
    return peak_mib, peak_mib


async def _timed(call: Callable[[], Awaitable[Any]]) -> tuple[Any, float, float]:
    wall, cpu = time.perf_counter(), time.process_time()
    result = await call()
    return result, time.perf_counter() - wall, time.process_time() - cpu


def _sql_median_ms(path: Path, sql: str, now: float, runs: int) -> float:
    db = sqlite3.connect(path)
    try:
        times = []
        for _ in range(runs):
            started = time.perf_counter()
            db.execute(sql, (now, BATCH)).fetchall()
            times.append(time.perf_counter() - started)
        return statistics.median(times) * 1000
    finally:
        db.close()


def _latest_due(path: Path) -> float:
    db = sqlite3.connect(path)
    try:
        (latest,) = db.execute("SELECT MAX(due_at) FROM jobs").fetchone()
        return float(latest)
    finally:
        db.close()


def _uses_due_index(path: Path, now: float) -> bool:
    db = sqlite3.connect(path)
    try:
        plan = db.execute("EXPLAIN QUERY PLAN " + _DUE_SQL, (now, BATCH))
        return any("jobs_due" in str(row[-1]) for row in plan.fetchall())
    finally:
        db.close()


async def probe(
    akool_url: str, db_path: Path, unfinished: int, finished: int, *, quick: bool
) -> Figures:
    """Build one store and measure the loop against it (run in a child process of its own)."""
    now = time.time()
    started = time.perf_counter()
    await build_store(db_path, unfinished, finished, now)
    build_s = time.perf_counter() - started

    runs = QUERY_RUNS[quick]
    sql_ms = _sql_median_ms(db_path, _DUE_SQL, now, runs)
    scan_ms = _sql_median_ms(db_path, _DUE_SQL_SCAN, now, max(5, runs // 20))
    uses_index = _uses_due_index(db_path, now)

    # The production defaults, read from Settings so the figures follow them.
    defaults = Settings(discord_token=Secret("unused"), akool_api_key=Secret(API_KEY))
    async with await SqliteJobStore.open(db_path) as store, aiohttp.ClientSession() as http:
        akool = AkoolClient(http, Secret(API_KEY), akool_url, timeout=defaults.akool_timeout)
        loop = JobLoop(
            store=store,
            akool=akool,
            notifier=create_autospec(Notifier, instance=True),
            poll_interval=defaults.poll_interval,
            job_timeout=defaults.job_timeout,
            concurrency=defaults.poll_concurrency,
            create_grace=defaults.akool_timeout + 1.0,
            batch=BATCH,
            # Time stands still within a sweep: a polled job is due again only after the poll
            # interval, so one sweep polls every unfinished job exactly once.
            clock=lambda: now,
        )

        query_times = []
        for _ in range(runs):
            _, wall, _ = await _timed(lambda: store.due_jobs(now, BATCH))
            query_times.append(wall)

        # The first tick also opens the HTTP connections (and, where the loop learns from
        # history, reads it): reported on its own, left out of the per-tick figures.
        handled, first_tick_s, _ = await _timed(loop.tick)
        polls, walls, cpus = handled, [], []
        sweep_started = time.perf_counter()
        sweep_s = 0.0
        while True:
            handled, wall, cpu = await _timed(loop.tick)
            polls += handled
            if handled == BATCH:
                walls.append(wall)
                cpus.append(cpu)
            if handled:
                continue
            if not sweep_s:
                sweep_s = first_tick_s + time.perf_counter() - sweep_started
                if polls != unfinished:
                    raise RuntimeError(f"polled {polls} jobs, expected each of {unfinished} once")
            if len(walls) >= MIN_FULL_TICKS[quick]:
                break
            # Move time on to when every job is due again, and sweep once more.
            now = _latest_due(db_path)

        idle: list[float] = []
        for _ in range(IDLE_RUNS[quick]):
            handled, wall, _ = await _timed(loop.tick)
            assert handled == 0
            idle.append(wall)

    rss, peak = _rss_mib()
    return Figures(
        unfinished=unfinished,
        finished=finished,
        build_s=build_s,
        query_ms=statistics.median(query_times) * 1000,
        sql_ms=sql_ms,
        scan_ms=scan_ms,
        uses_index=uses_index,
        first_tick_s=first_tick_s,
        tick_wall_ms=statistics.median(walls) * 1000 if walls else float("nan"),
        tick_cpu_ms=statistics.median(cpus) * 1000 if cpus else float("nan"),
        cpu_per_poll_ms=sum(cpus) / (len(cpus) * BATCH) * 1000 if cpus else float("nan"),
        polls_per_s=len(walls) * BATCH / sum(walls) if walls else float("nan"),
        sweep_s=sweep_s,
        polls=polls,
        full_ticks=len(walls),
        idle_tick_ms=statistics.median(idle) * 1000,
        rss_mib=rss,
        peak_rss_mib=peak,
    )


# ---------------------------------------------------------------------------------- processes


async def serve_fake_akool(jobs: int) -> None:
    """Serve a FakeAkool whose first ``jobs`` unfinished ids stay processing; print its port and
    serve until stdin closes (the parent went away) or the process is terminated."""
    fake = FakeAkool()
    await fake.start()
    held = Timeline(hold=True)
    created = fake.clock()
    for n in range(jobs):
        job_id = unfinished_id(n)
        fake.jobs[job_id] = FakeJob(
            id=job_id,
            kind="grid",
            prompt="a lighthouse in a storm",
            scale="1:1",
            created=created,
            create_time_ms=int(time.time() * 1000),
            timeline=held,
            forced=ImageStatus.PROCESSING,
        )
    print(fake.port, flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()

    def wait_for_eof() -> None:
        sys.stdin.read()
        loop.call_soon_threadsafe(stop.set)

    threading.Thread(target=wait_for_eof, daemon=True).start()
    try:
        await stop.wait()
    finally:
        await fake.close()


async def _child(*args: str) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bench.scale",
        *args,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        cwd=_REPO_ROOT,
    )


@contextlib.asynccontextmanager
async def fake_akool_process(jobs: int) -> AsyncIterator[str]:
    process = await _child("--fake-akool", str(jobs))
    try:
        assert process.stdout is not None
        line = await asyncio.wait_for(process.stdout.readline(), 60)
        if not line.strip().isdigit():
            raise RuntimeError("the fake AKOOL process did not start")
        yield f"http://127.0.0.1:{int(line)}"
    finally:
        if process.returncode is None:
            process.terminate()
        await process.wait()


async def probe_in_child(
    akool_url: str, db_path: Path, unfinished: int, finished: int, *, quick: bool
) -> Figures:
    args = ["--probe", akool_url, str(db_path), str(unfinished), str(finished)]
    process = await _child(*args, *(["--quick"] if quick else []))
    out, _ = await process.communicate()
    if process.returncode != 0:
        raise RuntimeError(f"the probe for {unfinished}/{finished} failed ({process.returncode})")
    return Figures(**json.loads(out.decode().strip().splitlines()[-1]))


# ---------------------------------------------------------------------------------- the report


def _section(figures: list[Figures], sizes: tuple[tuple[int, int], ...], *, quick: bool) -> str:
    big_u, big_f = sizes[0]
    lines = [
        f"### Scale: {big_u:,} unfinished jobs over {big_f:,} finished",
        "",
        "Each store was built with the bot's own schema (finished jobs spread over "
        f"{HISTORY_DAYS} days), then a fresh process ran the real JobLoop (batch {BATCH}, "
        "default poll concurrency) against a fake AKOOL in another process that keeps every job "
        "processing: full-tick wall and CPU (`time.process_time` of the bot process, SQLite "
        f"thread included) are medians over at least {MIN_FULL_TICKS[quick]} ticks of {BATCH} "
        "polls, the first sweep polls every unfinished job once, the query times are medians "
        f"of {QUERY_RUNS[quick]} runs, and RSS is VmRSS after the run.",
        "",
        "| Unfinished | Finished | `due_jobs(100)` (its SQL alone) | Same SQL, no index "
        "| Full tick: wall | CPU | CPU per poll | Polls/s | First sweep | First tick | Idle tick "
        "| RSS (peak) |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for f in figures:
        index = "" if f.uses_index else " (index unused!)"
        lines.append(
            f"| {f.unfinished:,} | {f.finished:,} | {f.query_ms:.2f} ms ({f.sql_ms:.2f} ms){index} "
            f"| {f.scan_ms:.1f} ms | {f.tick_wall_ms:.0f} ms | {f.tick_cpu_ms:.0f} ms "
            f"| {f.cpu_per_poll_ms:.2f} ms | {f.polls_per_s:,.0f} | {f.sweep_s:.1f} s "
            f"| {f.first_tick_s * 1000:.0f} ms | {f.idle_tick_ms:.2f} ms "
            f"| {f.rss_mib:.0f} MiB ({f.peak_rss_mib:.0f}) |"
        )
    lines += ["", f"Machine: {machine()}."]
    return "\n".join(lines) + "\n"


async def run(*, quick: bool = False) -> str:
    """Measure every store size and return the Markdown section."""
    sizes = QUICK_SIZES if quick else FULL_SIZES
    most = max(unfinished for unfinished, _ in sizes)
    figures = []
    with tempfile.TemporaryDirectory(prefix="bench-scale-") as tmp:
        async with fake_akool_process(most) as akool_url:
            for n, (unfinished, finished) in enumerate(sizes):
                db_path = Path(tmp) / f"store-{n}.sqlite3"
                figures.append(
                    await probe_in_child(akool_url, db_path, unfinished, finished, quick=quick)
                )
    return _section(figures, sizes, quick=quick)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.scale", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="smaller stores, fewer runs")
    parser.add_argument("--fake-akool", type=int, metavar="JOBS", help=argparse.SUPPRESS)
    parser.add_argument("--probe", nargs=4, metavar="ARG", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    if args.fake_akool is not None:
        asyncio.run(serve_fake_akool(args.fake_akool))
    elif args.probe is not None:
        url, db, unfinished, finished = args.probe
        figures = asyncio.run(
            probe(url, Path(db), int(unfinished), int(finished), quick=args.quick)
        )
        print(json.dumps(asdict(figures)))
    else:
        started = time.perf_counter()
        print(run_stoppable(run(quick=args.quick)))
        print(f"(took {time.perf_counter() - started:.0f} s)", file=sys.stderr)


if __name__ == "__main__":
    main()
