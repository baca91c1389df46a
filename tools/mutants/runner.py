"""Plant each defect of the catalogue in a scratch copy of the tree and run the tests against it.

The working tree is never touched: the tree is copied once to a temporary folder, and each
mutant is written there, tested and undone in turn. A mutant is *killed* when its tests fail
(with ``-x``, so the first failure ends the run), and *survived* when they pass; one that its own
tests miss is tried against the whole suite before it counts as survived. A snippet missing from
its file, a test file that is gone, or a run that could not test at all (pytest exit 3-5) is
reported and makes the exit status 1; survivors do not, since the score is the report.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from tools.mutants.catalogue import MUTANTS, Mutant

ROOT = Path(__file__).resolve().parents[2]
# What the scratch copy leaves out: the environment, history and caches.
_NOT_COPIED = shutil.ignore_patterns(
    ".git",
    ".venv",
    "__pycache__",
    "*.egg-info",
    ".mypy_cache",
    ".ruff_cache",
    ".pytest_cache",
    ".hypothesis",
    "data",
)
KILLED = "killed"
KILLED_BY_SUITE = "killed (whole suite)"
TIMED_OUT = "killed (timeout)"
SURVIVED = "survived"
NO_POSTGRES = "not run: no TEST_DATABASE_URL"
# Outcomes that mean the catalogue or the tool needs attention.
ANCHOR_MISSING = "ANCHOR MISSING"
ANCHOR_AMBIGUOUS = "ANCHOR AMBIGUOUS"
TESTS_MISSING = "TESTS MISSING"
ERROR = "ERROR"
BROKEN = (ANCHOR_MISSING, ANCHOR_AMBIGUOUS, TESTS_MISSING, ERROR)


@dataclass(frozen=True, slots=True)
class Result:
    mutant: Mutant
    outcome: str
    seconds: float = 0.0
    detail: str = ""

    @property
    def killed(self) -> bool:
        return self.outcome in (KILLED, KILLED_BY_SUITE, TIMED_OUT)


@dataclass(frozen=True, slots=True)
class Run:
    """One pytest run: its exit code (``None`` on timeout), time and first failing test."""

    code: int | None
    seconds: float
    first_failure: str
    output: str


# Checks the catalogue against the tree, so it fails whenever any mutant is planted.
CATALOGUE_TEST: Final = "tests/test_mutants.py"


def problem(mutant: Mutant, root: Path) -> str | None:
    """Why ``mutant`` cannot be planted in the tree at ``root``, if it cannot."""
    source = root / mutant.path
    found = source.read_text().count(mutant.original) if source.is_file() else 0
    if found == 0:
        return ANCHOR_MISSING
    if found > 1:
        return ANCHOR_AMBIGUOUS
    if any(not (root / test).exists() for test in mutant.tests):
        return TESTS_MISSING
    return None


def test_env() -> dict[str, str]:
    """The environment of every run: PostgreSQL required if it is configured."""
    env = {k: v for k, v in os.environ.items() if k != "PYTEST_ADDOPTS"}
    if env.get("TEST_DATABASE_URL"):
        # A PostgreSQL test must not skip its way to a pass.
        env["REQUIRE_POSTGRES"] = "1"
    else:
        # Nor fail for want of a database, which would pass for a kill.
        env.pop("REQUIRE_POSTGRES", None)
    return env


def run_tests(
    tree: Path,
    tests: Sequence[str],
    *,
    workers: int,
    timeout: float,
    ignore: Sequence[str] = (),
) -> Run:
    command = [sys.executable, "-m", "pytest", "-q", "-x", "-p", "no:cacheprovider"]
    command += ["-n", str(workers) if workers > 1 else "0", *tests]
    command += [f"--ignore={path}" for path in ignore]
    started = time.monotonic()
    try:
        done = subprocess.run(  # noqa: S603 - this project's own tests
            command,
            cwd=tree,
            env=test_env(),
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        output = exc.stdout.decode(errors="replace") if isinstance(exc.stdout, bytes) else ""
        return Run(None, time.monotonic() - started, "", output)
    failure = re.search(r"^(?:FAILED|ERROR) (\S+)", done.stdout, re.MULTILINE)
    return Run(
        done.returncode,
        time.monotonic() - started,
        failure.group(1) if failure else "",
        done.stdout + done.stderr,
    )


def try_mutant(
    mutant: Mutant, tree: Path, *, workers: int, timeout: float, whole_suite: bool
) -> Result:
    """Plant ``mutant`` in ``tree``, run its tests (then, if they pass, all), and undo it."""
    source = tree / mutant.path
    original = source.read_text()
    _write(source, original.replace(mutant.original, mutant.replacement, 1))
    try:
        run = run_tests(tree, mutant.tests, workers=workers, timeout=timeout)
        outcome = _outcome(run, KILLED)
        seconds = run.seconds
        if outcome == SURVIVED and whole_suite:
            # The rest of the suite: the mutant's own tests just passed.
            # Not the catalogue's own test: it fails on any planted mutant (its snippet is gone).
            ignore = [*mutant.tests, CATALOGUE_TEST]
            run = run_tests(tree, [], workers=workers, timeout=timeout, ignore=ignore)
            # Exit 5: no other test there is.
            outcome = SURVIVED if run.code == 5 else _outcome(run, KILLED_BY_SUITE)
            seconds += run.seconds
            if outcome == KILLED_BY_SUITE and run.first_failure:
                # A test the mutant's own tests do not include: make sure it fails again, so
                # that a test that fails now and then is not taken for a kill.
                again = run_tests(tree, [run.first_failure], workers=0, timeout=timeout)
                seconds += again.seconds
                if again.code == 0:
                    outcome = SURVIVED
                    run = Run(0, run.seconds, f"(flaky: {run.first_failure} passed again)", "")
    finally:
        _write(source, original)
    if outcome == ERROR:
        return Result(mutant, outcome, seconds, f"pytest exit {run.code}: {_tail(run.output)}")
    return Result(mutant, outcome, seconds, run.first_failure)


def _write(source: Path, text: str) -> None:
    """Replace a module's text and drop its cached bytecode, which could otherwise be taken
    for the new text (same size, same second)."""
    source.write_text(text)
    for cached in source.parent.glob(f"__pycache__/{source.stem}.*.pyc"):
        cached.unlink()


def _outcome(run: Run, killed: str) -> str:
    if run.code is None:
        return TIMED_OUT
    if run.code == 0:
        return SURVIVED
    # 1: tests failed; 2: interrupted (a collection error counts: the mutant broke an import).
    # 3-5 (internal error, usage error, no tests) mean nothing was tested.
    return killed if run.code in (1, 2) else ERROR


def _tail(output: str, lines: int = 5) -> str:
    return " | ".join(output.strip().splitlines()[-lines:])


def copy_tree(root: Path, into: Path) -> Path:
    tree = into / "tree"
    shutil.copytree(root, tree, ignore=_NOT_COPIED, symlinks=True)
    return tree


def check(
    mutants: Sequence[Mutant],
    *,
    root: Path = ROOT,
    workers: int = 2,
    timeout: float = 300.0,
    whole_suite: bool = True,
    out: Printer | None = None,
) -> list[Result]:
    """Try every mutant (each on a fresh copy of the file); returns the results in order."""
    out = out or Printer()
    results: list[Result] = []
    runnable: list[Mutant] = []
    postgres = bool(os.environ.get("TEST_DATABASE_URL"))
    for mutant in mutants:
        why = problem(mutant, root)
        if why is None and mutant.needs_postgres and not postgres:
            why = NO_POSTGRES
        if why is None:
            runnable.append(mutant)
        else:
            results.append(Result(mutant, why))
    with tempfile.TemporaryDirectory(prefix="mutants-") as scratch:
        tree = copy_tree(root, Path(scratch))
        baseline_tests = list(dict.fromkeys(t for m in runnable for t in m.tests))
        if runnable:
            out.line(f"Baseline: {len(baseline_tests)} test paths without any mutant ...")
            baseline = run_tests(tree, baseline_tests, workers=workers, timeout=timeout)
            if baseline.code != 0:
                out.line(f"The tests fail without any mutant:\n{baseline.output[-3000:]}")
                raise SystemExit(2)
            out.line(f"Baseline passed in {baseline.seconds:.0f} s.\n")
        out.header()
        for result in results:
            out.row(result)
        for mutant in runnable:
            result = try_mutant(
                mutant, tree, workers=workers, timeout=timeout, whole_suite=whole_suite
            )
            out.row(result)
            results.append(result)
    order = {m.name: n for n, m in enumerate(mutants)}
    return sorted(results, key=lambda r: order[r.mutant.name])


class Printer:
    def line(self, text: str) -> None:
        print(text, flush=True)

    def header(self) -> None:
        self.line(f"{'mutant':<40} {'result':<30} {'seconds':>7}  caught by / detail")
        self.line("-" * 110)

    def row(self, result: Result) -> None:
        self.line(
            f"{result.mutant.name:<40} {result.outcome:<30} {result.seconds:>7.1f}  {result.detail}"
        )


def summary(results: Iterable[Result]) -> tuple[str, int]:
    """The closing lines, and the exit status (1 if the catalogue or a run needs attention)."""
    results = list(results)
    tested = [r for r in results if r.killed or r.outcome == SURVIVED]
    killed = [r for r in tested if r.killed]
    lines = [""]
    if tested:
        lines.append(
            f"Mutation score: {len(killed)}/{len(tested)} killed "
            f"({100 * len(killed) / len(tested):.0f}%), {len(tested) - len(killed)} survived"
        )
    for result in results:
        if result.outcome == SURVIVED:
            lines.append(f"  survived: {result.mutant.name}: {result.mutant.description}")
    for result in results:
        if result.outcome == NO_POSTGRES:
            lines.append(f"  not run: {result.mutant.name} (set TEST_DATABASE_URL)")
    broken = [r for r in results if r.outcome in BROKEN]
    for result in broken:
        lines.append(
            f"  {result.outcome}: {result.mutant.name} in {result.mutant.path}: "
            f"{result.detail or 'update tools/mutants/catalogue.py'}"
        )
    return "\n".join(lines), 1 if broken else 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tools.mutants",
        description="Plant realistic defects one at a time; the tests must catch each.",
    )
    parser.add_argument("names", nargs="*", help="only these mutants (default: all)")
    parser.add_argument("--list", action="store_true", help="list the mutants and stop")
    parser.add_argument("-n", "--workers", type=int, default=2, help="pytest-xdist workers")
    parser.add_argument("--timeout", type=float, default=300.0, help="seconds per pytest run")
    parser.add_argument(
        "--no-whole-suite",
        action="store_true",
        help="do not try a mutant its own tests miss against the whole suite",
    )
    args = parser.parse_args(argv)
    if args.list:
        for mutant in MUTANTS:
            print(f"{mutant.name:<40} {mutant.path:<24} {mutant.description}")
        return 0
    known = {m.name: m for m in MUTANTS}
    unknown = [name for name in args.names if name not in known]
    if unknown:
        parser.error(f"no such mutant: {', '.join(unknown)}")
    chosen = [known[name] for name in args.names] if args.names else list(MUTANTS)
    started = time.monotonic()
    results = check(
        chosen, workers=args.workers, timeout=args.timeout, whole_suite=not args.no_whole_suite
    )
    text, status = summary(results)
    print(text)
    print(f"Took {time.monotonic() - started:.0f} s.")
    return status
