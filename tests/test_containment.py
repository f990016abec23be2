"""One bad submission never costs another student their grade, nor leaves processes behind."""

import copy

import nbformat
import psutil
import pytest

from lesson_variants import solution

MARKER = "tfclinic-linger-marker"
ATTACKS = {
    "dies": "import os\nos._exit(3)",
    "loops": "import signal\nsignal.signal(signal.SIGINT, signal.SIG_IGN)\nwhile True:\n    pass",
    # a daemon: double fork, new session, outlives its parent and the kernel
    "spawns": ("import subprocess, sys\n"
               "code = 'import os, sys, time\\nif os.fork(): os._exit(0)\\nos.setsid()\\ntime.sleep(600)'\n"
               f"subprocess.Popen([sys.executable, '-c', code, '{MARKER}'], start_new_session=True)"),
    "good": "pass",
}


def with_first_cell(code):
    notebook = copy.deepcopy(solution("shapes"))
    notebook.cells.insert(2, nbformat.v4.new_code_cell(code))
    return notebook


def lingering():
    return [p for p in psutil.process_iter(["cmdline"]) if MARKER in " ".join(p.info["cmdline"] or [])]


@pytest.fixture(scope="module")
def grades(tmp_path_factory):
    from tfclinic.grading import grade
    from lesson_variants import ROOT

    submissions = tmp_path_factory.mktemp("hostile")
    for student, code in ATTACKS.items():
        folder = submissions / student / "shapes"
        folder.mkdir(parents=True)
        nbformat.write(with_first_cell(code), folder / "shapes.ipynb")
    rows = grade(ROOT, submissions, tmp_path_factory.mktemp("out"), timeout=90,
                 report=lambda line: None, warn=lambda line: None)
    return {row.student: row for row in rows}


@pytest.mark.slow
def test_a_dying_kernel_is_recorded_as_a_crash(grades):
    assert (grades["dies"].score, grades["dies"].status) == (0, "crashed")
    assert "kernel died" in grades["dies"].message


@pytest.mark.slow
def test_a_loop_that_ignores_interrupts_is_stopped(grades):
    assert (grades["loops"].score, grades["loops"].status) == (0, "timeout")


@pytest.mark.slow
def test_the_rest_of_the_batch_is_graded(grades):
    assert (grades["good"].score, grades["good"].status) == (10, "graded")
    assert grades["spawns"].status == "graded"


@pytest.mark.slow
def test_no_process_outlives_grading(grades):
    assert grades["spawns"].status == "graded"  # the daemon was really started
    assert lingering() == []
