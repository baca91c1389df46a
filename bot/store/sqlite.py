"""The job store on SQLite (aiosqlite): the embedded default."""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Final, Self

import aiosqlite

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

# Another process (a backup, an admin's sqlite3 shell) may hold the write lock for a moment.
BUSY_TIMEOUT_MS: Final = 5000

_INSERT_JOB: Final = """
INSERT INTO jobs (
    akool_id, kind, requester_id, guild_id, channel_id, prompt, scale, source_image,
    parent_akool_id, button, status, status_rank, credits, created_at, updated_at,
    akool_created_at, due_at, intent_id, api, batch_akool_id, batch_index, create_options
) VALUES (
    :akool_id, :kind, :requester_id, :guild_id, :channel_id, :prompt, :scale, :source_image,
    :parent_akool_id, :button, :status, :status_rank, :credits, :now, :now,
    :akool_created_at, :due_at, :intent_id, :api, :batch_akool_id, :batch_index, :create_options
)
ON CONFLICT (akool_id) DO NOTHING
RETURNING *
"""

# A batch's rows in one statement: the columns of _INSERT_JOB, one VALUES row per image.
_JOB_COLUMNS: Final = (
    "akool_id", "kind", "requester_id", "guild_id", "channel_id", "prompt", "scale",
    "source_image", "parent_akool_id", "button", "status", "status_rank", "credits", "now", "now",
    "akool_created_at", "due_at", "intent_id", "api", "batch_akool_id", "batch_index",
    "create_options",
)  # fmt: skip
_JOB_ROW: Final = "(" + ", ".join("?" * len(_JOB_COLUMNS)) + ")"
_INSERT_JOBS: Final = """
INSERT INTO jobs (
    akool_id, kind, requester_id, guild_id, channel_id, prompt, scale, source_image,
    parent_akool_id, button, status, status_rank, credits, created_at, updated_at,
    akool_created_at, due_at, intent_id, api, batch_akool_id, batch_index, create_options
) VALUES {rows}
ON CONFLICT (akool_id) DO NOTHING
RETURNING *
"""

_SELECT_JOB: Final = "SELECT * FROM jobs WHERE akool_id = ?"

_BATCH: Final = """
SELECT * FROM jobs WHERE batch_akool_id = ? ORDER BY batch_index, id
"""

# Forward-only: a lower status, or the other final status, matches no row and changes nothing.
# One statement for a whole batch: the values of each job come from the VALUES rows.
_RECORD_STATUSES: Final = """
WITH v (akool_id, status, status_rank, image_url, upscaled_urls, buttons, used_buttons, credits,
        error, final, due_at, now) AS (VALUES {rows})
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
        WHEN v.final AND jobs.finished_at IS NULL THEN v.now ELSE jobs.finished_at END,
    due_at = CASE
        WHEN jobs.delivery != 'pending' THEN NULL
        WHEN jobs.woken THEN v.now
        ELSE v.due_at END,
    claimed_until = NULL,
    woken = 0,
    attempts = 0,
    last_error = NULL,
    updated_at = v.now
FROM v
WHERE jobs.akool_id = v.akool_id
  AND (jobs.status_rank < v.status_rank OR jobs.status = v.status)
RETURNING *
"""
_RECORD_ROW: Final = "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
# Twelve values a row; SQLite allows 32,766 bound values a statement.
_RECORD_BATCH: Final = 500

_RECORD_FAILURE: Final = """
UPDATE jobs SET
    attempts = attempts + 1,
    last_error = :error,
    due_at = CASE WHEN delivery != 'pending' THEN NULL WHEN woken THEN :now ELSE :due_at END,
    claimed_until = NULL,
    woken = 0,
    updated_at = :now
WHERE akool_id = :akool_id
RETURNING *
"""

# A held job stays held (its holder will look again at once, see ``woken``).
_MAKE_DUE: Final = """
UPDATE jobs SET
    due_at = CASE
        WHEN claimed_until > :now THEN due_at ELSE MIN(COALESCE(due_at, :now), :now) END,
    woken = 1,
    announced = 1,
    updated_at = :now
WHERE akool_id = :akool_id AND delivery = 'pending'
RETURNING *
"""

# The partial index jobs_due holds only rows with a due time, so this never scans history.
_DUE_JOBS: Final = """
SELECT * FROM jobs WHERE due_at IS NOT NULL AND due_at <= ? ORDER BY due_at LIMIT ?
"""

# The hold moves the due time past its end, so a job whose holder died comes due by itself.
_CLAIM_DUE: Final = """
UPDATE jobs SET claimed_until = :until, due_at = :until, woken = 0
WHERE id IN (
    SELECT id FROM jobs WHERE due_at IS NOT NULL AND due_at <= :now ORDER BY due_at LIMIT :limit
)
RETURNING *
"""

_CLAIM_ONE: Final = """
UPDATE jobs SET claimed_until = :until, due_at = :until, woken = 0
WHERE akool_id = :akool_id AND due_at IS NOT NULL AND due_at <= :now
RETURNING *
"""

# One process owns an SQLite file: whatever it held when it stopped is due again at once.
_RELEASE_HOLDS: Final = """
UPDATE jobs SET due_at = updated_at, claimed_until = NULL
WHERE claimed_until IS NOT NULL AND due_at IS NOT NULL
"""

