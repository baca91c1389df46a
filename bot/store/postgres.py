"""The job store on PostgreSQL (asyncpg): for several bot processes sharing one database.

Everything the processes must agree on lives here: due jobs are claimed with ``FOR UPDATE SKIP
LOCKED`` under a hold that runs out if the holder dies; new and woken jobs are announced with
``NOTIFY``; the AKOOL request budget is one row every process draws from; webhook replays and
per-member limits are checked in the database, not in a process's memory.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Sequence
from typing import Any, Final, Self

import asyncpg
from asyncpg.pool import PoolConnectionProxy

from bot.server_settings import ServerSettings
from bot.store import migrations, rows
from bot.store.base import JobStore
from bot.store.models import (
    ButtonPress,
    Caps,
    CreateIntent,
    CreditUsage,
    ImageRole,
    InteractionReply,
    Job,
    JobKind,
    JobStatus,
    KeptImage,
    Limits,
    MemberUsage,
    NewJob,
    PressClaim,
    StatusUpdate,
)
from bot.store.rows import create_cost, job_cost_kind

log = logging.getLogger(__name__)

# The channel on which a process says "a job is due now" to the others.
WAKE_CHANNEL: Final = "akool_jobs_due"
# Serialises migrations when several processes start at once (any fixed number will do).
_MIGRATION_LOCK: Final = 0x616B6F6F6C  # "akool"
_POOL_SIZE: Final = 10
# Sessions in which the server itself refuses any write (akool-bot check only reads).
_READ_ONLY: Final = {"default_transaction_read_only": "on"}
_HAS_SCHEMA_VERSION: Final = "SELECT to_regclass('schema_version')"
_SCHEMA_VERSION: Final = "SELECT MAX(version) FROM schema_version"

_INSERT_JOB: Final = """
INSERT INTO jobs (
    akool_id, kind, requester_id, guild_id, channel_id, prompt, scale, source_image,
    parent_akool_id, button, status, status_rank, credits, created_at, updated_at,
    akool_created_at, due_at, intent_id, api, batch_akool_id, batch_index, create_options
) VALUES (
    $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $14, $15, $16, $17, $18, $19,
    $20, $21
)
ON CONFLICT (akool_id) DO NOTHING
RETURNING *
"""

_BATCH: Final = "SELECT * FROM jobs WHERE batch_akool_id = $1 ORDER BY batch_index, id"

_SELECT_JOB: Final = "SELECT * FROM jobs WHERE akool_id = $1"

# Forward-only, as on SQLite; the batch arrives as one array per column.
_RECORD_STATUSES: Final = """
UPDATE jobs SET
    status = v.status,
    status_rank = v.status_rank,
    image_url = COALESCE(v.image_url, jobs.image_url),
    upscaled_urls = v.upscaled_urls,
    buttons = v.buttons,
    used_buttons = v.used_buttons,
    credits = COALESCE(v.credits, jobs.credits),
    error = COALESCE(v.error, jobs.error),
    finished_at = CASE
        WHEN v.final AND jobs.finished_at IS NULL THEN $12 ELSE jobs.finished_at END,
    due_at = CASE
        WHEN jobs.delivery <> 'pending' THEN NULL
        WHEN jobs.woken THEN $12
        ELSE v.due_at END,
    claimed_until = NULL,
    woken = FALSE,
    attempts = 0,
    last_error = NULL,
    updated_at = $12
FROM unnest(
    $1::text[], $2::text[], $3::int[], $4::text[], $5::text[], $6::text[], $7::text[],
    $8::int[], $9::text[], $10::bool[], $11::float8[]
) AS v (akool_id, status, status_rank, image_url, upscaled_urls, buttons, used_buttons, credits,
        error, final, due_at)
WHERE jobs.akool_id = v.akool_id
  AND (jobs.status_rank < v.status_rank OR jobs.status = v.status)
RETURNING jobs.*
"""

_RECORD_FAILURE: Final = """
UPDATE jobs SET
    attempts = attempts + 1,
    last_error = $2,
    due_at = CASE
        WHEN delivery <> 'pending' THEN NULL WHEN woken THEN $3::float8 ELSE $4::float8 END,
    claimed_until = NULL,
    woken = FALSE,
    updated_at = $3
WHERE akool_id = $1
RETURNING *
"""

# A held job stays held (its holder will look again at once, see ``woken``).
_MAKE_DUE: Final = """
UPDATE jobs SET
    due_at = CASE
        WHEN claimed_until > $2 THEN due_at ELSE LEAST(COALESCE(due_at, $2), $2) END,
    woken = TRUE,
    announced = TRUE,
    updated_at = $2
