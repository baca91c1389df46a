"""Several bot processes on one PostgreSQL: three real ``python -m bot`` processes, one Discord
shard each, share the jobs of three servers; one is killed while it holds claimed jobs, and
still every job is posted exactly once and every press starts exactly one AKOOL job.

The test watches the processes through the database: a trigger it installs in the test's own
schema logs every claim and every delivery with the ``application_name`` of the connection that
made it, and each process connects under its own name.
"""

from __future__ import annotations

import asyncio
import random
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import pytest

from tests.e2e.processes import (
    BotProcess,
    Press,
    answers,
    bot_env,
    imagine,
    job_answered,
    press_outcome,
    press_posted_grids,
)
from tests.fakes.akool import FakeAkool, FakeJob, Timeline
from tests.fakes.discord import FakeChannel, FakeDiscord, FakeInteraction, FakeUser
from tests.postgres import postgres_schema

PROCESSES = 3
MEMBERS_PER_SERVER = 12
ROUNDS = 4
COMMANDS_PER_ROUND = 15  # per server
GRIDS_PRESSED = 4  # per server and round
VICTIM = 1  # the shard whose process is killed
KILLED_AFTER_ROUND = 1

# Who claimed and who delivered what; the bot's schema is left as it is.
_WATCH = """
CREATE TABLE watched_claims (
    seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    akool_id TEXT NOT NULL, holder TEXT NOT NULL, claimed_until DOUBLE PRECISION NOT NULL
);
CREATE TABLE watched_deliveries (akool_id TEXT PRIMARY KEY, holder TEXT NOT NULL);
CREATE FUNCTION watch_jobs() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.claimed_until IS NOT NULL
       AND NEW.claimed_until IS DISTINCT FROM OLD.claimed_until THEN
        INSERT INTO watched_claims (akool_id, holder, claimed_until)
        VALUES (NEW.akool_id, current_setting('application_name'), NEW.claimed_until);
    END IF;
    IF NEW.delivery = 'delivered' AND OLD.delivery <> 'delivered' THEN
        INSERT INTO watched_deliveries VALUES (NEW.akool_id, current_setting('application_name'));
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER watch_jobs AFTER UPDATE ON jobs FOR EACH ROW EXECUTE FUNCTION watch_jobs();
"""

# Jobs whose current claim (one not yet cleared) was last taken by this process.
_HELD_BY = """
SELECT j.akool_id FROM jobs AS j
JOIN LATERAL (
    SELECT holder, claimed_until FROM watched_claims AS c
    WHERE c.akool_id = j.akool_id ORDER BY seq DESC LIMIT 1
) AS last ON last.claimed_until = j.claimed_until
WHERE j.claimed_until IS NOT NULL AND last.holder = $1
"""

# Statements of a process that PostgreSQL is still running: not those waiting for the (stopped)
# client to send more, nor those waiting for a lock the same process holds (they cannot go on,
# and when it dies its open transactions are rolled back).
_RUNNING = """
SELECT COUNT(*) FROM pg_stat_activity AS a
WHERE a.application_name = $1 AND a.state = 'active'
  AND a.wait_event_type IS DISTINCT FROM 'Client'
  AND NOT (
    cardinality(pg_blocking_pids(a.pid)) > 0
    AND pg_blocking_pids(a.pid)
        <@ ARRAY(SELECT pid FROM pg_stat_activity WHERE application_name = $1)
  )
"""

# Creates and presses under way in one server: intents that no job names yet.
_IN_FLIGHT = """
SELECT prompt FROM create_intents AS i
WHERE guild_id = $1 AND NOT EXISTS (SELECT 1 FROM jobs WHERE jobs.intent_id = i.id)
"""


@dataclass(frozen=True)
class Kill:
    """What the victim held when it died, as the database showed it at that moment."""

    held: set[str]
    in_flight: list[str]


def _name(shard: int) -> str:
    return f"bot{shard}"


