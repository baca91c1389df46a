"""``akool-bot backup`` while the bot runs and jobs are being written: the copy opens, passes
SQLite's integrity check, holds every job committed before it began, and a bot started on it
delivers each job that was pending there, once."""

from __future__ import annotations

import asyncio
import os
import sqlite3
import sys
import time
from pathlib import Path

from bot.store import JobKind, NewJob
from tests.children import ROOT, current_user
from tests.e2e.conftest import World
from tests.fakes.akool import Timeline

IMAGINED = 3
# Jobs the writer has committed before the backup starts.
WRITTEN_FIRST = 20


def _backup_env(database: Path) -> dict[str, str]:
    kept = {k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_", "DISCORD_"))}
    return current_user().environment(
        {**kept, "DATABASE_URL": f"sqlite:///{database}", "PYTHONPATH": str(ROOT)}
    )


def _pending_in(path: Path) -> tuple[str, set[str]]:
    with sqlite3.connect(path) as backup:
        (verdict,) = backup.execute("PRAGMA integrity_check").fetchone()
        rows = backup.execute("SELECT akool_id FROM jobs WHERE delivery = 'pending'").fetchall()
    return verdict, {akool_id for (akool_id,) in rows}


async def test_a_backup_taken_while_jobs_are_written_restores_what_was_pending(
    world: World, tmp_path: Path
):
    world.akool.timeline = Timeline(processing_after=0, hold=True)  # nothing finishes yet
    backup = tmp_path / "backups" / "bot-backup.sqlite3"
    backup.parent.mkdir()
    written: list[str] = []
    enough = asyncio.Event()
    stop = asyncio.Event()
    command = Path(sys.executable).with_name("akool-bot")

    async with world.running() as bot:
        # Checkpoints off: all the bot commits stays in the write-ahead log, as between any two
        # checkpoints, where a copy of the database file alone would not find it.
        await bot.store._db.execute("PRAGMA wal_autocheckpoint = 0")  # type: ignore[attr-defined]
        for n in range(IMAGINED):
            ix = await world.discord.slash_command(
                world.alice, world.channel, "imagine", {"prompt": f"backed-up fox {n}"}
            )
            await ix.wait_original_edit(lambda m: "Processing" in m.content)
        imagined = set(world.akool.jobs)

        async def write() -> None:
            """Jobs followed from elsewhere (as /track stores them), one after another."""
            while not stop.is_set():
                job = world.akool.add_job(status=None, prompt=f"written {len(written)}")
                new = NewJob(
                    akool_id=job.id,
                    kind=JobKind.TRACK,
                    requester_id=world.bob.id,
                    channel_id=world.channel.id,
                    guild_id=world.guild.id,
                    prompt=job.prompt,
                )
                await bot.store.add_job(new, now=time.time(), due_at=time.time())
                written.append(job.id)
                if len(written) >= WRITTEN_FIRST:
                    enough.set()

        writer = asyncio.create_task(write())
        try:
            await asyncio.wait_for(enough.wait(), timeout=10)
            committed_before = set(written)
            proc = await asyncio.create_subprocess_exec(
                str(command),
                "backup",
                str(backup),
                cwd=tmp_path,
                env=_backup_env(world.db_path),
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
            )
            out, err = await asyncio.wait_for(proc.communicate(), timeout=30)
            written_meanwhile = len(written) - len(committed_before)
        finally:
            stop.set()
            await writer

    assert proc.returncode == 0, err.decode()
    assert written_meanwhile > 0  # the bot's store went on writing while the backup ran
    assert out.decode().startswith(f"Backed up {world.db_path} to {backup}: ")
    verdict, pending = await asyncio.to_thread(_pending_in, backup)
    assert verdict == "ok"
    assert imagined | committed_before <= pending
    assert pending <= imagined | set(written)

    # Restore: a bot started on the copy, with every job finished at AKOOL meanwhile.
    for job_id in world.akool.jobs:
        world.akool.finish(job_id)
    async with world.running(database_url=f"sqlite:///{backup}"):
        for job_id in sorted(pending):
            await world.wait_for_post(world.is_post_of(job_id), timeout=60)

    for job_id in pending:
        assert len(world.posts_for(job_id)) == 1, job_id
    # Jobs written after the copy was taken are not in it, and were not posted by it.
    later = set(written) - pending
    assert not [job_id for job_id in later if world.posts_for(job_id)]