WHERE akool_id = $1 AND delivery = 'pending'
RETURNING *
"""

_DUE_JOBS: Final = """
SELECT * FROM jobs WHERE due_at IS NOT NULL AND due_at <= $1 ORDER BY due_at LIMIT $2
"""

# Another process's held rows are skipped, not waited for; the hold moves the due time past
# its end, so a dead holder's jobs come due again by themselves.
_CLAIM_DUE: Final = """
UPDATE jobs SET claimed_until = $3, due_at = $3, woken = FALSE
WHERE id IN (
    SELECT id FROM jobs
    WHERE due_at IS NOT NULL AND due_at <= $1
    ORDER BY due_at
    LIMIT $2
    FOR UPDATE SKIP LOCKED
)
RETURNING *
"""

_CLAIM_ONE: Final = """
UPDATE jobs SET claimed_until = $3, due_at = $3, woken = FALSE
WHERE id = (
    SELECT id FROM jobs
    WHERE akool_id = $1 AND due_at IS NOT NULL AND due_at <= $2
    FOR UPDATE SKIP LOCKED
)
RETURNING *
"""

_RECENT_DURATIONS: Final = """
SELECT finished_at - created_at FROM jobs
WHERE finished_at IS NOT NULL AND kind <> 'track'
ORDER BY finished_at DESC
LIMIT $1
"""

_RUNNING_AGES: Final = """
SELECT $1::double precision - created_at FROM jobs
WHERE status_rank < 3 AND kind <> 'track'
ORDER BY created_at DESC
LIMIT $2
"""

_NEXT_DUE: Final = "SELECT MIN(due_at) FROM jobs WHERE due_at IS NOT NULL"

_SET_STATUS_MESSAGE: Final = """
UPDATE jobs SET status_message_id = $1, updated_at = $2 WHERE akool_id = $3
"""

_MARK_DELIVERED: Final = """
UPDATE jobs SET delivery = 'delivered', result_message_id = $1, due_at = NULL,
    claimed_until = NULL, updated_at = $2
WHERE akool_id = $3 AND delivery = 'pending'
"""

# A finished batch image waits for its siblings out of the due index: nothing polls or posts it.
_WAIT_FOR_BATCH: Final = """
UPDATE jobs SET due_at = NULL, claimed_until = NULL, woken = FALSE, updated_at = $1
WHERE akool_id = $2 AND delivery = 'pending' AND status_rank = 3
"""

_MARK_BATCH_DELIVERED: Final = """
UPDATE jobs SET delivery = 'delivered', result_message_id = $1, due_at = NULL,
    claimed_until = NULL, updated_at = $2
WHERE batch_akool_id = $3 AND delivery = 'pending'
"""

_MARK_BATCH_UNDELIVERABLE: Final = """
UPDATE jobs SET delivery = 'undeliverable', last_error = $1, due_at = NULL,
    claimed_until = NULL, updated_at = $2
WHERE batch_akool_id = $3 AND delivery = 'pending'
"""

_MARK_UNDELIVERABLE: Final = """
UPDATE jobs SET delivery = 'undeliverable', last_error = $1, due_at = NULL,
    claimed_until = NULL, updated_at = $2
WHERE akool_id = $3 AND delivery = 'pending'
"""

_RECENT_JOBS: Final = """
SELECT * FROM jobs
WHERE guild_id IS NOT DISTINCT FROM $1 AND requester_id = $2 AND akool_id LIKE $3 ESCAPE '\\'
  AND (batch_akool_id IS NULL OR batch_akool_id = akool_id)
ORDER BY created_at DESC, id DESC
LIMIT $4 OFFSET $5
"""

_CHILDREN: Final = "SELECT * FROM jobs WHERE parent_akool_id = $1 ORDER BY created_at, id"

_ADD_INTENT: Final = """
INSERT INTO create_intents (
    requester_id, guild_id, channel_id, prompt, started_at, application_id, interaction_token,
    reply_by, akool_called_at, parent_akool_id, button, pressed_at, images
)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)
RETURNING id
"""

# A v4 batch is one job to the member: its images count once, as their batch.
_COUNTED_JOBS: Final = """
SELECT COUNT(DISTINCT COALESCE(batch_akool_id, akool_id)) FROM jobs
WHERE guild_id IS NOT DISTINCT FROM $2 AND requester_id = $1 AND kind <> 'track'
"""
_LIVE_INTENTS: Final = """
SELECT COUNT(*) FROM create_intents AS i
WHERE i.guild_id IS NOT DISTINCT FROM $2 AND i.requester_id = $1
  AND NOT EXISTS (SELECT 1 FROM jobs WHERE jobs.intent_id = i.id)
"""

# Two processes at once could both count before either writes (READ COMMITTED), so
# transaction-scoped advisory locks serialise the check and the write: one per member for the
# limits, one for the whole account when it has a cap, one per server when servers have one.
# Every transaction takes them in that order (see _lock_keys), so none waits for another that
# waits for it.
_LOCK: Final = "SELECT pg_advisory_xact_lock(hashtextextended($1, 0))"


def _median_cost(kind: str, recent: str) -> str:
    """The median (the upper one of an even count) of the credits AKOOL reported for the last
    ``recent`` jobs of ``kind``; NULL when none reported any."""
    return f"""(SELECT r.credits FROM (
        SELECT s.credits, ROW_NUMBER() OVER (ORDER BY s.credits) AS n, COUNT(*) OVER () AS c
        FROM (SELECT credits FROM jobs
              WHERE credits IS NOT NULL AND kind <> 'track' AND {job_cost_kind("")} = '{kind}'
              ORDER BY created_at DESC LIMIT {recent}::int) AS s
    ) AS r WHERE r.n = r.c / 2 + 1)"""  # noqa: S608 - constant fragments only


def _caps_with(
    *, button: str, images: str, window: str, default_cost: str, image_cost: str, recent: str
) -> str:
    """As on SQLite: what counts against the credit caps in the window from ``window``, row by
    row with its server, and the expected cost of a create from ``button``, or of a v4 order
    of ``images`` images (parameters named by the statement using it)."""
    cost = f"{default_cost}::int"
    return f"""
