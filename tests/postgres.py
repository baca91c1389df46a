"""A PostgreSQL database for one test, when ``TEST_DATABASE_URL`` names a server.

Each test gets a schema of its own, named in its connections' ``search_path``, so tests cannot
see each other's rows and need no cleanup beyond dropping it. Under pytest-xdist each worker
also gets a database of its own next to the named one (``<name>_gw0``, created on first use and
kept for the next run): ``LISTEN``/``NOTIFY`` channels and advisory locks belong to a database,
not a schema, so two workers sharing one would wake each other's stores and wait on each other's
locks.

Without the variable the test is skipped, with the reason; with ``REQUIRE_POSTGRES=1`` (CI sets
it) it fails instead, so a CI run can never pass with the PostgreSQL half left out.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import AsyncIterator
from urllib.parse import urlencode, urlsplit, urlunsplit

import pytest

NO_POSTGRES = "PostgreSQL tests need TEST_DATABASE_URL (bash .ci/run sets it)"
REQUIRED = (
    "REQUIRE_POSTGRES=1 but TEST_DATABASE_URL is not set: the PostgreSQL half of the suite "
    "cannot run (bash .ci/run creates a database and sets it)"
)


def with_schema(url: str, schema: str) -> str:
    """``url`` with its connections' ``search_path`` set to ``schema`` (asyncpg passes unknown
    query parameters on as server settings)."""
    parts = urlsplit(url)
    query = "&".join(filter(None, [parts.query, urlencode({"search_path": schema})]))
    return urlunsplit(parts._replace(query=query))


def with_database(url: str, database: str) -> str:
    """``url`` naming ``database`` instead of the one it names."""
    return urlunsplit(urlsplit(url)._replace(path=f"/{database}"))


def server_url() -> str:
    """``TEST_DATABASE_URL``; skips the test without it, or fails it under ``REQUIRE_POSTGRES``."""
    url = os.environ.get("TEST_DATABASE_URL")
    if not url:
        if os.environ.get("REQUIRE_POSTGRES") == "1":
            pytest.fail(REQUIRED, pytrace=False)
        pytest.skip(NO_POSTGRES)
    return url


async def worker_url(url: str) -> str:
    """The database of this xdist worker (created if missing), or ``url`` outside xdist."""
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    if not worker:
        return url
    import asyncpg

    database = f"{urlsplit(url).path.lstrip('/') or 'postgres'}_{worker}"
    admin = await asyncpg.connect(url)
    try:
        if not await admin.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", database):
            with contextlib.suppress(asyncpg.DuplicateDatabaseError):
                await admin.execute(f'CREATE DATABASE "{database}"')
    finally:
        await admin.close()
    return with_database(url, database)


@contextlib.asynccontextmanager
async def postgres_schema() -> AsyncIterator[str]:
    """A fresh schema on the test server for one case; yields a URL that uses it."""
    url = await worker_url(server_url())
    import asyncpg

    schema = f"t_{secrets.token_hex(6)}"
    admin = await asyncpg.connect(url)
    try:
        await admin.execute(f'CREATE SCHEMA "{schema}"')
        yield with_schema(url, schema)
    finally:
        await admin.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        await admin.close()