# Likewise a lost command it was answering (or was to answer again later) may be taken up at
# once. The hold ends in the past rather than going: an intent once taken up is never asked of
# AKOOL (see _MARK_AKOOL_CALL).
_RELEASE_ANSWERS: Final = """
UPDATE create_intents SET answering_until = 0 WHERE answering_until > 0
"""

_RELEASE_CLAIM: Final = """
UPDATE jobs SET
    due_at = CASE WHEN delivery != 'pending' THEN NULL WHEN woken THEN :now ELSE :due_at END,
    claimed_until = NULL,
    woken = 0
WHERE akool_id = :akool_id AND claimed_until IS NOT NULL
"""

_FORGET_CALLBACKS: Final = "DELETE FROM webhook_callbacks WHERE seen_at < ?"
_NOTE_CALLBACK: Final = """
INSERT INTO webhook_callbacks (signature, seen_at) VALUES (?, ?)
ON CONFLICT (signature) DO NOTHING
RETURNING signature
"""

_RECENT_DURATIONS: Final = """
SELECT finished_at - created_at FROM jobs
WHERE finished_at IS NOT NULL AND kind != 'track'
ORDER BY finished_at DESC
LIMIT ?
"""

_RUNNING_AGES: Final = """
SELECT ? - created_at FROM jobs
WHERE status_rank < 3 AND kind != 'track'
ORDER BY created_at DESC
LIMIT ?
"""

_NEXT_DUE: Final = "SELECT MIN(due_at) FROM jobs WHERE due_at IS NOT NULL"

_SET_STATUS_MESSAGE: Final = """
UPDATE jobs SET status_message_id = ?, updated_at = ? WHERE akool_id = ?
"""

_MARK_DELIVERED: Final = """
UPDATE jobs SET delivery = 'delivered', result_message_id = ?, due_at = NULL,
    claimed_until = NULL, updated_at = ?
WHERE akool_id = ? AND delivery = 'pending'
"""

_MARK_UNDELIVERABLE: Final = """
UPDATE jobs SET delivery = 'undeliverable', last_error = ?, due_at = NULL,
    claimed_until = NULL, updated_at = ?
WHERE akool_id = ? AND delivery = 'pending'
"""

# A finished batch image waits for its siblings out of the due index: nothing polls or posts it.
_WAIT_FOR_BATCH: Final = """
UPDATE jobs SET due_at = NULL, claimed_until = NULL, woken = 0, updated_at = ?
WHERE akool_id = ? AND delivery = 'pending' AND status_rank = 3
"""

_MARK_BATCH_DELIVERED: Final = """
UPDATE jobs SET delivery = 'delivered', result_message_id = ?, due_at = NULL,
    claimed_until = NULL, updated_at = ?
WHERE batch_akool_id = ? AND delivery = 'pending'
"""

_MARK_BATCH_UNDELIVERABLE: Final = """
UPDATE jobs SET delivery = 'undeliverable', last_error = ?, due_at = NULL,
    claimed_until = NULL, updated_at = ?
WHERE batch_akool_id = ? AND delivery = 'pending'
"""

_RECENT_JOBS: Final = """
SELECT * FROM jobs
WHERE guild_id IS ? AND requester_id = ? AND akool_id LIKE ? ESCAPE '\\'
  AND (batch_akool_id IS NULL OR batch_akool_id = akool_id)
ORDER BY created_at DESC, id DESC
LIMIT ? OFFSET ?
"""

_CHILDREN: Final = "SELECT * FROM jobs WHERE parent_akool_id = ? ORDER BY created_at, id"

_ADD_INTENT: Final = """
INSERT INTO create_intents (
    requester_id, guild_id, channel_id, prompt, started_at, application_id, interaction_token,
    reply_by, akool_called_at, parent_akool_id, button, pressed_at, images
)
VALUES (
    :user, :guild, :channel, :prompt, :now, :application, :token, :reply_by, :called,
    :parent, :button, :pressed_at, :images
)
RETURNING id
"""

# Jobs that cost credits (tracking one made elsewhere does not), and creates under way.
# A v4 batch is one job to the member: its images count once, as their batch.
_COUNTED_JOBS: Final = """
SELECT COUNT(DISTINCT COALESCE(batch_akool_id, akool_id)) FROM jobs
WHERE guild_id IS :guild AND requester_id = :user AND kind != 'track'
"""
_LIVE_INTENTS: Final = """
SELECT COUNT(*) FROM create_intents AS i
WHERE i.guild_id IS :guild AND i.requester_id = :user
  AND NOT EXISTS (SELECT 1 FROM jobs WHERE jobs.intent_id = i.id)
"""


def _median_cost(kind: str) -> str:
    """The median (the upper one of an even count) of the credits AKOOL reported for the last
    :recent jobs of ``kind``; NULL when none reported any."""
    return f"""(SELECT r.credits FROM (
        SELECT s.credits, ROW_NUMBER() OVER (ORDER BY s.credits) AS n, COUNT(*) OVER () AS c
        FROM (SELECT credits FROM jobs
              WHERE credits IS NOT NULL AND kind != 'track' AND {job_cost_kind("")} = '{kind}'
              ORDER BY created_at DESC LIMIT :recent) AS s
    ) AS r WHERE r.n = r.c / 2 + 1)"""  # noqa: S608 - constant fragments only