WITH costs (k, cost) AS (
    SELECT 'grid', COALESCE({_median_cost("grid", recent)}, {cost})
    UNION ALL SELECT 'upscale', COALESCE({_median_cost("upscale", recent)}, {cost})
    UNION ALL SELECT 'variation', COALESCE({_median_cost("variation", recent)}, {cost})
    UNION ALL SELECT 'image', COALESCE({_median_cost("image", recent)}, {image_cost}::int)
),
counted (guild_id, spent, reserved) AS (
    SELECT j.guild_id, COALESCE(j.credits, 0),
        CASE WHEN j.credits IS NULL AND j.status_rank < 3
             THEN (SELECT cost FROM costs WHERE k = {job_cost_kind("j")}) ELSE 0 END
    FROM jobs AS j WHERE j.kind <> 'track' AND j.created_at >= {window}::float8
    UNION ALL
    SELECT i.guild_id, 0, {create_cost("costs", "i.button", "i.images")}
    FROM create_intents AS i
    WHERE NOT EXISTS (SELECT 1 FROM jobs WHERE jobs.intent_id = i.id)
),
this (cost) AS (SELECT {create_cost("costs", f"{button}::text", f"{images}::int")})
"""  # noqa: S608


# A NULL bound is no bound. $14 is the create's button; $16-$21 the caps (see _cap_values);
# $22 the images of a v4 order.
_ADD_INTENT_CAPS: Final = _caps_with(
    button="$14", images="$22", window="$18", default_cost="$19", image_cost="$21", recent="$20"
)
_ADD_INTENT_CHECKED: Final = f"""
{_ADD_INTENT_CAPS}
INSERT INTO create_intents (
    requester_id, guild_id, channel_id, prompt, started_at, application_id, interaction_token,
    reply_by, akool_called_at, parent_akool_id, button, pressed_at, images
)
SELECT $1, $2, $3, $4, $5, $9, $10, $11, $12, $13, $14, $15, $22::int
WHERE ($6::bigint IS NULL
       OR ({_COUNTED_JOBS} AND status_rank < 3) + ({_LIVE_INTENTS}) < $6::bigint)
  AND ($8::bigint IS NULL
       OR ({_COUNTED_JOBS} AND created_at >= $7::float8) + ({_LIVE_INTENTS}) < $8::bigint)
  AND ($16::bigint IS NULL
       OR (SELECT COALESCE(SUM(spent + reserved), 0) FROM counted)
          + (SELECT cost FROM this) <= $16::bigint)
  AND ($17::bigint IS NULL
       OR (SELECT COALESCE(SUM(spent + reserved), 0) FROM counted WHERE guild_id = $2)
          + (SELECT cost FROM this) <= $17::bigint)
RETURNING id
"""  # noqa: S608

# $1 the server, $2 the button; $3-$6 window, default cost, sample and an image's default cost
# (see _cap_values); $7 the images of a v4 order.
_CREDIT_USAGE_CAPS: Final = _caps_with(
    button="$2", images="$7", window="$3", default_cost="$4", image_cost="$6", recent="$5"
)
_CREDIT_USAGE: Final = f"""
{_CREDIT_USAGE_CAPS}
SELECT
    (SELECT COALESCE(SUM(spent), 0) FROM counted) AS account_spent,
    (SELECT COALESCE(SUM(reserved), 0) FROM counted) AS account_reserved,
    (SELECT COALESCE(SUM(spent), 0) FROM counted WHERE guild_id = $1::bigint) AS server_spent,
    (SELECT COALESCE(SUM(reserved), 0) FROM counted WHERE guild_id = $1::bigint)
        AS server_reserved,
    (SELECT cost FROM this) AS cost
"""  # noqa: S608

_REPORTED_CREDITS: Final = """
SELECT created_at, credits FROM jobs
WHERE kind <> 'track' AND credits IS NOT NULL AND created_at >= $2
  AND ($1::bigint IS NULL OR guild_id = $1::bigint)
ORDER BY created_at, id
"""

_MEMBER_USAGE: Final = f"""
SELECT
    ({_COUNTED_JOBS} AND status_rank < 3) + ({_LIVE_INTENTS}) AS active,
    ({_COUNTED_JOBS} AND created_at >= $3) + ({_LIVE_INTENTS}) AS daily,
    (SELECT MIN(created_at) FROM jobs
     WHERE guild_id IS NOT DISTINCT FROM $2 AND requester_id = $1 AND kind <> 'track'
       AND created_at >= $3) AS oldest
"""  # noqa: S608

# A v4 batch is one place in line, however many of its images are unfinished.
_QUEUE_POSITION: Final = """
SELECT COUNT(DISTINCT COALESCE(batch_akool_id, akool_id)) FROM jobs
WHERE status_rank < 3
  AND created_at <= (SELECT created_at FROM jobs WHERE akool_id = $1 AND status_rank < 3)
"""

_UNFINISHED_JOBS: Final = """
SELECT kind, status, COUNT(*) FROM jobs WHERE delivery = 'pending' GROUP BY kind, status
"""

# A v4 batch is one job to the member: its lead stands for it.
_COUNT_JOBS: Final = """
SELECT COUNT(*) FROM jobs WHERE guild_id IS NOT DISTINCT FROM $1 AND requester_id = $2
  AND (batch_akool_id IS NULL OR batch_akool_id = akool_id)
