"""Start-up failures: the real ``python -m bot`` says in one line which part failed, without a
traceback, and exits non-zero. Everything it reaches is on 127.0.0.1 (or is a name that fails to
resolve without leaving the machine, see ``tests/child_site``)."""

from __future__ import annotations

import asyncio
import os
import secrets
import shutil
import socket
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.children import CHILD_SITE, ROOT, Runner, current_user, unprivileged
from tests.fakes.discord import FakeDiscord
from tests.ports import reserved_port
from tests.postgres import server_url, with_database


@dataclass
class Ended:
    code: int
    stderr: str

    @property
    def error(self) -> str:
        """The one error line, checked to be the only one and without a traceback."""
        assert "Traceback" not in self.stderr, self.stderr
        errors = [line for line in self.stderr.splitlines() if " ERROR " in line]
        assert len(errors) == 1, self.stderr
        return errors[0]


@pytest.fixture
def folder() -> Iterator[Path]:
    """A folder every child can enter and write, whichever user it runs as (pytest's own
    ``tmp_path`` is private to the user running the tests)."""
    path = Path(tempfile.mkdtemp(prefix="akool-startup-"))
    path.chmod(0o777)
    try:
        yield path
    finally:
        shutil.rmtree(path)


def _closed_port() -> int:
    """A port on 127.0.0.1 where nothing listens (and none will for a minute)."""
    return reserved_port()


def _a_privileged_port() -> int:
    start = int(Path("/proc/sys/net/ipv4/ip_unprivileged_port_start").read_text())
    assert start > 1, "every port is open to every user on this machine"
    return start - 1


def _env(folder: Path, **extra: str) -> dict[str, str]:
    closed = _closed_port()
    kept = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("DISCORD_", "AKOOL_", "DATABASE_", "HTTP_", "CHILD_"))
    }
    return {
        **kept,
        "DISCORD_TOKEN": "startup-test-token",
        "AKOOL_API_KEY": "startup-test-key",
        "DISCORD_API_BASE_URL": f"http://127.0.0.1:{closed}/api/v10",
        "DISCORD_GATEWAY_URL": f"ws://127.0.0.1:{closed}/gateway",
        "AKOOL_BASE_URL": f"http://127.0.0.1:{closed}",
        "DATABASE_URL": f"sqlite:///{folder / 'data' / 'bot.sqlite3'}",
        "HTTP_HOST": "127.0.0.1",
        "HTTP_PORT": str(reserved_port()),
        "PYTHONPATH": str(ROOT),
        **extra,
    }


async def _start(env: dict[str, str], folder: Path, runner: Runner | None = None) -> Ended:
    runner = runner or current_user()
    proc = await asyncio.create_subprocess_exec(
        *runner.python,
        "-m",
        "bot",
        cwd=folder,
        env=runner.environment(env),
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
        **runner.popen(),
    )
    try:
        _, stderr = await asyncio.wait_for(proc.communicate(), timeout=30)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    assert proc.returncode is not None
    return Ended(proc.returncode, stderr.decode())


async def _lookups_are_offline(runner: Runner, folder: Path) -> None:
    """The child imports the ``sitecustomize`` that keeps its name lookups on this machine."""
    proc = await asyncio.create_subprocess_exec(
        *runner.python,
        "-c",
        "import sitecustomize; print(sitecustomize.__file__)",
        cwd=folder,
        env=runner.environment({"PATH": os.environ.get("PATH", "")}),
        stdout=asyncio.subprocess.PIPE,
        **runner.popen(),
    )
    out, _ = await asyncio.wait_for(proc.communicate(), timeout=30)
    assert Path(out.decode().strip()) == CHILD_SITE / "sitecustomize.py"


# -- the HTTP server ---------------------------------------------------------------------------


