"""`tfclinic grade` on a class folder: CSV rows, feedback, and one bad notebook among good ones."""

import csv
import re
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from lesson_variants import cell, exercise, solution, with_cell_source
from tfclinic.grading.grade import MARKER, grade
from tfclinic.course.nbgrader_course import STDERR_IGNORE_PATTERN
from tfclinic.validate import _failure, run_notebook

TFCLINIC = str(Path(sys.executable).with_name("tfclinic"))


def class_folder(root):
    """Three students: the solution, the untouched exercise, and a corrupt notebook."""
    for student, notebook in {"ada": solution("shapes"), "bob": exercise("shapes")}.items():
        folder = root / student / "shapes"
        folder.mkdir(parents=True)
        nbformat.write(notebook, folder / "shapes.ipynb")
    corrupt = root / "cy" / "shapes"
    corrupt.mkdir(parents=True)
    (corrupt / "shapes.ipynb").write_text('{"cells": [ {"cell_type": "code", ')
    return root


@pytest.mark.slow
def test_grade_writes_csv_feedback_and_names_the_corrupt_notebook(tmp_path):
    submissions = class_folder(tmp_path / "submissions")
    out = tmp_path / "graded"
    done = subprocess.run([TFCLINIC, "grade", submissions, "--out", out], capture_output=True,
                          text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    assert re.search(r"cy/shapes: corrupt notebook: .*JSON", done.stderr)
    assert "[3/3]" in done.stdout  # one progress line per submission

    with open(out / "grades.csv", newline="") as handle:
        rows = {row["student"]: row for row in csv.DictReader(handle)}
    assert list(rows) == ["ada", "bob", "cy"]
    assert {k: rows["ada"][k] for k in ("lesson", "score", "max_score", "status")} == \
        {"lesson": "shapes", "score": "10", "max_score": "10", "status": "graded"}
    assert (rows["bob"]["score"], rows["bob"]["status"]) == ("0", "graded")
    assert (rows["cy"]["score"], rows["cy"]["max_score"], rows["cy"]["status"]) == ("0", "10", "corrupt notebook")
    assert "\n" not in rows["cy"]["message"] and rows["cy"]["message"]

    for student in ("ada", "bob"):
        page = (out / "feedback" / student / "shapes.html").read_text()
        assert "shapes" in page and "<html" in page
    assert not (out / "feedback" / "cy").exists()


@pytest.mark.slow
def test_regrading_a_resubmission_without_tests_gives_fresh_scores(tmp_path):
    submissions = tmp_path / "submissions"
    notebook = submissions / "ada" / "shapes" / "shapes.ipynb"
    notebook.parent.mkdir(parents=True)
    nbformat.write(solution("shapes"), notebook)
    out = tmp_path / "graded"
    first = grade_quietly(submissions, out)
    assert first[0].score == 10 and (out / MARKER).is_file()

    # a resubmission that is worse, and deletes every test cell
    worse = exercise("shapes")
    worse.cells = [c for c in worse.cells if not c.metadata.get("nbgrader", {}).get("grade")]
    nbformat.write(worse, notebook)
    (submissions / "ada" / "unknown-lesson").mkdir()
    (submissions / "bob" / "shapes").mkdir(parents=True)  # a folder with no notebook in it
    warnings = []
    second = grade(Path(__file__).resolve().parents[1], submissions, out, report=lambda line: None,
                   warn=warnings.append)
    assert [(g.student, g.score, g.status) for g in second] == [
        ("ada", 0, "graded"), ("bob", 0, "missing notebook")]
    assert any("ada/unknown-lesson" in w for w in warnings)
    assert any("bob/shapes: missing notebook" in w for w in warnings)


def grade_quietly(submissions, out):
    return grade(Path(__file__).resolve().parents[1], submissions, out, report=lambda line: None,
                 warn=lambda line: None)


@pytest.mark.slow
def test_a_correct_answer_that_warns_on_stderr_is_not_a_failure(tmp_path):
    """Keras warns about input_shape= on stderr; nbgrader would score that test cell zero."""
    source = ("def build_model(n_features):\n"
              "    return keras.Sequential([keras.layers.Dense(1, input_shape=(n_features,))])\n")
    notebook = with_cell_source(solution("shapes"), "shapes-build-model", source)
    assert run_notebook(notebook, tmp_path) is None
    stderr = [o.text for o in cell(notebook, "shapes-build-model-test").outputs
              if o.output_type == "stream" and o.name == "stderr"]
    assert stderr and "input_shape" in stderr[0], "the warning did not reach the test cell's stderr"
    assert re.search(STDERR_IGNORE_PATTERN, stderr[0])
    assert _failure(cell(notebook, "shapes-build-model-test")) == ""


def test_nbgrader_starts_without_the_slow_unused_import():
    def imported(module):
        done = subprocess.run([sys.executable, "-X", "importtime", "-m", module, "--version"],
                              capture_output=True, text=True, timeout=120)
        assert done.returncode == 0 and "nbgrader version" in done.stdout, done.stderr[-2000:]
        return {line.split("|")[-1].strip() for line in done.stderr.splitlines() if "|" in line}

    # lark is the parser library that rfc3987_syntax builds its grammar with
    assert "nbformat" in imported("tfclinic.course.nbgrader_main")
    assert "lark" not in imported("tfclinic.course.nbgrader_main")
    assert "lark" in imported("nbgrader")  # what the skip saves where it is installed


def test_notebooks_still_validate_without_the_slow_unused_import():
    code = ("from tfclinic.processes import skip_slow_unused_imports\nskip_slow_unused_imports()\n"
            "import nbformat\nnb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell('x')])\n"
            "nbformat.validate(nb)\nnb.cells[0]['source'] = 3\n"
            "try:\n    nbformat.validate(nb)\nexcept nbformat.ValidationError:\n    print('rejected')\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.stdout.strip() == "rejected", done.stderr


def test_a_new_gradebook_is_stamped_with_alembics_head_without_running_alembic(tmp_path, monkeypatch):
    import os
    import sqlite3

    import nbgrader.api

    from tfclinic.course.nbgrader_main import alembic_head

    # what `alembic heads` prints; nbgrader runs it by name, installed beside this Python
    monkeypatch.setenv("PATH", f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}")
    assert alembic_head() == nbgrader.api.get_alembic_version()
    bin_folder, marker = tmp_path / "bin", tmp_path / "alembic-ran"
    bin_folder.mkdir()
    (bin_folder / "alembic").write_text(f"#!/bin/sh\ntouch {marker}\nexit 1\n")
    (bin_folder / "alembic").chmod(0o755)
    course = tmp_path / "course"
    course.mkdir()
    env = {"PATH": f"{bin_folder}:/usr/bin:/bin", "HOME": str(tmp_path)}
    done = subprocess.run([sys.executable, "-m", "tfclinic.course.nbgrader_main", "db", "student", "add",
                           "ada"], cwd=course, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert not marker.exists(), "nbgrader started alembic"
    with sqlite3.connect(course / "gradebook.db") as db:
        assert db.execute("SELECT version_num FROM alembic_version").fetchall() == [(alembic_head(),)]
        assert db.execute("SELECT id FROM student").fetchall() == [("ada",)]


def test_a_huge_notebook_is_refused_unread_before_any_runner_starts(tmp_path):
    from tfclinic.grading.grade import _grade_one
    from tfclinic.validate import MAX_NOTEBOOK_BYTES

    huge = tmp_path / "eve" / "shapes" / "shapes.ipynb"
    huge.parent.mkdir(parents=True)
    with open(huge, "wb") as handle:  # valid JSON all the way, so only its size can refuse it
        handle.write(b'{"cells": [], "metadata": {"pad": "')
        handle.write(b"x" * (MAX_NOTEBOOK_BYTES + 1))
        handle.write(b'"}, "nbformat": 4, "nbformat_minor": 5}')
    # no fork server and no nbgrader course: the refusal must come before either is used
    status, message, score, *_ = _grade_one(None, None, "eve", "shapes", huge, 0, 300, None, 30)
    assert (status, score) == ("corrupt notebook", 0)
    assert f"more than the {MAX_NOTEBOOK_BYTES // 2**20} MB a notebook may be" in message


def test_a_notebook_of_too_many_cells_is_refused_before_nbformat_builds_it(tmp_path, monkeypatch):
    import nbformat

    from tfclinic.grading.grade import _grade_one
    from tfclinic.validate import MAX_NOTEBOOK_CELLS, read_notebook

    def write(cells, name):
        notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("1") for _ in range(cells)])
        path = tmp_path / name / "shapes" / "shapes.ipynb"
        path.parent.mkdir(parents=True)
        nbformat.write(notebook, path)
        return path

    at_limit, over = write(MAX_NOTEBOOK_CELLS, "ada"), write(MAX_NOTEBOOK_CELLS + 1, "eve")
    assert len(read_notebook(at_limit).cells) == MAX_NOTEBOOK_CELLS
    built = []
    monkeypatch.setattr(nbformat, "reads", lambda *args, **kwargs: built.append(args) or 1 / 0)
    # no fork server and no nbgrader course: the refusal must come before either is used
    status, message, score, *_ = _grade_one(None, None, "eve", "shapes", over, 0, 300, None, 30)
    assert (status, score) == ("corrupt notebook", 0)
    assert f"it has {MAX_NOTEBOOK_CELLS + 1} cells, more than the {MAX_NOTEBOOK_CELLS}" in message
    assert built == [], "nbformat built the notebook before its cells were counted"
