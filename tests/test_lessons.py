"""What holds for every lesson: its solution earns full marks and its exercise none."""

import importlib

import pytest

from lesson_variants import ROOT, exercise, grade_notebooks, grade_variants, solution
from tfclinic.project import lessons

# The 20 s CPU target per solution is met in benchmarks/lessons.py, which times each
# solution beside a reference fit in the same run (the guide keeps speed out of timed tests:
# CPU seconds differ by machine). Grading every solution on five seeds below proves it runs;
# `make test` grades seed 0, and seeds 1-4 are proofs (`make proofs`, run by CI as well).
SEEDS = [0] + [pytest.param(seed, marks=pytest.mark.proof) for seed in (1, 2, 3, 4)]


def _points(notebook):
    return sum(c.metadata["nbgrader"].get("points", 0) for c in notebook.cells
               if c.metadata.get("nbgrader", {}).get("grade"))


@pytest.mark.slow
@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("lesson", lessons(ROOT))
def test_solution_earns_full_marks_and_exercise_none(lesson, seed, tmp_path):
    """Graded on fresh data drawn with five seeds: the solution always full, the exercise 0."""
    full_marks = _points(solution(lesson))
    grades = grade_notebooks(lesson, {"solution": solution(lesson), "exercise": exercise(lesson)},
                             tmp_path, seed=seed)
    assert full_marks > 0
    assert (grades["solution"].status, grades["solution"].score) == ("graded", full_marks)
    assert grades["solution"].max_score == full_marks
    assert (grades["exercise"].status, grades["exercise"].score) == ("graded", 0)


@pytest.mark.proof
@pytest.mark.parametrize("lesson", lessons(ROOT))
def test_the_solution_passes_every_test_cell_run_as_a_notebook(lesson):
    """Hidden tests included, in one kernel as `tfclinic validate` (or nbgrader, or an
    instructor in Jupyter) runs it: the grader runs test code apart from the student's, so a
    test cell can pass there and fail here (one that reads globals `student_globals` replaced)."""
    from tfclinic.project import solution_notebook
    from tfclinic.validate import validate

    results, stopped = validate(solution_notebook(ROOT, lesson))
    assert stopped is None, stopped
    assert results and all(result.passed for result in results), [
        (result.grade_id, result.message[-300:]) for result in results if not result.passed]


# Lessons whose corpora follow the plain contract: every wrong fix below full marks, every
# correct fix full marks. (scaling, losses and playbook assert exact partial scores in their modules.)
PLAIN_CORPORA = ["shapes", "dtypes", "leakage"]


@pytest.mark.slow
@pytest.mark.parametrize("lesson", PLAIN_CORPORA)
def test_plausible_wrong_fixes_do_not_earn_full_marks(lesson, tmp_path):
    corpus = importlib.import_module(f"test_{lesson}").WRONG_FIXES
    grades = grade_variants(lesson, corpus, tmp_path, seed=7)
    assert sorted(grades) == sorted(corpus)
    for name, row in grades.items():
        assert row.status == "graded", name
        assert row.score < _points(solution(lesson)), f"wrong fix {name!r} earned full marks"


@pytest.mark.slow
@pytest.mark.parametrize("lesson", PLAIN_CORPORA)
def test_other_correct_fixes_earn_full_marks(lesson, tmp_path):
    corpus = importlib.import_module(f"test_{lesson}").OTHER_CORRECT_FIXES
    grades = grade_variants(lesson, corpus, tmp_path, seed=8)
    assert sorted(grades) == sorted(corpus)
    for name, row in grades.items():
        assert (row.status, row.score) == ("graded", _points(solution(lesson))), f"correct fix {name!r}: {row}"