# What counts against the credit caps in the window from :window, row by row with its server:
# credits AKOOL reported, or, for an unfinished job it reported none for yet and for a create
# under way (an intent without its job), the expected cost of its kind. Tracked jobs cost the
# bot nothing; a finished job without credits cost nothing.
_CAPS_WITH: Final = f"""
WITH costs (k, cost) AS (
    SELECT 'grid', COALESCE({_median_cost("grid")}, :default_cost)
    UNION ALL SELECT 'upscale', COALESCE({_median_cost("upscale")}, :default_cost)
    UNION ALL SELECT 'variation', COALESCE({_median_cost("variation")}, :default_cost)
    UNION ALL SELECT 'image', COALESCE({_median_cost("image")}, :image_cost)
),
counted (guild_id, spent, reserved) AS (
    SELECT j.guild_id, COALESCE(j.credits, 0),
        CASE WHEN j.credits IS NULL AND j.status_rank < 3
             THEN (SELECT cost FROM costs WHERE k = {job_cost_kind("j")}) ELSE 0 END
    FROM jobs AS j WHERE j.kind != 'track' AND j.created_at >= :window
    UNION ALL
    SELECT i.guild_id, 0, {create_cost("costs", "i.button", "i.images")}
    FROM create_intents AS i
    WHERE NOT EXISTS (SELECT 1 FROM jobs WHERE jobs.intent_id = i.id)
),
this (cost) AS (SELECT {create_cost("costs", ":button", ":images")})
"""  # noqa: S608

# Check and write in one statement: two commands (or presses) at once cannot both slip under a
# limit or a cap. A NULL bound is no bound.
_ADD_INTENT_CHECKED: Final = f"""
{_CAPS_WITH}
INSERT INTO create_intents (
    requester_id, guild_id, channel_id, prompt, started_at, application_id, interaction_token,
    reply_by, akool_called_at, parent_akool_id, button, pressed_at, images
)
SELECT
    :user, :guild, :channel, :prompt, :now, :application, :token, :reply_by, :called,
    :parent, :button, :pressed_at, :images
WHERE (:active IS NULL
       OR ({_COUNTED_JOBS} AND status_rank < 3) + ({_LIVE_INTENTS}) < :active)
  AND (:daily IS NULL
       OR ({_COUNTED_JOBS} AND created_at >= :since) + ({_LIVE_INTENTS}) < :daily)
  AND (:account IS NULL
       OR (SELECT COALESCE(SUM(spent + reserved), 0) FROM counted)
          + (SELECT cost FROM this) <= :account)
  AND (:server IS NULL
       OR (SELECT COALESCE(SUM(spent + reserved), 0) FROM counted WHERE guild_id = :guild)
          + (SELECT cost FROM this) <= :server)
RETURNING id
"""  # noqa: S608

_CREDIT_USAGE: Final = f"""
{_CAPS_WITH}
SELECT
    (SELECT COALESCE(SUM(spent), 0) FROM counted) AS account_spent,
    (SELECT COALESCE(SUM(reserved), 0) FROM counted) AS account_reserved,
    (SELECT COALESCE(SUM(spent), 0) FROM counted WHERE guild_id = :guild) AS server_spent,
    (SELECT COALESCE(SUM(reserved), 0) FROM counted WHERE guild_id = :guild) AS server_reserved,
    (SELECT cost FROM this) AS cost
"""  # noqa: S608

_REPORTED_CREDITS: Final = """
SELECT created_at, credits FROM jobs
WHERE kind != 'track' AND credits IS NOT NULL AND created_at >= :since
  AND (:guild IS NULL OR guild_id = :guild)
ORDER BY created_at, id
"""

# Composed from the constant fragments above; every value is a bound parameter.
_MEMBER_USAGE: Final = f"""
SELECT
    ({_COUNTED_JOBS} AND status_rank < 3) + ({_LIVE_INTENTS}) AS active,
    ({_COUNTED_JOBS} AND created_at >= :since) + ({_LIVE_INTENTS}) AS daily,
    (SELECT MIN(created_at) FROM jobs
     WHERE guild_id IS :guild AND requester_id = :user AND kind != 'track'
       AND created_at >= :since) AS oldest
"""  # noqa: S608

# The partial index jobs_unfinished holds only unfinished jobs.
# A v4 batch is one place in line, however many of its images are unfinished.
_QUEUE_POSITION: Final = """
SELECT COUNT(DISTINCT COALESCE(batch_akool_id, akool_id)) FROM jobs
WHERE status_rank < 3
  AND created_at <= (SELECT created_at FROM jobs WHERE akool_id = :id AND status_rank < 3)
"""

_UNFINISHED_JOBS: Final = """
SELECT kind, status, COUNT(*) FROM jobs WHERE delivery = 'pending' GROUP BY kind, status
"""

