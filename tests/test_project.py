"""Project invariants: the README's commands, CI and the settings documentation agree."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.postgres import NO_POSTGRES, REQUIRED
from tests.variables import every_variable

ROOT = Path(__file__).resolve().parents[1]
# One test that needs PostgreSQL, run in a child pytest to see what it does without one.
POSTGRES_TEST = "tests/store/test_postgres.py::test_new_and_woken_jobs_wake_the_other_processes"


def test_ci_runs_exactly_the_readme_test_command():
    ci = (ROOT / ".ci" / "run").read_text()
    readme = (ROOT / "README.md").read_text()
    (command,) = [line for line in ci.splitlines() if line.startswith("python3 -m venv")]

    assert f"```sh\n{command}\n```" in readme
    assert "pytest -n " in command  # in parallel (pytest-xdist), as the README says


def test_every_setting_is_in_env_example_and_readme():
    variables = every_variable()
    example = (ROOT / ".env.example").read_text()
    readme = (ROOT / "README.md").read_text()

    assert len(variables) >= 10
    for name in variables:
        # The optional ones commented out (see the next test).
        assert re.search(rf"^(# )?{name}=", example, re.MULTILINE), f"{name} not in .env.example"
        assert f"`{name}`" in readme, f"{name} not in the README's table"


def _without_postgres_env(**extra: str) -> dict[str, str]:
    dropped = ("TEST_DATABASE_URL", "REQUIRE_POSTGRES", "CI", "PYTEST_ADDOPTS")
    env = {
        k: v for k, v in os.environ.items() if k not in dropped and not k.startswith("PYTEST_XDIST")
    }
    return {**env, **extra}


@pytest.mark.parametrize(
    ("extra", "code", "outcome", "reason"),
    [
        ({}, 0, "1 skipped", NO_POSTGRES),
        ({"REQUIRE_POSTGRES": "1"}, 1, "1 error", REQUIRED),
    ],
    ids=["plain-run-skips", "required-fails"],
)
def test_a_postgres_test_without_a_database_skips_or_fails_as_asked(extra, code, outcome, reason):
    result = subprocess.run(  # noqa: S603 - this project's own test, by its node id
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", POSTGRES_TEST],
        cwd=ROOT,
        env=_without_postgres_env(**extra),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert result.returncode == code, result.stdout + result.stderr
    assert outcome in result.stdout
    assert reason in result.stdout


# Stands in for psql: creating the database fails or works as the case asks; the other calls
# (dropping it at the end) do nothing.
FAKE_PSQL = """#!/bin/sh
case "$*" in *"CREATE DATABASE"*) echo 'psql: error: connection refused' >&2; exit {create};; esac
"""
# Stands in for the test command: shows what .ci/run exported, and that it got this far.
FAKE_PYTHON = """#!/bin/sh
echo "reached with REQUIRE_POSTGRES=$REQUIRE_POSTGRES TEST_DATABASE_URL=$TEST_DATABASE_URL"
exit 99
"""


@pytest.mark.parametrize(
    ("ci", "create", "code", "says"),
    [
        ("true", 2, 1, ["could not create a database on 127.0.0.1:5432; CI must run"]),
        (
            "",
            2,
            99,
            [
                "could not create a database on 127.0.0.1:5432; the PostgreSQL tests will be "
                "reported as skipped",
                "reached with REQUIRE_POSTGRES= TEST_DATABASE_URL=\n",
            ],
        ),
        ("true", 0, 99, ["reached with REQUIRE_POSTGRES=1 TEST_DATABASE_URL=postgresql://"]),
    ],
    ids=["ci-without-database-fails", "by-hand-without-database-goes-on", "ci-with-database"],
)
def test_ci_run_requires_postgres_under_ci(tmp_path: Path, ci, create, code, says):
    fakes = tmp_path / "bin"
    fakes.mkdir()
    for name, text in [
        ("psql", FAKE_PSQL.format(create=create)),
        ("pg_isready", "#!/bin/sh\nexit 0\n"),
        ("python3", FAKE_PYTHON),
    ]:
        (fakes / name).write_text(text)
        (fakes / name).chmod(0o755)
    env = {**_without_postgres_env(CI=ci), "PATH": f"{fakes}{os.pathsep}{os.environ['PATH']}"}

    result = subprocess.run(  # noqa: S603 - this project's own CI script
        ["bash", str(ROOT / ".ci" / "run")],  # noqa: S607 - bash from PATH, as CI runs it
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )

    assert result.returncode == code, result.stdout + result.stderr
    for line in says:
        assert line in result.stdout + result.stderr
