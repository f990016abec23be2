"""Which of a submission's cells the student process runs, and which it leaves to the grader.

The grader runs every instructor cell of the source itself, so a closing cell (a trusted
cell after the last solution cell: a training run, a checkup) need not run in the student
process too, unless student code there reads or binds a name the cell binds. These tests
drive ``Grading.run_student_cells`` with a stand-in process that records the cells it is
sent, on the real lesson notebooks.
"""

import copy

import nbformat
import pytest

from lesson_variants import ROOT, exercise, solution
from tfclinic.project import lessons
from tfclinic.sandbox.runner import SOLUTION, TEST, TRUSTED, Grading, cell_kind

LESSONS = lessons(ROOT)


class RecordingProcess:
    """Stands in for a ``StudentProcess``: records each cell's source, runs nothing."""

    def __init__(self):
        self.sources = []

    def wait_ready(self):
        pass

    def run_cell(self, source):
        self.sources.append(source)
        return "", None


def cells_run(source, submission):
    process = RecordingProcess()
    grading = Grading(source, submission, process, cell_timeout=30)
    grading.run_student_cells()
    assert grading.setup_error is None
    return process.sources


def closing_sources(notebook):
    """The trusted cells after the notebook's last solution cell."""
    code = [c for c in notebook.cells if c.cell_type == "code"]
    last = max(i for i, c in enumerate(code) if cell_kind(c) == SOLUTION)
    return [c.source for c in code[last + 1:] if cell_kind(c) == TRUSTED]


def untested_sources(notebook):
    return [c.source for c in notebook.cells if c.cell_type == "code" and cell_kind(c) != TEST]


def with_cell(notebook, source, position=None):
    """A copy of ``notebook`` with a code cell of the student's own added (at the end)."""
    variant = copy.deepcopy(notebook)
    added = nbformat.v4.new_code_cell(source)
    variant.cells.insert(len(variant.cells) if position is None else position, added)
    return variant


def capstone_cell(notebook, text):
    (found,) = [c for c in notebook.cells if c.cell_type == "code" and text in c.source]
    return found


@pytest.mark.parametrize("lesson", LESSONS)
def test_the_student_process_runs_every_cell_but_tests_and_the_closing_cells(lesson):
    source = solution(lesson)
    for submission in (source, exercise(lesson)):
        closing = closing_sources(source)
        expected = [s for s in untested_sources(submission) if s not in closing]
        assert cells_run(source, submission) == expected
        # what the grader still runs: each closing cell is in the source it executes
        assert all(s in untested_sources(source) for s in closing)


def test_the_capstone_training_and_checkup_run_in_the_grader_only():
    run = cells_run(solution("playbook"), exercise("playbook"))
    assert not [s for s in run if "train_and_report(student_trains(model)" in s or "tfclinic.checkup(" in s]
    assert any("def build_model" in s for s in run)


@pytest.mark.parametrize("reader", [
    "print(reported)",                                       # a cell of the student's own
    "def helper():\n    return model.count_params()",        # a global read in a function
    "def helper():\n    global losses\n    losses = []",      # a global bound in a function
    "reported = 0.5",                                        # the name bound again
], ids=["cell-reads", "function-reads", "function-binds", "cell-binds"])
def test_a_closing_cell_whose_name_student_code_uses_still_runs_there(reader):
    training = capstone_cell(solution("playbook"), "train_and_report(student_trains(model)").source
    checkup = capstone_cell(solution("playbook"), "tfclinic.checkup(").source
    run = cells_run(solution("playbook"), with_cell(exercise("playbook"), reader))
    assert training in run and reader in run
    assert checkup not in run  # it binds no name, so nothing can need it there


def test_parameters_and_locals_of_the_same_name_are_not_globals():
    local = "def helper(model, reported):\n    losses = [model, reported]\n    return losses"
    training = capstone_cell(solution("playbook"), "train_and_report(student_trains(model)").source
    assert training not in cells_run(solution("playbook"), with_cell(exercise("playbook"), local))


def test_an_edited_closing_cell_is_the_students_own_and_runs():
    submission = exercise("playbook")
    edited = capstone_cell(submission, "tfclinic.checkup(")
    edited.source += "\nprint('my own line')"
    assert edited.source in cells_run(solution("playbook"), submission)


@pytest.mark.parametrize("unreadable", [
    "%time x_train.shape",                 # IPython syntax
    "print(globals()['model'])",           # a lookup by name at run time
    "exec('print(model)')",
    "def broken(:\n    pass",              # does not parse
    "_deep = " + "+".join(["1"] * 5000),    # nested deeper than the compiler follows
    "_long = 1\n" * 10_001,                 # longer than the grader's side reads (100,000)
], ids=["ipython", "globals", "exec", "syntax", "deep", "long"])
def test_when_a_cell_cannot_be_read_every_cell_runs(unreadable):
    submission = with_cell(exercise("playbook"), unreadable)
    assert cells_run(solution("playbook"), submission) == untested_sources(submission)


def test_a_closing_cell_that_binds_a_solutions_name_still_runs():
    source, submission = solution("scaling"), exercise("scaling")
    rebinding = "make_pipeline = make_pipeline  # an instructor's closing cell that rebinds an answer"
    for notebook in (source, submission):
        notebook.cells.append(nbformat.v4.new_code_cell(rebinding))
    run = cells_run(source, submission)
    assert rebinding in run
    assert not [s for s in run if "prepare, model = make_pipeline(x_train)" in s]


def test_the_grader_side_parses_no_cell_longer_than_its_limit():
    from tfclinic.sandbox.runner import MAX_READ_CHARS, UNREADABLE, defined_names, global_names

    long = "_long = 1\n" * (MAX_READ_CHARS // 10 + 1)  # a syntax tree 400 times its size
    assert global_names(long) is None
    with pytest.raises(UNREADABLE):
        defined_names(long)
    assert global_names(long[:MAX_READ_CHARS]) == {"_long"}


def test_a_solution_cell_without_metadata_is_found_past_cells_that_cannot_be_read():
    submission = exercise("playbook")
    for notebook_cell in submission.cells:  # as Colab or VS Code may leave it
        notebook_cell.metadata.pop("nbgrader", None)
    submission.cells.insert(1, nbformat.v4.new_code_cell("_deep = " + "+".join(["1"] * 5000)))
    grading = Grading(solution("playbook"), submission, RecordingProcess(), cell_timeout=30)
    build = next(i for i, c in enumerate(submission.cells) if "def build_model" in c.source)
    assert grading.defining_cell(["build_model"]) == build
