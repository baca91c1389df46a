"""The mutation check's runner, on a project of two functions: it kills, it reports survivors,
and it refuses to pass over a mutant whose snippet is gone. (The check itself is run by hand:
``python -m tools.mutants``.)"""

from __future__ import annotations

from pathlib import Path

from tools.mutants import runner
from tools.mutants.catalogue import MUTANTS, Mutant

CALC = "def add(a, b):\n    return a + b\n\n\ndef sub(a, b):\n    return a - b\n"
# Only add() is tested: a defect in sub() survives.
TEST_CALC = "from calc import add\n\n\ndef test_add():\n    assert add(2, 3) == 5\n"
TESTS = ("tests/test_calc.py",)


class Quiet(runner.Printer):
    def __init__(self) -> None:
        self.lines: list[str] = []

    def line(self, text: str) -> None:
        self.lines.append(text)


def test_the_runner_kills_reports_survivors_and_missing_snippets(tmp_path: Path):
    (tmp_path / "tests").mkdir()
    (tmp_path / "calc.py").write_text(CALC)
    (tmp_path / "tests" / "test_calc.py").write_text(TEST_CALC)
    mutants = [
        Mutant("add-subtracts", "calc.py", "return a + b", "return a - b", "adds wrongly", TESTS),
        Mutant("sub-multiplies", "calc.py", "return a - b", "return a * b", "untested", TESTS),
        Mutant("moved", "calc.py", "return a / b", "return b", "no longer there", TESTS),
        Mutant("no-tests", "calc.py", "return a + b", "return 0", "tests gone", ("tests/x.py",)),
    ]

    results = runner.check(mutants, root=tmp_path, workers=0, timeout=60, out=Quiet())
    text, status = runner.summary(results)

    assert [r.outcome for r in results] == [
        runner.KILLED,
        runner.SURVIVED,
        runner.ANCHOR_MISSING,
        runner.TESTS_MISSING,
    ]
    assert results[0].detail == "tests/test_calc.py::test_add"
    assert "Mutation score: 1/2 killed (50%), 1 survived" in text
    assert "survived: sub-multiplies: untested" in text
    assert "ANCHOR MISSING: moved in calc.py" in text
    assert status == 1
    assert (tmp_path / "calc.py").read_text() == CALC  # the tree itself is never touched
    _, clean = runner.summary(results[:2])
    assert clean == 0  # survivors alone do not fail the check


def test_the_catalogue_names_each_defect_once_and_changes_something():
    names = [m.name for m in MUTANTS]

    assert len(names) == len(set(names))
    assert 25 <= len(MUTANTS) <= 120
    for mutant in MUTANTS:
        assert mutant.original != mutant.replacement, mutant.name
        assert mutant.description, mutant.name
        assert mutant.tests, mutant.name


def test_every_mutant_can_be_planted_in_this_tree():
    """Each snippet is in its file exactly once and its tests exist: a change that moves the
    code must move the mutant with it, or the mutation check silently loses it."""
    root = Path(__file__).resolve().parents[1]

    assert {m.name: runner.problem(m, root) for m in MUTANTS} == dict.fromkeys(
        (m.name for m in MUTANTS), None
    )
