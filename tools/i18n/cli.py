"""``python -m tools.i18n update|init LANG|check``."""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

from tools.i18n import catalogs
from tools.i18n.check import all_problems


def _shown(path: Path) -> str:
    return str(path.relative_to(catalogs.ROOT)) if path.is_relative_to(catalogs.ROOT) else str(path)


async def run(command: str, language: str | None, paths: catalogs.Paths) -> int:
    async with catalogs.command_tree() as tree:
        template = await catalogs.template(tree)
        if command == "init":
            assert language is not None
            created = catalogs.init(language, template, paths)
            print(f"Created {_shown(created)}; translate it, then run update")
            return 0
        if command == "update":
            for path in catalogs.update(template, paths):
                print(f"Wrote {_shown(path)}")
        problems = all_problems(paths, template, tree)
    for problem in problems:
        print(problem, file=sys.stderr)
    print(f"{len(template)} messages, {len(paths.languages())} catalogs, {len(problems)} problems")
    return 1 if problems and command == "check" else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.i18n", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser(
        "update", help="extract the strings, merge them into every catalog, compile them"
    )
    init = commands.add_parser("init", help="start the catalog of a new language")
    init.add_argument("language", help="a gettext locale name: it, ko, zh_TW, es_419")
    commands.add_parser("check", help="list untranslated, stale or broken entries")
    args = parser.parse_args(argv)
    return asyncio.run(run(args.command, getattr(args, "language", None), catalogs.Paths()))