"""

_CREDITS_SPENT: Final = """
SELECT requester_id, SUM(credits) AS spent FROM jobs
WHERE guild_id = $1 AND credits IS NOT NULL AND created_at >= $2
GROUP BY requester_id
ORDER BY spent DESC, requester_id
"""

_SERVER_SETTINGS: Final = "SELECT settings FROM guild_settings WHERE guild_id = $1"
_SAVE_SERVER_SETTINGS: Final = """
INSERT INTO guild_settings (guild_id, settings, updated_at) VALUES ($1, $2, $3)
ON CONFLICT (guild_id) DO UPDATE SET settings = excluded.settings, updated_at = excluded.updated_at
"""
_KEEP_IMAGE: Final = """
INSERT INTO kept_images (akool_id, role, channel_id, message_id, attachment_id, filename, kept_at)
VALUES ($1, $2, $3, $4, $5, $6, $7)
ON CONFLICT (akool_id, role) DO UPDATE SET
    channel_id = excluded.channel_id, message_id = excluded.message_id,
    attachment_id = excluded.attachment_id, filename = excluded.filename,
    kept_at = excluded.kept_at
"""
_KEPT_IMAGE: Final = """
SELECT channel_id, message_id, attachment_id, filename FROM kept_images
WHERE akool_id = $1 AND role = $2
"""

_V3_CREATE_GONE: Final = "v3_create_gone"
_NOTE_FACT: Final = """
INSERT INTO akool_facts (name, noted_at) VALUES ($1, $2)
ON CONFLICT (name) DO NOTHING
RETURNING name
"""
_FACT: Final = "SELECT 1 FROM akool_facts WHERE name = $1"

_DM_NOTIFY: Final = "SELECT dm_notify FROM member_preferences WHERE user_id = $1"
_SET_DM_NOTIFY: Final = """
INSERT INTO member_preferences (user_id, dm_notify, updated_at) VALUES ($1, $2, $3)
ON CONFLICT (user_id) DO UPDATE SET dm_notify = excluded.dm_notify, updated_at = excluded.updated_at
"""

_DROP_INTENT: Final = "DELETE FROM create_intents WHERE id = $1"

# An intent taken up for answering its loss is never asked of AKOOL.
_MARK_AKOOL_CALL: Final = """
UPDATE create_intents SET akool_called_at = $1
WHERE id = $2 AND answering_until IS NULL
RETURNING id
"""

# An intent's age counts from the AKOOL call once there is one: the call is what may take long.
# A press asked of AKOOL has a grace of its own (see claim_lost_intents).
_AGE_FROM: Final = "COALESCE(i.akool_called_at, i.started_at)"
_PRESS_ASKED: Final = "i.button IS NOT NULL AND i.akool_called_at IS NOT NULL"

_NEXT_LOST_INTENT: Final = f"""
SELECT MIN(GREATEST(
    {_AGE_FROM} + CASE WHEN {_PRESS_ASKED} THEN $2::DOUBLE PRECISION ELSE $1 END,
    i.answering_until
))
FROM create_intents AS i
"""  # noqa: S608

# Taken up by one process. SKIP LOCKED leaves the rows another process is taking to it, and the
# outer condition is checked again on the row as that process left it (READ COMMITTED).
_CLAIM_LOST_INTENTS: Final = f"""
UPDATE create_intents SET answering_until = $4
WHERE id IN (
    SELECT i.id FROM create_intents AS i
    LEFT JOIN jobs AS j ON j.intent_id = i.id
    WHERE {_AGE_FROM} < CASE WHEN {_PRESS_ASKED} THEN $2::DOUBLE PRECISION ELSE $1 END
      AND j.status_message_id IS NULL
      AND (i.answering_until IS NULL OR i.answering_until <= $3)
    FOR UPDATE OF i SKIP LOCKED
)
  AND (answering_until IS NULL OR answering_until <= $3)
RETURNING *, (
    SELECT jobs.akool_id FROM jobs WHERE jobs.intent_id = create_intents.id LIMIT 1
) AS akool_id
"""  # noqa: S608

_RETRY_INTENT_ANSWER: Final = "UPDATE create_intents SET answering_until = $1 WHERE id = $2"

# Unanswered: no job, or a job without its status message (the answer to the command).
_LOST_INTENTS: Final = """
SELECT i.*, j.akool_id AS akool_id FROM create_intents AS i
LEFT JOIN jobs AS j ON j.intent_id = i.id
WHERE COALESCE(i.akool_called_at, i.started_at) < $1 AND j.status_message_id IS NULL
ORDER BY i.started_at, i.id
"""

# Answered, and only the process died before dropping the intent.
_ANSWERED_INTENTS: Final = """
DELETE FROM create_intents
WHERE COALESCE(akool_called_at, started_at) < $1
  AND EXISTS (
    SELECT 1 FROM jobs
    WHERE jobs.intent_id = create_intents.id AND jobs.status_message_id IS NOT NULL
  )
"""

_CLAIM_PRESS: Final = """
INSERT INTO button_presses (parent_akool_id, button, presser_id, pressed_at)
VALUES ($1, $2, $3, $4)
ON CONFLICT (parent_akool_id, button) DO NOTHING
RETURNING *
"""

_SELECT_PRESS: Final = """
SELECT * FROM button_presses WHERE parent_akool_id = $1 AND button = $2
"""

_SET_PRESS_CHILD: Final = """
UPDATE button_presses SET child_akool_id = $1 WHERE parent_akool_id = $2 AND button = $3
"""

_RELEASE_PRESS: Final = """
DELETE FROM button_presses
WHERE parent_akool_id = $1 AND button = $2 AND child_akool_id IS NULL
  AND ($3::DOUBLE PRECISION IS NULL OR pressed_at = $3)
"""

_RELEASE_CLAIM: Final = """
UPDATE jobs SET
    due_at = CASE
        WHEN delivery <> 'pending' THEN NULL WHEN woken THEN $2::float8 ELSE $3::float8 END,
    claimed_until = NULL,
    woken = FALSE