# A v4 batch is one job to the member: its lead stands for it.
_COUNT_JOBS: Final = """
SELECT COUNT(*) FROM jobs WHERE guild_id IS ? AND requester_id = ?
  AND (batch_akool_id IS NULL OR batch_akool_id = akool_id)
"""

_CREDITS_SPENT: Final = """
SELECT requester_id, SUM(credits) AS spent FROM jobs
WHERE guild_id = ? AND credits IS NOT NULL AND created_at >= ?
GROUP BY requester_id
ORDER BY spent DESC, requester_id
"""

_SERVER_SETTINGS: Final = "SELECT settings FROM guild_settings WHERE guild_id = ?"
_SAVE_SERVER_SETTINGS: Final = """
INSERT INTO guild_settings (guild_id, settings, updated_at) VALUES (?, ?, ?)
ON CONFLICT (guild_id) DO UPDATE SET settings = excluded.settings, updated_at = excluded.updated_at
"""
_DM_NOTIFY: Final = "SELECT dm_notify FROM member_preferences WHERE user_id = ?"
_SET_DM_NOTIFY: Final = """
INSERT INTO member_preferences (user_id, dm_notify, updated_at) VALUES (?, ?, ?)
ON CONFLICT (user_id) DO UPDATE SET dm_notify = excluded.dm_notify, updated_at = excluded.updated_at
"""

_KEEP_IMAGE: Final = """
INSERT INTO kept_images (akool_id, role, channel_id, message_id, attachment_id, filename, kept_at)
VALUES (?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (akool_id, role) DO UPDATE SET
    channel_id = excluded.channel_id, message_id = excluded.message_id,
    attachment_id = excluded.attachment_id, filename = excluded.filename,
    kept_at = excluded.kept_at
"""
_KEPT_IMAGE: Final = """
SELECT channel_id, message_id, attachment_id, filename FROM kept_images
WHERE akool_id = ? AND role = ?
"""

_V3_CREATE_GONE: Final = "v3_create_gone"
_NOTE_FACT: Final = """
INSERT INTO akool_facts (name, noted_at) VALUES (?, ?)
ON CONFLICT (name) DO NOTHING
RETURNING name
"""
_FACT: Final = "SELECT 1 FROM akool_facts WHERE name = ?"

_DROP_INTENT: Final = "DELETE FROM create_intents WHERE id = ?"

# An intent taken up for answering its loss is never asked of AKOOL.
_MARK_AKOOL_CALL: Final = """
UPDATE create_intents SET akool_called_at = ?
WHERE id = ? AND answering_until IS NULL
RETURNING id
"""

# An intent's age counts from the AKOOL call once there is one: the call is what may take long.
# A press asked of AKOOL has a grace of its own (see claim_lost_intents).
_AGE_FROM: Final = "COALESCE(i.akool_called_at, i.started_at)"
_PRESS_ASKED: Final = "i.button IS NOT NULL AND i.akool_called_at IS NOT NULL"

_NEXT_LOST_INTENT: Final = f"""
SELECT MIN(MAX(
    {_AGE_FROM} + CASE WHEN {_PRESS_ASKED} THEN :press_grace ELSE :grace END,
    COALESCE(i.answering_until, 0)
))
FROM create_intents AS i
"""  # noqa: S608

# Taken up by one process: the answering hold is checked and set in the one statement.
_CLAIM_LOST_INTENTS: Final = f"""
UPDATE create_intents SET answering_until = :until
WHERE id IN (
    SELECT i.id FROM create_intents AS i
    LEFT JOIN jobs AS j ON j.intent_id = i.id
    WHERE {_AGE_FROM} < CASE WHEN {_PRESS_ASKED} THEN :pressed_before ELSE :before END
      AND j.status_message_id IS NULL
      AND (i.answering_until IS NULL OR i.answering_until <= :now)
)
RETURNING *, (
    SELECT jobs.akool_id FROM jobs WHERE jobs.intent_id = create_intents.id LIMIT 1
) AS akool_id
"""  # noqa: S608

_RETRY_INTENT_ANSWER: Final = "UPDATE create_intents SET answering_until = ? WHERE id = ?"

# Unanswered: no job, or a job without its status message (the answer to the command).
_LOST_INTENTS: Final = """
SELECT i.*, j.akool_id AS akool_id FROM create_intents AS i
LEFT JOIN jobs AS j ON j.intent_id = i.id
WHERE COALESCE(i.akool_called_at, i.started_at) < ? AND j.status_message_id IS NULL
ORDER BY i.started_at, i.id
"""

# Answered, and only the process died before dropping the intent.
_ANSWERED_INTENTS: Final = """
DELETE FROM create_intents
WHERE COALESCE(akool_called_at, started_at) < ?
  AND EXISTS (
    SELECT 1 FROM jobs
    WHERE jobs.intent_id = create_intents.id AND jobs.status_message_id IS NOT NULL
  )
"""

_CLAIM_PRESS: Final = """
INSERT INTO button_presses (parent_akool_id, button, presser_id, pressed_at)
VALUES (?, ?, ?, ?)
ON CONFLICT (parent_akool_id, button) DO NOTHING
RETURNING *
"""

_SELECT_PRESS: Final = "SELECT * FROM button_presses WHERE parent_akool_id = ? AND button = ?"

