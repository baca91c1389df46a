"""``akool-bot check``: the AKOOL key, the database and the webhook settings, each failure with
its fix; and the check run as the operator runs it, ``python -m bot.check``."""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import replace
from pathlib import Path

import pytest
from aiohttp import web

from bot.runner import assemble
from bot.settings import Settings
from bot.store import migrations
from bot.store.sqlite import SqliteJobStore
from tests.check.conftest import CheckRunner, Stage, environ_for_child
from tests.fakes.discord import run_bot
from tests.ports import reserved_port

Serve = Callable[[web.Application], Awaitable[str]]


async def test_a_refused_akool_key(stage: Stage, run_check: CheckRunner):
    stage.env["AKOOL_API_KEY"] = "not-the-akool-key"

    checked = await run_check(stage)

    assert checked.status == 1
    line = checked.line("❌", "AKOOL: the API key was refused")
    assert "AKOOL_API_KEY" in checked.fix_after(line)
    assert "not-the-akool-key" not in checked.out


async def test_an_empty_akool_account_is_a_warning(stage: Stage, run_check: CheckRunner):
    stage.akool.balance = 0

    checked = await run_check(stage)

    assert checked.status == 0
    assert checked.line("⚠️", "AKOOL", "no credits left")


async def test_a_database_that_cannot_be_reached(stage: Stage, run_check: CheckRunner):
    port = reserved_port()  # nothing listens there
    stage.env["DATABASE_URL"] = f"postgresql://bot:db-password@127.0.0.1:{port}/jobs"

    checked = await run_check(stage)

    assert checked.status == 1
    line = checked.line("❌", "Database", f"PostgreSQL database jobs at 127.0.0.1:{port}")
    assert "DATABASE_URL" in checked.fix_after(line)
    assert "db-password" not in checked.out
    # Without the database, every text channel was checked.
    assert checked.line("⚠️", "Art Club", "could not be read")


async def test_pending_migrations_are_named_and_left_pending(
    stage: Stage, run_check: CheckRunner, tmp_path: Path
):
    older = tmp_path / "older.sqlite3"
    every = migrations.load("sqlite")
    # The file a bot two migrations older left (its own statements at opening need only the
    # schema it knew, so the store of this one cannot stand in for it).
    with contextlib.closing(sqlite3.connect(older)) as raw:
        for migration in every[:-2]:
            raw.executescript(migration.sql)
        raw.execute(f"PRAGMA user_version = {len(every) - 2}")
    stage.env["DATABASE_URL"] = f"sqlite:///{older}"

    checked = await run_check(stage)

    assert checked.status == 0
    line = checked.line("⚠️", "Database", f"2 of {len(every)} migrations pending")
    assert all(f"{m.version:04d} {m.name}" in line for m in every[-2:])
    with sqlite3.connect(older) as raw:
        assert raw.execute("PRAGMA user_version").fetchone()[0] == len(every) - 2


async def test_a_database_newer_than_the_bot(stage: Stage, run_check: CheckRunner):
    with sqlite3.connect(stage.db_path) as raw:
        raw.execute(f"PRAGMA user_version = {len(migrations.load('sqlite')) + 1}")

    checked = await run_check(stage)

    assert checked.status == 1
    assert "newer version" in checked.fix_after(checked.line("❌", "Database", "newer than"))


async def test_a_database_not_made_yet_is_left_unmade(
    stage: Stage, run_check: CheckRunner, tmp_path: Path
):
    fresh = tmp_path / "fresh" / "bot.sqlite3"
    stage.env["DATABASE_URL"] = f"sqlite:///{fresh}"

    checked = await run_check(stage)

    assert checked.status == 0
    assert checked.line("✅", "Database", "does not exist yet")
    assert not fresh.parent.exists()


async def test_server_settings_decide_which_channels_are_checked(
    stage: Stage, run_check: CheckRunner
):
    import discord

    from bot.server_settings import Scope, ServerSettings

    other = stage.discord.add_channel(stage.guild, name="other")
    stage.discord.set_overwrite(other, stage.bot_role, deny=discord.Permissions(attach_files=True))
    async with await SqliteJobStore.open(stage.db_path) as store:
        only_images = ServerSettings().with_channels(Scope(only=frozenset({stage.channel.id})))
        await store.save_server_settings(stage.guild.id, only_images, now=0.0)

    allowed = await run_check(stage)

    assert allowed.status == 0
    assert "#other" not in allowed.out

    async with await SqliteJobStore.open(stage.db_path) as store:
        all_but_images = ServerSettings().with_channels(
            Scope(excluded=frozenset({stage.channel.id}))
        )
        await store.save_server_settings(stage.guild.id, all_but_images, now=0.0)

    excluded = await run_check(stage)

    assert excluded.status == 1
    assert excluded.line("❌", "#other", "Attach Files")
    assert "#images" not in excluded.out


# Webhooks


def hooked(stage: Stage, url: str) -> None:
    stage.env["AKOOL_CLIENT_ID"] = stage.akool.client_id
    stage.env["WEBHOOK_PUBLIC_URL"] = url


async def test_a_client_id_that_does_not_go_with_the_key(stage: Stage, run_check: CheckRunner):
    stage.env["AKOOL_CLIENT_ID"] = "someoneElsesClientId0123"

    checked = await run_check(stage)

    assert checked.status == 1
    line = checked.line("❌", "AKOOL does not take AKOOL_CLIENT_ID")
    assert "from the same page" in checked.fix_after(line)
    assert "someoneElsesClientId0123" not in checked.out