async def test_http_port_in_use(folder: Path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        ended = await _start(_env(folder, HTTP_PORT=str(port)), folder)

    assert ended.code == 2
    assert f"cannot listen on 127.0.0.1:{port}: the port is in use" in ended.error
    assert "HTTP_PORT" in ended.error


async def test_http_port_not_permitted(folder: Path):
    runner = unprivileged()
    port = _a_privileged_port()

    ended = await _start(_env(folder, HTTP_PORT=str(port)), folder, runner)

    assert ended.code == 2
    assert f"cannot listen on 127.0.0.1:{port}: this user is not permitted" in ended.error


# -- Discord -----------------------------------------------------------------------------------


async def test_discord_cannot_be_resolved(folder: Path):
    runner = current_user()
    await _lookups_are_offline(runner, folder)
    # .invalid never exists (RFC 2606); the child's lookups fail without asking any server.
    env = _env(folder, DISCORD_API_BASE_URL="http://discord.invalid/api/v10")

    ended = await _start(env, folder, runner)

    assert ended.code == 2
    assert "Discord cannot be resolved: discord.invalid is not a known host name" in ended.error


async def test_discord_cannot_be_reached(folder: Path):
    port = _closed_port()
    env = _env(folder, DISCORD_API_BASE_URL=f"http://127.0.0.1:{port}/api/v10")

    ended = await _start(env, folder)

    assert ended.code == 2
    assert f"Discord cannot be reached at 127.0.0.1:{port}" in ended.error
    assert "refused" in ended.error.lower()


async def test_discord_refuses_the_token(folder: Path):
    discord = FakeDiscord(token="the-right-token-0123456789")
    await discord.start()
    try:
        env = _env(
            folder,
            DISCORD_TOKEN="a-wrong-token-0123456789",
            DISCORD_API_BASE_URL=discord.rest_base,
            DISCORD_GATEWAY_URL=discord.gateway_url,
        )
        ended = await _start(env, folder)
    finally:
        await discord.close()

    assert ended.code == 2
    assert "Discord refused DISCORD_TOKEN" in ended.error
    assert "a-wrong-token" not in ended.stderr


# -- the database ------------------------------------------------------------------------------


async def test_database_folder_missing_and_not_creatable(folder: Path):
    (folder / "a-file").write_text("not a folder")
    database = folder / "a-file" / "data" / "bot.sqlite3"

    ended = await _start(_env(folder, DATABASE_URL=f"sqlite:///{database}"), folder)

    assert ended.code == 2
    assert f"The database folder {database.parent} does not exist and cannot be created" in (
        ended.error
    )
    assert "listening" not in ended.stderr  # the database is opened first


async def test_database_folder_not_writable(folder: Path):
    runner = unprivileged()
    data = folder / "data"
    data.mkdir()
    data.chmod(0o555)

    ended = await _start(_env(folder), folder, runner)

    assert ended.code == 2
    assert f"The database folder {data} is not writable by this user" in ended.error


async def test_postgres_cannot_be_reached(folder: Path):
    port = _closed_port()
    url = f"postgresql://akool:a-password-here@127.0.0.1:{port}/akool"

    ended = await _start(_env(folder, DATABASE_URL=url), folder)

    assert ended.code == 2
    assert f"PostgreSQL at 127.0.0.1:{port} cannot be reached" in ended.error
    assert "a-password-here" not in ended.stderr


async def test_postgres_refuses_the_connection(folder: Path):
    missing = f"akool_no_such_database_{secrets.token_hex(4)}"
    url = with_database(server_url(), missing)

    ended = await _start(_env(folder, DATABASE_URL=url), folder)

    assert ended.code == 2
    assert "refused the connection" in ended.error
    assert missing in ended.error


async def test_postgres_without_its_driver(folder: Path):
    env = _env(
        folder,
        DATABASE_URL=f"postgresql://akool@127.0.0.1:{_closed_port()}/akool",
        CHILD_HIDE_MODULES="asyncpg",
    )

    ended = await _start(env, folder)

    assert ended.code == 2
    assert "asyncpg) is not installed: pip install '.[postgres]'" in ended.error


def test_the_entry_point_reaches_its_own_errors_too():
    """``python -m bot`` and ``akool-bot`` are one entry point (``bot.cli.main``)."""
    script = Path(sys.executable).with_name("akool-bot")

    assert script.exists(), "pip install -e '.[dev]' installs the akool-bot command"
    assert "bot.cli" in script.read_text()
