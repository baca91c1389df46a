"""A PostgreSQL database for one test, when ``TEST_DATABASE_URL`` names a server.

Each test gets a schema of its own, named in its connections' ``search_path``, so tests cannot
see each other's rows and need no cleanup beyond dropping it. Without the variable the test is
skipped, with the reason.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import AsyncIterator
from urllib.parse import urlencode, urlsplit, urlunsplit

import pytest

NO_POSTGRES = "PostgreSQL tests need TEST_DATABASE_URL (bash .ci/run sets it)"


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