WHERE akool_id = $1 AND claimed_until IS NOT NULL
"""

_FORGET_CALLBACKS: Final = "DELETE FROM webhook_callbacks WHERE seen_at < $1"
_NOTE_CALLBACK: Final = """
INSERT INTO webhook_callbacks (signature, seen_at) VALUES ($1, $2)
ON CONFLICT (signature) DO NOTHING
RETURNING signature
"""

# GCRA on the database's own clock, so processes on several machines agree: each request
# reserves the next slot; the answer is how long the caller must wait for it.
_RESERVE: Final = """
WITH clock AS (SELECT extract(epoch FROM clock_timestamp())::float8 AS now)
INSERT INTO request_budgets AS b (name, tat)
SELECT $1, clock.now + $2 FROM clock
ON CONFLICT (name) DO UPDATE
    SET tat = GREATEST(b.tat, (SELECT now FROM clock)) + $2
RETURNING GREATEST(0, b.tat - $2 - $3 - (SELECT now FROM clock))
"""


class PostgresJobStore(JobStore):
    """:class:`JobStore` on an asyncpg pool, safe for any number of bot processes at once."""

    def __init__(self, pool: asyncpg.Pool, dsn: str) -> None:
        self._pool = pool
        self._dsn = dsn
        self._listener: asyncpg.Connection | None = None

    @classmethod
    async def open(cls, dsn: str, *, read_only: bool = False) -> Self:
        """Connect and migrate to the newest schema (one process at a time does it).

        ``read_only``: connect as it is, for ``akool-bot check``; nothing is migrated, and the
        server refuses any write in these connections.
        """
        if read_only:
            pool = await asyncpg.create_pool(
                dsn, min_size=1, max_size=1, server_settings=_READ_ONLY
            )
            return cls(pool, dsn)
        pool = await asyncpg.create_pool(dsn, min_size=1, max_size=_POOL_SIZE)
        try:
            async with pool.acquire() as connection:
                await _migrate(connection)
        except BaseException:
            await pool.close()
            raise
        return cls(pool, dsn)

    async def close(self) -> None:
        if self._listener is not None:
            with contextlib.suppress(asyncpg.PostgresError, OSError):
                await self._listener.close()
            self._listener = None
        await self._pool.close()

    async def ping(self) -> bool:
        try:
            return bool(await self._pool.fetchval("SELECT 1") == 1)
        except (asyncpg.PostgresError, asyncpg.InterfaceError, OSError):
            return False

    async def subscribe(self, wake: Callable[[], None]) -> None:
        if self._listener is None:
            # A connection of its own: LISTEN holds it for the life of the process.
            listener = await asyncpg.connect(self._dsn)

            def on_notify(*_: object) -> None:
                wake()

            await listener.add_listener(WAKE_CHANNEL, on_notify)
            self._listener = listener

    async def _announce(self, connection: Any) -> None:
        await connection.execute("SELECT pg_notify($1, '')", WAKE_CHANNEL)

    async def add_job(self, job: NewJob, *, now: float, due_at: float | None) -> tuple[Job, bool]:
        row = await self._pool.fetchrow(_INSERT_JOB, *_job_values(job, now=now, due_at=due_at))
        if row is not None:
            await self._announce(self._pool)
            return rows.job(row), True
        existing = await self.get_job(job.akool_id)
        if existing is None:  # pragma: no cover - a unique conflict means the row exists
            raise RuntimeError(f"job {job.akool_id} conflicted but cannot be read")
        return existing, False

    async def add_batch(
        self, jobs: Sequence[NewJob], *, now: float, due_at: float | None
    ) -> list[tuple[Job, bool]]:
        added: list[tuple[Job, bool]] = []
        async with self._pool.acquire() as connection, connection.transaction():
            for job in jobs:
                values = _job_values(job, now=now, due_at=due_at)
                row = await connection.fetchrow(_INSERT_JOB, *values)
                if row is None:
                    row = await connection.fetchrow(_SELECT_JOB, job.akool_id)
                    if row is None:  # pragma: no cover - a unique conflict means the row exists
                        raise RuntimeError(f"job {job.akool_id} conflicted but cannot be read")
                    added.append((rows.job(row), False))
                else:
                    added.append((rows.job(row), True))
            if any(new for _, new in added):
                # Sent when the transaction commits.
                await self._announce(connection)
        return added

    async def batch(self, lead_akool_id: str) -> list[Job]:
        return [rows.job(row) for row in await self._pool.fetch(_BATCH, lead_akool_id)]

    async def get_job(self, akool_id: str) -> Job | None:
        row = await self._pool.fetchrow(_SELECT_JOB, akool_id)
        return None if row is None else rows.job(row)

    async def record_statuses(
        self, updates: Sequence[tuple[str, StatusUpdate, float | None]], *, now: float
    ) -> list[Job | None]:
        if not updates:
            return []
        columns: list[list[Any]] = [[] for _ in range(11)]
        for akool_id, update, due_at in updates:
            values = (
                akool_id,
                update.status.value,
                update.status.rank,
                update.image_url,
                rows.json_list(update.upscaled_urls),
                rows.json_list(update.buttons),
                rows.json_list(update.used_buttons),
                update.credits,
                update.error,
                update.status.finished,
                due_at,
            )
            for column, value in zip(columns, values, strict=True):
                column.append(value)
        recorded = {
            row["akool_id"]: rows.job(row)
            for row in await self._pool.fetch(_RECORD_STATUSES, *columns, now)
        }
        return [recorded.get(akool_id) for akool_id, _, _ in updates]

    async def record_failure(
        self, akool_id: str, error: str, *, now: float, due_at: float | None
    ) -> Job | None:
        row = await self._pool.fetchrow(_RECORD_FAILURE, akool_id, error, now, due_at)
        return None if row is None else rows.job(row)

    async def make_due(self, akool_id: str, *, now: float) -> Job | None:
        row = await self._pool.fetchrow(_MAKE_DUE, akool_id, now)
        if row is None:
            return None
        await self._announce(self._pool)
        return rows.job(row)

    async def due_jobs(self, now: float, limit: int) -> list[Job]:
        return [rows.job(row) for row in await self._pool.fetch(_DUE_JOBS, now, limit)]

    async def claim_due_jobs(self, now: float, limit: int, *, hold: float) -> list[Job]:
        claimed = await self._pool.fetch(_CLAIM_DUE, now, limit, now + hold)
        return sorted((rows.job(row) for row in claimed), key=lambda job: job.id)

    async def claim_job(self, akool_id: str, *, now: float, hold: float) -> Job | None:
        row = await self._pool.fetchrow(_CLAIM_ONE, akool_id, now, now + hold)
        return None if row is None else rows.job(row)

    async def recent_durations(self, limit: int) -> list[float]:
        return [float(row[0]) for row in await self._pool.fetch(_RECENT_DURATIONS, limit)]

    async def running_ages(self, now: float, limit: int) -> list[float]:
        rows = await self._pool.fetch(_RUNNING_AGES, now, limit)
        return [float(row[0]) for row in rows]

    async def next_due_at(self) -> float | None:
        value = await self._pool.fetchval(_NEXT_DUE)
        return None if value is None else float(value)

    async def set_status_message(self, akool_id: str, message_id: int, *, now: float) -> None:
        await self._pool.execute(_SET_STATUS_MESSAGE, message_id, now, akool_id)

    async def mark_delivered(self, akool_id: str, message_id: int, *, now: float) -> bool:
        return _updated(await self._pool.execute(_MARK_DELIVERED, message_id, now, akool_id))

    async def mark_undeliverable(self, akool_id: str, reason: str, *, now: float) -> bool:
        return _updated(await self._pool.execute(_MARK_UNDELIVERABLE, reason, now, akool_id))

    async def wait_for_batch(self, akool_id: str, *, now: float) -> None:
        await self._pool.execute(_WAIT_FOR_BATCH, now, akool_id)

    async def mark_batch_delivered(
        self, lead_akool_id: str, message_id: int, *, now: float
    ) -> bool:
        status = await self._pool.execute(_MARK_BATCH_DELIVERED, message_id, now, lead_akool_id)
        return _changed(status)

    async def mark_batch_undeliverable(
        self, lead_akool_id: str, reason: str, *, now: float
    ) -> bool:
        status = await self._pool.execute(_MARK_BATCH_UNDELIVERABLE, reason, now, lead_akool_id)
        return _changed(status)

    async def recent_jobs(
        self,
        guild_id: int | None,
        requester_id: int,
        *,
        limit: int,
        prefix: str = "",
        offset: int = 0,
    ) -> list[Job]:
        pattern = rows.escape_like(prefix) + "%"
        found = await self._pool.fetch(_RECENT_JOBS, guild_id, requester_id, pattern, limit, offset)
        return [rows.job(row) for row in found]

    async def unfinished_jobs(self) -> list[tuple[JobKind, JobStatus, int]]:
        found = await self._pool.fetch(_UNFINISHED_JOBS)
        return [(JobKind(row[0]), JobStatus(row[1]), int(row[2])) for row in found]

    async def count_jobs(self, guild_id: int | None, requester_id: int) -> int:
        return int(await self._pool.fetchval(_COUNT_JOBS, guild_id, requester_id))

    async def credits_spent(self, guild_id: int, *, since: float | None) -> list[tuple[int, int]]:
        start = since if since is not None else float("-inf")
        found = await self._pool.fetch(_CREDITS_SPENT, guild_id, start)
        return [(int(row[0]), int(row[1])) for row in found]

    async def member_usage(
        self, guild_id: int | None, user_id: int, *, since: float
    ) -> MemberUsage:
        row = await self._pool.fetchrow(_MEMBER_USAGE, user_id, guild_id, since)
        assert row is not None
        return MemberUsage(active=row["active"], daily=row["daily"], oldest_since=row["oldest"])

    async def queue_position(self, akool_id: str) -> int | None:
        position = int(await self._pool.fetchval(_QUEUE_POSITION, akool_id) or 0)
        return position or None

    async def server_settings(self, guild_id: int) -> ServerSettings:
        raw = await self._pool.fetchval(_SERVER_SETTINGS, guild_id)
        return ServerSettings() if raw is None else ServerSettings.from_json(raw)

    async def save_server_settings(
        self, guild_id: int, settings: ServerSettings, *, now: float
    ) -> None:
        await self._pool.execute(_SAVE_SERVER_SETTINGS, guild_id, settings.to_json(), now)

    async def dm_notify(self, user_id: int) -> bool:
        return bool(await self._pool.fetchval(_DM_NOTIFY, user_id))

    async def set_dm_notify(self, user_id: int, enabled: bool, *, now: float) -> None:
        await self._pool.execute(_SET_DM_NOTIFY, user_id, enabled, now)

    async def keep_image(
        self, akool_id: str, role: ImageRole, kept: KeptImage, *, now: float
    ) -> None:
        await self._pool.execute(
            _KEEP_IMAGE,
            akool_id,
            role.value,
            kept.channel_id,
            kept.message_id,
            kept.attachment_id,
            kept.filename,
            now,
        )

    async def kept_image(self, akool_id: str, role: ImageRole) -> KeptImage | None:
        row = await self._pool.fetchrow(_KEPT_IMAGE, akool_id, role.value)
        return None if row is None else KeptImage(row[0], row[1], row[2], row[3])

    async def note_v3_create_gone(self, *, now: float) -> bool:
        return await self._pool.fetchval(_NOTE_FACT, _V3_CREATE_GONE, now) is not None

    async def v3_create_gone(self) -> bool:
        return await self._pool.fetchval(_FACT, _V3_CREATE_GONE) is not None

    async def children(self, parent_akool_id: str) -> Sequence[Job]:
        return [rows.job(row) for row in await self._pool.fetch(_CHILDREN, parent_akool_id)]

    async def add_create_intent(
        self,
        requester_id: int,
        guild_id: int | None,
        channel_id: int,
        prompt: str,
        *,
        now: float,
        limits: Limits | None = None,
        reply: InteractionReply | None = None,
        akool_called_at: float | None = None,
        claim: ButtonPress | None = None,
        caps: Caps | None = None,
        images: int | None = None,
    ) -> int | None:
        application_id, token, reply_by = rows.reply_values(reply)
        parent, button, pressed_at = rows.claim_values(claim)
        if limits is None and caps is None:
            value = await self._pool.fetchval(
                _ADD_INTENT,
                requester_id,
                guild_id,
                channel_id,
                prompt,
                now,
                application_id,
                token,
                reply_by,
                akool_called_at,
                parent,
                button,
                pressed_at,
                images,
            )
            return int(value)
        async with self._pool.acquire() as connection, connection.transaction():
            for key in _lock_keys(guild_id, requester_id, limits, caps):
                await connection.execute(_LOCK, key)
            value = await connection.fetchval(
                _ADD_INTENT_CHECKED,
                requester_id,
                guild_id,
                channel_id,
                prompt,
                now,
                None if limits is None else limits.active,
                None if limits is None else limits.since,
                None if limits is None else limits.daily,
                application_id,
                token,
                reply_by,
                akool_called_at,
                parent,
                button,
                pressed_at,
                *_cap_values(caps),
                images,
            )
        return None if value is None else int(value)

    async def credit_usage(
        self, guild_id: int | None, *, button: str | None, caps: Caps, images: int | None = None
    ) -> CreditUsage:
        _, _, window, default_cost, recent, image_cost = _cap_values(caps)
        row = await self._pool.fetchrow(
            _CREDIT_USAGE, guild_id, button, window, default_cost, recent, image_cost, images
        )
        assert row is not None
        return rows.credit_usage(row, guild_id)

    async def reported_credits(
        self, guild_id: int | None, *, since: float
    ) -> list[tuple[float, int]]:
        found = await self._pool.fetch(_REPORTED_CREDITS, guild_id, since)
        return [(float(row[0]), int(row[1])) for row in found]

    async def mark_akool_call(self, intent_id: int, *, at: float | None) -> bool:
        return await self._pool.fetchval(_MARK_AKOOL_CALL, at, intent_id) is not None

    async def next_lost_intent_at(self, *, grace: float, press_grace: float) -> float | None:
        value = await self._pool.fetchval(_NEXT_LOST_INTENT, grace, press_grace)
        return None if value is None else float(value)

    async def drop_create_intent(self, intent_id: int) -> None:
        await self._pool.execute(_DROP_INTENT, intent_id)

    async def lost_create_intents(self, started_before: float) -> list[CreateIntent]:
        await self._pool.execute(_ANSWERED_INTENTS, started_before)
        return [rows.intent(row) for row in await self._pool.fetch(_LOST_INTENTS, started_before)]

    async def claim_lost_intents(
        self, *, started_before: float, pressed_before: float, now: float, hold: float
    ) -> list[CreateIntent]:
        await self._pool.execute(_ANSWERED_INTENTS, started_before)
        claimed = await self._pool.fetch(
            _CLAIM_LOST_INTENTS, started_before, pressed_before, now, now + hold
        )
        intents = [rows.intent(row) for row in claimed]
        return sorted(intents, key=lambda intent: (intent.started_at, intent.id))

    async def retry_intent_answer(self, intent_id: int, *, at: float) -> None:
        await self._pool.execute(_RETRY_INTENT_ANSWER, at, intent_id)

    async def claim_press(
        self, parent_akool_id: str, button: str, presser_id: int, *, now: float
    ) -> PressClaim:
        row = await self._pool.fetchrow(_CLAIM_PRESS, parent_akool_id, button, presser_id, now)
        if row is not None:
            return PressClaim(won=True, press=rows.press(row))
        existing = await self.get_press(parent_akool_id, button)
        if existing is None:  # pragma: no cover - the conflict means the row exists
            raise RuntimeError(f"press {parent_akool_id}/{button} conflicted but cannot be read")
        return PressClaim(won=False, press=existing)

    async def set_press_child(self, parent_akool_id: str, button: str, child_akool_id: str) -> None:
        await self._pool.execute(_SET_PRESS_CHILD, child_akool_id, parent_akool_id, button)

    async def release_press(
        self, parent_akool_id: str, button: str, *, pressed_at: float | None = None
    ) -> None:
        await self._pool.execute(_RELEASE_PRESS, parent_akool_id, button, pressed_at)

    async def get_press(self, parent_akool_id: str, button: str) -> ButtonPress | None:
        row = await self._pool.fetchrow(_SELECT_PRESS, parent_akool_id, button)
        return None if row is None else rows.press(row)

    async def release_claim(self, akool_id: str, *, now: float, due_at: float) -> None:
        await self._pool.execute(_RELEASE_CLAIM, akool_id, now, due_at)

    async def first_sighting(self, key: str, *, now: float, forget_before: float) -> bool:
        async with self._pool.acquire() as connection:
            await connection.execute(_FORGET_CALLBACKS, forget_before)
            return await connection.fetchval(_NOTE_CALLBACK, key, now) is not None

    def request_budget(self, name: str, per_second: float, burst: float) -> SharedBudget:
        return SharedBudget(self, name, per_second, burst)

    async def reserve_request(self, budget: str, *, interval: float, tolerance: float) -> float:
        """Reserve the next request slot of ``budget``; return the seconds to wait for it."""
        return float(await self._pool.fetchval(_RESERVE, budget, interval, tolerance))


def _lock_keys(
    guild_id: int | None, requester_id: int, limits: Limits | None, caps: Caps | None
) -> list[str]:
    """The advisory locks a checked create takes, always in this order: the account's cap, the
    server's cap, the member's limits."""
    keys = []
    if caps is not None and caps.account is not None:
        keys.append("caps:account")
    if caps is not None and caps.server is not None and guild_id is not None:
        keys.append(f"caps:server:{guild_id}")
    if limits is not None:
        keys.append(f"limits:{guild_id}:{requester_id}")
    return keys


def _cap_values(caps: Caps | None) -> tuple[Any, ...]:
    """$16-$21 of _ADD_INTENT_CHECKED: account cap, server cap, window, default cost, sample,
    an image's default cost."""
    if caps is None:
        return (None, None, None, 0, 0, 0)
    return (
        caps.account,
        caps.server,
        caps.since,
        caps.default_cost,
        caps.recent,
        caps.default_image_cost,
    )