@pytest.fixture
async def running_bot(stage: Stage, tmp_path: Path) -> AsyncIterator[str]:
    """The bot itself running against the fakes, with its webhook receiver on a known port;
    yields the receiver's URL."""
    port = reserved_port()
    url = f"http://127.0.0.1:{port}/akool/webhook"
    hooked(stage, url)
    settings = Settings.from_env(
        {**stage.env, "HTTP_PORT": str(port), "DATABASE_URL": f"sqlite:///{tmp_path / 'b.db'}"}
    )
    async with assemble(settings) as runtime, run_bot(stage.discord, runtime.bot):
        yield url


async def test_the_running_bot_answers_the_test_callback(
    stage: Stage, run_check: CheckRunner, running_bot: str
):
    checked = await run_check(stage)

    assert checked.status == 0, checked.out
    assert checked.line("✅", "AKOOL takes the client id")
    assert checked.line("✅", running_bot, "answered the bot's signed test callback")
    assert stage.akool.requests_to("createbyprompt") == []


async def test_a_bot_with_another_client_id_refuses_the_test_callback(
    stage: Stage, run_check: CheckRunner, running_bot: str
):
    stage.akool.client_id = "anotherAccountsClient012"
    stage.env["AKOOL_CLIENT_ID"] = stage.akool.client_id  # goes with the key at AKOOL

    checked = await run_check(stage)

    assert checked.status == 1
    line = checked.line("❌", running_bot, "refused", "HTTP 401", "signature")
    assert "same AKOOL_CLIENT_ID" in checked.fix_after(line)


async def test_a_url_answering_as_something_else(
    stage: Stage, run_check: CheckRunner, serve: Serve
):
    async def anything(request: web.Request) -> web.Response:
        return web.json_response({"status": 200, "message": "ok"})

    app = web.Application()
    app.router.add_post("/akool/webhook", anything)
    hooked(stage, await serve(app) + "/akool/webhook")

    checked = await run_check(stage)

    assert checked.status == 1
    line = checked.line("❌", "answered the test callback", "not as this bot does")
    assert "HTTP_HOST:HTTP_PORT" in checked.fix_after(line)


async def test_a_url_that_takes_the_callback_and_never_answers(
    stage: Stage, run_check: CheckRunner
):
    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read(1)  # connected, then nothing

    server = await asyncio.start_server(silent, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    hooked(stage, f"http://127.0.0.1:{port}/akool/webhook")
    try:
        checked = await run_check(stage, "--timeout", "1")
    finally:
        server.close()

    assert checked.status == 1
    assert checked.fix_after(checked.line("❌", "gave no answer within 1 s"))


async def test_a_url_not_reachable_from_here_is_a_warning(stage: Stage, run_check: CheckRunner):
    hooked(stage, f"http://127.0.0.1:{reserved_port()}/akool/webhook")

    checked = await run_check(stage)

    assert checked.status == 0
    assert checked.line("⚠️", "cannot be reached from here")


# As the operator runs it


async def _run_child(stage: Stage, cwd: Path) -> tuple[int, str, str]:
    child = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot.check",
        cwd=cwd,
        env=environ_for_child(stage),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(child.communicate(), timeout=60)
    assert child.returncode is not None
    return child.returncode, out.decode(), err.decode()


async def test_python_m_bot_check_all_green_from_a_dotenv_file(stage: Stage, tmp_path: Path):
    folder = tmp_path / "operator"
    folder.mkdir()
    (folder / ".env").write_text("".join(f"{k}={v}\n" for k, v in stage.env.items()))
    # An empty value in the environment (as docker's --env-file passes) counts as unset: it
    # does not hide the file's.
    stage.env = {"DISCORD_TOKEN": "", "AKOOL_API_KEY": " "}

    status, out, err = await _run_child(stage, folder)

    assert status == 0, out + err
    assert "❌" not in out
    assert "✅ Discord: logged in as FakeBot" in out
    assert "✅ Server “Art Club”" in out
    assert "Nothing to fix" in out
    for secret in (stage.discord.token, stage.akool.api_key):
        assert secret not in out + err


async def test_python_m_bot_check_a_refused_token(stage: Stage, tmp_path: Path):
    stage.env["DISCORD_TOKEN"] = "a-refused-token"

    status, out, err = await _run_child(stage, tmp_path)

    assert status == 1
    assert "❌ Discord refused DISCORD_TOKEN." in out
    assert "   Fix: in the Developer Portal" in out
    assert "Traceback" not in err
    assert "a-refused-token" not in out + err


async def test_a_postgresql_server_that_refuses_the_database(stage: Stage, run_check: CheckRunner):
    from tests.postgres import server_url, with_database

    stage.env["DATABASE_URL"] = with_database(server_url(), "no_such_database_for_check")

    checked = await run_check(stage)

    assert checked.status == 1
    line = checked.line("❌", "Database", "no_such_database_for_check", "refused the connection")
    assert "the database must exist" in checked.fix_after(line)


async def test_the_create_api_and_whether_auto_has_switched(stage: Stage, run_check: CheckRunner):
    before = await run_check(stage)
    assert "through v3 until AKOOL answers" in before.line("✅", "AKOOL create API: auto")

    async with await SqliteJobStore.open(stage.db_path) as store:
        await store.note_v3_create_gone(now=1.0)
    after = await run_check(stage)
    assert after.line("✅", "AKOOL create API: auto, switched to v4")

    forced = await run_check(replace(stage, env={**stage.env, "AKOOL_CREATE_API": "v3"}))
    line = forced.line("⚠️", "AKOOL create API: v3 is forced")
    assert "AKOOL_CREATE_API=auto" in forced.fix_after(line)
    assert forced.status == 0  # a warning, not a failure

    v4 = await run_check(replace(stage, env={**stage.env, "AKOOL_CREATE_API": "v4"}))
    assert v4.line("✅", "AKOOL create API: v4")
