"""Every store test runs against both backends: SQLite always, PostgreSQL when
``TEST_DATABASE_URL`` names a server (``.ci/run`` provides one). Without it the PostgreSQL cases
are reported as skipped, with the reason, never passed silently.

Each PostgreSQL case gets a schema of its own (named in the connection's ``search_path``), so
cases cannot see each other's rows and need no cleanup beyond dropping it.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from urllib.parse import urlencode, urlsplit, urlunsplit

import pytest

from bot.store.base import JobStore
from bot.store.sqlite import SqliteJobStore

Opener = Callable[[], Awaitable[JobStore]]

NO_POSTGRES = "PostgreSQL store tests need TEST_DATABASE_URL (bash .ci/run sets it)"


def with_schema(url: str, schema: str) -> str:
    """``url`` with its connections' ``search_path`` set to ``schema`` (asyncpg passes unknown
    query parameters on as server settings)."""
    parts = urlsplit(url)
    query = "&".join(filter(None, [parts.query, urlencode({"search_path": schema})]))
    return urlunsplit(parts._replace(query=query))


@contextlib.asynccontextmanager
async def postgres_schema() -> AsyncIterator[str]:
    """A fresh schema on the test server for one case; yields a URL that uses it."""
    url = os.environ.get("TEST_DATABASE_URL")
    if not url:
        pytest.skip(NO_POSTGRES)
    import asyncpg

    schema = f"t_{secrets.token_hex(6)}"
    admin = await asyncpg.connect(url)
    try:
        await admin.execute(f'CREATE SCHEMA "{schema}"')
        yield with_schema(url, schema)
    finally:
        await admin.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        await admin.close()


@contextlib.asynccontextmanager
async def openers(backend: str, folder: Path) -> AsyncIterator[Opener]:
    """Opens stores on one case's database; each call is another process's view of it."""
    opened: list[JobStore] = []
    async with contextlib.AsyncExitStack() as stack:
        if backend == "sqlite":
            path = folder / "data" / "bot.sqlite3"

            async def open_one() -> JobStore:
                opened.append(await SqliteJobStore.open(path))
                return opened[-1]

        else:
            from bot.store.postgres import PostgresJobStore

            url = await stack.enter_async_context(postgres_schema())

            async def open_one() -> JobStore:
                opened.append(await PostgresJobStore.open(url))
                return opened[-1]

        try:
            yield open_one
        finally:
            for store in opened:
                await store.close()


@pytest.fixture(params=["sqlite", "postgres"])
async def open_store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Opener]:
    async with openers(request.param, tmp_path) as opener:
        yield opener


@pytest.fixture
async def store(open_store: Opener) -> JobStore:
    return await open_store()


@pytest.fixture
async def open_postgres(tmp_path: Path) -> AsyncIterator[Opener]:
    async with openers("postgres", tmp_path) as opener:
        yield opener
