"""Numbered schema migrations, one folder per SQL dialect.

A file is ``NNNN_name.sql``; its first line is a ``--`` comment giving the reason for the change.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from importlib import resources

_NAME = re.compile(r"^(?P<version>\d{4})_(?P<name>[a-z0-9_]+)\.sql$")


@dataclass(frozen=True, slots=True)
class Migration:
    version: int
    name: str
    reason: str
    sql: str


def load(dialect: str) -> list[Migration]:
    """Every migration for ``dialect`` in version order; gaps or duplicates are a packaging bug."""
    folder = resources.files(__package__).joinpath(dialect)
    migrations = []
    for entry in folder.iterdir():
        match = _NAME.match(entry.name)
        if match is None:
            continue
        sql = entry.read_text(encoding="utf-8")
        first = sql.splitlines()[0] if sql else ""
        if not first.startswith("--"):
            raise ValueError(f"migration {entry.name} must start with a '-- reason' line")
        migrations.append(
            Migration(int(match["version"]), match["name"], first.removeprefix("--").strip(), sql)
        )
    migrations.sort(key=lambda m: m.version)
    expected = list(range(1, len(migrations) + 1))
    if [m.version for m in migrations] != expected:
        raise ValueError(f"{dialect} migrations must be numbered 0001 upwards without gaps")
    return migrations


@dataclass(frozen=True, slots=True)
class SchemaState:
    """How a database's schema stands against this bot's migrations (read, never changed)."""

    # False: there is no database yet; the bot creates it, with every migration, when it starts.
    exists: bool
    version: int
    pending: tuple[Migration, ...]
    # How many migrations this bot knows; a database above that was made by a newer bot.
    known: int

    @property
    def newer_than_bot(self) -> bool:
        return self.version > self.known


def schema_state(dialect: str, version: int, *, exists: bool = True) -> SchemaState:
    """The state of a ``dialect`` database whose schema is at ``version``."""
    known = load(dialect)
    return SchemaState(
        exists=exists,
        version=version,
        pending=tuple(m for m in known if m.version > version),
        known=len(known),
    )