_SET_PRESS_CHILD: Final = """
UPDATE button_presses SET child_akool_id = ? WHERE parent_akool_id = ? AND button = ?
"""

_RELEASE_PRESS: Final = """
DELETE FROM button_presses
WHERE parent_akool_id = :parent AND button = :button AND child_akool_id IS NULL
  AND (:pressed_at IS NULL OR pressed_at = :pressed_at)
"""


class SqliteJobStore(JobStore):
    """:class:`JobStore` on one aiosqlite connection (WAL, foreign keys, STRICT tables)."""

    def __init__(self, connection: aiosqlite.Connection) -> None:
        self._db = connection

    @classmethod
    async def open(cls, path: Path | str, *, read_only: bool = False) -> Self:
        """Open (creating the file and its folder if needed) and migrate to the newest schema.

        ``read_only``: open an existing file as it is, for ``akool-bot check``; nothing is
        created, migrated or written, and any write fails.
        """
        if read_only:
            connection = await _connect_read_only(path)
            connection.row_factory = aiosqlite.Row
            return cls(connection)
        if str(path) != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
            # Opened once first on a thread that is waited for: when aiosqlite's own connect
            # fails (a folder it may not write), its worker thread outlives the event loop and
            # prints a traceback at exit, under the one line that says what is wrong.
            await asyncio.to_thread(_try_open, Path(path))
        # isolation_level=None: every statement commits on its own unless a transaction is opened
        # explicitly, which only the migrations do.
        connection = await aiosqlite.connect(path, isolation_level=None)
        try:
            connection.row_factory = aiosqlite.Row
            await connection.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            await connection.execute("PRAGMA journal_mode = WAL")
            await connection.execute("PRAGMA synchronous = NORMAL")
            await connection.execute("PRAGMA foreign_keys = ON")
            await _migrate(connection)
            await connection.execute(_RELEASE_HOLDS)
            await connection.execute(_RELEASE_ANSWERS)
        except BaseException:
            await connection.close()
            raise
        return cls(connection)

    async def close(self) -> None:
        await self._db.close()

    async def ping(self) -> bool:
        try:
            async with self._db.execute("SELECT 1") as cursor:
                return await cursor.fetchone() is not None
        except (sqlite3.Error, ValueError):
            return False

    async def add_job(self, job: NewJob, *, now: float, due_at: float | None) -> tuple[Job, bool]:
        row = await self._fetch_one(_INSERT_JOB, _job_params(job, now=now, due_at=due_at))
        if row is not None:
            return rows.job(row), True
        existing = await self.get_job(job.akool_id)
        if existing is None:  # pragma: no cover - a unique conflict means the row exists
            raise RuntimeError(f"job {job.akool_id} conflicted but cannot be read")
        return existing, False

    async def add_batch(
        self, jobs: Sequence[NewJob], *, now: float, due_at: float | None
    ) -> list[tuple[Job, bool]]:
        if not jobs:
            return []
        # One statement, so all land or none (the connection is shared: no explicit transaction
        # that other coroutines' statements could fall into).
        params: list[Any] = []
        for job in jobs:
            values = _job_params(job, now=now, due_at=due_at)
            params += [values[name] for name in _JOB_COLUMNS]
        sql = _INSERT_JOBS.format(rows=", ".join([_JOB_ROW] * len(jobs)))
        async with self._db.execute(sql, params) as cursor:
            new = {row["akool_id"]: rows.job(row) for row in await cursor.fetchall()}
        added: list[tuple[Job, bool]] = []
        for job in jobs:
            if job.akool_id in new:
                added.append((new[job.akool_id], True))
                continue
            existing = await self.get_job(job.akool_id)
            if existing is None:  # pragma: no cover - a unique conflict means the row exists
                raise RuntimeError(f"job {job.akool_id} conflicted but cannot be read")
            added.append((existing, False))
        return added

    async def batch(self, lead_akool_id: str) -> list[Job]:
        async with self._db.execute(_BATCH, (lead_akool_id,)) as cursor:
            return [rows.job(row) for row in await cursor.fetchall()]

    async def get_job(self, akool_id: str) -> Job | None:
        row = await self._fetch_one(_SELECT_JOB, (akool_id,))
        return None if row is None else rows.job(row)

    async def record_statuses(
        self, updates: Sequence[tuple[str, StatusUpdate, float | None]], *, now: float
    ) -> list[Job | None]:
        recorded: dict[str, Job] = {}
        for first in range(0, len(updates), _RECORD_BATCH):
            batch = updates[first : first + _RECORD_BATCH]
            sql = _RECORD_STATUSES.format(rows=", ".join([_RECORD_ROW] * len(batch)))
            params: list[Any] = []
            for akool_id, update, due_at in batch:
                params += [
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
                    now,
                ]
            async with self._db.execute(sql, params) as cursor:
                for row in await cursor.fetchall():
                    recorded[row["akool_id"]] = rows.job(row)
        return [recorded.get(akool_id) for akool_id, _, _ in updates]

    async def record_failure(
        self, akool_id: str, error: str, *, now: float, due_at: float | None
    ) -> Job | None:
        params = {"akool_id": akool_id, "error": error, "now": now, "due_at": due_at}
        row = await self._fetch_one(_RECORD_FAILURE, params)
        return None if row is None else rows.job(row)

    async def make_due(self, akool_id: str, *, now: float) -> Job | None:
        row = await self._fetch_one(_MAKE_DUE, {"akool_id": akool_id, "now": now})
        return None if row is None else rows.job(row)

    async def due_jobs(self, now: float, limit: int) -> list[Job]:
        async with self._db.execute(_DUE_JOBS, (now, limit)) as cursor:
            return [rows.job(row) for row in await cursor.fetchall()]

    async def claim_due_jobs(self, now: float, limit: int, *, hold: float) -> list[Job]:
        params = {"now": now, "limit": limit, "until": now + hold}
        async with self._db.execute(_CLAIM_DUE, params) as cursor:
            claimed = [rows.job(row) for row in await cursor.fetchall()]
        return sorted(claimed, key=lambda job: job.id)

    async def claim_job(self, akool_id: str, *, now: float, hold: float) -> Job | None:
        params = {"akool_id": akool_id, "now": now, "until": now + hold}
        row = await self._fetch_one(_CLAIM_ONE, params)
        return None if row is None else rows.job(row)

    async def release_claim(self, akool_id: str, *, now: float, due_at: float) -> None:
        params = {"akool_id": akool_id, "now": now, "due_at": due_at}
        await self._db.execute(_RELEASE_CLAIM, params)

    async def first_sighting(self, key: str, *, now: float, forget_before: float) -> bool:
        await self._db.execute(_FORGET_CALLBACKS, (forget_before,))
        return await self._fetch_one(_NOTE_CALLBACK, (key, now)) is not None

    async def recent_durations(self, limit: int) -> list[float]:
        async with self._db.execute(_RECENT_DURATIONS, (limit,)) as cursor:
            return [float(row[0]) for row in await cursor.fetchall()]

    async def running_ages(self, now: float, limit: int) -> list[float]:
        async with self._db.execute(_RUNNING_AGES, (now, limit)) as cursor:
            return [float(row[0]) for row in await cursor.fetchall()]

    async def next_due_at(self) -> float | None:
        row = await self._fetch_one(_NEXT_DUE, ())
        return None if row is None or row[0] is None else float(row[0])

    async def set_status_message(self, akool_id: str, message_id: int, *, now: float) -> None:
        await self._db.execute(_SET_STATUS_MESSAGE, (message_id, now, akool_id))

    async def mark_delivered(self, akool_id: str, message_id: int, *, now: float) -> bool:
        async with self._db.execute(_MARK_DELIVERED, (message_id, now, akool_id)) as cursor:
            return cursor.rowcount == 1

    async def mark_undeliverable(self, akool_id: str, reason: str, *, now: float) -> bool:
        async with self._db.execute(_MARK_UNDELIVERABLE, (reason, now, akool_id)) as cursor:
            return cursor.rowcount == 1

    async def wait_for_batch(self, akool_id: str, *, now: float) -> None:
        await self._db.execute(_WAIT_FOR_BATCH, (now, akool_id))

    async def mark_batch_delivered(
        self, lead_akool_id: str, message_id: int, *, now: float
    ) -> bool:
        params = (message_id, now, lead_akool_id)
        async with self._db.execute(_MARK_BATCH_DELIVERED, params) as cursor:
            return cursor.rowcount > 0

    async def mark_batch_undeliverable(
        self, lead_akool_id: str, reason: str, *, now: float
    ) -> bool:
        params = (reason, now, lead_akool_id)
        async with self._db.execute(_MARK_BATCH_UNDELIVERABLE, params) as cursor:
            return cursor.rowcount > 0

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
        async with self._db.execute(
            _RECENT_JOBS, (guild_id, requester_id, pattern, limit, offset)
        ) as cursor:
            return [rows.job(row) for row in await cursor.fetchall()]

    async def unfinished_jobs(self) -> list[tuple[JobKind, JobStatus, int]]:
        async with self._db.execute(_UNFINISHED_JOBS) as cursor:
            return [
                (JobKind(row[0]), JobStatus(row[1]), int(row[2])) for row in await cursor.fetchall()
            ]

    async def count_jobs(self, guild_id: int | None, requester_id: int) -> int:
        row = await self._fetch_one(_COUNT_JOBS, (guild_id, requester_id))
        return int(row[0]) if row is not None else 0

    async def credits_spent(self, guild_id: int, *, since: float | None) -> list[tuple[int, int]]:
        start = since if since is not None else float("-inf")
        async with self._db.execute(_CREDITS_SPENT, (guild_id, start)) as cursor:
            return [(int(row[0]), int(row[1])) for row in await cursor.fetchall()]

    async def member_usage(
        self, guild_id: int | None, user_id: int, *, since: float
    ) -> MemberUsage:
        row = await self._fetch_one(
            _MEMBER_USAGE, {"guild": guild_id, "user": user_id, "since": since}
        )
        assert row is not None
        return MemberUsage(active=row["active"], daily=row["daily"], oldest_since=row["oldest"])

    async def queue_position(self, akool_id: str) -> int | None:
        row = await self._fetch_one(_QUEUE_POSITION, {"id": akool_id})
        position = int(row[0]) if row is not None else 0
        return position or None

    async def server_settings(self, guild_id: int) -> ServerSettings:
        row = await self._fetch_one(_SERVER_SETTINGS, (guild_id,))
        return ServerSettings() if row is None else ServerSettings.from_json(row[0])

    async def save_server_settings(
        self, guild_id: int, settings: ServerSettings, *, now: float
    ) -> None:
        await self._db.execute(_SAVE_SERVER_SETTINGS, (guild_id, settings.to_json(), now))

    async def dm_notify(self, user_id: int) -> bool:
        row = await self._fetch_one(_DM_NOTIFY, (user_id,))
        return bool(row[0]) if row is not None else False

    async def set_dm_notify(self, user_id: int, enabled: bool, *, now: float) -> None:
        await self._db.execute(_SET_DM_NOTIFY, (user_id, int(enabled), now))

    async def keep_image(
        self, akool_id: str, role: ImageRole, kept: KeptImage, *, now: float
    ) -> None:
        params = (
            akool_id,
            role.value,
            kept.channel_id,
            kept.message_id,
            kept.attachment_id,
            kept.filename,
            now,
        )
        await self._db.execute(_KEEP_IMAGE, params)

    async def kept_image(self, akool_id: str, role: ImageRole) -> KeptImage | None:
        row = await self._fetch_one(_KEPT_IMAGE, (akool_id, role.value))
        return None if row is None else KeptImage(row[0], row[1], row[2], row[3])

    async def note_v3_create_gone(self, *, now: float) -> bool:
        return await self._fetch_one(_NOTE_FACT, (_V3_CREATE_GONE, now)) is not None

    async def v3_create_gone(self) -> bool:
        return await self._fetch_one(_FACT, (_V3_CREATE_GONE,)) is not None

    async def children(self, parent_akool_id: str) -> Sequence[Job]:
        async with self._db.execute(_CHILDREN, (parent_akool_id,)) as cursor:
            return [rows.job(row) for row in await cursor.fetchall()]

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
        params: dict[str, Any] = {
            "images": images,
            "parent": parent,
            "button": button,
            "pressed_at": pressed_at,
            "user": requester_id,
            "guild": guild_id,
            "channel": channel_id,
            "prompt": prompt,
            "now": now,
            "application": application_id,
            "token": token,
            "reply_by": reply_by,
            "called": akool_called_at,
        }
        if limits is None and caps is None:
            row = await self._fetch_one(_ADD_INTENT, params)
        else:
            params |= _limit_params(limits) | _cap_params(caps)
            row = await self._fetch_one(_ADD_INTENT_CHECKED, params)
        return None if row is None else int(row[0])

    async def credit_usage(
        self, guild_id: int | None, *, button: str | None, caps: Caps, images: int | None = None
    ) -> CreditUsage:
        params = {"guild": guild_id, "button": button, "images": images} | _cap_params(caps)
        row = await self._fetch_one(_CREDIT_USAGE, params)
        assert row is not None
        return rows.credit_usage(row, guild_id)

    async def reported_credits(
        self, guild_id: int | None, *, since: float
    ) -> list[tuple[float, int]]:
        params = {"guild": guild_id, "since": since}
        async with self._db.execute(_REPORTED_CREDITS, params) as cursor:
            return [(float(row[0]), int(row[1])) for row in await cursor.fetchall()]

    async def mark_akool_call(self, intent_id: int, *, at: float | None) -> bool:
        return await self._fetch_one(_MARK_AKOOL_CALL, (at, intent_id)) is not None

    async def next_lost_intent_at(self, *, grace: float, press_grace: float) -> float | None:
        row = await self._fetch_one(_NEXT_LOST_INTENT, {"grace": grace, "press_grace": press_grace})
        return None if row is None or row[0] is None else float(row[0])

    async def drop_create_intent(self, intent_id: int) -> None:
        await self._db.execute(_DROP_INTENT, (intent_id,))

    async def lost_create_intents(self, started_before: float) -> list[CreateIntent]:
        await self._db.execute(_ANSWERED_INTENTS, (started_before,))
        async with self._db.execute(_LOST_INTENTS, (started_before,)) as cursor:
            return [rows.intent(row) for row in await cursor.fetchall()]

    async def claim_lost_intents(
        self, *, started_before: float, pressed_before: float, now: float, hold: float
    ) -> list[CreateIntent]:
        await self._db.execute(_ANSWERED_INTENTS, (started_before,))
        params = {
            "before": started_before,
            "pressed_before": pressed_before,
            "now": now,
            "until": now + hold,
        }
        async with self._db.execute(_CLAIM_LOST_INTENTS, params) as cursor:
            claimed = [rows.intent(row) for row in await cursor.fetchall()]
        return sorted(claimed, key=lambda intent: (intent.started_at, intent.id))

    async def retry_intent_answer(self, intent_id: int, *, at: float) -> None:
        await self._db.execute(_RETRY_INTENT_ANSWER, (at, intent_id))

    async def claim_press(
        self, parent_akool_id: str, button: str, presser_id: int, *, now: float
    ) -> PressClaim:
        row = await self._fetch_one(_CLAIM_PRESS, (parent_akool_id, button, presser_id, now))
        if row is not None:
            return PressClaim(won=True, press=rows.press(row))
        existing = await self.get_press(parent_akool_id, button)
        if existing is None:  # pragma: no cover - the conflict means the row exists
            raise RuntimeError(f"press {parent_akool_id}/{button} conflicted but cannot be read")
        return PressClaim(won=False, press=existing)

    async def set_press_child(self, parent_akool_id: str, button: str, child_akool_id: str) -> None:
        await self._db.execute(_SET_PRESS_CHILD, (child_akool_id, parent_akool_id, button))

    async def release_press(
        self, parent_akool_id: str, button: str, *, pressed_at: float | None = None
    ) -> None:
        params = {"parent": parent_akool_id, "button": button, "pressed_at": pressed_at}
        await self._db.execute(_RELEASE_PRESS, params)

    async def get_press(self, parent_akool_id: str, button: str) -> ButtonPress | None:
        row = await self._fetch_one(_SELECT_PRESS, (parent_akool_id, button))
        return None if row is None else rows.press(row)

    async def _fetch_one(self, sql: str, params: Any) -> aiosqlite.Row | None:
        async with self._db.execute(sql, params) as cursor:
            row = await cursor.fetchone()
            # RETURNING rows are written only once the statement has run to its end.
            await cursor.fetchall()
            return row


