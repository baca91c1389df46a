"""Every store test runs against both backends: SQLite always, PostgreSQL when
``TEST_DATABASE_URL`` names a server (``.ci/run`` provides one). Without it the PostgreSQL cases
are reported as skipped, with the reason, never passed silently; under ``REQUIRE_POSTGRES=1``
(CI) they fail.

Each PostgreSQL case gets a schema of its own (see :func:`tests.postgres.postgres_schema`).
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest

from bot.store.base import JobStore
from bot.store.sqlite import SqliteJobStore
from tests.postgres import postgres_schema

Opener = Callable[[], Awaitable[JobStore]]


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
