"""The container, as far as it can be tested without a container engine: the bot started the way
the image starts it, compose's PostgreSQL password, and the Python the image runs.

The image cannot be built here (no engine, no base image). So the test reads the Dockerfile and
does what it says on this machine: its ``COPY`` lines lay out its working directory, its ``VOLUME``
becomes a folder owned by its user, its ``ENV`` lines and an unedited copy of ``.env.example``
(as ``docker run --env-file`` reads it, plus the required values) make the environment, and its
``CMD`` and ``HEALTHCHECK`` run as its non-root user (see ``tests.children``). The image's
absolute paths are made under a temporary folder. What differs: the Python and its packages are
this test environment's (put on ``PYTHONPATH`` when the user cannot run this interpreter), and the
bot is pointed at the fakes on 127.0.0.1.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import shlex
import shutil
import signal
import sys
import tempfile
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import yaml

from bot.settings import WHERE_TO_GET
from tests.children import ROOT, Runner, unprivileged
from tests.fakes.akool import FakeAkool
from tests.fakes.discord import FakeDiscord
from tests.ports import reserved_port


def env_file(text: str) -> dict[str, str]:
    """What ``docker run --env-file`` (and compose's ``env_file``) makes of a file: a line
    ``NAME=value`` sets NAME to the rest of the line as it is (``NAME=`` to an empty string);
    lines starting with ``#`` and blank lines are skipped."""
    env = {}
    for line in text.splitlines():
        stripped = line.lstrip()
        if not stripped or stripped.startswith("#"):
            continue
        name, sep, value = stripped.partition("=")
        assert sep, f"{line!r}: a bare NAME takes its value from the host's environment"
        env[name] = value
    return env


@dataclass
class Image:
    """What the Dockerfile says about running the bot."""

    base: str = ""
    workdir: str = "/"
    env: dict[str, str] = field(default_factory=dict)
    user: str = "root"
    uids: dict[str, int] = field(default_factory=dict)
    copies: list[tuple[str, str]] = field(default_factory=list)
    volumes: list[str] = field(default_factory=list)
    healthcheck: list[str] = field(default_factory=list)
    cmd: list[str] = field(default_factory=list)

    @property
    def uid(self) -> int:
        return self.uids[self.user]


def read_dockerfile(path: Path) -> Image:
    image = Image()
    instructions, pending = [], ""
    for line in path.read_text().splitlines():
        if line.lstrip().startswith("#"):
            continue  # comments, also between continued lines
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        instructions.append(pending + line)
        pending = ""
    for instruction in filter(str.strip, instructions):
        keyword, _, rest = instruction.strip().partition(" ")
        rest = rest.strip()
        if keyword == "FROM":
            image.base = rest
        elif keyword == "ENV":
            image.env.update(pair.split("=", 1) for pair in shlex.split(rest))  # type: ignore[misc]
        elif keyword == "WORKDIR":
            image.workdir = rest
        elif keyword == "USER":
            image.user = rest
        elif keyword == "RUN":
            for uid, name in re.findall(r"useradd\b[^&]*--uid (\d+) (\w+)", rest):
                image.uids[name] = int(uid)
        elif keyword == "COPY":
            *sources, dest = rest.split()
            image.copies += [(source, dest) for source in sources]
        elif keyword == "VOLUME":
            image.volumes += json.loads(rest)
        elif keyword == "HEALTHCHECK":
            image.healthcheck = json.loads(rest[rest.index("CMD ") + 4 :])
        elif keyword == "CMD":
            image.cmd = json.loads(rest)
    return image


IMAGE = read_dockerfile(ROOT / "Dockerfile")


@dataclass
class Container:
    """The image's file system under ``root``, its user, and how to run its commands."""

    image: Image
    root: Path
    runner: Runner
    env: dict[str, str]

    def inside(self, path: str) -> Path:
        return self.root / path.lstrip("/")

    @property
    def workdir(self) -> Path:
        return self.inside(self.image.workdir)

    async def start(self, command: list[str], log: Path) -> asyncio.subprocess.Process:
        assert command[0] == "python", command
        with log.open("ab") as out:
            return await asyncio.create_subprocess_exec(
                *self.runner.python,
                *command[1:],
                cwd=self.workdir,
                env=self.runner.environment(self.env),
                stdout=out,
                stderr=out,
                **self.runner.popen(),
            )

    async def healthcheck(self, log: Path) -> int:
        proc = await self.start(self.image.healthcheck, log)
        return await asyncio.wait_for(proc.wait(), timeout=10)


def _lay_out(image: Image, root: Path, uid: int) -> None:
    """The image's folders: its copies read-only (as COPY leaves them to a non-root user), its
    volumes and the user's home owned by ``uid``, the user the bot runs as."""
    workdir = root / image.workdir.lstrip("/")
    workdir.mkdir(parents=True)
    for source, dest in image.copies:
        target = workdir / dest
        if (ROOT / source).is_dir():
            shutil.copytree(ROOT / source, target, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy(ROOT / source, target)
    for folder in [*image.volumes, f"/home/{image.user}"]:
        path = root / folder.lstrip("/")
        path.mkdir(parents=True)
        if os.geteuid() == 0:
            os.chown(path, uid, uid)
    for dirpath, _, files in os.walk(workdir):
        for name in files:
            Path(dirpath, name).chmod(0o444)
        Path(dirpath).chmod(0o555)


def _writable_again(root: Path) -> None:
    for dirpath, _, _ in os.walk(root):
        Path(dirpath).chmod(0o755)


@pytest.fixture
def image_root() -> Iterator[Path]:
    root = Path(tempfile.mkdtemp(prefix="akool-image-"))
    root.chmod(0o755)
    try:
        yield root
    finally:
        _writable_again(root)
        shutil.rmtree(root)


def _in_root(value: str, image: Image, root: Path) -> str:
    """An image path in an ENV value, moved under ``root``."""
    for folder in [image.workdir, *image.volumes]:
        value = value.replace(f"{folder}/", f"{root}{folder}/", 1)
    return value


def _filled_env_example(discord: FakeDiscord, akool: FakeAkool, port: int) -> str:
    """An unedited copy of .env.example with the required values filled in, and the fakes and a
    free port added at the end, as an operator edits theirs."""
    text = (ROOT / ".env.example").read_text()
    filled = {"DISCORD_TOKEN": discord.token, "AKOOL_API_KEY": akool.api_key}
    assert set(filled) == set(WHERE_TO_GET)
    for name, value in filled.items():
        text = re.sub(rf"^{name}=$", f"{name}={value}", text, count=1, flags=re.MULTILINE)
    return text + (
        f"DISCORD_API_BASE_URL={discord.rest_base}\n"
        f"DISCORD_GATEWAY_URL={discord.gateway_url}\n"
        f"AKOOL_BASE_URL={akool.base_url}\n"
        # Not the image's 8080: the health check must follow it.
        f"HTTP_PORT={port}\n"
    )


async def _healthz(url: str, *, timeout: float) -> tuple[int, Any]:
    """Ask /healthz from outside the container until it answers 200 (or the time is up)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    async with aiohttp.ClientSession() as http:
        while True:
            try:
                async with http.get(url) as response:
                    status, body = response.status, await response.json()
                if status == 200 or loop.time() > deadline:
                    return status, body
            except aiohttp.ClientConnectionError:
                if loop.time() > deadline:
                    raise
            await asyncio.sleep(0.05)  # the gap between two looks, not a wait for an outcome


async def _ready_or_ended(
    discord: FakeDiscord, proc: asyncio.subprocess.Process, log: Path
) -> None:
    """Wait until the bot is connected to the fake Discord; fail at once if it exits first."""
    ready = asyncio.ensure_future(discord.wait_until_ready(timeout=30))
    ended = asyncio.ensure_future(proc.wait())
    await asyncio.wait({ready, ended}, return_when=asyncio.FIRST_COMPLETED)
    if not ready.done():
        ready.cancel()
        output = await asyncio.to_thread(log.read_text)
        pytest.fail(f"the bot exited with {proc.returncode}:\n{output}")
    ended.cancel()
    ready.result()


@pytest.mark.slow
async def test_the_bot_runs_as_the_image_runs_it(image_root: Path, tmp_path: Path):
    image = IMAGE
    assert image.user != "root"
    assert image.uid != 0
    runner = unprivileged(image.uid)
    _lay_out(image, image_root, runner.uid)
    discord = FakeDiscord(token="container-test-token-0123456789")
    discord.add_channel(discord.add_guild(name="Art Club"), name="images")
    await discord.start()
    akool = FakeAkool()
    await akool.start()
    port = reserved_port()
    env = {
        "PATH": "/usr/local/bin:/usr/local/sbin:/usr/sbin:/usr/bin:/sbin:/bin",
        "HOME": str(image_root / "home" / image.user),
        "HOSTNAME": "akool-bot",
        **{name: _in_root(value, image, image_root) for name, value in image.env.items()},
        # docker run --env-file: its values override the image's ENV.
        **env_file(_filled_env_example(discord, akool, port)),
    }
    container = Container(image, image_root, runner, env)
    log = tmp_path / "container.log"
    proc = await container.start(image.cmd, log)
    try:
        await _ready_or_ended(discord, proc, log)
        status, body = await _healthz(f"http://127.0.0.1:{port}/healthz", timeout=30)
        health_while_up = await container.healthcheck(log)
        proc.send_signal(signal.SIGTERM)
        code = await asyncio.wait_for(proc.wait(), timeout=15)
        health_when_down = await container.healthcheck(log)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
        await discord.close()
        await akool.close()

    output = log.read_text()
    assert (status, body) == (200, {"status": "ok", "gateway": True, "store": True}), output
    assert health_while_up == 0, output
    assert health_when_down != 0, output
    assert code == 0, output
    # On all interfaces, as the image's HTTP_HOST says, and on the port .env gave.
    assert f"HTTP server listening on 0.0.0.0:{port}" in output
    # The store is on the volume, owned by the image's user (the working directory is
    # read-only to it, as in the image).
    database = container.inside("/data") / "bot.sqlite3"
    assert database.exists(), output
    assert database.stat().st_uid == runner.uid
    assert "Traceback" not in output


def test_an_unedited_env_example_sets_only_the_required_values():
    env = env_file((ROOT / ".env.example").read_text())

    # An empty line for any other would override the image's own value (DATABASE_URL, HTTP_HOST).
    assert env == dict.fromkeys(WHERE_TO_GET, "")


def test_the_image_runs_the_python_ci_tests():
    ci_python = f"{sys.version_info.major}.{sys.version_info.minor}"
    floor = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["requires-python"]

    assert re.fullmatch(rf"python:{re.escape(ci_python)}(-slim)?", IMAGE.base), IMAGE.base
    assert floor == f">={ci_python}"


_VARIABLE = re.compile(r"\$\{(\w+)(?::\?([^}]*))?\}")


def _interpolate(value: Any, env: dict[str, str]) -> Any:
    """compose's ``${NAME}`` and ``${NAME:?message}`` (an error when NAME is unset or empty)."""
    if isinstance(value, dict):
        return {k: _interpolate(v, env) for k, v in value.items()}
    if isinstance(value, list):
        return [_interpolate(v, env) for v in value]
    if not isinstance(value, str):
        return value

    def one(match: re.Match[str]) -> str:
        name, message = match.group(1), match.group(2)
        if message is not None and not env.get(name):
            raise ValueError(f"required variable {name} is missing a value: {message}")
        return env.get(name, "")

    return _VARIABLE.sub(one, value)


def test_compose_takes_the_postgres_password_from_env_and_refuses_to_start_without_one():
    compose = yaml.safe_load((ROOT / "compose.yaml").read_text())

    for env in ({}, {"POSTGRES_PASSWORD": ""}):
        with pytest.raises(ValueError, match="POSTGRES_PASSWORD is missing a value: set"):
            _interpolate(compose, env)
    services = _interpolate(compose, {"POSTGRES_PASSWORD": "b7e1c0ffee"})["services"]

    assert services["postgres"]["environment"]["POSTGRES_PASSWORD"] == "b7e1c0ffee"
    bots = [s for name, s in services.items() if name.startswith("bot-")]
    assert len(bots) == 2
    for bot in bots:
        environment = bot["environment"]
        assert environment["DATABASE_URL"] == "postgresql://akool:b7e1c0ffee@postgres:5432/akool"
        # environment wins over env_file: a .env line cannot make the published port dead.
        assert environment["HTTP_HOST"] == "0.0.0.0"  # noqa: S104 - what compose must say
        (published,) = bot["ports"]
        assert published.rsplit(":", 1)[1] == environment["HTTP_PORT"]