@pytest.mark.slow
async def test_three_processes_one_killed_deliver_everything_exactly_once(tmp_path: Path):
    rng = random.Random(20261124)
    discord = FakeDiscord(token="processes-test-token-0123456789")
    servers: list[tuple[FakeChannel, list[FakeUser]]] = []
    guilds = []
    for shard in range(PROCESSES):
        guild = discord.add_guild(name=f"Server {shard}", shard=(shard, PROCESSES))
        guilds.append(guild)
        channel = discord.add_channel(guild, name="images")
        members = [
            discord.add_user(name=f"s{shard}m{n}", guild=guild) for n in range(MEMBERS_PER_SERVER)
        ]
        servers.append((channel, members))
    await discord.start()
    akool = FakeAkool()
    await akool.start()
    akool.balance = 1e9
    processes: list[BotProcess] = []
    commands: dict[int, list[FakeInteraction]] = {shard: [] for shard in range(PROCESSES)}
    presses: dict[int, list[Press]] = {shard: [] for shard in range(PROCESSES)}
    async with postgres_schema() as database_url:
        watcher = await asyncpg.connect(database_url)
        try:
            for shard in range(PROCESSES):
                env = bot_env(
                    discord,
                    akool,
                    f"{database_url}&application_name={_name(shard)}",
                    SHARD_COUNT=str(PROCESSES),
                    SHARD_IDS=str(shard),
                    CLAIM_HOLD="3",
                    # AKOOL is not what this test is about: the budget is shared, so 5 a second
                    # for all three would make it crawl.
                    AKOOL_REQUESTS_PER_SECOND="300",
                )
                processes.append(BotProcess(env, tmp_path / f"bot{shard}.log"))
                await processes[-1].start()
            # Every process has migrated the schema before its gateway session starts.
            await discord.wait_until_ready(timeout=30, sessions=PROCESSES)
            await watcher.execute(_WATCH)

            alive = list(range(PROCESSES))
            kill: Kill | None = None
            for round_no in range(ROUNDS):
                akool.timeline = Timeline(
                    processing_after=rng.uniform(0.05, 0.3), finished_after=rng.uniform(0.3, 1.2)
                )
                sent = {
                    shard: await imagine(
                        discord,
                        servers[shard][0],
                        servers[shard][1],
                        rng,
                        f"{round_no}.{shard}",
                        commands=COMMANDS_PER_ROUND,
                    )
                    for shard in alive
                }
                for shard in alive:
                    commands[shard] += sent[shard]
                    grid_jobs = [job for job in await answers(sent[shard]) if job is not None]
                    channel, members = servers[shard]
                    presses[shard] += await press_posted_grids(
                        discord, channel, members, rng, grid_jobs, grids=GRIDS_PRESSED
                    )
                if round_no == KILLED_AFTER_ROUND:
                    # Work is under way everywhere: the victim dies holding some of it.
                    kill = await processes[VICTIM].kill_when(
                        lambda: _holding(watcher, guilds[VICTIM].id),
                        timeout=30,
                        what="claimed jobs",
                    )
                    alive.remove(VICTIM)
            assert kill is not None

            children = {
                shard: [await press_outcome(discord, servers[shard][0], p) for p in presses[shard]]
                for shard in alive
            }
            recorded = await _recorded_jobs(watcher)
            for job_id, channel_id in recorded.items():
                channel = next(c for c, _ in servers if c.id == channel_id)
                await discord.wait_for_message(channel, _post_of(job_id), timeout=60)
            exit_codes = [await processes[shard].terminate() for shard in alive]
            deliveries = {
                row["akool_id"]: row["holder"]
                for row in await watcher.fetch("SELECT * FROM watched_deliveries")
            }
        finally:
            await watcher.close()
            for bot in processes:
                await bot.ensure_stopped()
            await discord.close()
            await akool.close()

    logs = "\n".join(p.log_path.read_text(errors="replace")[-1500:] for p in processes)
    posts = Counter(
        m.nonce for c, _ in servers for m in discord.messages(c) if m.nonce in akool.jobs
    )
    # What the members were told was started: every command answered with a job (the victim's
    # too, up to its death) and every press a survivor announced.
    started = {job_answered(ix.original_message) for ixs in commands.values() for ix in ixs}
    started |= {child for shard in alive for child in children[shard]}
    started.discard(None)
    assert len(started) >= ROUNDS * len(alive), started  # at least one job a server and round
    assert started <= set(recorded), (started - set(recorded), logs)
    # Every recorded job, including those the victim had created or was holding, posted once.
    assert {job_id: posts[job_id] for job_id in recorded} == dict.fromkeys(recorded, 1), logs
    assert set(posts) == set(recorded), set(posts) - set(recorded)
    # Jobs AKOOL made that the store never saw can only come from the victim's creates and
    # presses in flight when it died: at most one each.
    orphans = set(akool.jobs) - set(recorded)
    assert Counter(_what(akool.jobs[job_id]) for job_id in orphans) <= Counter(kill.in_flight)
    # No button was ever sent to AKOOL twice, although two members pressed each at once; and a
    # survivor's press that reached AKOOL was announced.
    pressed = Counter(
        (r.body["_id"], r.body["button"]) for r in akool.requests_to("createbybutton")
    )
    assert pressed, logs
    assert set(pressed.values()) == {1}, pressed
    for shard in alive:
        for press, child in zip(presses[shard], children[shard], strict=True):
            assert (child is not None) == ((press.grid_job, press.button) in pressed), press
    # Every job the victim held when it died was delivered by a survivor: one that took it over
    # when the hold ran out, or one already delivering it (a finished job is due at once).
    assert kill.held, "the victim was killed holding nothing"
    survivors = {_name(shard) for shard in alive}
    assert {deliveries.get(job_id) for job_id in kill.held} <= survivors, deliveries
    assert set(deliveries) == set(recorded)
    # Both survivors shared the work to the end.
    assert survivors <= set(deliveries.values()), Counter(deliveries.values())
    assert exit_codes == [0, 0], logs  # the survivors stop cleanly on SIGTERM


async def _holding(watcher: asyncpg.Connection, guild_id: int) -> Kill | None:
    """What the stopped victim holds, if it holds any claimed job.

    A statement it sent just before it was stopped still runs to its end in PostgreSQL; once
    none is running, nothing it did can change any more.
    """
    await _settled(watcher, _name(VICTIM))
    held = {row["akool_id"] for row in await watcher.fetch(_HELD_BY, _name(VICTIM))}
    if not held:
        return None
    in_flight = [row["prompt"] for row in await watcher.fetch(_IN_FLIGHT, guild_id)]
    return Kill(held, in_flight)


async def _settled(watcher: asyncpg.Connection, name: str, timeout: float = 10) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while await watcher.fetchval(_RUNNING, name):
        assert loop.time() < deadline, f"a statement of {name} ran for over {timeout:g}s"
        await asyncio.sleep(0.001)  # between two looks at pg_stat_activity


async def _recorded_jobs(watcher: asyncpg.Connection) -> dict[str, int]:
    """Every job the processes stored: AKOOL id -> channel id."""
    rows = await watcher.fetch("SELECT akool_id, channel_id FROM jobs ORDER BY id")
    return {row["akool_id"]: row["channel_id"] for row in rows}


def _what(job: FakeJob) -> str:
    """A job as its create intent names it: the prompt, or the button pressed on a grid."""
    return f"{job.button} of {job.parent_id}" if job.parent_id else job.prompt


def _post_of(job_id: str):
    return lambda message: message.nonce == job_id
