"""Helpers for tests that grade notebooks: make variants of a lesson and grade them together.

A lesson's grader is tested against a corpus: the solution, the untouched exercise, wrong
fixes that look plausible, and other correct fixes. Each variant is the solution notebook
with one solution cell edited, graded by the real ``tfclinic grade`` pipeline.
"""

import atexit
import copy
import json
from pathlib import Path

import nbformat

from tfclinic.grading.grade import grade
from tfclinic.project import exercise_notebook, solution_notebook
from tfclinic.sandbox.forkserver import ForkServer

ROOT = Path(__file__).resolve().parents[1]


def solution(lesson):
    """The lesson's solution notebook, as an nbformat object."""
    return nbformat.read(solution_notebook(ROOT, lesson), as_version=4)


def exercise(lesson):
    """The lesson's released exercise notebook, as an nbformat object."""
    return nbformat.read(exercise_notebook(ROOT, lesson), as_version=4)


def repaired_exercise(lesson):
    """The exercise as a student hands it in after repairing it as the solution does: every
    solution cell holds the solution's source, the test cells are the visible ones only."""
    solved = {c.metadata["nbgrader"]["grade_id"]: c.source for c in solution(lesson).cells
              if c.metadata.get("nbgrader", {}).get("solution")}
    notebook = exercise(lesson)
    for candidate in notebook.cells:
        grade_id = candidate.metadata.get("nbgrader", {}).get("grade_id")
        if grade_id in solved:
            candidate.source = solved[grade_id]
    return notebook


def tuned_build_model():
    """The shapes exercise repaired, but with ``build_model`` hard-coded to the notebook's 8
    features: every visible test passes, the hidden ones (other feature counts) do not."""
    notebook = repaired_exercise("shapes")
    tuned = cell(notebook, "shapes-build-model")
    tuned.source = tuned.source.replace("keras.Input(shape=(n_features,))", "keras.Input(shape=(8,))")
    assert "shape=(8,)" in tuned.source
    return notebook


def solution_notebook_text(lesson):
    """The raw text of the lesson's solution notebook."""
    return solution_notebook(ROOT, lesson).read_text()


def cell(notebook, grade_id):
    """The cell whose nbgrader ``grade_id`` is ``grade_id``."""
    for candidate in notebook.cells:
        if candidate.metadata.get("nbgrader", {}).get("grade_id") == grade_id:
            return candidate
    raise KeyError(f"no cell with grade_id {grade_id!r}")


def with_cell_source(notebook, grade_id, source):
    """A copy of ``notebook`` whose cell ``grade_id`` holds ``source`` instead."""
    variant = copy.deepcopy(notebook)
    cell(variant, grade_id).source = source
    return variant


_server = None


def fork_server():
    """One fork server per test process, shared by every grading run of the lesson tests.

    It imports TensorFlow once instead of once per test; each run still forks fresh runners.
    """
    global _server
    if _server is None or _server.process.poll() is not None:  # none yet, or a failed run stopped it
        _server = ForkServer()
        atexit.register(_server.close)
    return _server


def grade_notebooks(lesson, notebooks, tmp_path, seed=None, feedback=False):
    """Grade ``{student: notebook}`` for ``lesson`` with ``tfclinic grade``; feedback on request.

    Returns:
        ``{student: Grade}``.
    """
    submissions = Path(tmp_path) / f"submissions-{seed}"
    for student, notebook in notebooks.items():
        folder = submissions / student / lesson
        folder.mkdir(parents=True)
        nbformat.write(notebook, folder / f"{lesson}.ipynb")
    rows = grade(ROOT, submissions, graded_folder(tmp_path, seed), seed=seed,
                 report=lambda line: None, warn=lambda line: None, feedback=feedback,
                 server=fork_server())
    return {row.student: row for row in rows}


def graded_folder(tmp_path, seed):
    """The ``--out`` folder of ``grade_notebooks(..., tmp_path, seed)``."""
    return Path(tmp_path) / f"graded-{seed}"


def journal_cells(out):
    """``{student: {test cell's grade_id: points}}`` from the journal of the run that wrote ``out``."""
    cells = {}
    for line in (Path(out) / "journal.jsonl").read_text().splitlines():
        entry = json.loads(line)
        cells[entry["student"]] = {test: result["score"] for test, result in entry["tests"].items()}
    return cells


def grade_variants(lesson, corpus, tmp_path, seed):
    """Grade each ``{name: (grade_id, source)}`` of ``corpus`` as an edit of the solution.

    Returns:
        ``{name: Grade}``.
    """
    base = solution(lesson)
    variants = {name: with_cell_source(base, grade_id, source)
                for name, (grade_id, source) in corpus.items()}
    return grade_notebooks(lesson, variants, tmp_path, seed=seed)


def solution_namespace(lesson, seed):
    """Run the solution's setup and solution cells in this process; return their globals.

    Test cells are skipped, so the namespace holds the student-facing functions only. This
    lets tests measure the margin of a threshold directly, seed by seed.
    """
    import os

    os.environ["TFCLINIC_SEED"] = str(seed)
    try:
        namespace = {}
        for code in solution(lesson).cells:
            if code.cell_type == "code" and not code.metadata.get("nbgrader", {}).get("grade"):
                exec(compile(code.source, f"<{lesson} cell>", "exec"), namespace)
        return namespace
    finally:
        del os.environ["TFCLINIC_SEED"]
