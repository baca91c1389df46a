"""``python -m bench``: run every benchmark and write BENCHMARKS.md.

``python -m bench`` runs the live benchmark in real time (about 70 minutes in all);
``python -m bench --quick`` runs smaller versions with the live one's time compressed 10x (a
smoke check, a few minutes each); ``--scale N`` compresses the live one's time N-fold.
"""

from __future__ import annotations

import argparse
import datetime
import subprocess
from pathlib import Path

from bench import interactions, live, processes, scale
from bench.common import machine, run_stoppable

BENCHMARKS = (live, scale, interactions, processes)


async def run_all(quick: bool, time_scale: float | None) -> list[str]:
    sections = []
    for module in BENCHMARKS:
        if module is live:
            sections.append(await live.run(quick=quick, scale=time_scale))
        else:
            sections.append(await module.run(quick=quick))
        print(sections[-1], flush=True)
        print(flush=True)
    return sections


def main(quick: bool, time_scale: float | None, output: Path | None) -> None:
    sections = run_stoppable(run_all(quick, time_scale))
    if output is not None:
        today = datetime.datetime.now(tz=datetime.UTC).date().isoformat()
        header = (
            "# Benchmarks\n\n"
            "Reproduce with `python -m bench` (after the README's test command has installed "
            "the development tools into `.venv`: `.venv/bin/python -m bench`). Each figure is "
            f"from one run on {today}{_at_commit()} on: {machine()}.\n"
        )
        output.write_text(header + "\n" + "\n\n".join(sections) + "\n", encoding="utf-8")


def _at_commit() -> str:
    """`` of commit X`` for the checkout the run measured, when it is a git checkout."""
    try:
        found = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],  # noqa: S607 - git from PATH, if any
            cwd=Path(__file__).resolve().parents[1],
            capture_output=True,
            text=True,
            check=True,
        )
    except (OSError, subprocess.CalledProcessError):
        return ""
    return f" of commit `{found.stdout.strip()}`"


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="smaller, faster runs")
    parser.add_argument(
        "--scale",
        type=float,
        default=None,
        help="compress the live benchmark's time N-fold (default: 1, real time; 10 with --quick)",
    )
    parser.add_argument(
        "--output", type=Path, default=None, help="write the results there (BENCHMARKS.md)"
    )
    args = parser.parse_args()
    main(args.quick, args.scale, args.output)
