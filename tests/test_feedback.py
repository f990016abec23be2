"""Feedback handed to students hides the hidden tests and neutralises student HTML/JS."""

import re

import nbformat
import pytest
from bs4 import BeautifulSoup

from lesson_variants import exercise, grade_notebooks, solution, solution_notebook_text, with_cell_source

pytestmark = pytest.mark.xdist_group("feedback")  # one worker grades the module's class once

ATTACKS = {
    "markdown": "Done!\n\n<script>alert('markdown')</script>\n<img src=x onerror=\"alert('img')\">",
    "code": ("from IPython.display import HTML, Javascript, display\n"
             "display(HTML(\"<script>alert('html')</script><b onmouseover=\\\"alert('hover')\\\">hi</b>\"))\n"
             "display(Javascript(\"alert('js')\"))"),
}


def hostile(notebook):
    notebook.cells.append(nbformat.v4.new_markdown_cell(ATTACKS["markdown"]))
    notebook.cells.append(nbformat.v4.new_code_cell(ATTACKS["code"]))
    return notebook


@pytest.fixture(scope="module")
def feedback(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("feedback")
    grades = grade_notebooks("shapes", {"ada": hostile(solution("shapes")), "bob": exercise("shapes"),
                                        "cy": stripped(solution("shapes")),
                                        "dee": with_cell_source(exercise("shapes"), "shapes-make-features",
                                                                RAISING)}, tmp, feedback=True)
    assert grades["ada"].score == grades["ada"].max_score
    assert grades["cy"].score == grades["cy"].max_score
    folder = tmp / "graded-None" / "feedback"
    return {student: (folder / student / "shapes.html").read_text() for student in ("ada", "bob", "cy", "dee")}


# A student cell that raises in the student process, from a function it defines; the message
# is assembled, so that only the error output holds it whole (the code is shown too).
RAISING = ("def make_features(table):\n"
           "    raise ValueError(\"dee-marker: columns of \" + str(256) + \" and 255 rows\")\n"
           "\n"
           "\n"
           "make_features({})\n")


def stripped(notebook):
    """The notebook as Colab or VS Code may save it: no cell metadata at all."""
    for cell in notebook.cells:
        cell.metadata = {}
    return notebook


@pytest.mark.slow
def test_feedback_shows_the_code_of_a_submission_without_metadata(feedback):
    page = feedback["cy"]
    assert "this cell is missing from the submission" not in page
    assert "np</span><span class=\"o\">.</span><span class=\"n\">stack</span>" in page  # make_features
    assert "sample</span><span class=\"p\">[</span><span class=\"n\">np</span>" in page  # predict_one


@pytest.mark.slow
def test_feedback_shows_no_grader_internals(feedback):
    for student, page in feedback.items():
        for internal in ("sandbox/worker.py", "tfclinic/sandbox", "site-packages"):
            assert internal not in page, (student, internal)


@pytest.mark.slow
def test_an_error_in_student_code_shows_once_with_the_students_frames_only(feedback):
    page = BeautifulSoup(feedback["dee"], "html.parser")
    cells = [cell.get_text() for cell in page.select("div.jp-Cell, div.cell")
             if "dee-marker: columns of 256 and 255 rows" in cell.get_text()]
    assert len(cells) == 1, "the error is not in the feedback, or not only in the student's cell"
    assert cells[0].count("dee-marker: columns of 256 and 255 rows") == 1
    assert "your code, line 2, in make_features" in cells[0]  # the frame that matters
    # each test cell that calls make_features names the error, and not its message
    assert page.get_text().count("ValueError (its message is not shown") >= 1
    text = page.get_text()  # no grader frame (the setup cell's wheel URL names tfclinic/ too)
    assert "worker.py" not in text and not re.search(r"tfclinic/(sandbox|grading|course)/", text)


@pytest.mark.slow
def test_feedback_hides_hidden_tests(feedback):
    hidden = [line.strip() for line in solution_notebook_text("shapes").split("### BEGIN HIDDEN TESTS")[1:]]
    probes = ["_table, _ = sensor_table(n_samples=37", "SEED + 404", "HIDDEN TESTS"]
    assert hidden, "the lesson has no hidden tests to hide"
    for student, page in feedback.items():
        for probe in probes:
            assert probe not in page, (student, probe)


@pytest.mark.slow
def test_feedback_keeps_the_test_authors_messages(feedback):
    assert "AssertionError: expected (samples, features) = (256, 8), got (8, 256)" in feedback["bob"]


@pytest.mark.slow
def test_feedback_runs_no_student_script(feedback):
    page = BeautifulSoup(feedback["ada"], "html.parser")
    for script in page.find_all("script"):
        assert "alert(" not in script.get_text(), script
    for tag in page.find_all(True):
        for name, value in tag.attrs.items():
            assert not (name.lower().startswith("on") and "alert" in str(value)), tag
