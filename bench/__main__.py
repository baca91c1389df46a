"""``python -m bench``: run every benchmark and write BENCHMARKS.md.

``python -m bench --quick`` runs smaller versions (a smoke check, under a minute or two each).
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
from pathlib import Path

from bench import detection, interactions, processes, scale, webhooks
from bench.common import machine

BENCHMARKS = (detection, webhooks, scale, interactions, processes)


async def run_all(quick: bool) -> list[str]:
    sections = []
    for module in BENCHMARKS:
        sections.append(await module.run(quick=quick))
        print(sections[-1], flush=True)
        print(flush=True)
    return sections


def main(quick: bool, output: Path | None) -> None:
    sections = asyncio.run(run_all(quick))
    if output is not None:
        today = datetime.datetime.now(tz=datetime.UTC).date().isoformat()
        header = (
            "# Benchmarks\n\n"
            "Reproduce with `python -m bench` (after the README's test command has installed "
            "the development tools into `.venv`: `.venv/bin/python -m bench`). Each figure is "
            f"from one run on {today} on: {machine()}.\n"
        )
        output.write_text(header + "\n" + "\n\n".join(sections) + "\n", encoding="utf-8")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="smaller, faster runs")
    parser.add_argument(
        "--output", type=Path, default=None, help="write the results there (BENCHMARKS.md)"
    )
    args = parser.parse_args()
    main(args.quick, args.output)
