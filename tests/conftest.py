"""Shared fixtures: the fake AKOOL, a real AKOOL client pointed at it, and a fresh store."""

from __future__ import annotations

import gc
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web

from bot.akool import AkoolClient
from bot.secret import Secret
from bot.store.sqlite import SqliteJobStore
from tests.clock import Clock
from tests.fakes.akool import FakeAkool
from tests.fakes.discord import FakeDiscord


@pytest.fixture
def restore_logging() -> Iterator[None]:
    """For a test that calls ``setup_logging``: the root logger's handlers and the levels it
    sets are put back afterwards, so the rest of the session logs as before."""
    root = logging.getLogger()
    names = ("discord.http", "discord.gateway")
    handlers, level = list(root.handlers), root.level
    levels = {name: logging.getLogger(name).level for name in names}
    try:
        yield
    finally:
        for handler in list(root.handlers):
            root.removeHandler(handler)
        for handler in handlers:
            root.addHandler(handler)
        root.setLevel(level)
        for name, saved in levels.items():
            logging.getLogger(name).setLevel(saved)


def pytest_collection_finish(session: pytest.Session) -> None:
    """Move everything imported so far out of the collector's reach: modules, classes and
    functions live to the end of the process anyway, and without this every full collection
    walks them all again (over 100,000 objects), adding to pauses that tests with Discord's 3 s
    deadline feel. The fakes not outliving their tests is the first step (tests.fakes.behind,
    ``forget_fake_discords``); this is the second. Over ``tests/e2e/test_[a-q]*.py`` in one
    process it took the longest full collection from 0.23 s of CPU to 0.07 s."""
    gc.collect()
    gc.freeze()


@pytest.fixture(autouse=True)
def forget_fake_discords() -> Iterator[None]:
    """``FakeDiscord.made`` holds every fake made, for the end-to-end ping check; emptied after
    each test (tests outside e2e make fakes too), so no fake and its state outlive their test."""
    yield
    FakeDiscord.made.clear()


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
async def fake_akool() -> AsyncIterator[FakeAkool]:
    async with FakeAkool() as fake:
        yield fake


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


@pytest.fixture
def akool(http: aiohttp.ClientSession, fake_akool: FakeAkool) -> AkoolClient:
    # Short timeout and backoff keep fault tests quick; the retry rules are the same.
    return AkoolClient(
        http,
        Secret(fake_akool.api_key),
        fake_akool.base_url,
        timeout=0.5,
        attempts=3,
        backoff_initial=0.01,
        backoff_max=0.05,
    )


@pytest.fixture
async def serve() -> AsyncIterator[Callable[[web.Application], Awaitable[str]]]:
    """Serve an aiohttp app on 127.0.0.1 for one test; returns its base URL."""
    runners: list[web.AppRunner] = []

    async def start(app: web.Application) -> str:
        runner = web.AppRunner(app)
        await runner.setup()
        runners.append(runner)
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        return f"http://127.0.0.1:{runner.addresses[0][1]}"

    yield start
    for runner in runners:
        await runner.cleanup()


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "data" / "bot.sqlite3"


@pytest.fixture
async def store(db_path: Path) -> AsyncIterator[SqliteJobStore]:
    async with await SqliteJobStore.open(db_path) as opened:
        yield opened