def _try_open(path: Path) -> None:
    sqlite3.connect(path).close()


async def schema_state(path: Path | str) -> migrations.SchemaState:
    """How the file's schema stands against this bot's migrations, read without writing (a file
    that does not exist is not created)."""
    if not _exists(path):
        return migrations.schema_state("sqlite", 0, exists=False)
    connection = await _connect_read_only(path)
    try:
        return migrations.schema_state("sqlite", await _user_version(connection))
    finally:
        await connection.close()


async def _connect_read_only(path: Path | str) -> aiosqlite.Connection:
    connection = await aiosqlite.connect(_read_only_uri(path), uri=True, isolation_level=None)
    try:
        await connection.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    except BaseException:
        await connection.close()
        raise
    return connection


def _exists(path: Path | str) -> bool:
    return Path(path).exists()


def _read_only_uri(path: Path | str) -> str:
    # mode=ro: SQLite refuses every write and never creates the file.
    return f"{Path(path).resolve().as_uri()}?mode=ro"


async def _user_version(connection: aiosqlite.Connection) -> int:
    async with connection.execute("PRAGMA user_version") as cursor:
        row = await cursor.fetchone()
    return int(row[0]) if row is not None else 0


def _job_params(job: NewJob, *, now: float, due_at: float | None) -> dict[str, Any]:
    return {
        "akool_id": job.akool_id,
        "kind": job.kind.value,
        "requester_id": job.requester_id,
        "guild_id": job.guild_id,
        "channel_id": job.channel_id,
        "prompt": job.prompt,
        "scale": job.scale,
        "source_image": job.source_image,
        "parent_akool_id": job.parent_akool_id,
        "button": job.button,
        "status": job.status.value,
        "status_rank": job.status.rank,
        "credits": job.credits,
        "now": now,
        "akool_created_at": job.akool_created_at,
        "due_at": due_at,
        "intent_id": job.intent_id,
        "api": job.api,
        "batch_akool_id": job.batch_akool_id,
        "batch_index": job.batch_index,
        "create_options": rows.options_json(job.options),
    }


