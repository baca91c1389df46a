"""A consistent copy of the SQLite store, taken while the bot runs.

SQLite's online backup API copies every page under one read transaction: in WAL mode the bot
goes on writing meanwhile, and the copy is the database as of one moment, committed work in the
write-ahead log included (a plain file copy would miss it, or catch a page half-written).
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import Final

# How long to wait for a lock held by a writer (a checkpoint, a migration) before giving up.
_BUSY_TIMEOUT: Final = 30.0


class BackupError(Exception):
    """The backup was refused or failed; the message says why in one line."""


@dataclass(frozen=True, slots=True)
class BackupResult:
    path: Path
    size: int
    jobs: int


def backup_sqlite(source: Path, target: Path) -> BackupResult:
    """Copy the database at ``source`` into the new file ``target`` and check the copy.

    Refuses when ``target`` exists (nothing is overwritten) or its folder is missing, and never
    creates ``source``. On failure no partial copy is left behind.
    """
    if not source.is_file():
        raise BackupError(f"There is no database at {source.absolute()} (DATABASE_URL).")
    if not target.parent.is_dir():
        raise BackupError(f"The folder {target.parent.absolute()} does not exist.")
    try:
        # O_EXCL: the name is taken here or not at all (a file, a link, another backup racing).
        os.close(os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    except FileExistsError:
        raise BackupError(
            f"{target} already exists: choose a new file name (nothing is replaced)."
        ) from None
    except OSError as exc:
        raise BackupError(f"{target} cannot be created: {exc.strerror or exc}.") from None
    try:
        return _copy(source, target)
    except BaseException:
        for leftover in (target, Path(f"{target}-journal")):
            with contextlib.suppress(FileNotFoundError):
                leftover.unlink()
        raise


def _copy(source: Path, target: Path) -> BackupResult:
    # mode=rw: the source must exist; opening it never creates an empty database.
    uri = f"{source.absolute().as_uri()}?mode=rw"
    try:
        src = sqlite3.connect(uri, uri=True, timeout=_BUSY_TIMEOUT)
    except sqlite3.Error as exc:
        raise BackupError(f"The database {source} cannot be opened: {exc}.") from None
    try:
        dst = sqlite3.connect(target, timeout=_BUSY_TIMEOUT)
        try:
            try:
                # pages=-1: all in one step, under one read transaction: one moment's state.
                src.backup(dst, pages=-1)
            except sqlite3.Error as exc:
                raise BackupError(f"The backup of {source} failed: {exc}.") from None
            # One self-contained file: the bot turns WAL on again when it opens a restored copy.
            dst.execute("PRAGMA journal_mode = DELETE")
            (verdict,) = dst.execute("PRAGMA integrity_check").fetchone()
            if verdict != "ok":
                raise BackupError(f"The copy failed its integrity check: {verdict}.")
            try:
                (jobs,) = dst.execute("SELECT COUNT(*) FROM jobs").fetchone()
            except sqlite3.OperationalError:
                raise BackupError(f"{source} is not the bot's database (it has no jobs).") from None
        finally:
            dst.close()
    finally:
        src.close()
    return BackupResult(target, target.stat().st_size, int(jobs))