def _updated(status: str) -> bool:
    """Whether an ``UPDATE`` command tag (``"UPDATE 1"``) says one row changed."""
    return status.rsplit(" ", 1)[-1] == "1"


def _changed(status: str) -> bool:
    """Whether an ``UPDATE`` command tag (``"UPDATE 3"``) says any row changed."""
    return status.rsplit(" ", 1)[-1] not in ("0", "")


def _job_values(job: NewJob, *, now: float, due_at: float | None) -> tuple[Any, ...]:
    """The parameters of _INSERT_JOB for ``job``."""
    return (
        job.akool_id,
        job.kind.value,
        job.requester_id,
        job.guild_id,
        job.channel_id,
        job.prompt,
        job.scale,
        job.source_image,
        job.parent_akool_id,
        job.button,
        job.status.value,
        job.status.rank,
        job.credits,
        now,
        job.akool_created_at,
        due_at,
        job.intent_id,
        job.api,
        job.batch_akool_id,
        job.batch_index,
        rows.options_json(job.options),
    )


async def schema_state(dsn: str, *, connect_timeout: float) -> migrations.SchemaState:
    """How the database's schema stands against this bot's migrations, read in a read-only
    session (``connect_timeout``: seconds to connect)."""
    connection = await asyncpg.connect(dsn, timeout=connect_timeout, server_settings=_READ_ONLY)
    try:
        if await connection.fetchval(_HAS_SCHEMA_VERSION) is None:
            return migrations.schema_state("postgres", 0)
        version = await connection.fetchval(_SCHEMA_VERSION) or 0
        return migrations.schema_state("postgres", int(version))
    finally:
        await connection.close()


