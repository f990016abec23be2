"""Releasing exercises: broken code replaces solutions, and exercises/ never drifts."""

import json

import pytest

from tfclinic.project import exercise_notebook, lessons, solution_notebook
from tfclinic.course.release import drift, release_source

SOURCE = """def f(x):
    ### BEGIN SOLUTION
    return x + 1
    ### END SOLUTION
    ### BEGIN BROKEN
    # return x
    ### END BROKEN
"""


def test_broken_code_replaces_the_solution_keeping_indentation():
    assert release_source(SOURCE) == "def f(x):\n    return x\n"


def test_several_regions_in_one_cell():
    source = SOURCE + "\n" + SOURCE.replace("f(x)", "g(x)").replace("x + 1", "x * 2").replace("# return x", "# return 0")
    assert release_source(source) == "def f(x):\n    return x\n\ndef g(x):\n    return 0\n"


def test_a_region_without_broken_code_keeps_its_stub():
    from nbformat.v4 import new_code_cell

    from tfclinic.course.release import ClearSolutionsToBroken

    source = SOURCE + "### BEGIN SOLUTION\nsecret = 42\n### END SOLUTION\n"
    cell = new_code_cell(source)
    cell.metadata["nbgrader"] = {"solution": True, "grade": False, "grade_id": "x", "schema_version": 3}
    cell, _ = ClearSolutionsToBroken().preprocess_cell(cell, {"language": "python"}, 0)
    assert "secret" not in cell.source and "return x\n" in cell.source
    assert "raise NotImplementedError()" in cell.source


def test_cell_without_broken_region_is_left_to_nbgrader():
    assert release_source("### BEGIN SOLUTION\nx = 1\n### END SOLUTION") is None


@pytest.mark.parametrize("source", [
    SOURCE.replace("    ### END BROKEN\n", ""),                         # unclosed
    "### BEGIN BROKEN\n# x = 0\n### END BROKEN\n",                         # no solution region
    "### BEGIN BROKEN\n# x = 0\n### END BROKEN\n### BEGIN SOLUTION\nx = 1\n### END SOLUTION",  # wrong order
])
def test_malformed_broken_regions_are_refused(source):
    with pytest.raises(RuntimeError, match="BEGIN BROKEN"):
        release_source(source)


def test_every_lesson_has_its_files(project):
    assert lessons(project), "no lessons found"
    for lesson in lessons(project):
        assert (project / "book" / f"{lesson}.md").is_file(), lesson
        assert exercise_notebook(project, lesson).is_file(), lesson
        assert (project / "tests" / f"test_{lesson}.py").is_file(), lesson
        assert f"file: {lesson}" in (project / "book" / "_toc.yml").read_text(), lesson


def test_notebooks_are_stored_without_outputs(project):
    for lesson in lessons(project):
        for path in (solution_notebook(project, lesson), exercise_notebook(project, lesson)):
            cells = json.loads(path.read_text())["cells"]
            for cell in cells:
                if cell["cell_type"] == "code":
                    assert cell["outputs"] == [] and cell["execution_count"] is None, path


def test_exercises_reveal_no_solution_or_hidden_test(project):
    for lesson in lessons(project):
        text = exercise_notebook(project, lesson).read_text()
        for marker in ("BEGIN SOLUTION", "BEGIN BROKEN", "HIDDEN TESTS"):
            assert marker not in text, (lesson, marker)


@pytest.mark.slow
def test_exercises_match_a_fresh_release(project):
    assert drift(project, lessons(project)) == [], "run `tfclinic release` and commit exercises/"


def hint_blocks(cell):
    """The ``(summary, text)`` of each collapsed block in a markdown cell."""
    import re

    return re.findall(r"<details><summary>(.*?)</summary>\s*(.*?)\s*</details>",
                      "".join(cell["source"]), flags=re.S)


def solution_lines(project, lesson, grade_id):
    """The code lines of a cell's solution region (comments cut off), as the solution has them."""
    cells = json.loads(solution_notebook(project, lesson).read_text())["cells"]
    source = next("".join(c["source"]) for c in cells
                  if c["metadata"].get("nbgrader", {}).get("grade_id") == grade_id)
    region = source.split("### BEGIN SOLUTION")[1].split("### END SOLUTION")[0]
    return [line.split("#")[0].strip() for line in region.splitlines() if line.split("#")[0].strip()]


def test_every_graded_function_has_progressive_hints_in_the_exercise(project):
    """Kaggle Learn's way: two or three hints per function, collapsed, the last close to the
    fix; each right after the function's cell, in the notebook the student gets."""
    checked = 0
    for lesson in lessons(project):
        cells = json.loads(exercise_notebook(project, lesson).read_text())["cells"]
        for index, cell in enumerate(cells):
            meta = cell["metadata"].get("nbgrader", {})
            if not meta.get("solution") or cell["cell_type"] != "code":
                continue
            after = cells[index + 1]
            blocks = hint_blocks(after) if after["cell_type"] == "markdown" else []
            assert 2 <= len(blocks) <= 3, (lesson, meta["grade_id"], "needs 2 or 3 hints")
            total = len(blocks)
            assert [summary.split(" (")[0] for summary, _ in blocks] == \
                [f"Hint {n} of {total}" for n in range(1, total + 1)], (lesson, meta["grade_id"])
            assert "close to the fix" in blocks[-1][0]
            for _, text in blocks:
                assert len(text.split()) >= 8, (lesson, meta["grade_id"], text)
                for line in solution_lines(project, lesson, meta["grade_id"]):
                    assert line not in text, (lesson, meta["grade_id"], "a hint hands over", line)
            checked += 1
    assert checked >= 15, f"only {checked} graded functions found"