def _limit_params(limits: Limits | None) -> dict[str, Any]:
    if limits is None:
        return {"active": None, "daily": None, "since": None}
    return {"active": limits.active, "daily": limits.daily, "since": limits.since}


def _cap_params(caps: Caps | None) -> dict[str, Any]:
    if caps is None:
        return {
            "account": None,
            "server": None,
            "window": None,
            "default_cost": 0,
            "recent": 0,
            "image_cost": 0,
        }
    return {
        "account": caps.account,
        "server": caps.server,
        "window": caps.since,
        "default_cost": caps.default_cost,
        "recent": caps.recent,
        "image_cost": caps.default_image_cost,
    }


async def _migrate(connection: aiosqlite.Connection) -> None:
    """Apply every pending migration in one transaction: all of them land, or none.

    The schema version is SQLite's ``user_version``, which lives in the file header and is
    written inside the same transaction as the migrations.
    """
    current = await _user_version(connection)
    known = migrations.load("sqlite")
    if current > len(known):
        raise RuntimeError(
            f"the database is at schema version {current}, newer than this bot knows "
            f"({len(known)}); run a newer version of the bot"
        )
    pending = [m for m in known if m.version > current]
    if not pending:
        return
    script = ["BEGIN IMMEDIATE;"]
    script.extend(m.sql for m in pending)
    script.append(f"PRAGMA user_version = {int(pending[-1].version)};")
    script.append("COMMIT;")
    try:
        await connection.executescript("\n".join(script))
    except sqlite3.Error:
        if connection.in_transaction:
            await connection.rollback()
        raise
    for migration in pending:
        log.info(
            "Applied migration %04d %s: %s", migration.version, migration.name, migration.reason
        )