async def _migrate(connection: PoolConnectionProxy[Any]) -> None:
    """Apply every pending migration in one transaction, under a lock other processes wait on."""
    known = migrations.load("postgres")
    async with connection.transaction():
        await connection.execute("SELECT pg_advisory_xact_lock($1)", _MIGRATION_LOCK)
        await connection.execute(
            "CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)"
        )
        current = await connection.fetchval(_SCHEMA_VERSION) or 0
        if current > len(known):
            raise RuntimeError(
                f"the database is at schema version {current}, newer than this bot knows "
                f"({len(known)}); run a newer version of the bot"
            )
        pending = [m for m in known if m.version > current]
        for migration in pending:
            await connection.execute(migration.sql)
            await connection.execute("INSERT INTO schema_version VALUES ($1)", migration.version)
    for migration in pending:
        log.info(
            "Applied migration %04d %s: %s", migration.version, migration.name, migration.reason
        )


class SharedBudget:
    """A request budget every process draws from (a token bucket kept as one row, GCRA).

    ``burst`` requests may go at once; after that, one each ``1 / per_second`` seconds, counted
    over all processes together. A slot is booked before it is waited for, so a wait given up
    costs its slot (``cancel_safe`` is false).
    """

    cancel_safe = False

    def __init__(self, store: PostgresJobStore, name: str, per_second: float, burst: float):
        self._store = store
        self._name = name
        self._interval = 1 / per_second
        self._burst = burst

    async def acquire(self, headroom: int = 0) -> None:
        tolerance = max(0.0, self._burst - 1 - headroom) * self._interval
        delay = await self._store.reserve_request(
            self._name, interval=self._interval, tolerance=tolerance
        )
        if delay > 0:
            await asyncio.sleep(delay)
