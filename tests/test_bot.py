"""Whole-bot invariants: extensions load, commands are unique and described, imports flow right."""

from __future__ import annotations

import ast
from pathlib import Path

from discord import app_commands

from bot.core import EXTENSIONS
from bot.runner import assemble
from bot.secret import Secret
from bot.settings import Settings

ROOT = Path(__file__).resolve().parents[1]


async def test_every_extension_loads_with_unique_described_commands(tmp_path: Path):
    settings = Settings(
        discord_token=Secret("t"),
        akool_api_key=Secret("k"),
        database_url=f"sqlite:///{tmp_path / 'bot.sqlite3'}",
        http_port=0,
    )
    async with assemble(settings) as runtime:
        bot = runtime.bot
        for extension in EXTENSIONS:
            await bot.load_extension(extension)
        commands = bot.tree.get_commands()
        # Closing the bot unloads its extensions and their commands with them.
        walked = list(bot.tree.walk_commands())
        loaded = set(bot.extensions)

    assert loaded == set(EXTENSIONS)
    names = [c.name for c in commands]
    assert len(names) == len(set(names))
    assert {"imagine", "track", "status"} <= set(names)
    for command in commands:
        assert command.guild_only, command.name
    # Subcommands of groups (/settings channel allow) are described too.
    described = []
    for command in walked:
        assert command.description not in ("", "…"), command.qualified_name
        if isinstance(command, app_commands.Command):
            for parameter in command.parameters:
                where = f"/{command.qualified_name} {parameter.name}"
                assert parameter.description not in ("", "…"), where
                described.append(where)
    assert {"/imagine prompt", "/settings limits active"} <= set(described)


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
    return found


def test_bot_never_imports_cogs_and_cogs_never_import_each_other():
    for path in (ROOT / "bot").rglob("*.py"):
        assert not any(m == "cogs" or m.startswith("cogs.") for m in _imports(path)), path
    for path in (ROOT / "cogs").rglob("*.py"):
        # A cog is a module cogs/x.py or a package cogs/x/; it may import only within itself.
        own = "cogs." + path.relative_to(ROOT / "cogs").parts[0].removesuffix(".py")
        others = {
            m
            for m in _imports(path)
            if m.startswith("cogs.") and m != own and not m.startswith(own + ".")
        }
        assert not others, f"{path.name} imports {others}"


def test_no_sql_outside_the_store():
    keywords = ("SELECT ", "INSERT INTO", "UPDATE jobs", "DELETE FROM")
    for folder in ("bot", "cogs"):
        for path in (ROOT / folder).rglob("*.py"):
            if "store" in path.relative_to(ROOT).parts:
                continue
            text = path.read_text(encoding="utf-8")
            assert not any(k in text for k in keywords), path
